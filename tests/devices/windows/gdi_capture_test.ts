/**
 * Tests for `mod/devices/windows/gdi_capture.ts` over the fake display:
 * grabs return the screen's exact pixels with the right stride into one
 * reused buffer (re-created on resize); polls report the whole screen as
 * damage, resizes and cursor changes; cursor images are built from the
 * icon bitmaps (which are deleted); the thread follows the input desktop
 * and survives the secure one; a new clipboard sequence number is one
 * clipboard change; nothing leaks; and the real tile encoder takes a GDI
 * frame.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertNotEquals,
  assertThrows,
} from "../../support/assert.ts";
import type { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  colorCursor,
  type GdiCaptureOptions,
  monochromeCursor,
  openGdiCapture,
} from "../../../mod/devices/windows/gdi_capture.ts";
import { TileEncoder } from "../../../mod/streamer/encode/mod.ts";
import { ENCODING } from "../../../httpdocs/session/protocol.js";
import { FakeDisplay } from "../../support/windows/fake_user32.ts";
import { fakeGraphicsLibraries } from "../../support/windows/fake_gdi32.ts";
import { decodeTile, frameRgb } from "../../streamer/encode/support.ts";

function open(
  display: FakeDisplay,
  options: Omit<GdiCaptureOptions, "libraries"> = {},
) {
  return openGdiCapture({
    libraries: fakeGraphicsLibraries(display),
    ...options,
  });
}

/** The screen DC, memory DC and bitmap a capture holds. */
const HELD_OBJECTS = 3;

Deno.test("grab returns the screen's exact BGRX pixels, rows width*4 apart", () => {
  const display = new FakeDisplay(37, 23);
  display.paintPattern();
  const capture = open(display);
  try {
    assertEquals([capture.width, capture.height], [37, 23]);
    assertEquals([capture.method, capture.damageAvailable], [
      "getimage",
      false,
    ]);
    const frame = capture.grab();
    assertEquals([frame.width, frame.height, frame.stride], [37, 23, 148]);
    assertEquals(frame.data, display.pixels);
    // SRCCOPY | CAPTUREBLT, and the GDI contract kept.
    assertEquals(display.rops, [0x40cc0020]);
    assertEquals(display.violations, []);
  } finally {
    capture.close();
  }
  assertEquals(display.liveObjects(), []);
});

Deno.test("the buffer is reused between grabs and re-created on resize", () => {
  const display = new FakeDisplay(16, 8);
  const capture = open(display);
  try {
    display.paint({ x: 0, y: 0, width: 16, height: 8 }, [1, 2, 3]);
    const first = capture.grab();
    const buffer = first.data.buffer;
    display.paint({ x: 4, y: 2, width: 3, height: 3 }, [9, 9, 9]);
    const second = capture.grab();
    assert(second.data.buffer === buffer, "same ArrayBuffer");
    assertEquals(second.data, display.pixels);
    assertEquals(capture.poll().resized, false);

    display.resize(24, 10);
    display.paintPattern();
    const events = capture.poll();
    assertEquals(events.resized, true);
    assertEquals(events.damage, [{ x: 0, y: 0, width: 24, height: 10 }]);
    assertEquals([capture.width, capture.height], [24, 10]);
    const third = capture.grab();
    assert(third.data.buffer !== buffer, "a new buffer for the new size");
    assertEquals([third.width, third.height, third.stride], [24, 10, 96]);
    assertEquals(third.data, display.pixels);
    // The old bitmap and DCs went; one set is held.
    assertEquals(display.liveObjects().length, HELD_OBJECTS);
    assertEquals(display.violations, []);
  } finally {
    capture.close();
  }
});

Deno.test("every poll reports the whole screen: GDI has no damage notices", () => {
  const display = new FakeDisplay(10, 6);
  const capture = open(display);
  try {
    for (let i = 0; i < 3; i++) {
      assertEquals(capture.poll(), {
        damage: [{ x: 0, y: 0, width: 10, height: 6 }],
        cursorChanged: false,
        clipboardChanged: false,
        resized: false,
      });
    }
  } finally {
    capture.close();
  }
});

Deno.test("a region grab comes out at the buffer's top left", () => {
  const display = new FakeDisplay(12, 9);
  display.paintPattern();
  const capture = open(display);
  try {
    const region = { x: 5, y: 3, width: 4, height: 2 };
    const frame = capture.grab(region);
    assertEquals([frame.width, frame.height, frame.stride], [4, 2, 48]);
    for (let row = 0; row < 2; row++) {
      const got = frame.data.subarray(row * 48, row * 48 + 16);
      const at = ((3 + row) * 12 + 5) * 4;
      assertEquals(got, display.pixels.subarray(at, at + 16));
    }
    assertThrows(
      () => capture.grab({ x: 10, y: 0, width: 4, height: 1 }),
      RangeError,
      /not inside the 12x9 screen/,
    );
  } finally {
    capture.close();
  }
});

Deno.test("a virtual screen left of the primary is captured from its origin", () => {
  const display = new FakeDisplay(8, 4);
  display.x = -3;
  display.y = -1;
  display.paintPattern();
  const capture = open(display);
  try {
    assertEquals(capture.grab().data, display.pixels);
    display.cursor = { ...display.cursor, x: -3, y: 2 };
    assertEquals(capture.pointer(), { x: 0, y: 3 });
  } finally {
    capture.close();
  }
});

Deno.test("a new cursor handle is a cursor change; its image comes from the icon bitmaps", () => {
  const display = new FakeDisplay(10, 10);
  // A 2×2 colour cursor with alpha.
  const arrow = display.addCursor({
    hotX: 1,
    hotY: 0,
    width: 2,
    height: 2,
    color: Uint8Array.from([
      ...[0, 0, 255, 255], // red, opaque
      ...[0, 255, 0, 128], // green, half
      ...[255, 0, 0, 0], // transparent
      ...[0, 0, 0, 255], // black
    ]),
    mask: new Uint8Array(4),
  });
  // A 2×1 monochrome cursor: black, white / transparent, invert.
  const beam = display.addCursor({
    hotX: 0,
    hotY: 0,
    width: 2,
    height: 2,
    mask: Uint8Array.from([0, 0, 1, 1, 0, 1, 0, 1]),
  });
  display.cursor = { handle: arrow, showing: true, x: 5, y: 5 };
  const capture = open(display);
  try {
    assertEquals(capture.poll().cursorChanged, false);
    const shape = capture.cursor()!;
    assertEquals(
      [shape.hotX, shape.hotY, shape.width, shape.height],
      [1, 0, 2, 2],
    );
    assertEquals([...shape.rgba], [
      ...[255, 0, 0, 255],
      ...[0, 255, 0, 128],
      ...[0, 0, 255, 0],
      ...[0, 0, 0, 255],
    ]);
    // Same handle: the same shape, not rebuilt.
    assert(capture.cursor() === shape);

    display.cursor = { ...display.cursor, handle: beam };
    assertEquals(capture.poll().cursorChanged, true);
    assertEquals(capture.poll().cursorChanged, false);
    const mono = capture.cursor()!;
    assertNotEquals(mono.serial, shape.serial);
    assertEquals([...mono.rgba], [
      ...[0, 0, 0, 255],
      ...[255, 255, 255, 255],
      ...[0, 0, 0, 0],
      ...[0, 0, 0, 255],
    ]);

    // Hidden: an invisible 1×1 cursor.
    display.cursor = { ...display.cursor, showing: false };
    assertEquals(capture.poll().cursorChanged, true);
    const hidden = capture.cursor()!;
    assertEquals([hidden.width, hidden.height, ...hidden.rgba], [
      1,
      1,
      0,
      0,
      0,
      0,
    ]);
    // GetIconInfo's bitmaps were all deleted.
    assertEquals(display.liveObjects().length, HELD_OBJECTS);
  } finally {
    capture.close();
  }
});

Deno.test("colour cursors without alpha take the AND mask", () => {
  const bgra = Uint8Array.from([
    ...[10, 20, 30, 0], // mask 0: opaque
    ...[0, 0, 0, 0], // mask 1, black: transparent
    ...[40, 50, 60, 0], // mask 1, coloured: inverts, drawn opaque
  ]);
  const mask = Uint8Array.from([
    0,
    0,
    0,
    0,
    255,
    255,
    255,
    0,
    255,
    255,
    255,
    0,
  ]);
  assertEquals([...colorCursor(bgra, mask)], [
    ...[30, 20, 10, 255],
    ...[0, 0, 0, 0],
    ...[60, 50, 40, 255],
  ]);
  // Monochrome as 32-bit rows: AND row over XOR row.
  const bits = Uint8Array.from([
    ...[0, 0, 0, 0, 255, 255, 255, 0],
    ...[255, 255, 255, 0, 0, 0, 0, 0],
  ]);
  assertEquals([...monochromeCursor(bits, 2, 1)], [
    ...[255, 255, 255, 255], // AND 0, XOR 1: white
    ...[0, 0, 0, 0], // AND 1, XOR 0: transparent
  ]);
});

Deno.test("the capture follows the input desktop; the secure one keeps the last frame", () => {
  const display = new FakeDisplay(6, 4);
  display.paint({ x: 0, y: 0, width: 6, height: 4 }, [5, 5, 5]);
  const errors: Win32Error[] = [];
  const capture = open(display, { onError: (e) => errors.push(e) });
  try {
    // Attached to its own handle of the input desktop at once.
    assertEquals([capture.desktop, display.threadDesktop], [
      "Default",
      "Default",
    ]);
    assertNotEquals(display.threadDesktopHandle, 0n);
    const before = capture.grab().data.slice();

    // The secure desktop: not openable as a user.
    display.inputDesktop = "Winlogon";
    capture.poll();
    assertEquals(display.threadDesktop, "Default");
    display.paint({ x: 0, y: 0, width: 6, height: 4 }, [7, 7, 7]);
    const stale = capture.grab();
    assertEquals(stale.data, before, "the last frame stays");
    assertEquals(errors.map((e) => [e.function, e.codeName]), [
      ["BitBlt", "ERROR_ACCESS_DENIED"],
    ]);

    // Back to Default: the same desktop, nothing to switch.
    display.inputDesktop = "Default";
    capture.poll();
    assertEquals(capture.grab().data, display.pixels);

    // Another desktop that opens: switched, with a new screen DC.
    display.inputDesktop = "Screen-saver";
    display.paint({ x: 0, y: 0, width: 6, height: 4 }, [1, 1, 1]);
    capture.poll();
    assertEquals([capture.desktop, display.threadDesktop], [
      "Screen-saver",
      "Screen-saver",
    ]);
    assertEquals(capture.grab().data, display.pixels);
    // The desktop left behind was closed; the one in use is kept.
    assertEquals([...display.desktops.values()], ["Screen-saver"]);
    assertEquals(display.liveObjects().length, HELD_OBJECTS);
  } finally {
    capture.close();
  }
  assertEquals(display.liveObjects(), []);
});

Deno.test("without desktop switching (thread owns windows) the capture carries on", () => {
  const display = new FakeDisplay(4, 4);
  display.threadOwnsWindows = true;
  const capture = open(display);
  try {
    assertEquals(capture.desktop, undefined);
    // Every handle opened to try was closed again.
    assertEquals(display.desktops.size, 0);
    assertEquals(capture.grab().width, 4);
  } finally {
    capture.close();
  }
});

Deno.test("opening makes the process per-monitor DPI aware, once", () => {
  const display = new FakeDisplay(4, 4);
  open(display).close();
  assertEquals(display.dpiContexts, [0xfffffffffffffffcn]);
  open(display, { dpiAware: false }).close();
  assertEquals(display.dpiContexts.length, 1);
});

Deno.test("close releases everything once; use after close throws", () => {
  const display = new FakeDisplay(4, 4);
  const capture = open(display);
  capture.close();
  capture.close();
  assertEquals(display.liveObjects(), []);
  assertThrows(() => capture.grab(), Error, /closed/);
  assertThrows(() => capture.poll(), Error, /closed/);
});

Deno.test("the tile encoder takes a frame from the GDI capture", async () => {
  const display = new FakeDisplay(150, 100);
  display.paintPattern();
  display.paint({ x: 0, y: 0, width: 64, height: 64 }, [200, 100, 50]);
  const capture = open(display);
  const encoder = new TileEncoder({ workers: 0 });
  try {
    const frame = capture.grab();
    const update = await encoder.encode(frame, capture.poll().damage);
    assertEquals(update.changedTiles, 6);
    assertEquals(update.tiles[0].encoding, ENCODING.SOLID);
    for (const tile of update.tiles) {
      if (tile.encoding === ENCODING.JPEG) continue;
      const decoded = await decodeTile(tile);
      assertEquals(decoded.rgb, frameRgb(frame, tile));
    }
    // A change in one tile only: the full compare finds just those pixels.
    display.paint({ x: 130, y: 70, width: 2, height: 2 }, [0, 0, 255]);
    const next = await encoder.encode(capture.grab(), capture.poll().damage);
    assertEquals(
      next.tiles.map((t) => [t.x, t.y, t.width, t.height]),
      [[130, 70, 2, 2]],
    );
  } finally {
    encoder.close();
    capture.close();
  }
});

Deno.test("a new clipboard sequence number is one clipboard change, no window needed", () => {
  const display = new FakeDisplay(4, 4);
  display.otherAppCopies("before the capture");
  const capture = open(display);
  try {
    // What was there at the start is not a change: viewers read it anyway.
    assertEquals(capture.poll().clipboardChanged, false);
    display.otherAppCopies("copied in the session");
    assertEquals(capture.poll().clipboardChanged, true);
    assertEquals(capture.poll().clipboardChanged, false);
    display.otherAppEmpties();
    assertEquals(capture.poll().clipboardChanged, true);
    assertEquals(display.windowHistory, [], "no window, no message loop");
  } finally {
    capture.close();
  }
});
