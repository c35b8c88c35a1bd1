/**
 * Tests for `ffi/x11/image.ts`: the XImage offsets against the documented
 * x64 layout of `struct _XImage`, and against real XImages from a real Xvfb
 * (`XGetImage` of a painted area: size, stride, depth, BGRX masks and the
 * exact pixel bytes, freed through the struct's `destroy_image` pointer),
 * copying rows out, a refused area, the root's geometry, the pointer position
 * after a warp, and selecting root events.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { bgrx, cLayout, Painter, withXvfb } from "../../support/x11_draw.ts";
import { XDisplay, xlib } from "../../../ffi/x11/display.ts";
import {
  copyPixels,
  destroyImage,
  getImage,
  isBgrx,
  queryPointer,
  readXImage,
  selectInput,
  STRUCTURE_NOTIFY_MASK,
  windowSize,
  XIMAGE,
  Z_PIXMAP,
} from "../../../ffi/x11/image.ts";

const XVFB = { sanitizeOps: false, sanitizeResources: false };

Deno.test("XIMAGE matches struct _XImage on x64", () => {
  const int = 4, long = 8, ptr = 8;
  const expected = cLayout([
    ["width", int],
    ["height", int],
    ["xoffset", int],
    ["format", int],
    ["data", ptr],
    ["byteOrder", int],
    ["bitmapUnit", int],
    ["bitmapBitOrder", int],
    ["bitmapPad", int],
    ["depth", int],
    ["bytesPerLine", int],
    ["bitsPerPixel", int],
    ["redMask", long],
    ["greenMask", long],
    ["blueMask", long],
    ["obdata", ptr],
    ["createImage", ptr],
    ["destroyImage", ptr],
    ["getPixel", ptr],
    ["putPixel", ptr],
    ["subImage", ptr],
    ["addPixel", ptr],
  ]);
  assertEquals({ ...XIMAGE }, expected);
  assertEquals(XIMAGE.size, 136);
  assertEquals(XIMAGE.redMask, 56);
});

Deno.test({
  name: "getImage reads painted pixels as BGRX with the documented fields",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 200, height: 100 }, (screen) => {
      const painter = new Painter(screen.display);
      const display = XDisplay.open(screen.display);
      try {
        painter.fill({ x: 0, y: 0, width: 200, height: 100 }, 0x000000);
        painter.fill({ x: 20, y: 10, width: 30, height: 20 }, 0x336699);
        const image = getImage(display, display.root, {
          x: 15,
          y: 5,
          width: 40,
          height: 30,
        });
        assert(image, "XGetImage returned NULL");
        const info = readXImage(image);
        assertEquals(
          {
            width: info.width,
            height: info.height,
            format: info.format,
            depth: info.depth,
            bitsPerPixel: info.bitsPerPixel,
            bytesPerLine: info.bytesPerLine,
          },
          {
            width: 40,
            height: 30,
            format: Z_PIXMAP,
            depth: 24,
            bitsPerPixel: 32,
            bytesPerLine: 160,
          },
        );
        assert(isBgrx(info));
        assert(info.data, "no data pointer");
        const target = new Uint8Array(40 * 30 * 4 + 8).fill(0xee);
        assertEquals(copyPixels(image, target), 40 * 30 * 4);
        // Only the image's bytes were written.
        assertEquals([...target.subarray(4800)], Array(8).fill(0xee));
        const at = (
          x: number,
          y: number,
        ) => [...target.subarray((y * 40 + x) * 4, (y * 40 + x) * 4 + 3)];
        // (20,10) on screen is (5,5) in the image; (15,5) is outside the fill.
        assertEquals(at(5, 5), bgrx(0x336699));
        assertEquals(at(34, 24), bgrx(0x336699));
        assertEquals(at(4, 5), bgrx(0));
        assertEquals(at(35, 24), bgrx(0));
        assertEquals(at(5, 4), bgrx(0));
        assertThrows(
          () => copyPixels(image, new Uint8Array(10)),
          RangeError,
        );
        destroyImage(image);
      } finally {
        display.close();
        painter.close();
      }
    }),
});

Deno.test({
  name: "getImage of an area outside the screen is refused with null",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 64, height: 48 }, (screen) => {
      const display = XDisplay.open(screen.display);
      try {
        assertEquals(
          getImage(display, display.root, {
            x: 60,
            y: 0,
            width: 10,
            height: 10,
          }),
          null,
        );
        // The connection still works after the (ignored) BadMatch.
        const image = getImage(display, display.root, {
          x: 0,
          y: 0,
          width: 64,
          height: 48,
        });
        assert(image);
        assertEquals(readXImage(image).width, 64);
        destroyImage(image);
      } finally {
        display.close();
      }
    }),
});

Deno.test({
  name: "windowSize, queryPointer and selectInput work on the root",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 300, height: 150 }, (screen) => {
      const painter = new Painter(screen.display);
      const display = XDisplay.open(screen.display);
      try {
        assertEquals(windowSize(display, display.root), {
          width: 300,
          height: 150,
        });
        painter.warp(123, 45);
        const at = queryPointer(display, display.root);
        assertEquals({ x: at.x, y: at.y }, { x: 123, y: 45 });
        assertEquals(at.child, 0n, "no window is mapped");
        // The root is the default window.
        assertEquals(queryPointer(display).x, 123);
        painter.warp(7, 140);
        const again = queryPointer(display, display.root);
        assertEquals({ x: again.x, y: again.y }, { x: 7, y: 140 });
        // Selecting StructureNotify on the root queues no event by itself.
        selectInput(display, display.root, STRUCTURE_NOTIFY_MASK);
        display.sync();
        assertEquals(xlib().XPending(display.pointer), 0);
      } finally {
        display.close();
        painter.close();
      }
    }),
});
