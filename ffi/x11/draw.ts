/**
 * libX11 drawing and window calls for X clients of our own: the test
 * suite's painters and the media benchmark's workload (the animation and
 * the key echo window). On top of `display.ts`: graphics contexts, filled
 * rectangles and arcs, server-side pixmaps filled with `XPutImage` and
 * copied with `XCopyArea`, simple windows, focus, pointer warps, font
 * cursors, selection ownership and synthetic events. The streamer itself
 * never draws.
 *
 * Everything runs synchronously on the calling thread, like the rest of the
 * project's Xlib bindings.
 *
 * @module
 */
import { cString, loadLibrary, type XDisplay } from "./display.ts";

const SYMBOLS = {
  XCreateGC: {
    parameters: ["pointer", "u64", "u64", "pointer"],
    result: "pointer",
  },
  XFreeGC: { parameters: ["pointer", "pointer"], result: "i32" },
  XSetForeground: { parameters: ["pointer", "pointer", "u64"], result: "i32" },
  XFillRectangle: {
    parameters: ["pointer", "u64", "pointer", "i32", "i32", "u32", "u32"],
    result: "i32",
  },
  XFillArc: {
    parameters: [
      "pointer",
      "u64",
      "pointer",
      "i32",
      "i32",
      "u32",
      "u32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
  XCopyArea: {
    parameters: [
      "pointer",
      "u64",
      "u64",
      "pointer",
      "i32",
      "i32",
      "u32",
      "u32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
  XCreatePixmap: {
    parameters: ["pointer", "u64", "u32", "u32", "u32"],
    result: "u64",
  },
  XFreePixmap: { parameters: ["pointer", "u64"], result: "i32" },
  XDefaultVisual: { parameters: ["pointer", "i32"], result: "pointer" },
  XCreateImage: {
    parameters: [
      "pointer",
      "pointer",
      "u32",
      "i32",
      "i32",
      "buffer",
      "u32",
      "u32",
      "i32",
      "i32",
    ],
    result: "pointer",
  },
  XPutImage: {
    parameters: [
      "pointer",
      "u64",
      "pointer",
      "pointer",
      "i32",
      "i32",
      "i32",
      "i32",
      "u32",
      "u32",
    ],
    result: "i32",
  },
  XFree: { parameters: ["pointer"], result: "i32" },
  XCreateSimpleWindow: {
    parameters: [
      "pointer",
      "u64",
      "i32",
      "i32",
      "u32",
      "u32",
      "u32",
      "u64",
      "u64",
    ],
    result: "u64",
  },
  XSelectInput: { parameters: ["pointer", "u64", "i64"], result: "i32" },
  XMapRaised: { parameters: ["pointer", "u64"], result: "i32" },
  XDestroyWindow: { parameters: ["pointer", "u64"], result: "i32" },
  XSetInputFocus: {
    parameters: ["pointer", "u64", "i32", "u64"],
    result: "i32",
  },
  XMapWindow: { parameters: ["pointer", "u64"], result: "i32" },
  XMoveWindow: {
    parameters: ["pointer", "u64", "i32", "i32"],
    result: "i32",
  },
  XWarpPointer: {
    parameters: [
      "pointer",
      "u64",
      "u64",
      "i32",
      "i32",
      "u32",
      "u32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
  XSetSelectionOwner: {
    parameters: ["pointer", "u64", "u64", "u64"],
    result: "i32",
  },
  XInternAtom: { parameters: ["pointer", "buffer", "i32"], result: "u64" },
  XSendEvent: {
    parameters: ["pointer", "u64", "i32", "i64", "buffer"],
    result: "i32",
  },
  XCreateFontCursor: { parameters: ["pointer", "u32"], result: "u64" },
  XDefineCursor: { parameters: ["pointer", "u64", "u64"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function x(): Symbols {
  library ??= loadLibrary(["libX11.so.6", "libX11.so"], SYMBOLS, {
    package: "libx11-6",
  });
  return library.symbols;
}

/** `KeyPressMask`. */
export const KEY_PRESS_MASK = 1n << 0n;
/** `ExposureMask`. */
export const EXPOSURE_MASK = 1n << 15n;
/** `StructureNotifyMask`. */
export const STRUCTURE_NOTIFY_MASK = 1n << 17n;
/** Event types (the first `int` of an `XEvent`). */
export const EVENT = { KeyPress: 2, Expose: 12, MapNotify: 19 } as const;

const Z_PIXMAP = 2;
const REVERT_TO_PARENT = 2;
const CURRENT_TIME = 0n;

/** A graphics context drawing on one display. */
export class GraphicsContext {
  readonly #display: XDisplay;
  readonly #gc: Deno.PointerObject;
  #freed = false;

  constructor(display: XDisplay, drawable: bigint = display.root) {
    this.#display = display;
    const gc = x().XCreateGC(display.pointer, drawable, 0n, null);
    if (!gc) throw new Error("XCreateGC failed");
    this.#gc = gc;
  }

  /** Sets the fill colour, `0xRRGGBB` (TrueColor depth 24). */
  colour(rgb: number): void {
    x().XSetForeground(this.#display.pointer, this.#gc, BigInt(rgb >>> 0));
  }

  /** Fills a rectangle of `drawable` with the current colour. */
  rect(
    drawable: bigint,
    r: { x: number; y: number; width: number; height: number },
  ): void {
    x().XFillRectangle(
      this.#display.pointer,
      drawable,
      this.#gc,
      r.x,
      r.y,
      r.width,
      r.height,
    );
  }

  /** Fills the ellipse inscribed in a rectangle of `drawable`. */
  ellipse(
    drawable: bigint,
    r: { x: number; y: number; width: number; height: number },
  ): void {
    x().XFillArc(
      this.#display.pointer,
      drawable,
      this.#gc,
      r.x,
      r.y,
      r.width,
      r.height,
      0,
      360 * 64,
    );
  }

  /** Copies a rectangle from `source` at (`sx`, `sy`) to `target` at (`dx`, `dy`). */
  copy(
    source: bigint,
    target: bigint,
    area: {
      sx: number;
      sy: number;
      width: number;
      height: number;
      dx: number;
      dy: number;
    },
  ): void {
    x().XCopyArea(
      this.#display.pointer,
      source,
      target,
      this.#gc,
      area.sx,
      area.sy,
      area.width,
      area.height,
      area.dx,
      area.dy,
    );
  }

  /**
   * Uploads `pixels` (BGRX, `width × height`, rows packed) into `drawable`
   * at (`dx`, `dy`). Xlib splits large images into several requests.
   */
  putImage(
    drawable: bigint,
    pixels: Uint8Array<ArrayBuffer>,
    area: { width: number; height: number; dx: number; dy: number },
  ): void {
    const d = this.#display;
    const image = x().XCreateImage(
      d.pointer,
      x().XDefaultVisual(d.pointer, d.screen),
      24,
      Z_PIXMAP,
      0,
      pixels,
      area.width,
      area.height,
      32,
      area.width * 4,
    );
    if (!image) throw new Error("XCreateImage failed");
    try {
      x().XPutImage(
        d.pointer,
        drawable,
        this.#gc,
        image,
        0,
        0,
        area.dx,
        area.dy,
        area.width,
        area.height,
      );
      // The pixels must stay alive until the request is written.
      d.flush();
    } finally {
      // Frees the XImage struct only: its data is ours (no XDestroyImage).
      x().XFree(image);
    }
  }

  /** Frees the graphics context (once). */
  free(): void {
    if (this.#freed || this.#display.closed) return;
    this.#freed = true;
    x().XFreeGC(this.#display.pointer, this.#gc);
  }
}

/** Creates a depth-24 pixmap on the display's screen. */
export function createPixmap(
  display: XDisplay,
  size: { width: number; height: number },
): bigint {
  return x().XCreatePixmap(
    display.pointer,
    display.root,
    size.width,
    size.height,
    24,
  );
}

/** Frees a pixmap. */
export function freePixmap(display: XDisplay, pixmap: bigint): void {
  x().XFreePixmap(display.pointer, pixmap);
}

/** Creates a child of the root window, filled with `background`, selecting `events`. */
export function createWindow(
  display: XDisplay,
  r: { x: number; y: number; width: number; height: number },
  options: { background: number; events: bigint },
): bigint {
  const window = x().XCreateSimpleWindow(
    display.pointer,
    display.root,
    r.x,
    r.y,
    r.width,
    r.height,
    0,
    0n,
    BigInt(options.background >>> 0),
  );
  if (!window) throw new Error("XCreateSimpleWindow failed");
  x().XSelectInput(display.pointer, window, options.events);
  return window;
}

/** Maps a window on top of its siblings. */
export function mapRaised(display: XDisplay, window: bigint): void {
  x().XMapRaised(display.pointer, window);
}

/** Gives a (viewable) window the keyboard focus. */
export function focusWindow(display: XDisplay, window: bigint): void {
  x().XSetInputFocus(display.pointer, window, REVERT_TO_PARENT, CURRENT_TIME);
}

/** Destroys a window. */
export function destroyWindow(display: XDisplay, window: bigint): void {
  x().XDestroyWindow(display.pointer, window);
}

/** Maps a window (without raising it). */
export function mapWindow(display: XDisplay, window: bigint): void {
  x().XMapWindow(display.pointer, window);
}

/** Moves `window` so its top-left corner is at (`x`, `y`) of its parent. */
export function moveWindow(
  display: XDisplay,
  window: bigint,
  to: { x: number; y: number },
): void {
  x().XMoveWindow(display.pointer, window, to.x, to.y);
}

/** Moves the pointer to (`px`, `py`) on the root window. */
export function warpPointer(
  display: XDisplay,
  to: { x: number; y: number },
): void {
  x().XWarpPointer(display.pointer, 0n, display.root, 0, 0, 0, 0, to.x, to.y);
}

/**
 * Sets `window`'s cursor to glyph `shape` of the cursor font (150 is
 * `XC_watch`, 68 `XC_left_ptr`).
 */
export function defineFontCursor(
  display: XDisplay,
  window: bigint,
  shape: number,
): void {
  const cursor = x().XCreateFontCursor(display.pointer, shape);
  x().XDefineCursor(display.pointer, window, cursor);
}

/** Makes `owner` the owner of the selection named `selection`. */
export function setSelectionOwner(
  display: XDisplay,
  selection: string,
  owner: bigint,
): void {
  const atom = x().XInternAtom(display.pointer, cString(selection), 0);
  x().XSetSelectionOwner(display.pointer, atom, owner, CURRENT_TIME);
}

/**
 * Sends `event` (an `XEvent`, 192 bytes) to `window` for the listeners of
 * `mask`, as any client may.
 */
export function sendEvent(
  display: XDisplay,
  window: bigint,
  options: { mask: bigint; event: Uint8Array<ArrayBuffer> },
): void {
  x().XSendEvent(display.pointer, window, 0, options.mask, options.event);
}
