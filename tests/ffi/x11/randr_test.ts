/**
 * Tests for `ffi/x11/randr.ts` against a real Xvfb started at 1024×768:
 * the RandR version and size range (1×1 up to the start size), the screen
 * resources (one CRTC driving the output "screen"), creating and adding a
 * mode, shrinking with a CRTC change then a screen-size change (seen by a
 * fresh `xdpyinfo` client too), and {@linkcode trapErrors} catching the
 * server's refusals (a CRTC bigger than the screen, a size beyond the
 * range).
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { xdpyinfo } from "../../support/x11.ts";
import { withXDisplay } from "../../support/x11_draw.ts";
import type { XDisplay } from "../../../ffi/x11/display.ts";
import {
  addOutputMode,
  createMode,
  queryRandr,
  RR_SET_CONFIG_SUCCESS,
  ScreenResources,
  screenSize,
  screenSizeRange,
  setCrtcConfig,
  setScreenSize,
  trapErrors,
} from "../../../ffi/x11/randr.ts";

/** Runs `fn` with a connection to a fresh 1024×768 Xvfb. */
async function withDisplay(
  fn: (
    display: XDisplay,
    env: { name: string; authFile: string },
  ) => void | Promise<void>,
): Promise<void> {
  await withXDisplay(
    { width: 1024, height: 768 },
    (display, screen) =>
      fn(display, { name: screen.display, authFile: screen.authFile }),
  );
}

function xTest(
  name: string,
  fn: (
    display: XDisplay,
    env: { name: string; authFile: string },
  ) => void | Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withDisplay(fn),
  });
}

xTest(
  "randr: version 1.2+ and a range of 1x1 to the start size",
  (display) => {
    const version = queryRandr(display);
    assert(version);
    assert(version.major > 1 || version.minor >= 2, JSON.stringify(version));
    assertEquals(screenSizeRange(display), {
      minWidth: 1,
      minHeight: 1,
      maxWidth: 1024,
      maxHeight: 768,
    });
    assertEquals(screenSize(display).width, 1024);
    assertEquals(screenSize(display).height, 768);
  },
);

xTest("randr: one CRTC drives the output 'screen'", (display) => {
  const resources = ScreenResources.current(display);
  assert(resources);
  try {
    assertEquals(resources.crtcs.length, 1);
    assertEquals(resources.outputs.length, 1);
    const crtc = resources.crtcInfo(resources.crtcs[0]);
    assert(crtc);
    assertEquals([crtc.x, crtc.y, crtc.width, crtc.height], [0, 0, 1024, 768]);
    assertEquals(crtc.outputs, resources.outputs);
    const mode = resources.modes.find((m) => m.id === crtc.mode);
    assertEquals(mode?.name, "1024x768");
    const output = resources.outputInfo(resources.outputs[0]);
    assertEquals(output?.name, "screen");
    assertEquals(output?.crtc, resources.crtcs[0]);
    assertEquals(output?.connection, 0);
  } finally {
    resources.close();
  }
});

xTest(
  "randr: a new mode, CRTC and screen size shrink the screen",
  async (display, env) => {
    let resources = ScreenResources.current(display)!;
    const crtc = resources.crtcs[0];
    const output = resources.outputs[0];
    const { errors, result: mode } = trapErrors(display, () => {
      const mode = createMode(display, {
        width: 800,
        height: 600,
        name: "test-800x600",
      });
      addOutputMode(display, { output, mode });
      return mode;
    });
    assertEquals(errors, []);
    assert(mode > 0n);
    resources.close();
    resources = ScreenResources.current(display)!;
    try {
      assert(resources.outputInfo(output)?.modes.includes(mode));
      assertEquals(
        resources.modes.find((m) => m.id === mode),
        { id: mode, width: 800, height: 600, name: "test-800x600" },
      );
      const shrink = trapErrors(display, () => {
        const status = setCrtcConfig(display, resources, {
          crtc,
          mode,
          outputs: [output],
        });
        setScreenSize(display, {
          width: 800,
          height: 600,
          mmWidth: 212,
          mmHeight: 159,
        });
        return status;
      });
      assertEquals(shrink, { result: RR_SET_CONFIG_SUCCESS, errors: [] });
    } finally {
      resources.close();
    }
    const now = screenSize(display);
    assertEquals([now.width, now.height], [800, 600]);
    const info = await xdpyinfo(env.name, env.authFile);
    assert(info.ok, info.stderr);
    assertMatch(
      info.stdout,
      /dimensions:\s+800x600 pixels \(212x159 millimeters\)/,
    );
  },
);

xTest("randr: refusals arrive as trapped protocol errors", (display) => {
  const resources = ScreenResources.current(display)!;
  try {
    const beyond = trapErrors(display, () =>
      setScreenSize(display, {
        width: 2048,
        height: 768,
        mmWidth: 500,
        mmHeight: 200,
      }));
    assertEquals(beyond.errors.length, 1);
    assertEquals(beyond.errors[0].code, 2); // BadValue
    assertEquals(beyond.errors[0].minor, 7); // RRSetScreenSize
    assertEquals(beyond.errors[0].value, 2048n);
    assertMatch(beyond.errors[0].text, /^BadValue/);

    // Shrink the screen under the CRTC's 1024x768: refused (BadMatch).
    const small = trapErrors(display, () =>
      setScreenSize(display, {
        width: 640,
        height: 480,
        mmWidth: 170,
        mmHeight: 127,
      }));
    assertEquals(small.errors.map((e) => [e.code, e.minor]), [[8, 7]]);
  } finally {
    resources.close();
  }
  assertEquals(screenSize(display).width, 1024);
  // The previous handler is back: a later error is not collected.
  const after = trapErrors(display, () => 1);
  assertEquals(after, { result: 1, errors: [] });
});
