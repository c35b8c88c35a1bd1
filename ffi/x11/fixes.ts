/**
 * libXfixes: the cursor image and cursor change events, selection owner
 * change events (for the CLIPBOARD), and server-side regions (which the
 * DAMAGE extension fills with damaged rectangles).
 *
 * Layouts (x64, LP64) relied on, from `<X11/Xlib.h>` and
 * `<X11/extensions/Xfixes.h>`:
 *
 * ```c
 * typedef struct { short x, y; unsigned short width, height; }
 *   XRectangle;                    // 0, 2, 4, 6; size 8
 * typedef struct {
 *   short x, y;                    // 0, 2 (the pointer position)
 *   unsigned short width, height;  // 4, 6
 *   unsigned short xhot, yhot;     // 8, 10
 *   unsigned long cursor_serial;   // 16
 *   unsigned long *pixels;         // 24: one ARGB pixel per 64-bit long
 *   Atom atom;                     // 32 (XFixes 2+)
 *   const char *name;              // 40
 * } XFixesCursorImage;             // size 48
 * typedef struct {                 // both events start like every XEvent:
 *   int type;                      // 0
 *   unsigned long serial;          // 8
 *   Bool send_event;               // 16
 *   Display *display;              // 24
 *   Window window;                 // 32
 *   int subtype;                   // 40
 *   // XFixesCursorNotifyEvent: cursor_serial 48, timestamp 56,
 *   //   cursor_name 64
 *   // XFixesSelectionNotifyEvent: owner 48, selection 56, timestamp 64,
 *   //   selection_timestamp 72
 * } ...;
 * ```
 *
 * Cursor pixels are premultiplied ARGB, 32 bits used of each 64-bit
 * `unsigned long`; {@linkcode readCursorImage} returns straight RGBA.
 *
 * @module
 */
import { loadLibrary, X11Error, type XDisplay, xlib } from "./display.ts";

/** Offsets in `XRectangle`. */
export const XRECTANGLE = Object.freeze({
  x: 0,
  y: 2,
  width: 4,
  height: 6,
  size: 8,
});

/** Offsets in `XFixesCursorImage` (x64). */
export const XFIXES_CURSOR_IMAGE = Object.freeze({
  x: 0,
  y: 2,
  width: 4,
  height: 6,
  xhot: 8,
  yhot: 10,
  cursorSerial: 16,
  pixels: 24,
  atom: 32,
  name: 40,
  size: 48,
});

/** Offsets in `XFixesCursorNotifyEvent` (x64). */
export const XFIXES_CURSOR_NOTIFY = Object.freeze({
  type: 0,
  window: 32,
  subtype: 40,
  cursorSerial: 48,
  timestamp: 56,
  cursorName: 64,
});

/** Offsets in `XFixesSelectionNotifyEvent` (x64). */
export const XFIXES_SELECTION_NOTIFY = Object.freeze({
  type: 0,
  window: 32,
  subtype: 40,
  owner: 48,
  selection: 56,
  timestamp: 64,
  selectionTimestamp: 72,
});

/** Event numbers, added to the extension's event base. */
export const XFIXES_EVENT = Object.freeze({
  selectionNotify: 0,
  cursorNotify: 1,
});

/** `XFixesDisplayCursorNotifyMask`. */
export const DISPLAY_CURSOR_NOTIFY_MASK = 1n;
/**
 * Every selection owner change: set, owner window destroyed, owner client
 * gone (`XFixesSetSelectionOwnerNotifyMask | …WindowDestroy… | …ClientClose…`).
 */
export const SELECTION_OWNER_CHANGES_MASK = 1n | 2n | 4n;

const SYMBOLS = {
  XFixesQueryExtension: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  XFixesSelectCursorInput: {
    parameters: ["pointer", "u64", "u64"],
    result: "void",
  },
  XFixesGetCursorImage: { parameters: ["pointer"], result: "pointer" },
  XFixesSelectSelectionInput: {
    parameters: ["pointer", "u64", "u64", "u64"],
    result: "void",
  },
  XFixesCreateRegion: {
    parameters: ["pointer", "pointer", "i32"],
    result: "u64",
  },
  XFixesFetchRegion: {
    parameters: ["pointer", "u64", "buffer"],
    result: "pointer",
  },
  XFixesDestroyRegion: { parameters: ["pointer", "u64"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** libXfixes's symbols, loaded once. */
export function xfixes(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  library ??= loadLibrary(["libXfixes.so.3", "libXfixes.so"], SYMBOLS, {
    package: "libxfixes3",
  });
  return library.symbols;
}

/**
 * The XFIXES extension's first event number, or `undefined` when the server
 * lacks it. (libXfixes negotiates the protocol version here, once per
 * display, as every XFixes request requires.)
 */
export function fixesEventBase(display: XDisplay): number | undefined {
  const event = new Int32Array(new ArrayBuffer(8));
  const error = new Int32Array(new ArrayBuffer(8));
  const ok = xfixes().XFixesQueryExtension(display.pointer, event, error);
  return ok ? event[0] : undefined;
}

/** Asks for a cursor notify event whenever the displayed cursor changes. */
export function selectCursorInput(display: XDisplay, window: bigint): void {
  xfixes().XFixesSelectCursorInput(
    display.pointer,
    window,
    DISPLAY_CURSOR_NOTIFY_MASK,
  );
}

/** Asks for a selection notify event whenever `selection`'s owner changes. */
export function selectSelectionInput(
  display: XDisplay,
  window: bigint,
  selection: bigint,
): void {
  xfixes().XFixesSelectSelectionInput(
    display.pointer,
    window,
    selection,
    SELECTION_OWNER_CHANGES_MASK,
  );
}

/** A cursor image in straight (non-premultiplied) RGBA. */
export interface CursorImage {
  /** Changes whenever the cursor image does. */
  serial: number;
  /** The pointer position. */
  x: number;
  /** The pointer position. */
  y: number;
  /** Size in pixels. */
  width: number;
  /** Size in pixels. */
  height: number;
  /** The hotspot. */
  hotX: number;
  /** The hotspot. */
  hotY: number;
  /** `width * height * 4` bytes. */
  rgba: Uint8Array<ArrayBuffer>;
}

/**
 * Converts premultiplied ARGB pixels, each in the low 32 bits of a 64-bit
 * little-endian `unsigned long`, to straight RGBA.
 */
export function unpremultiplyArgb64(
  longs: Uint8Array,
  count: number,
): Uint8Array<ArrayBuffer> {
  if (longs.length < count * 8) {
    throw new RangeError(`${count} pixels need ${count * 8} bytes`);
  }
  const out = new Uint8Array(count * 4);
  for (let i = 0; i < count; i++) {
    // Little-endian ARGB word: byte 0 = B, 1 = G, 2 = R, 3 = A.
    const b = longs[i * 8], g = longs[i * 8 + 1], r = longs[i * 8 + 2];
    const a = longs[i * 8 + 3];
    if (a === 0) continue;
    const un = (c: number): number =>
      a === 255 ? c : Math.min(255, Math.round((c * 255) / a));
    out[i * 4] = un(r);
    out[i * 4 + 1] = un(g);
    out[i * 4 + 2] = un(b);
    out[i * 4 + 3] = a;
  }
  return out;
}

/**
 * The cursor the server displays now (one round trip), or `undefined` when
 * it has none to give.
 */
export function readCursorImage(display: XDisplay): CursorImage | undefined {
  const image = xfixes().XFixesGetCursorImage(display.pointer);
  if (!image) return undefined;
  try {
    const view = new Deno.UnsafePointerView(image);
    const width = view.getUint16(XFIXES_CURSOR_IMAGE.width);
    const height = view.getUint16(XFIXES_CURSOR_IMAGE.height);
    const pixels = view.getPointer(XFIXES_CURSOR_IMAGE.pixels);
    const count = width * height;
    let rgba = new Uint8Array(0);
    if (count > 0) {
      if (!pixels) throw new X11Error("cursor image without pixels");
      const longs = new Uint8Array(count * 8);
      Deno.UnsafePointerView.copyInto(pixels, longs);
      rgba = unpremultiplyArgb64(longs, count);
    }
    return {
      serial: Number(view.getBigUint64(XFIXES_CURSOR_IMAGE.cursorSerial)),
      x: view.getInt16(XFIXES_CURSOR_IMAGE.x),
      y: view.getInt16(XFIXES_CURSOR_IMAGE.y),
      width,
      height,
      hotX: view.getUint16(XFIXES_CURSOR_IMAGE.xhot),
      hotY: view.getUint16(XFIXES_CURSOR_IMAGE.yhot),
      rgba,
    };
  } finally {
    // One allocation holds the struct, its pixels and its name.
    xlib().XFree(image);
  }
}

/** Decodes `count` packed `XRectangle`s. */
export function decodeRectangles(
  bytes: Uint8Array,
  count: number,
): { x: number; y: number; width: number; height: number }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let i = 0; i < count; i++) {
    const at = i * XRECTANGLE.size;
    out.push({
      x: view.getInt16(at + XRECTANGLE.x, true),
      y: view.getInt16(at + XRECTANGLE.y, true),
      width: view.getUint16(at + XRECTANGLE.width, true),
      height: view.getUint16(at + XRECTANGLE.height, true),
    });
  }
  return out;
}

/** A new empty server-side region. */
export function createRegion(display: XDisplay): bigint {
  return xfixes().XFixesCreateRegion(display.pointer, null, 0);
}

/** The rectangles of a server-side region (one round trip). */
export function fetchRegion(
  display: XDisplay,
  region: bigint,
): { x: number; y: number; width: number; height: number }[] {
  const count = new Int32Array(new ArrayBuffer(8));
  const rects = xfixes().XFixesFetchRegion(display.pointer, region, count);
  if (!rects) return [];
  try {
    const n = count[0];
    if (n <= 0) return [];
    const bytes = new Uint8Array(n * XRECTANGLE.size);
    Deno.UnsafePointerView.copyInto(rects, bytes);
    return decodeRectangles(bytes, n);
  } finally {
    xlib().XFree(rects);
  }
}

/** Destroys a server-side region. */
export function destroyRegion(display: XDisplay, region: bigint): void {
  xfixes().XFixesDestroyRegion(display.pointer, region);
}
