/**
 * Tests for `mod/contract/limits.ts`: the screen bounds the launch request,
 * `/getConnection` and the configuration share, and the numbers the web
 * client clamps to (which cannot import them) are the same.
 */
import { SCREEN_BOUNDS } from "../../mod/contract/mod.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

Deno.test("screen bounds, and the web client clamps to the same", async () => {
  assertEquals(SCREEN_BOUNDS, {
    width: { min: 320, max: 7680 },
    height: { min: 200, max: 4320 },
  });
  for (const page of ["portal.js", "launch.js"]) {
    const text = await Deno.readTextFile(
      new URL(`../../httpdocs/${page}`, import.meta.url),
    );
    const { width, height } = SCREEN_BOUNDS;
    assertMatch(
      text,
      new RegExp(`Math\\.max\\(${width.min}, Math\\.min\\(${width.max},`),
    );
    assertMatch(
      text,
      new RegExp(`Math\\.max\\(${height.min}, Math\\.min\\(${height.max},`),
    );
  }
});
