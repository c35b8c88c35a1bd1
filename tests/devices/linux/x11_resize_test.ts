/**
 * Tests for `mod/devices/linux/x11_resize.ts` on a real Xvfb started at
 * 2560×1600: shrinking to 1280×720 and growing back, a change growing one
 * side and shrinking the other, each seen by a fresh `xdpyinfo` client; a
 * request beyond the server's range is clamped and reported, an invalid or
 * unchanged size is not an error, and repeated resizes leave at most one
 * mode of this module behind.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { xdpyinfo } from "../../support/x11.ts";
import { withXDisplay } from "../../support/x11_draw.ts";
import type { XDisplay } from "../../../ffi/x11/display.ts";
import { ScreenResources, screenSize } from "../../../ffi/x11/randr.ts";
import { resizeScreen } from "../../../mod/devices/linux/x11_resize.ts";

interface Env {
  name: string;
  authFile: string;
}

/** Runs `fn` with a connection to a fresh 2560×1600 Xvfb. */
async function withDisplay(
  fn: (display: XDisplay, env: Env) => void | Promise<void>,
): Promise<void> {
  await withXDisplay(
    { width: 2560, height: 1600 },
    (display, screen) =>
      fn(display, { name: screen.display, authFile: screen.authFile }),
  );
}

function xTest(
  name: string,
  fn: (display: XDisplay, env: Env) => void | Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withDisplay(fn),
  });
}

/** The screen size a fresh client (`xdpyinfo`) sees. */
async function seenByClient(env: Env): Promise<string> {
  const info = await xdpyinfo(env.name, env.authFile);
  assert(info.ok, info.stderr);
  return info.stdout.match(/dimensions:\s+(\d+x\d+) pixels/)![1];
}

xTest("resize: shrinks to 1280x720 and grows back", async (display, env) => {
  assertEquals(resizeScreen(display, { width: 1280, height: 720 }), {
    applied: true,
    width: 1280,
    height: 720,
  });
  assertEquals(await seenByClient(env), "1280x720");
  const size = screenSize(display);
  assertEquals([size.width, size.height], [1280, 720]);

  assertEquals(resizeScreen(display, { width: 2560, height: 1600 }), {
    applied: true,
    width: 2560,
    height: 1600,
  });
  assertEquals(await seenByClient(env), "2560x1600");
});

xTest(
  "resize: one side grows while the other shrinks",
  async (display, env) => {
    assertEquals(
      resizeScreen(display, { width: 1024, height: 1400 }).applied,
      true,
    );
    assertEquals(await seenByClient(env), "1024x1400");
    assertEquals(resizeScreen(display, { width: 1600, height: 900 }), {
      applied: true,
      width: 1600,
      height: 900,
    });
    assertEquals(await seenByClient(env), "1600x900");
  },
);

xTest(
  "resize: beyond the range is clamped and reported",
  async (display, env) => {
    resizeScreen(display, { width: 800, height: 600 });
    const result = resizeScreen(display, { width: 4000, height: 1000 });
    assertEquals(result.applied, false);
    assertEquals([result.width, result.height], [2560, 1000]);
    assertMatch(result.reason ?? "", /range 1x1\.\.2560x1600/);
    assertEquals(await seenByClient(env), "2560x1000");
  },
);

xTest(
  "resize: invalid and unchanged sizes do not throw",
  async (display, env) => {
    const invalid = resizeScreen(display, { width: 0, height: 600 });
    assertEquals(invalid.applied, false);
    assertEquals([invalid.width, invalid.height], [2560, 1600]);
    assertMatch(invalid.reason ?? "", /invalid size/);
    assertEquals(resizeScreen(display, { width: 2560, height: 1600 }), {
      applied: true,
      width: 2560,
      height: 1600,
    });
    assertEquals(await seenByClient(env), "2560x1600");
  },
);

xTest("resize: old modes of this module are removed", (display) => {
  for (const [width, height] of [[1280, 720], [1300, 700], [1920, 1080]]) {
    assert(resizeScreen(display, { width, height }).applied);
  }
  const resources = ScreenResources.current(display)!;
  try {
    const ours = resources.modes.filter((m) => m.name.startsWith("webstream-"));
    assertEquals(ours.map((m) => m.name), ["webstream-1920x1080"]);
  } finally {
    resources.close();
  }
});
