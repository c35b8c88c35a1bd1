/**
 * Tests for `ffi/x11/display.ts` against a real Xvfb: opening a display by
 * name, its default screen's root, size and depth, atoms (same name, same
 * atom; new names made), flush/sync, closing once, the errors for a display
 * that is not there and for no `DISPLAY`, `loadLibrary` naming the package to
 * install, `cString`, and the size of `XEvent` on x64.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertThrows,
} from "../../support/assert.ts";
import { withXvfb } from "../../support/x11_draw.ts";
import {
  cString,
  loadLibrary,
  X11Error,
  XDisplay,
  XEVENT_SIZE,
} from "../../../ffi/x11/display.ts";

const XVFB = { sanitizeOps: false, sanitizeResources: false };

Deno.test({
  name: "XDisplay opens a real Xvfb and reports its screen",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 320, height: 200 }, (screen) => {
      const display = XDisplay.open(screen.display);
      try {
        assertEquals(display.screen, 0);
        assertNotEquals(display.root, 0n);
        assertEquals(display.size(), { width: 320, height: 200 });
        assertEquals(display.depth(), 24);
        const clipboard = display.atom("CLIPBOARD");
        assertNotEquals(clipboard, 0n);
        assertEquals(display.atom("CLIPBOARD"), clipboard);
        const fresh = display.atom(`WEBSTREAM_TEST_${crypto.randomUUID()}`);
        assertNotEquals(fresh, clipboard);
        display.flush();
        display.sync();
        assertEquals(display.closed, false);
      } finally {
        display.close();
      }
      assertEquals(display.closed, true);
      // A second close is a no-op (XCloseDisplay twice would crash).
      display.close();
      assertEquals(display.closed, true);
    }),
});

Deno.test({
  name: "XDisplay.open uses $DISPLAY when no name is given",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 100, height: 80 }, (screen) => {
      const saved = Deno.env.get("DISPLAY");
      Deno.env.set("DISPLAY", screen.display);
      try {
        const display = XDisplay.open();
        assertEquals(display.size(), { width: 100, height: 80 });
        display.close();
        Deno.env.delete("DISPLAY");
        assertThrows(() => XDisplay.open(), X11Error, /DISPLAY is not set/);
      } finally {
        if (saved === undefined) Deno.env.delete("DISPLAY");
        else Deno.env.set("DISPLAY", saved);
      }
    }),
});

Deno.test("XDisplay.open fails with X11Error for a display that is not there", () => {
  // Display numbers this high are never served here (no socket exists).
  assertThrows(
    () => XDisplay.open(":59999"),
    X11Error,
    /cannot open display :59999/,
  );
});

Deno.test("loadLibrary names the Debian package when no name loads", () => {
  const error = assertThrows(
    () =>
      loadLibrary(["libwebstream-missing.so.1"], {
        nothing: { parameters: [], result: "void" },
      }, { package: "libwebstream-missing1" }),
    X11Error,
  );
  assertMatch(
    error.message,
    /install the Debian package libwebstream-missing1/,
  );
  assertMatch(error.message, /libwebstream-missing\.so\.1/);
});

Deno.test("cString is NUL-terminated UTF-8", () => {
  assertEquals([...cString("é:1")], [0xc3, 0xa9, 0x3a, 0x31, 0]);
  assert(cString("").length === 1);
});

Deno.test("XEVENT_SIZE is Xlib's XEvent on x64: 24 longs", () => {
  assertEquals(XEVENT_SIZE, 24 * 8);
});
