/**
 * libX11's keyboard-mapping calls: reading which keysyms each keycode
 * carries and binding keysyms to a spare keycode. The Linux input sink uses
 * them to type characters the X layout lacks. (Where the pointer is:
 * `queryPointer` in `image.ts`.)
 *
 * The mapping is always read from the server (`XGetKeyboardMapping`), never
 * from Xlib's cache, which only refreshes when the connection reads its
 * `MappingNotify` events.
 *
 * @module
 */
import { cString, loadLibrary, type XDisplay } from "./display.ts";

const SYMBOLS = {
  XDisplayKeycodes: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  // KeyCode is a byte; passed widened, as Xlib's wide prototypes do.
  XGetKeyboardMapping: {
    parameters: ["pointer", "u32", "i32", "buffer"],
    result: "pointer",
  },
  XChangeKeyboardMapping: {
    parameters: ["pointer", "i32", "i32", "buffer", "i32"],
    result: "i32",
  },
  XKeysymToKeycode: { parameters: ["pointer", "u64"], result: "u8" },
  XStringToKeysym: { parameters: ["buffer"], result: "u64" },
  XKeysymToString: { parameters: ["u64"], result: "pointer" },
  XFree: { parameters: ["pointer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libX11 keyboard symbols of this module. */
export type KeyboardSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** The keyboard symbols of libX11, loaded once. */
export function keyboardLibrary(): KeyboardSymbols {
  library ??= loadLibrary(["libX11.so.6", "libX11.so"], SYMBOLS, {
    package: "libx11-6",
  });
  return library.symbols;
}

/** `NoSymbol`: an empty keysym slot. */
export const NO_SYMBOL = 0;

/** The smallest and largest keycode the server uses (X allows 8–255). */
export function keycodeRange(
  display: XDisplay,
): { min: number; max: number } {
  const ints = new Int32Array(2);
  keyboardLibrary().XDisplayKeycodes(
    display.pointer,
    new Uint8Array(ints.buffer, 0, 4),
    new Uint8Array(ints.buffer, 4, 4),
  );
  return { min: ints[0], max: ints[1] };
}

/** A copy of the server's keycode → keysyms table. */
export class KeyboardMapping {
  /** First keycode in the table. */
  readonly first: number;
  /** Keysym columns per keycode. */
  readonly perKeycode: number;
  /** `perKeycode` keysyms per keycode, from `first` on (0 = NoSymbol). */
  readonly keysyms: readonly number[];

  constructor(first: number, perKeycode: number, keysyms: readonly number[]) {
    this.first = first;
    this.perKeycode = perKeycode;
    this.keysyms = keysyms;
  }

  /** The keycodes this table covers, from {@linkcode first} on. */
  get count(): number {
    return this.perKeycode ? this.keysyms.length / this.perKeycode : 0;
  }

  /** The keysyms of `keycode` (columns; NoSymbol as 0); empty if outside. */
  at(keycode: number): number[] {
    const index = keycode - this.first;
    if (index < 0 || index >= this.count) return [];
    const start = index * this.perKeycode;
    return this.keysyms.slice(start, start + this.perKeycode);
  }

  /** Whether `keycode` carries no keysym at all. */
  isEmpty(keycode: number): boolean {
    const syms = this.at(keycode);
    return syms.length > 0 && syms.every((s) => s === NO_SYMBOL);
  }

  /**
   * The first keycode carrying `keysym` in column 0 or 1 (shift level 0 or
   * 1), with that column; `undefined` if none does.
   */
  find(keysym: number): { keycode: number; level: number } | undefined {
    for (let level = 0; level < Math.min(2, this.perKeycode); level++) {
      for (let index = 0; index < this.count; index++) {
        if (this.keysyms[index * this.perKeycode + level] === keysym) {
          return { keycode: this.first + index, level };
        }
      }
    }
    return undefined;
  }
}

/**
 * Reads the keysyms of `count` keycodes from `first` (default: the whole
 * range the server uses) straight from the server.
 */
export function getKeyboardMapping(
  display: XDisplay,
  range?: { first: number; count: number },
): KeyboardMapping {
  const x = keyboardLibrary();
  const { min, max } = keycodeRange(display);
  const first = range?.first ?? min;
  const count = range?.count ?? max - min + 1;
  const per = new Int32Array(1);
  const pointer = x.XGetKeyboardMapping(
    display.pointer,
    first,
    count,
    new Uint8Array(per.buffer),
  );
  if (!pointer) return new KeyboardMapping(first, 0, []);
  try {
    const view = new Deno.UnsafePointerView(pointer);
    const keysyms: number[] = [];
    for (let i = 0; i < count * per[0]; i++) {
      // KeySym is an unsigned long; every defined keysym fits 32 bits.
      keysyms.push(Number(view.getBigUint64(i * 8)));
    }
    return new KeyboardMapping(first, per[0], keysyms);
  } finally {
    x.XFree(pointer);
  }
}

/**
 * Binds `keysyms` (one column each; 0 = NoSymbol) to `keycode`. Queued:
 * flush or sync the display to apply it.
 */
export function changeKeyboardMapping(
  display: XDisplay,
  keycode: number,
  keysyms: readonly number[],
): void {
  const buffer = new BigUint64Array(keysyms.map((k) => BigInt(k)));
  keyboardLibrary().XChangeKeyboardMapping(
    display.pointer,
    keycode,
    keysyms.length,
    new Uint8Array(buffer.buffer),
    1,
  );
}

/**
 * A keycode carrying `keysym` per Xlib's cached mapping, 0 if none. The
 * cache may lag behind changes made since the connection last read events;
 * {@linkcode getKeyboardMapping} asks the server instead.
 */
export function keysymToKeycode(display: XDisplay, keysym: number): number {
  return keyboardLibrary().XKeysymToKeycode(display.pointer, BigInt(keysym));
}

/** The keysym named `name` (such as `"eacute"`), 0 if there is none. */
export function keysymFromName(name: string): number {
  return Number(keyboardLibrary().XStringToKeysym(cString(name)));
}

/** The name of `keysym` (such as `"eacute"`), `undefined` if unnamed. */
export function keysymName(keysym: number): string | undefined {
  const pointer = keyboardLibrary().XKeysymToString(BigInt(keysym));
  // Xlib owns this string (static or cached): never free it.
  return pointer ? Deno.UnsafePointerView.getCString(pointer) : undefined;
}
