/**
 * The Linux {@linkcode InputSink}: the browser's pointer, wheel and keys
 * injected into an X display through XTEST.
 *
 * Keys go by physical key (`KeyboardEvent.code` → X keycode) when the X
 * layout agrees with the browser's, so shortcuts and held modifiers behave
 * as on a local keyboard. A character the X layout does not give at that key
 * (another browser layout, or a character such as "é" the layout lacks) is
 * typed by keysym instead: through a keycode that already carries it, or by
 * binding it for the moment to a spare keycode (one with no keysyms).
 * Held AltGr (and the Ctrl and Alt a Windows browser adds to it) is lifted
 * around such a character, so "@" typed with AltGr on a German keyboard is
 * "@" and not Ctrl+Alt+"@". AltGr itself is not pressed in the session: it
 * only chooses the characters the browser then sends (and a lone Alt press
 * and release would open some apps' menu bar). A dead key (`key` "Dead") is
 * not pressed either: the browser sends the character it composes with the
 * next key.
 *
 * @module
 */
import { XDisplay } from "../../../ffi/x11/display.ts";
import {
  changeKeyboardMapping,
  getKeyboardMapping,
  type KeyboardMapping,
  NO_SYMBOL,
} from "../../../ffi/x11/keyboard.ts";
import { screenSize } from "../../../ffi/x11/randr.ts";
import { XTest } from "../../../ffi/x11/xtest.ts";
import { buttonChanges, clampCoordinate, type InputSink } from "../input.ts";
import {
  characterForKeysym,
  isCharacter,
  keysymForCharacter,
  NAMED_KEYSYMS,
  x11Keycode,
} from "./keymap.ts";

/** Browser button bit → X button number. */
const X_BUTTONS: Readonly<Record<number, number>> = Object.freeze({
  1: 1, // left
  2: 3, // right
  4: 2, // middle
  8: 8, // back
  16: 9, // forward
});

/** Wheel buttons: up, down, left, right. */
const WHEEL = Object.freeze({ up: 4, down: 5, left: 6, right: 7 });

/** Most wheel clicks sent for one event (a bound on a hostile client). */
export const MAX_WHEEL_NOTCHES = 64;

/**
 * How many spare keycodes the fallback binds, the least recently used
 * first. A client reads a key event with the mapping it has when it gets to
 * it: rebinding a keycode before a slow client (an xterm under load) read
 * the last press of it types the new character there. With 16, a keycode is
 * rebound only after 15 other characters no key has (4 were too few: "ê" and
 * "á" came out as the "日本" an input method committed right after).
 */
export const SPARE_KEYCODES = 16;

/** How long a cached keyboard mapping or screen size is trusted, in ms. */
const REFRESH_MS = 1_000;

const SHIFT_L = 0xffe1;

/** Keycode of a held key the session never saw pressed (AltGr). */
const NOT_PRESSED = 0;

/** A key this sink holds down. */
interface HeldKey {
  /** The X keycode pressed, or {@linkcode NOT_PRESSED}. */
  keycode: number;
  /** The browser's `key` when pressed (to spot held Shift and AltGraph). */
  key: string;
}

/** Options for {@linkcode openX11Input}. */
export interface X11InputOptions {
  /** Display name; default `$DISPLAY`. */
  display?: string;
}

/**
 * Opens its own connection to the display (default `$DISPLAY`, authority
 * from `$XAUTHORITY`) and returns a sink injecting into it. Throws an
 * `X11Error` without the display or XTEST.
 */
export function openX11Input(options: X11InputOptions = {}): InputSink {
  const display = XDisplay.open(options.display);
  try {
    return new X11Input(display, { ownsDisplay: true });
  } catch (error) {
    display.close();
    throw error;
  }
}

/** An {@linkcode InputSink} on one X display connection. */
export class X11Input implements InputSink {
  readonly #display: XDisplay;
  readonly #xtest: XTest;
  readonly #ownsDisplay: boolean;
  /** Held keys by `code` (or `key:<key>` when the code is empty). */
  readonly #keys = new Map<string, HeldKey>();
  #buttons = 0;
  #position: { x: number; y: number } | undefined;
  #mapping: KeyboardMapping;
  #mappingAt = 0;
  #size: { width: number; height: number };
  #sizeAt = 0;
  /** Spare keycodes and the keysym each is bound to now (0 = none). */
  readonly #spares = new Map<number, number>();
  /** When each spare keycode was last typed (a count of uses, 0 = never). */
  readonly #spareUsed = new Map<number, number>();
  #spareUses = 0;
  #closed = false;

  /**
   * Injects into `display`. With `ownsDisplay` the connection is closed by
   * {@linkcode close}.
   */
  constructor(display: XDisplay, options: { ownsDisplay?: boolean } = {}) {
    this.#display = display;
    this.#xtest = new XTest(display);
    this.#ownsDisplay = options.ownsDisplay ?? false;
    this.#mapping = getKeyboardMapping(display);
    this.#mappingAt = Date.now();
    this.#size = screenSize(display);
    this.#sizeAt = Date.now();
    // The highest empty keycodes: furthest from anything a layout uses.
    for (
      let keycode = this.#mapping.first + this.#mapping.count - 1;
      keycode >= this.#mapping.first && this.#spares.size < SPARE_KEYCODES;
      keycode--
    ) {
      if (this.#mapping.isEmpty(keycode)) this.#spares.set(keycode, NO_SYMBOL);
    }
  }

  /** The keycodes the fallback may bind (for tests and diagnostics). */
  get spareKeycodes(): number[] {
    return [...this.#spares.keys()];
  }

  /** The browser button bits held now. */
  get heldButtons(): number {
    return this.#buttons;
  }

  /** The X keycodes held now. */
  get heldKeycodes(): number[] {
    return [...this.#keys.values()].map((k) => k.keycode).filter((k) =>
      k !== NOT_PRESSED
    );
  }

  pointer(x: number, y: number, buttons: number): void {
    if (this.#closed) return;
    const size = this.#screen();
    const at = {
      x: clampCoordinate(x, size.width),
      y: clampCoordinate(y, size.height),
    };
    if (at.x !== this.#position?.x || at.y !== this.#position?.y) {
      this.#xtest.motion(at.x, at.y);
      this.#position = at;
    }
    const { press, release } = buttonChanges(this.#buttons, buttons);
    for (const bit of release) this.#xtest.button(X_BUTTONS[bit], false);
    for (const bit of press) this.#xtest.button(X_BUTTONS[bit], true);
    this.#buttons = buttons & 0x1f;
    this.#display.flush();
  }

  wheel(dx: number, dy: number): void {
    if (this.#closed) return;
    const click = (button: number, notches: number) => {
      const n = Math.min(Math.abs(Math.trunc(notches)), MAX_WHEEL_NOTCHES);
      for (let i = 0; i < n; i++) {
        this.#xtest.button(button, true);
        this.#xtest.button(button, false);
      }
    };
    click(dy > 0 ? WHEEL.down : WHEEL.up, dy || 0);
    click(dx > 0 ? WHEEL.right : WHEEL.left, dx || 0);
    this.#display.flush();
  }

  key(code: string, key: string, down: boolean): void {
    if (this.#closed) return;
    // The browser composes a dead key with the next key and sends the
    // result; pressing it here would type the session layout's key.
    if (key === "Dead") return;
    const id = code || `key:${key}`;
    const held = this.#keys.get(id);
    if (key === "AltGraph" && down && !held) {
      // Held, so characters typed meanwhile lift the Ctrl a Windows browser
      // adds to it; never pressed in the session.
      this.#keys.set(id, { keycode: NOT_PRESSED, key });
      return;
    }
    if (!down) {
      // Release what went down under this code, however it was typed.
      if (!held) return;
      this.#keys.delete(id);
      if (held.keycode === NOT_PRESSED) return;
      this.#xtest.key(held.keycode, false);
      this.#display.flush();
      return;
    }
    if (held?.keycode === NOT_PRESSED) return;
    if (held) {
      // Auto-repeat: press the same keycode again.
      this.#xtest.key(held.keycode, true);
      this.#display.flush();
      return;
    }
    const keycode = this.#keycodeOfCode(code, key) ??
      this.#typeByKeysym(key);
    if (keycode === undefined) return;
    this.#keys.set(id, { keycode, key });
    this.#display.flush();
  }

  releaseAll(): void {
    if (this.#closed) return;
    for (const held of this.#keys.values()) {
      if (held.keycode !== NOT_PRESSED) this.#xtest.key(held.keycode, false);
    }
    this.#keys.clear();
    for (const bit of buttonChanges(this.#buttons, 0).release) {
      this.#xtest.button(X_BUTTONS[bit], false);
    }
    this.#buttons = 0;
    this.#display.flush();
  }

  close(): void {
    if (this.#closed) return;
    this.releaseAll();
    // Give the spare keycodes back empty.
    for (const [keycode, keysym] of this.#spares) {
      if (keysym !== NO_SYMBOL) {
        changeKeyboardMapping(this.#display, keycode, [NO_SYMBOL]);
      }
    }
    this.#display.sync();
    this.#closed = true;
    if (this.#ownsDisplay) this.#display.close();
  }

  /**
   * Presses the key at `code` when the X layout agrees with the browser:
   * `key` is a key name (or empty), or the keycode types `key` on the shift
   * level the held keys select (a shifted character sent without Shift
   * down, as on-screen keyboards and automation do, is typed by keysym).
   * Returns the keycode pressed, or `undefined` to fall back.
   */
  #keycodeOfCode(code: string, key: string): number | undefined {
    const keycode = x11Keycode(code);
    if (keycode === undefined) return undefined;
    if (isCharacter(key)) {
      const levels = this.#keyboard().at(keycode);
      const shifted = [...this.#keys.values()].some((k) => k.key === "Shift");
      const keysym = (shifted ? levels[1] : undefined) ?? levels[0];
      if (keysym === undefined || characterForKeysym(keysym) !== key) {
        return undefined;
      }
    }
    this.#xtest.key(keycode, true);
    return keycode;
  }

  /**
   * Types the keysym of `key` (a character, or a key name with no known
   * code): on a keycode that has it, else on a spare keycode bound to it.
   * Shift is pressed or lifted around the press as the level needs. Returns
   * the keycode pressed, or `undefined` when `key` cannot be typed.
   */
  #typeByKeysym(key: string): number | undefined {
    const keysym = isCharacter(key)
      ? keysymForCharacter(key)
      : Object.hasOwn(NAMED_KEYSYMS, key)
      ? NAMED_KEYSYMS[key]
      : undefined;
    if (keysym === undefined) return undefined;
    let place = this.#keyboard().find(keysym);
    if (!place) {
      const keycode = this.#bindSpare(keysym);
      if (keycode === undefined) return undefined;
      place = { keycode, level: 0 };
    }
    if (this.#spares.has(place.keycode)) {
      this.#spareUsed.set(place.keycode, ++this.#spareUses);
    }
    const wantShift = place.level === 1;
    // Lift held modifiers that would change what the key types: AltGr, and
    // with it Ctrl and Alt (a Windows browser sends AltGr as Ctrl+Alt).
    const held = [...this.#keys.values()];
    const altGraph = held.some((k) => k.key === "AltGraph");
    const lift = held.filter((k) =>
      k.keycode !== NOT_PRESSED && (
        (altGraph && (k.key === "Control" || k.key === "Alt")) ||
        (k.key === "Shift" && wantShift === false)
      )
    );
    const holdsShift = [...this.#keys.values()].some((k) => k.key === "Shift");
    const shift = wantShift && !holdsShift
      ? this.#keyboard().find(SHIFT_L)?.keycode
      : undefined;
    for (const k of lift) this.#xtest.key(k.keycode, false);
    if (shift) this.#xtest.key(shift, true);
    this.#xtest.key(place.keycode, true);
    if (shift) this.#xtest.key(shift, false);
    for (const k of lift) this.#xtest.key(k.keycode, true);
    return place.keycode;
  }

  /**
   * Binds `keysym` to the spare keycode least recently typed of those not
   * held now; returns it.
   */
  #bindSpare(keysym: number): number | undefined {
    const heldCodes = new Set(this.heldKeycodes);
    for (const [keycode, bound] of this.#spares) {
      if (bound === keysym) return keycode;
    }
    let oldest: number | undefined;
    for (const keycode of this.#spares.keys()) {
      if (heldCodes.has(keycode)) continue;
      if (
        oldest === undefined ||
        (this.#spareUsed.get(keycode) ?? 0) <
          (this.#spareUsed.get(oldest) ?? 0)
      ) {
        oldest = keycode;
      }
    }
    if (oldest === undefined) return undefined;
    // Same keysym on both levels: Shift cannot change it.
    changeKeyboardMapping(this.#display, oldest, [keysym, keysym]);
    this.#display.sync();
    this.#spares.set(oldest, keysym);
    this.#mappingAt = 0;
    return oldest;
  }

  /** The keyboard mapping, re-read once it may be stale. */
  #keyboard(): KeyboardMapping {
    if (Date.now() - this.#mappingAt > REFRESH_MS) {
      this.#mapping = getKeyboardMapping(this.#display);
      this.#mappingAt = Date.now();
    }
    return this.#mapping;
  }

  /** The screen size, re-read once it may be stale (RandR may change it). */
  #screen(): { width: number; height: number } {
    if (Date.now() - this.#sizeAt > REFRESH_MS) {
      this.#size = screenSize(this.#display);
      this.#sizeAt = Date.now();
    }
    return this.#size;
  }
}
