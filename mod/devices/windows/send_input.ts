/**
 * The Windows {@linkcode InputSink}: the browser's pointer, wheel and keys
 * injected with `SendInput`, one call per browser event (so nothing from
 * another source interleaves with its parts).
 *
 * - Keys go by physical key: `KeyboardEvent.code` → scan code with
 *   `KEYEVENTF_SCANCODE` (plus `KEYEVENTF_EXTENDEDKEY` for `0xe0` keys), so
 *   the session's layout decides the character and shortcuts and held
 *   modifiers behave as on a local keyboard. When `key` is a character the
 *   session's layout does not type at that key with the held Shift/AltGr
 *   (another browser layout, or a character such as "é" it lacks), the
 *   character itself is typed with `KEYEVENTF_UNICODE` (the X11 sink's
 *   keysym fallback), lifting a held AltGr around it.
 * - The pointer moves with absolute coordinates over the virtual desktop
 *   (`MOUSEEVENTF_ABSOLUTE | MOUSEEVENTF_MOVE | MOUSEEVENTF_VIRTUALDESK`,
 *   0–65535); buttons are left, right, middle and the X buttons (back =
 *   `XBUTTON1`, forward = `XBUTTON2`).
 * - Wheel: `MOUSEEVENTF_WHEEL` / `MOUSEEVENTF_HWHEEL` in multiples of
 *   `WHEEL_DELTA` (120 per notch; positive is away from the user / right).
 * - Touch arrives already mapped to pointer and wheel by the page
 *   (`httpdocs/session/input.js`), as for X11.
 *
 * Keys and buttons held down are tracked so {@linkcode InputSink.releaseAll}
 * lets go of exactly those. `SendInput` failures (the secure desktop is up,
 * or the thread is not on the input desktop) go to `onError`, never thrown:
 * the viewer's message handler must not die of a UAC prompt.
 *
 * @module
 */
import {
  Kernel32,
  type Kernel32Symbols,
  openKernel32,
} from "../../../ffi/windows/kernel32.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  type InputRecord,
  KEYEVENTF,
  MAPVK,
  MOUSEEVENTF,
  openUser32,
  User32,
  type User32Symbols,
  WHEEL_DELTA,
  XBUTTON1,
  XBUTTON2,
} from "../../../ffi/windows/user32.ts";
import { buttonChanges, clampCoordinate, type InputSink } from "../input.ts";
import {
  isCharacter,
  namedVirtualKey,
  prefixedScan,
  type VirtualKey,
  virtualKey,
} from "./virtual_keys.ts";

/** Most wheel notches sent for one event (a bound on a hostile client). */
export const MAX_WHEEL_NOTCHES = 64;

/** Browser button bit → `MOUSEEVENTF` down/up flags and `mouseData`. */
const BUTTONS: Readonly<
  Record<number, { down: number; up: number; data: number }>
> = Object.freeze({
  1: { down: MOUSEEVENTF.LEFTDOWN, up: MOUSEEVENTF.LEFTUP, data: 0 },
  2: { down: MOUSEEVENTF.RIGHTDOWN, up: MOUSEEVENTF.RIGHTUP, data: 0 },
  4: { down: MOUSEEVENTF.MIDDLEDOWN, up: MOUSEEVENTF.MIDDLEUP, data: 0 },
  8: { down: MOUSEEVENTF.XDOWN, up: MOUSEEVENTF.XUP, data: XBUTTON1 },
  16: { down: MOUSEEVENTF.XDOWN, up: MOUSEEVENTF.XUP, data: XBUTTON2 },
});

/** How a held key was pressed, so its release matches. */
export type Stroke =
  | { kind: "scan"; scan: number; extended: boolean }
  | { kind: "vk"; vk: number; scan: number; extended: boolean }
  | { kind: "unicode"; units: number[] };

/** A key this sink holds down. */
interface HeldKey {
  stroke: Stroke;
  /** The browser's `key` when pressed (to spot held Shift and AltGraph). */
  key: string;
}

/** The raw DLL functions a sink needs (fakes in tests). */
export interface SendInputLibraries {
  /** user32.dll. */
  user32: User32Symbols;
  /** kernel32.dll (for GetLastError). */
  kernel32: Kernel32Symbols;
}

/** Options for {@linkcode openSendInput}. */
export interface SendInputOptions {
  /** The DLLs; default: opened with `Deno.dlopen` (Windows only). */
  libraries?: SendInputLibraries;
  /**
   * Told of each `SendInput` failure. Default: a warning on stderr once per
   * distinct error code (a UAC prompt refuses every event while it is up).
   */
  onError?: (error: Win32Error) => void;
}

/** Opens user32/kernel32 (or `options.libraries`) and returns a sink. */
export function openSendInput(options: SendInputOptions = {}): SendInputSink {
  const libraries = options.libraries ??
    { user32: openUser32(), kernel32: openKernel32() };
  const kernel32 = new Kernel32(libraries.kernel32);
  return new SendInputSink(new User32(libraries.user32, kernel32), {
    onError: options.onError,
  });
}

/** An {@linkcode InputSink} injecting with `SendInput` on the calling thread. */
export class SendInputSink implements InputSink {
  readonly #user32: User32;
  readonly #onError: (error: Win32Error) => void;
  /** Held keys by `code` (or `key:<key>` when the code is empty). */
  readonly #keys = new Map<string, HeldKey>();
  #buttons = 0;
  #position: { x: number; y: number } | undefined;
  #closed = false;

  /** Injects through `user32`; failures go to `options.onError`. */
  constructor(
    user32: User32,
    options: { onError?: (error: Win32Error) => void } = {},
  ) {
    this.#user32 = user32;
    this.#onError = options.onError ?? warnOncePerCode();
  }

  /** The browser button bits held now. */
  get heldButtons(): number {
    return this.#buttons;
  }

  /** How each held key was pressed, by `code` (or `key:<key>`). */
  get heldKeys(): Map<string, Stroke> {
    return new Map([...this.#keys].map(([id, held]) => [id, held.stroke]));
  }

  pointer(x: number, y: number, buttons: number): void {
    if (this.#closed) return;
    const screen = this.#user32.virtualScreen();
    const at = {
      x: clampCoordinate(x, screen.width),
      y: clampCoordinate(y, screen.height),
    };
    const records: InputRecord[] = [];
    if (at.x !== this.#position?.x || at.y !== this.#position?.y) {
      records.push({
        type: "mouse",
        dx: normalize(at.x, screen.width),
        dy: normalize(at.y, screen.height),
        flags: MOUSEEVENTF.MOVE | MOUSEEVENTF.ABSOLUTE |
          MOUSEEVENTF.VIRTUALDESK,
      });
      this.#position = at;
    }
    const { press, release } = buttonChanges(this.#buttons, buttons);
    for (const bit of release) records.push(buttonRecord(bit, false));
    for (const bit of press) records.push(buttonRecord(bit, true));
    this.#buttons = buttons & 0x1f;
    this.#send(records);
  }

  wheel(dx: number, dy: number): void {
    if (this.#closed) return;
    const records: InputRecord[] = [];
    const down = notches(dy);
    const right = notches(dx);
    // Browser dy > 0 scrolls down; Windows' positive delta is away from
    // the user (up). Horizontal agrees: positive is right.
    if (down) {
      records.push({
        type: "mouse",
        mouseData: -down * WHEEL_DELTA,
        flags: MOUSEEVENTF.WHEEL,
      });
    }
    if (right) {
      records.push({
        type: "mouse",
        mouseData: right * WHEEL_DELTA,
        flags: MOUSEEVENTF.HWHEEL,
      });
    }
    this.#send(records);
  }

  key(code: string, key: string, down: boolean): void {
    if (this.#closed) return;
    // The browser composes a dead key with the next key and sends the
    // result; pressing it here would start a dead key in the session too.
    if (key === "Dead") return;
    const id = code || `key:${key}`;
    const held = this.#keys.get(id);
    if (!down) {
      // Release what went down under this code, however it was typed.
      if (!held) return;
      this.#keys.delete(id);
      this.#send(strokeRecords(held.stroke, false));
      return;
    }
    if (held) {
      // Auto-repeat: the same stroke again.
      this.#send(strokeRecords(held.stroke, true));
      return;
    }
    const stroke = this.#strokeFor(code, key);
    if (!stroke) return;
    const records = strokeRecords(stroke, true);
    if (stroke.kind === "unicode") {
      // A held AltGr (Ctrl+Alt to Windows) would make the character a
      // shortcut: lift it around the character, as the X11 sink does.
      const lift = this.#altGraphKeys();
      records.unshift(...lift.flatMap((k) => strokeRecords(k.stroke, false)));
      records.push(...lift.flatMap((k) => strokeRecords(k.stroke, true)));
    }
    this.#keys.set(id, { stroke, key });
    this.#send(records);
  }

  releaseAll(): void {
    if (this.#closed) return;
    const records: InputRecord[] = [];
    for (const held of this.#keys.values()) {
      records.push(...strokeRecords(held.stroke, false));
    }
    this.#keys.clear();
    for (const bit of buttonChanges(this.#buttons, 0).release) {
      records.push(buttonRecord(bit, false));
    }
    this.#buttons = 0;
    this.#send(records);
  }

  close(): void {
    if (this.#closed) return;
    this.releaseAll();
    this.#closed = true;
  }

  /**
   * How to press `code` for `key`: its scan code when `key` is a key name
   * or the layout types `key` there; else the character itself; else, for
   * a named key without a code, its virtual key.
   */
  #strokeFor(code: string, key: string): Stroke | undefined {
    const entry = virtualKey(code);
    // The numpad types the same characters in every layout, and the layout
    // check below cannot see it: VkKeyScanW answers with the main keyboard's
    // key and MapVirtualKeyW maps numpad scan codes to the navigation keys
    // (KB72583). Without this, Alt+numpad codes and numpad shortcuts break.
    if (entry && code.startsWith("Numpad")) return physical(entry);
    if (entry && (!isCharacter(key) || this.#layoutTypes(entry, key))) {
      return physical(entry);
    }
    if (isCharacter(key)) {
      const units: number[] = [];
      for (let i = 0; i < key.length; i++) units.push(key.charCodeAt(i));
      return { kind: "unicode", units };
    }
    const named = namedVirtualKey(key);
    if (!named) return undefined;
    return {
      kind: "vk",
      vk: named.vk,
      scan: named.scan,
      extended: named.extended,
    };
  }

  /**
   * Whether the session's layout types `key` at `entry` with the Shift and
   * AltGr the sink holds now (a shifted character sent without Shift down,
   * as on-screen keyboards do, is typed as a character instead; a letter's
   * case is left to CapsLock).
   */
  #layoutTypes(entry: VirtualKey, key: string): boolean {
    if (key.length !== 1) return false;
    const typed = this.#user32.vkKeyScan(key.charCodeAt(0));
    if (!typed) return false;
    const vkHere = this.#user32.mapVirtualKey(
      prefixedScan(entry),
      MAPVK.VSC_TO_VK_EX,
    );
    if (typed.vk !== vkHere) return false;
    const held = [...this.#keys.values()];
    const shift = held.some((k) => k.key === "Shift");
    const altGraph = held.some((k) => k.key === "AltGraph");
    // Letters follow CapsLock, whose presses reach the session too: their
    // case is the session's business, not a reason to type characters.
    const cased = key.toLowerCase() !== key.toUpperCase();
    if (!cased && ((typed.shift & 1) !== 0) !== shift) return false;
    const ctrlAlt = typed.shift & 6;
    return ctrlAlt === 0 || (ctrlAlt === 6 && altGraph);
  }

  /**
   * Held AltGr keys: AltGraph itself and, with it, Control (Windows
   * browsers report AltGr as ControlLeft + AltRight).
   */
  #altGraphKeys(): HeldKey[] {
    const held = [...this.#keys.values()];
    if (!held.some((k) => k.key === "AltGraph")) return [];
    return held.filter((k) => k.key === "AltGraph" || k.key === "Control");
  }

  #send(records: InputRecord[]): void {
    try {
      this.#user32.sendInput(records);
    } catch (error) {
      if (!(error instanceof Win32Error)) throw error;
      this.#onError(error);
    }
  }
}

/** The stroke for a physical key. */
function physical(entry: VirtualKey): Stroke {
  return entry.byVk
    ? { kind: "vk", vk: entry.vk, scan: entry.scan, extended: entry.extended }
    : { kind: "scan", scan: entry.scan, extended: entry.extended };
}

/** The `KEYBDINPUT`s that press or release `stroke`. */
export function strokeRecords(stroke: Stroke, down: boolean): InputRecord[] {
  const up = down ? 0 : KEYEVENTF.KEYUP;
  switch (stroke.kind) {
    case "scan":
      return [{
        type: "keyboard",
        scan: stroke.scan,
        flags: KEYEVENTF.SCANCODE | up |
          (stroke.extended ? KEYEVENTF.EXTENDEDKEY : 0),
      }];
    case "vk":
      return [{
        type: "keyboard",
        vk: stroke.vk,
        scan: stroke.scan,
        flags: up | (stroke.extended ? KEYEVENTF.EXTENDEDKEY : 0),
      }];
    case "unicode":
      // A surrogate pair goes as two units, in order.
      return stroke.units.map((unit) => ({
        type: "keyboard",
        scan: unit,
        flags: KEYEVENTF.UNICODE | up,
      }));
  }
}

/** The `MOUSEINPUT` pressing or releasing one browser button bit. */
function buttonRecord(bit: number, down: boolean): InputRecord {
  const button = BUTTONS[bit];
  return {
    type: "mouse",
    mouseData: button.data,
    flags: down ? button.down : button.up,
  };
}

/**
 * Pixel `at` of `size` as a normalized absolute coordinate (0–65535). The
 * smallest value whose pixel (`value * size / 65536`, rounded down or to
 * nearest) is `at`: exact at both edges whatever Windows' rounding.
 */
export function normalize(at: number, size: number): number {
  if (size <= 1) return 0;
  return Math.min(65535, Math.ceil(at * 65536 / size));
}

/** A wheel amount as whole notches within ±{@linkcode MAX_WHEEL_NOTCHES}. */
function notches(amount: number): number {
  if (!Number.isFinite(amount)) return 0;
  const n = Math.trunc(amount);
  return Math.max(-MAX_WHEEL_NOTCHES, Math.min(MAX_WHEEL_NOTCHES, n));
}

/** A reporter that warns once per distinct error code. */
function warnOncePerCode(): (error: Win32Error) => void {
  const seen = new Set<number | undefined>();
  return (error) => {
    if (seen.has(error.code)) return;
    seen.add(error.code);
    console.warn(`webstream: input injection refused: ${error.message}`);
  };
}
