/**
 * Tests for `ffi/x11/xtest.ts` against a real Xvfb: the server reports the
 * XTEST extension, and fake motion, button and key events change the
 * pointer position and the button/modifier state the server reports
 * (read back with `XQueryPointer` on a second connection).
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/fs.ts";
import { XDisplay } from "../../../ffi/x11/display.ts";
import { queryPointer } from "../../../ffi/x11/image.ts";
import { queryXTest, XTest } from "../../../ffi/x11/xtest.ts";
import { stopProcessGroup } from "../../../mod/platform/linux/processes.ts";
import {
  encodeXauthority,
  newCookie,
} from "../../../mod/platform/linux/xauth.ts";
import { startXvfb } from "../../../mod/platform/linux/xvfb.ts";

/** Runs `fn` with two connections to a fresh 640×480 Xvfb. */
async function withDisplays(
  fn: (inject: XDisplay, observe: XDisplay) => void,
): Promise<void> {
  await withTempDir(async (dir) => {
    const authFile = `${dir}/Xauthority`;
    await Deno.writeFile(authFile, encodeXauthority([{ cookie: newCookie() }]));
    const server = await startXvfb({
      authFile,
      screen: { width: 640, height: 480, depth: 24 },
    });
    const previous = Deno.env.get("XAUTHORITY");
    Deno.env.set("XAUTHORITY", authFile);
    const opened: XDisplay[] = [];
    try {
      opened.push(XDisplay.open(`:${server.display}`));
      opened.push(XDisplay.open(`:${server.display}`));
      fn(opened[0], opened[1]);
    } finally {
      for (const display of opened) display.close();
      if (previous === undefined) Deno.env.delete("XAUTHORITY");
      else Deno.env.set("XAUTHORITY", previous);
      await stopProcessGroup(server.child, { graceMs: 2_000 });
    }
  }, { prefix: "webstream-xtest-" });
}

const BUTTON1_MASK = 0x100;
const BUTTON3_MASK = 0x400;
const SHIFT_MASK = 0x1;
/** Shift_L under the evdev rules (evdev 42 + 8). */
const SHIFT_L_KEYCODE = 50;

Deno.test({
  name: "xtest: the server has XTEST 2.x",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withDisplays((display) => {
      const version = queryXTest(display);
      assert(version, "XTEST missing");
      assertEquals(version.major, 2);
    }),
});

Deno.test({
  name: "xtest: motion, buttons and keys reach the server",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withDisplays((display, observe) => {
      const xtest = new XTest(display);
      xtest.motion(123, 321);
      display.sync();
      let state = queryPointer(observe);
      assertEquals([state.x, state.y], [123, 321]);
      assertEquals(state.mask & (BUTTON1_MASK | BUTTON3_MASK | SHIFT_MASK), 0);

      xtest.button(1, true);
      xtest.button(3, true);
      xtest.key(SHIFT_L_KEYCODE, true);
      display.sync();
      state = queryPointer(observe);
      assertEquals(
        state.mask & (BUTTON1_MASK | BUTTON3_MASK | SHIFT_MASK),
        BUTTON1_MASK | BUTTON3_MASK | SHIFT_MASK,
      );

      xtest.button(1, false);
      xtest.button(3, false);
      xtest.key(SHIFT_L_KEYCODE, false);
      xtest.motion(0, 479);
      display.sync();
      state = queryPointer(observe);
      assertEquals([state.x, state.y], [0, 479]);
      assertEquals(state.mask & (BUTTON1_MASK | BUTTON3_MASK | SHIFT_MASK), 0);
    }),
});
