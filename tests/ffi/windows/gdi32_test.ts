/**
 * Tests for `ffi/windows/gdi32.ts`: struct layouts and constants against
 * the Windows SDK (x64), no thread-bound call marked `nonblocking`, the
 * top-down 32-bit BITMAPINFO the fake reads from memory, and the wrapper
 * over the fake GDI (copy, read back, contract violations as errors).
 *
 * @module
 */
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { Kernel32 } from "../../../ffi/windows/kernel32.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  BI_RGB,
  BITMAP,
  BITMAPINFO,
  BITMAPINFOHEADER,
  CAPTUREBLT,
  DIB_RGB_COLORS,
  Gdi32,
  GDI32_SYMBOLS,
  SRCCOPY,
  topDownInfo,
} from "../../../ffi/windows/gdi32.ts";
import { User32 } from "../../../ffi/windows/user32.ts";
import { FakeDisplay } from "../../support/windows/fake_user32.ts";
import { fakeGdi32 } from "../../support/windows/fake_gdi32.ts";

function setUp(width = 6, height = 4) {
  const display = new FakeDisplay(width, height);
  const kernel32 = new Kernel32(display.kernel32.symbols);
  return {
    display,
    user32: new User32(display.user32, kernel32),
    gdi: new Gdi32(fakeGdi32(display), kernel32),
  };
}

Deno.test("gdi32 struct layouts match the x64 SDK", () => {
  assertEquals(BITMAPINFOHEADER.size, 40);
  assertEquals(BITMAPINFOHEADER.offsets, {
    biSize: 0,
    biWidth: 4,
    biHeight: 8,
    biPlanes: 12,
    biBitCount: 14,
    biCompression: 16,
    biSizeImage: 20,
    biXPelsPerMeter: 24,
    biYPelsPerMeter: 28,
    biClrUsed: 32,
    biClrImportant: 36,
  });
  assertEquals([BITMAPINFO.size, BITMAPINFO.offsets.bmiColors], [44, 40]);
  assertEquals(BITMAP.size, 32);
  assertEquals(BITMAP.offsets, {
    bmType: 0,
    bmWidth: 4,
    bmHeight: 8,
    bmWidthBytes: 12,
    bmPlanes: 16,
    bmBitsPixel: 18,
    bmBits: 24,
  });
});

Deno.test("gdi32 constants are the SDK's", () => {
  assertEquals(
    [SRCCOPY, CAPTUREBLT, BI_RGB, DIB_RGB_COLORS],
    [0x00cc0020, 0x40000000, 0, 0],
  );
  assertEquals((SRCCOPY | CAPTUREBLT) >>> 0, 0x40cc0020);
});

Deno.test("no gdi32 call is nonblocking: DCs are thread bound", () => {
  const nonblocking = Object.entries(GDI32_SYMBOLS)
    .filter(([, s]) => "nonblocking" in s && s.nonblocking)
    .map(([name]) => name);
  assertEquals(nonblocking, []);
  assertEquals(GDI32_SYMBOLS.BitBlt.parameters.length, 9);
  assertEquals(GDI32_SYMBOLS.GetDIBits.parameters, [
    "pointer",
    "pointer",
    "u32",
    "u32",
    "buffer",
    "buffer",
    "u32",
  ]);
});

Deno.test("topDownInfo asks for 32-bit BI_RGB rows, top row first", () => {
  const info = topDownInfo(1920, 1080);
  const view = new DataView(info.buffer);
  assertEquals(view.getUint32(0, true), 40);
  assertEquals(view.getInt32(4, true), 1920);
  assertEquals(view.getInt32(8, true), -1080);
  assertEquals(view.getUint16(12, true), 1);
  assertEquals(view.getUint16(14, true), 32);
  assertEquals(view.getUint32(16, true), BI_RGB);
  // Room for a colour table GDI never writes at 32 bpp.
  assertEquals(info.length, 40 + 1024);
});

Deno.test("a screen copy reads back as BGRX rows", () => {
  const { display, user32, gdi } = setUp(6, 4);
  display.paintPattern();
  const screen = user32.screenDC();
  const memory = gdi.createCompatibleDC(screen);
  const bitmap = gdi.createCompatibleBitmap(screen, { width: 6, height: 4 });
  const old = gdi.selectObject(memory, bitmap);
  gdi.bitBlt(memory, screen, { x: 0, y: 0, width: 6, height: 4 });
  gdi.selectObject(memory, old);
  const into = new Uint8Array(6 * 4 * 4);
  assertEquals(
    gdi.readBitmap(screen, bitmap, { width: 6, height: 4, into }),
    24,
  );
  assertEquals(into, display.pixels);
  assertEquals(display.rops, [0x40cc0020]);
  assertEquals(gdi.bitmapSize(bitmap), { width: 6, height: 4, bitsPixel: 32 });
  gdi.deleteObject(bitmap);
  gdi.deleteDC(memory);
  user32.releaseDC(screen);
  assertEquals(display.liveObjects(), []);
  assertEquals(display.violations, []);
});

Deno.test("GDI contract breaches surface as named Win32 errors", () => {
  const { display, user32, gdi } = setUp(4, 4);
  const screen = user32.screenDC();
  const memory = gdi.createCompatibleDC(screen);
  const bitmap = gdi.createCompatibleBitmap(screen, { width: 4, height: 4 });
  gdi.selectObject(memory, bitmap);
  // Still selected: GetDIBits refuses, DeleteObject too.
  const read = assertThrows(
    () =>
      gdi.readBitmap(screen, bitmap, {
        width: 4,
        height: 4,
        into: new Uint8Array(64),
      }),
    Win32Error,
  ) as Win32Error;
  assertEquals([read.function, read.codeName], [
    "GetDIBits",
    "ERROR_INVALID_PARAMETER",
  ]);
  assertThrows(() => gdi.deleteObject(bitmap), Win32Error, /DeleteObject/);
  assertThrows(
    () =>
      gdi.readBitmap(screen, bitmap, {
        width: 4,
        height: 4,
        into: new Uint8Array(10),
      }),
    RangeError,
    /too small/,
  );
  // Another desktop has the input: the copy is refused.
  display.inputDesktop = "Winlogon";
  const blit = assertThrows(
    () => gdi.bitBlt(memory, screen, { x: 0, y: 0, width: 4, height: 4 }),
    Win32Error,
  ) as Win32Error;
  assertEquals([blit.function, blit.codeName], [
    "BitBlt",
    "ERROR_ACCESS_DENIED",
  ]);
  assertThrows(
    () => gdi.selectObject(screen, bitmap),
    Win32Error,
    /SelectObject/,
  );
});
