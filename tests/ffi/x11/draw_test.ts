/**
 * Tests for `ffi/x11/draw.ts` on a real Xvfb: a graphics context fills
 * rectangles and ellipses in its colour; an image uploaded into a pixmap
 * and copied onto the root lands pixel-exact; windows are created, mapped,
 * focused and destroyed; the pointer warps; selection ownership and a
 * synthetic event reach the server. Pixels are read back with XGetImage
 * (`ffi/x11/image.ts`) on a separate connection.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { bgrx, withXvfb } from "../../support/x11_draw.ts";
import { XDisplay } from "../../../ffi/x11/display.ts";
import {
  createPixmap,
  createWindow,
  destroyWindow,
  focusWindow,
  freePixmap,
  GraphicsContext,
  mapRaised,
  mapWindow,
  sendEvent,
  setSelectionOwner,
  STRUCTURE_NOTIFY_MASK,
  warpPointer,
} from "../../../ffi/x11/draw.ts";
import {
  copyPixels,
  destroyImage,
  getImage,
  queryPointer,
} from "../../../ffi/x11/image.ts";

const XVFB = { sanitizeResources: false, sanitizeOps: false };

/** The BGR bytes of the root's pixel at (x, y), read on `reader`. */
function pixel(reader: XDisplay, x: number, y: number): number[] {
  const image = getImage(reader, reader.root, { x, y, width: 1, height: 1 });
  assert(image, "XGetImage returned NULL");
  try {
    const out = new Uint8Array(4);
    copyPixels(image, out);
    return [...out.subarray(0, 3)];
  } finally {
    destroyImage(image);
  }
}

Deno.test({
  name: "a graphics context fills rectangles and ellipses in its colour",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 120, height: 80 }, (screen) => {
      const display = XDisplay.open(screen.display);
      const reader = XDisplay.open(screen.display);
      const gc = new GraphicsContext(display);
      try {
        gc.colour(0x000000);
        gc.rect(display.root, { x: 0, y: 0, width: 120, height: 80 });
        gc.colour(0x336699);
        gc.rect(display.root, { x: 10, y: 10, width: 20, height: 10 });
        gc.colour(0xff8000);
        gc.ellipse(display.root, { x: 60, y: 20, width: 40, height: 40 });
        display.sync();
        assertEquals(pixel(reader, 10, 10), bgrx(0x336699));
        assertEquals(pixel(reader, 29, 19), bgrx(0x336699));
        assertEquals(pixel(reader, 30, 20), bgrx(0));
        assertEquals(pixel(reader, 80, 40), bgrx(0xff8000), "ellipse centre");
        assertEquals(pixel(reader, 61, 21), bgrx(0), "outside the ellipse");
      } finally {
        gc.free();
        gc.free(); // twice is harmless
        reader.close();
        display.close();
      }
    }),
});

Deno.test({
  name: "an image put into a pixmap and copied to the root is exact",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 64, height: 32 }, (screen) => {
      const display = XDisplay.open(screen.display);
      const reader = XDisplay.open(screen.display);
      const gc = new GraphicsContext(display);
      const pixmap = createPixmap(display, { width: 16, height: 8 });
      try {
        // BGRX: pixel (x, y) = (x * 16, y * 32, 200).
        const pixels = new Uint8Array(16 * 8 * 4);
        for (let y = 0; y < 8; y++) {
          for (let x = 0; x < 16; x++) {
            pixels.set([200, y * 32, x * 16, 0], (y * 16 + x) * 4);
          }
        }
        gc.putImage(pixmap, pixels, { width: 16, height: 8, dx: 0, dy: 0 });
        gc.copy(pixmap, display.root, {
          sx: 4,
          sy: 2,
          width: 8,
          height: 4,
          dx: 30,
          dy: 10,
        });
        display.sync();
        // Root (30, 10) shows pixmap (4, 2); root (37, 13) shows (11, 5).
        assertEquals(pixel(reader, 30, 10), [200, 64, 64]);
        assertEquals(pixel(reader, 37, 13), [200, 160, 176]);
      } finally {
        freePixmap(display, pixmap);
        gc.free();
        reader.close();
        display.close();
      }
    }),
});

Deno.test({
  name: "windows map, take focus and go; the pointer warps; events are sent",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 100, height: 100 }, (screen) => {
      const display = XDisplay.open(screen.display);
      const reader = XDisplay.open(screen.display);
      try {
        const rect = { x: 20, y: 20, width: 30, height: 30 };
        const window = createWindow(display, rect, {
          background: 0x00ff00,
          events: 0n,
        });
        mapRaised(display, window);
        focusWindow(display, window);
        display.sync();
        assertEquals(pixel(reader, 25, 25), bgrx(0x00ff00));
        warpPointer(display, { x: 30, y: 40 });
        display.sync();
        const pointer = queryPointer(reader);
        assertEquals([pointer.x, pointer.y], [30, 40]);
        assertEquals(pointer.child, window, "the pointer is over the window");
        setSelectionOwner(display, "CLIPBOARD", window);
        sendEvent(display, display.root, {
          mask: STRUCTURE_NOTIFY_MASK,
          event: new Uint8Array(192),
        });
        destroyWindow(display, window);
        const other = createWindow(display, rect, {
          background: 0x0000ff,
          events: 0n,
        });
        mapWindow(display, other);
        display.sync();
        assertEquals(pixel(reader, 25, 25), bgrx(0x0000ff));
      } finally {
        reader.close();
        display.close();
      }
    }),
});
