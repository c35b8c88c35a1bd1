/**
 * Reading the screen without MIT-SHM: `XGetImage` (the server sends the
 * pixels over the socket, Xlib mallocs an XImage for them), reading the
 * XImage struct's fields, and freeing it. Also the few more libX11 root
 * window calls a screen capture needs: the default visual, the root's
 * geometry (authoritative after a resize, unlike the cached
 * `XDisplayWidth`), the pointer position, and selecting root events.
 *
 * Freeing: `XDestroyImage` is a macro that calls the image's own
 * `f.destroy_image` function pointer. {@linkcode destroyImage} calls that
 * pointer through `Deno.UnsafeFnPointer`, so each image is freed the way its
 * creator meant (`XGetImage` images free data and struct; `XShmCreateImage`
 * images free the struct only and leave the shared segment alone).
 *
 * Layout (x64, LP64) relied on, from `<X11/Xlib.h>`:
 *
 * ```c
 * typedef struct _XImage {
 *   int width, height;        // 0, 4
 *   int xoffset;              // 8
 *   int format;               // 12
 *   char *data;               // 16
 *   int byte_order;           // 24
 *   int bitmap_unit;          // 28
 *   int bitmap_bit_order;     // 32
 *   int bitmap_pad;           // 36
 *   int depth;                // 40
 *   int bytes_per_line;       // 44
 *   int bits_per_pixel;       // 48 (then 4 bytes of padding)
 *   unsigned long red_mask;   // 56
 *   unsigned long green_mask; // 64
 *   unsigned long blue_mask;  // 72
 *   XPointer obdata;          // 80
 *   struct funcs {            // 88: create_image, 96: destroy_image,
 *     ...                     // 104: get_pixel, 112: put_pixel,
 *   } f;                      // 120: sub_image, 128: add_pixel
 * } XImage;                   // size 136
 * ```
 *
 * @module
 */
import { loadLibrary, X11Error, type XDisplay } from "./display.ts";

/** Offsets in `XImage` (x64). */
export const XIMAGE = Object.freeze({
  width: 0,
  height: 4,
  xoffset: 8,
  format: 12,
  data: 16,
  byteOrder: 24,
  bitmapUnit: 28,
  bitmapBitOrder: 32,
  bitmapPad: 36,
  depth: 40,
  bytesPerLine: 44,
  bitsPerPixel: 48,
  redMask: 56,
  greenMask: 64,
  blueMask: 72,
  obdata: 80,
  createImage: 88,
  destroyImage: 96,
  getPixel: 104,
  putPixel: 112,
  subImage: 120,
  addPixel: 128,
  size: 136,
});

/** `ZPixmap`: pixels as whole values, the format every capture uses. */
export const Z_PIXMAP = 2;
/** `AllPlanes`. */
export const ALL_PLANES = 0xffffffffffffffffn;
/** `LSBFirst` byte order. */
export const LSB_FIRST = 0;

/** `StructureNotifyMask`: ConfigureNotify on a resize of the root. */
export const STRUCTURE_NOTIFY_MASK = 1n << 17n;
/** The `ConfigureNotify` event type. */
export const CONFIGURE_NOTIFY = 22;

const SYMBOLS = {
  XGetImage: {
    parameters: ["pointer", "u64", "i32", "i32", "u32", "u32", "u64", "i32"],
    result: "pointer",
  },
  XDefaultVisual: { parameters: ["pointer", "i32"], result: "pointer" },
  XGetGeometry: {
    parameters: [
      "pointer",
      "u64",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  XQueryPointer: {
    parameters: [
      "pointer",
      "u64",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  XSelectInput: { parameters: ["pointer", "u64", "i64"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

const DESTROY = { parameters: ["pointer"], result: "i32" } as const;

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The libX11 symbols of this module, loaded once. */
export function ximage(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  library ??= loadLibrary(["libX11.so.6", "libX11.so"], SYMBOLS, {
    package: "libx11-6",
  });
  return library.symbols;
}

/** The fields of an XImage that a capture needs. */
export interface XImageInfo {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `ZPixmap` (2), `XYPixmap` (1) or `XYBitmap` (0). */
  format: number;
  /** The pixels (`null` until set). */
  data: Deno.PointerValue;
  /** `LSBFirst` (0) or `MSBFirst` (1). */
  byteOrder: number;
  /** Depth in bits. */
  depth: number;
  /** Row stride in bytes. */
  bytesPerLine: number;
  /** Bits per pixel. */
  bitsPerPixel: number;
  /** Channel masks. */
  redMask: bigint;
  /** Channel masks. */
  greenMask: bigint;
  /** Channel masks. */
  blueMask: bigint;
}

/** Reads the fields of the XImage at `image`. */
export function readXImage(image: Deno.PointerObject): XImageInfo {
  const view = new Deno.UnsafePointerView(image);
  return {
    width: view.getInt32(XIMAGE.width),
    height: view.getInt32(XIMAGE.height),
    format: view.getInt32(XIMAGE.format),
    data: view.getPointer(XIMAGE.data),
    byteOrder: view.getInt32(XIMAGE.byteOrder),
    depth: view.getInt32(XIMAGE.depth),
    bytesPerLine: view.getInt32(XIMAGE.bytesPerLine),
    bitsPerPixel: view.getInt32(XIMAGE.bitsPerPixel),
    redMask: view.getBigUint64(XIMAGE.redMask),
    greenMask: view.getBigUint64(XIMAGE.greenMask),
    blueMask: view.getBigUint64(XIMAGE.blueMask),
  };
}

/**
 * Whether an image holds 32-bit little-endian BGRX pixels (depth 24 in 32
 * bits, red in bits 16–23, blue in bits 0–7), the streamer's pixel format.
 */
export function isBgrx(info: XImageInfo): boolean {
  return info.format === Z_PIXMAP && info.bitsPerPixel === 32 &&
    info.byteOrder === LSB_FIRST && info.redMask === 0xff0000n &&
    info.greenMask === 0xff00n && info.blueMask === 0xffn;
}

/**
 * Frees an XImage the way `XDestroyImage` does: by calling its
 * `f.destroy_image` function pointer.
 */
export function destroyImage(image: Deno.PointerObject): void {
  const fn = new Deno.UnsafePointerView(image).getPointer(XIMAGE.destroyImage);
  if (!fn) throw new X11Error("XImage has no destroy_image function");
  new Deno.UnsafeFnPointer(fn as Deno.PointerObject<typeof DESTROY>, DESTROY)
    .call(image);
}

/** The default screen's default `Visual *`. */
export function visualOf(display: XDisplay): Deno.PointerValue {
  return ximage().XDefaultVisual(display.pointer, display.screen);
}

/**
 * `XGetImage` of the `width`×`height` area at (`x`, `y`) of `drawable` as a
 * ZPixmap; `null` when the server refused (an area outside the drawable).
 * Free the result with {@linkcode destroyImage}.
 */
export function getImage(
  display: XDisplay,
  drawable: bigint,
  area: { x: number; y: number; width: number; height: number },
): Deno.PointerObject | null {
  return ximage().XGetImage(
    display.pointer,
    drawable,
    area.x,
    area.y,
    area.width,
    area.height,
    ALL_PLANES,
    Z_PIXMAP,
  );
}

/**
 * Copies the pixels of `image` into `target` as rows `width * 4` bytes
 * apart (the image's own stride may be wider). Returns the bytes written.
 */
export function copyPixels(
  image: Deno.PointerObject,
  target: Uint8Array,
): number {
  const info = readXImage(image);
  if (!info.data) throw new X11Error("XImage has no data");
  const row = info.width * 4;
  const size = row * info.height;
  if (target.length < size) {
    throw new RangeError(`target holds ${target.length} bytes, need ${size}`);
  }
  if (info.bytesPerLine === row) {
    Deno.UnsafePointerView.copyInto(info.data, target.subarray(0, size));
  } else {
    const view = new Deno.UnsafePointerView(info.data);
    for (let y = 0; y < info.height; y++) {
      view.copyInto(
        target.subarray(y * row, (y + 1) * row),
        y * info.bytesPerLine,
      );
    }
  }
  return size;
}

/** Room for the out-parameters of one call, 8 bytes each. */
function outs(count: number): { bytes: Uint8Array; view: DataView } {
  // An explicit ArrayBuffer is never kept on the V8 heap, where it could move.
  const bytes = new Uint8Array(new ArrayBuffer(8 * count));
  return { bytes, view: new DataView(bytes.buffer) };
}

/** The size of `window` now, asked of the server (a round trip). */
export function windowSize(
  display: XDisplay,
  window: bigint,
): { width: number; height: number } {
  const { width, height } = windowGeometry(display, window);
  return { width, height };
}

/** A window's size and border width, from `XGetGeometry`. */
export interface WindowGeometry {
  /** Width inside the border. */
  width: number;
  /** Height inside the border. */
  height: number;
  /** Border width (drawn on each side). */
  border: number;
}

/** The size and border of `window` now, asked of the server (a round trip). */
export function windowGeometry(
  display: XDisplay,
  window: bigint,
): WindowGeometry {
  const o = outs(7);
  const at = (i: number): Uint8Array => o.bytes.subarray(8 * i, 8 * i + 8);
  const ok = ximage().XGetGeometry(
    display.pointer,
    window,
    at(0),
    at(1),
    at(2),
    at(3),
    at(4),
    at(5),
    at(6),
  );
  if (!ok) throw new X11Error("XGetGeometry failed");
  return {
    width: o.view.getUint32(24, true),
    height: o.view.getUint32(32, true),
    border: o.view.getUint32(40, true),
  };
}

/** Where the pointer is, from `XQueryPointer`. */
export interface PointerState {
  /** Root-window x. */
  x: number;
  /** Root-window y. */
  y: number;
  /** Modifier and button state mask (Button1Mask = 0x100 …). */
  mask: number;
  /** The child of `window` under the pointer, 0n for none. */
  child: bigint;
}

/**
 * The pointer's position on the screen (root coordinates), the modifier and
 * button state mask and the child window under it, asked of the server (a
 * round trip). `window` defaults to the root.
 */
export function queryPointer(
  display: XDisplay,
  window: bigint = display.root,
): PointerState {
  const o = outs(7);
  const at = (i: number): Uint8Array => o.bytes.subarray(8 * i, 8 * i + 8);
  ximage().XQueryPointer(
    display.pointer,
    window,
    at(0),
    at(1),
    at(2),
    at(3),
    at(4),
    at(5),
    at(6),
  );
  return {
    x: o.view.getInt32(16, true),
    y: o.view.getInt32(24, true),
    mask: o.view.getUint32(48, true),
    child: o.view.getBigUint64(8, true),
  };
}

/** `XSelectInput`: which core events of `window` this client receives. */
export function selectInput(
  display: XDisplay,
  window: bigint,
  mask: bigint,
): void {
  ximage().XSelectInput(display.pointer, window, mask);
}
