/**
 * Tests for the version constant: it is the `version` field of `deno.json`
 * (read from the file here, independently of the module's JSON import) and a
 * semantic version.
 *
 * @module
 */
import { VERSION } from "../mod/version.ts";
import { assertEquals, assertMatch } from "./support/assert.ts";

Deno.test("VERSION matches deno.json's version", async () => {
  const text = await Deno.readTextFile(
    new URL("../deno.json", import.meta.url),
  );
  const { version } = JSON.parse(text);
  assertEquals(VERSION, version);
});

Deno.test("VERSION is a semantic version X.Y.Z", () => {
  assertMatch(VERSION, /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/);
});
