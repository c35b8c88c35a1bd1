/**
 * gdi32: copying the screen into memory (BitBlt into a compatible bitmap,
 * then GetDIBits as 32-bit top-down rows) and reading cursor bitmaps.
 *
 * A GDI device context belongs to the thread and desktop that made it, so
 * none of these symbols is `nonblocking` (a test pins that); failures read
 * `GetLastError` at once through {@linkcode Kernel32.fail} (GDI often sets
 * no code: the error then says `ERROR_SUCCESS (0)`).
 *
 * Pixels: a 32-bit `BI_RGB` DIB row is B, G, R, X per pixel, rows DWORD
 * aligned (so exactly `width * 4` bytes), the format the tile encoder takes.
 *
 * @module
 */
import type { Kernel32 } from "./kernel32.ts";
import { defineStruct, readField, viewOf, writeField } from "./struct.ts";

/** gdi32's symbols used by the streamer. Thread-bound: none is `nonblocking`. */
export const GDI32_SYMBOLS = {
  CreateCompatibleDC: { parameters: ["pointer"], result: "pointer" },
  CreateCompatibleBitmap: {
    parameters: ["pointer", "i32", "i32"],
    result: "pointer",
  },
  SelectObject: { parameters: ["pointer", "pointer"], result: "pointer" },
  DeleteObject: { parameters: ["pointer"], result: "i32" },
  DeleteDC: { parameters: ["pointer"], result: "i32" },
  BitBlt: {
    parameters: [
      "pointer",
      "i32",
      "i32",
      "i32",
      "i32",
      "pointer",
      "i32",
      "i32",
      "u32",
    ],
    result: "i32",
  },
  GetDIBits: {
    parameters: ["pointer", "pointer", "u32", "u32", "buffer", "buffer", "u32"],
    result: "i32",
  },
  GetObjectW: { parameters: ["pointer", "i32", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw gdi32 functions. */
export type Gdi32Symbols = Deno.DynamicLibrary<
  typeof GDI32_SYMBOLS
>["symbols"];

/** Opens gdi32.dll (Windows only). */
export function openGdi32(): Gdi32Symbols {
  return Deno.dlopen("gdi32.dll", GDI32_SYMBOLS).symbols;
}

/** `SRCCOPY` raster operation (wingdi.h). */
export const SRCCOPY = 0x00cc0020;
/** `CAPTUREBLT`: include layered (e.g. translucent) windows in the copy. */
export const CAPTUREBLT = 0x40000000;
/** `BI_RGB`: uncompressed DIB. */
export const BI_RGB = 0;
/** `DIB_RGB_COLORS`: the colour table holds RGB values. */
export const DIB_RGB_COLORS = 0;

/** `BITMAPINFOHEADER` (40 bytes). */
export const BITMAPINFOHEADER = defineStruct({
  biSize: "u32",
  biWidth: "i32",
  biHeight: "i32",
  biPlanes: "u16",
  biBitCount: "u16",
  biCompression: "u32",
  biSizeImage: "u32",
  biXPelsPerMeter: "i32",
  biYPelsPerMeter: "i32",
  biClrUsed: "u32",
  biClrImportant: "u32",
});

/** `BITMAPINFO` with its one declared `RGBQUAD` (44 bytes). */
export const BITMAPINFO = defineStruct({
  bmiHeader: BITMAPINFOHEADER,
  bmiColors: { array: "u32", length: 1 },
});

/** `BITMAP`, as `GetObjectW` fills it (32 bytes on x64: `bmBits` at 24). */
export const BITMAP = defineStruct({
  bmType: "i32",
  bmWidth: "i32",
  bmHeight: "i32",
  bmWidthBytes: "i32",
  bmPlanes: "u16",
  bmBitsPixel: "u16",
  bmBits: "ptr",
});

/**
 * Room for a `BITMAPINFO` with a full 256-entry colour table: GDI writes
 * none for 32-bit `BI_RGB`, but a stray one cannot run past this.
 */
const BITMAPINFO_ROOM = BITMAPINFOHEADER.size + 256 * 4;

/** A bitmap's size and depth. */
export interface BitmapSize {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Bits per pixel (1 for masks, 32 for the screen's). */
  bitsPixel: number;
}

/**
 * A `BITMAPINFO` asking for 32-bit `BI_RGB` pixels, top-down (negative
 * height) so row 0 is the top of the image.
 */
export function topDownInfo(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(BITMAPINFO_ROOM);
  const view = viewOf(bytes);
  const h = BITMAPINFOHEADER;
  writeField(view, h, { field: "biSize", value: h.size });
  writeField(view, h, { field: "biWidth", value: width });
  writeField(view, h, { field: "biHeight", value: -height });
  writeField(view, h, { field: "biPlanes", value: 1 });
  writeField(view, h, { field: "biBitCount", value: 32 });
  writeField(view, h, { field: "biCompression", value: BI_RGB });
  return bytes;
}

/** Typed gdi32 calls (synchronous; errors read `GetLastError` at once). */
export class Gdi32 {
  readonly #g: Gdi32Symbols;
  readonly #k: Kernel32;

  /** Wraps raw gdi32 functions; `kernel32` reads the last error. */
  constructor(symbols: Gdi32Symbols, kernel32: Kernel32) {
    this.#g = symbols;
    this.#k = kernel32;
  }

  /** A memory DC compatible with `dc`. */
  createCompatibleDC(dc: Deno.PointerValue): Deno.PointerValue {
    const memory = this.#g.CreateCompatibleDC(dc);
    if (memory === null) throw this.#k.fail("CreateCompatibleDC");
    return memory;
  }

  /**
   * A bitmap in `dc`'s format. Pass the screen DC: a fresh memory DC holds
   * a 1×1 monochrome bitmap and would make a monochrome one.
   */
  createCompatibleBitmap(
    dc: Deno.PointerValue,
    size: { width: number; height: number },
  ): Deno.PointerValue {
    const bitmap = this.#g.CreateCompatibleBitmap(dc, size.width, size.height);
    if (bitmap === null) throw this.#k.fail("CreateCompatibleBitmap");
    return bitmap;
  }

  /** Selects `object` into `dc`; returns what it replaces (to select back). */
  selectObject(
    dc: Deno.PointerValue,
    object: Deno.PointerValue,
  ): Deno.PointerValue {
    const previous = this.#g.SelectObject(dc, object);
    // NULL is the failure for bitmaps (HGDI_ERROR only for regions).
    if (previous === null) throw this.#k.fail("SelectObject");
    return previous;
  }

  /** Deletes a GDI object (a bitmap no longer selected anywhere). */
  deleteObject(object: Deno.PointerValue): void {
    if (object === null) return;
    if (!this.#g.DeleteObject(object)) throw this.#k.fail("DeleteObject");
  }

  /** Deletes a memory DC. */
  deleteDC(dc: Deno.PointerValue): void {
    if (dc === null) return;
    if (!this.#g.DeleteDC(dc)) throw this.#k.fail("DeleteDC");
  }

  /**
   * Copies `area` of `source` (at its x, y) to (0, 0) of `target` with
   * `SRCCOPY | CAPTUREBLT`.
   */
  bitBlt(
    target: Deno.PointerValue,
    source: Deno.PointerValue,
    area: { x: number; y: number; width: number; height: number },
  ): void {
    const ok = this.#g.BitBlt(
      target,
      0,
      0,
      area.width,
      area.height,
      source,
      area.x,
      area.y,
      (SRCCOPY | CAPTUREBLT) >>> 0,
    );
    if (!ok) throw this.#k.fail("BitBlt");
  }

  /**
   * Reads all of `bitmap` (which must not be selected into a DC) as 32-bit
   * top-down BGRX rows into `into`, converting from its own depth. `dc`
   * supplies the palette (any DC of the screen). Returns the row stride.
   */
  readBitmap(
    dc: Deno.PointerValue,
    bitmap: Deno.PointerValue,
    options: { width: number; height: number; into: Uint8Array },
  ): number {
    const { width, height, into } = options;
    const stride = width * 4;
    if (into.length < stride * height) {
      throw new RangeError(
        `buffer of ${into.length} bytes is too small for ${width}×${height}`,
      );
    }
    const lines = this.#g.GetDIBits(
      dc,
      bitmap,
      0,
      height,
      into,
      topDownInfo(width, height),
      DIB_RGB_COLORS,
    );
    if (lines !== height) throw this.#k.fail("GetDIBits");
    return stride;
  }

  /** A bitmap's size and depth (`GetObjectW` into a `BITMAP`). */
  bitmapSize(bitmap: Deno.PointerValue): BitmapSize {
    const bytes = new Uint8Array(BITMAP.size);
    if (this.#g.GetObjectW(bitmap, BITMAP.size, bytes) !== BITMAP.size) {
      throw this.#k.fail("GetObjectW");
    }
    const view = viewOf(bytes);
    return {
      width: Number(readField(view, BITMAP, { field: "bmWidth" })),
      height: Math.abs(Number(readField(view, BITMAP, { field: "bmHeight" }))),
      bitsPixel: Number(readField(view, BITMAP, { field: "bmBitsPixel" })),
    };
  }
}
