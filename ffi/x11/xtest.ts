/**
 * libXtst's XTEST extension: synthesised key, button and pointer-motion
 * events that X clients cannot tell from real input (`synthetic NO`). The
 * Linux streamer injects the browser's input with it.
 *
 * Everything runs on the calling thread, like the rest of `ffi/x11/`.
 *
 * @module
 */
import { loadLibrary, X11Error, type XDisplay } from "./display.ts";

const SYMBOLS = {
  XTestQueryExtension: {
    parameters: ["pointer", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  XTestFakeKeyEvent: {
    parameters: ["pointer", "u32", "i32", "u64"],
    result: "i32",
  },
  XTestFakeButtonEvent: {
    parameters: ["pointer", "u32", "i32", "u64"],
    result: "i32",
  },
  XTestFakeMotionEvent: {
    parameters: ["pointer", "i32", "i32", "i32", "u64"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libXtst symbols of this module. */
export type XTestSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** libXtst, loaded once. */
export function xtestLibrary(): XTestSymbols {
  library ??= loadLibrary(["libXtst.so.6", "libXtst.so"], SYMBOLS, {
    package: "libxtst6",
  });
  return library.symbols;
}

/** The XTEST version a server speaks. */
export interface XTestVersion {
  /** Major version. */
  major: number;
  /** Minor version. */
  minor: number;
}

/** The server's XTEST version, or `undefined` when it lacks the extension. */
export function queryXTest(display: XDisplay): XTestVersion | undefined {
  const ints = new Int32Array(4);
  const ok = xtestLibrary().XTestQueryExtension(
    display.pointer,
    new Uint8Array(ints.buffer, 0, 4),
    new Uint8Array(ints.buffer, 4, 4),
    new Uint8Array(ints.buffer, 8, 4),
    new Uint8Array(ints.buffer, 12, 4),
  );
  return ok ? { major: ints[2], minor: ints[3] } : undefined;
}

/**
 * Injects input into one display through XTEST. Events are queued; call
 * {@linkcode XDisplay.flush} (or `sync`) to send them.
 */
export class XTest {
  readonly #display: XDisplay;
  readonly #x: XTestSymbols;

  /** Binds to `display`; throws {@linkcode X11Error} without XTEST. */
  constructor(display: XDisplay) {
    this.#x = xtestLibrary();
    if (!queryXTest(display)) {
      throw new X11Error("the X server lacks the XTEST extension");
    }
    this.#display = display;
  }

  /** Presses (`down`) or releases an X keycode (8–255). */
  key(keycode: number, down: boolean): void {
    this.#x.XTestFakeKeyEvent(this.#display.pointer, keycode, down ? 1 : 0, 0n);
  }

  /** Presses or releases X button `button` (1 left, 2 middle, 3 right, 4–7 wheel, 8 back, 9 forward). */
  button(button: number, down: boolean): void {
    this.#x.XTestFakeButtonEvent(
      this.#display.pointer,
      button,
      down ? 1 : 0,
      0n,
    );
  }

  /** Moves the pointer to (x, y) on the display's default screen. */
  motion(x: number, y: number): void {
    this.#x.XTestFakeMotionEvent(
      this.#display.pointer,
      this.#display.screen,
      x,
      y,
      0n,
    );
  }
}
