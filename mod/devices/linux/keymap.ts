/**
 * Browser keys to X11: `KeyboardEvent.code` (the physical key) to the Linux
 * evdev keycode, whose X keycode is evdev + 8 under the XKB "evdev" rules
 * that Xvfb loads by default; and characters to keysyms for keys a layout
 * lacks.
 *
 * @module
 */

/** `KeyboardEvent.code` → Linux evdev keycode (`linux/input-event-codes.h`). */
export const EVDEV_KEYCODES: Readonly<Record<string, number>> = Object.freeze({
  Escape: 1,
  Digit1: 2,
  Digit2: 3,
  Digit3: 4,
  Digit4: 5,
  Digit5: 6,
  Digit6: 7,
  Digit7: 8,
  Digit8: 9,
  Digit9: 10,
  Digit0: 11,
  Minus: 12,
  Equal: 13,
  Backspace: 14,
  Tab: 15,
  KeyQ: 16,
  KeyW: 17,
  KeyE: 18,
  KeyR: 19,
  KeyT: 20,
  KeyY: 21,
  KeyU: 22,
  KeyI: 23,
  KeyO: 24,
  KeyP: 25,
  BracketLeft: 26,
  BracketRight: 27,
  Enter: 28,
  ControlLeft: 29,
  KeyA: 30,
  KeyS: 31,
  KeyD: 32,
  KeyF: 33,
  KeyG: 34,
  KeyH: 35,
  KeyJ: 36,
  KeyK: 37,
  KeyL: 38,
  Semicolon: 39,
  Quote: 40,
  Backquote: 41,
  ShiftLeft: 42,
  Backslash: 43,
  KeyZ: 44,
  KeyX: 45,
  KeyC: 46,
  KeyV: 47,
  KeyB: 48,
  KeyN: 49,
  KeyM: 50,
  Comma: 51,
  Period: 52,
  Slash: 53,
  ShiftRight: 54,
  NumpadMultiply: 55,
  AltLeft: 56,
  Space: 57,
  CapsLock: 58,
  F1: 59,
  F2: 60,
  F3: 61,
  F4: 62,
  F5: 63,
  F6: 64,
  F7: 65,
  F8: 66,
  F9: 67,
  F10: 68,
  NumLock: 69,
  ScrollLock: 70,
  Numpad7: 71,
  Numpad8: 72,
  Numpad9: 73,
  NumpadSubtract: 74,
  Numpad4: 75,
  Numpad5: 76,
  Numpad6: 77,
  NumpadAdd: 78,
  Numpad1: 79,
  Numpad2: 80,
  Numpad3: 81,
  Numpad0: 82,
  NumpadDecimal: 83,
  Lang5: 85,
  IntlBackslash: 86,
  F11: 87,
  F12: 88,
  IntlRo: 89,
  Lang3: 90,
  Lang4: 91,
  Convert: 92,
  KanaMode: 93,
  NonConvert: 94,
  NumpadEnter: 96,
  ControlRight: 97,
  NumpadDivide: 98,
  PrintScreen: 99,
  AltRight: 100,
  Home: 102,
  ArrowUp: 103,
  PageUp: 104,
  ArrowLeft: 105,
  ArrowRight: 106,
  End: 107,
  ArrowDown: 108,
  PageDown: 109,
  Insert: 110,
  Delete: 111,
  AudioVolumeMute: 113,
  AudioVolumeDown: 114,
  AudioVolumeUp: 115,
  Power: 116,
  NumpadEqual: 117,
  Pause: 119,
  NumpadComma: 121,
  Lang1: 122,
  Lang2: 123,
  IntlYen: 124,
  MetaLeft: 125,
  MetaRight: 126,
  ContextMenu: 127,
  BrowserStop: 128,
  Again: 129,
  Props: 130,
  Undo: 131,
  Select: 132,
  Copy: 133,
  Open: 134,
  Paste: 135,
  Find: 136,
  Cut: 137,
  Help: 138,
  LaunchApp2: 140,
  Sleep: 142,
  WakeUp: 143,
  LaunchMail: 155,
  BrowserFavorites: 156,
  LaunchApp1: 157,
  BrowserBack: 158,
  BrowserForward: 159,
  Eject: 161,
  MediaTrackNext: 163,
  MediaPlayPause: 164,
  MediaTrackPrevious: 165,
  MediaStop: 166,
  BrowserHome: 172,
  BrowserRefresh: 173,
  NumpadParenLeft: 179,
  NumpadParenRight: 180,
  F13: 183,
  F14: 184,
  F15: 185,
  F16: 186,
  F17: 187,
  F18: 188,
  F19: 189,
  F20: 190,
  F21: 191,
  F22: 192,
  F23: 193,
  F24: 194,
  BrowserSearch: 217,
  MediaSelect: 226,
});

/** X keycodes are evdev keycodes + 8 under XKB's "evdev" rules. */
export const EVDEV_TO_X11 = 8;

/** The X keycode of the physical key `code`, `undefined` if unknown. */
export function x11Keycode(code: string): number | undefined {
  const evdev = Object.hasOwn(EVDEV_KEYCODES, code)
    ? EVDEV_KEYCODES[code]
    : undefined;
  return evdev === undefined ? undefined : evdev + EVDEV_TO_X11;
}

/**
 * Keysyms for `KeyboardEvent.key` names, for a named key whose `code` is
 * unknown (virtual keyboards send an empty `code`).
 */
export const NAMED_KEYSYMS: Readonly<Record<string, number>> = Object.freeze({
  Backspace: 0xff08,
  Tab: 0xff09,
  Enter: 0xff0d,
  Pause: 0xff13,
  ScrollLock: 0xff14,
  Escape: 0xff1b,
  Home: 0xff50,
  ArrowLeft: 0xff51,
  ArrowUp: 0xff52,
  ArrowRight: 0xff53,
  ArrowDown: 0xff54,
  PageUp: 0xff55,
  PageDown: 0xff56,
  End: 0xff57,
  Insert: 0xff63,
  ContextMenu: 0xff67,
  NumLock: 0xff7f,
  F1: 0xffbe,
  F2: 0xffbf,
  F3: 0xffc0,
  F4: 0xffc1,
  F5: 0xffc2,
  F6: 0xffc3,
  F7: 0xffc4,
  F8: 0xffc5,
  F9: 0xffc6,
  F10: 0xffc7,
  F11: 0xffc8,
  F12: 0xffc9,
  Shift: 0xffe1,
  Control: 0xffe3,
  CapsLock: 0xffe5,
  Meta: 0xffe7,
  Alt: 0xffe9,
  Delete: 0xffff,
});

/** Keypad keysyms and the characters they type. */
const KEYPAD_CHARACTERS: Readonly<Record<number, string>> = Object.freeze({
  0xff80: " ",
  0xffaa: "*",
  0xffab: "+",
  0xffac: ",",
  0xffad: "-",
  0xffae: ".",
  0xffaf: "/",
  0xffb0: "0",
  0xffb1: "1",
  0xffb2: "2",
  0xffb3: "3",
  0xffb4: "4",
  0xffb5: "5",
  0xffb6: "6",
  0xffb7: "7",
  0xffb8: "8",
  0xffb9: "9",
  0xffbd: "=",
});

/** Whether `key` (a `KeyboardEvent.key`) is one character, not a key name. */
export function isCharacter(key: string): boolean {
  return key.length > 0 && [...key].length === 1;
}

/**
 * The keysym of one character: Latin-1 keysyms are the code point, all
 * others `0x01000000 + code point`. `undefined` for control characters.
 */
export function keysymForCharacter(character: string): number | undefined {
  const point = character.codePointAt(0);
  if (point === undefined || [...character].length !== 1) return undefined;
  if ((point >= 0x20 && point <= 0x7e) || (point >= 0xa0 && point <= 0xff)) {
    return point;
  }
  if (point < 0x100) return undefined;
  return 0x01000000 + point;
}

/**
 * The character a keysym types, as far as a key's level matches go:
 * Latin-1, Unicode (`0x01xxxxxx`) and keypad keysyms. `undefined` otherwise.
 */
export function characterForKeysym(keysym: number): string | undefined {
  if (
    (keysym >= 0x20 && keysym <= 0x7e) || (keysym >= 0xa0 && keysym <= 0xff)
  ) {
    return String.fromCodePoint(keysym);
  }
  if (keysym >= 0x01000100 && keysym <= 0x0110ffff) {
    return String.fromCodePoint(keysym - 0x01000000);
  }
  return KEYPAD_CHARACTERS[keysym];
}
