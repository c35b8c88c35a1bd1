/**
 * Tests for `mod/devices/windows/virtual_keys.ts`: scan codes (set 1, as
 * Chromium's table has them for Windows) and US-position virtual keys for
 * letters, digits, F1–F24, OEM punctuation, the numpad, modifiers,
 * navigation and media keys; the extended-key flag exactly where the
 * `0xe0` prefix is; keys injected by virtual key; and named keys without
 * a code.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { EVDEV_KEYCODES } from "../../../mod/devices/linux/keymap.ts";
import {
  isCharacter,
  namedVirtualKey,
  prefixedScan,
  VIRTUAL_KEYS,
  virtualKey,
  VK,
} from "../../../mod/devices/windows/virtual_keys.ts";

function entry(code: string): [number, number, boolean] {
  const k = virtualKey(code);
  assert(k, `no key for ${code}`);
  return [k.scan, k.vk, k.extended];
}

Deno.test("letters and digits: QWERTY scan codes, ASCII virtual keys", () => {
  assertEquals(entry("KeyA"), [0x1e, 0x41, false]);
  assertEquals(entry("KeyQ"), [0x10, 0x51, false]);
  assertEquals(entry("KeyZ"), [0x2c, 0x5a, false]);
  assertEquals(entry("KeyM"), [0x32, 0x4d, false]);
  assertEquals(entry("Digit1"), [0x02, 0x31, false]);
  assertEquals(entry("Digit9"), [0x0a, 0x39, false]);
  assertEquals(entry("Digit0"), [0x0b, 0x30, false]);
  for (let c = 0x41; c <= 0x5a; c++) {
    assertEquals(virtualKey(`Key${String.fromCharCode(c)}`)?.vk, c);
  }
});

Deno.test("F1–F24 follow the set-1 gaps", () => {
  assertEquals(entry("F1"), [0x3b, 0x70, false]);
  assertEquals(entry("F10"), [0x44, 0x79, false]);
  assertEquals(entry("F11"), [0x57, 0x7a, false]);
  assertEquals(entry("F12"), [0x58, 0x7b, false]);
  assertEquals(entry("F13"), [0x64, 0x7c, false]);
  assertEquals(entry("F23"), [0x6e, 0x86, false]);
  assertEquals(entry("F24"), [0x76, 0x87, false]);
});

Deno.test("punctuation maps to the OEM keys by US position", () => {
  assertEquals(entry("Semicolon"), [0x27, VK.OEM_1, false]);
  assertEquals(entry("Slash"), [0x35, VK.OEM_2, false]);
  assertEquals(entry("Backquote"), [0x29, VK.OEM_3, false]);
  assertEquals(entry("BracketLeft"), [0x1a, VK.OEM_4, false]);
  assertEquals(entry("Backslash"), [0x2b, VK.OEM_5, false]);
  assertEquals(entry("BracketRight"), [0x1b, VK.OEM_6, false]);
  assertEquals(entry("Quote"), [0x28, VK.OEM_7, false]);
  assertEquals(entry("IntlBackslash"), [0x56, VK.OEM_102, false]);
  assertEquals(entry("Minus"), [0x0c, VK.OEM_MINUS, false]);
  assertEquals(entry("Equal"), [0x0d, VK.OEM_PLUS, false]);
  assertEquals(entry("Comma"), [0x33, VK.OEM_COMMA, false]);
  assertEquals(entry("Period"), [0x34, VK.OEM_PERIOD, false]);
  assertEquals(
    [VK.OEM_1, VK.OEM_PLUS, VK.OEM_COMMA, VK.OEM_MINUS, VK.OEM_PERIOD],
    [0xba, 0xbb, 0xbc, 0xbd, 0xbe],
  );
  assertEquals(
    [VK.OEM_2, VK.OEM_3, VK.OEM_4, VK.OEM_5, VK.OEM_6, VK.OEM_7, VK.OEM_102],
    [0xbf, 0xc0, 0xdb, 0xdc, 0xdd, 0xde, 0xe2],
  );
});

Deno.test("the extended flag is set exactly for 0xe0 keys", () => {
  const extended = [
    "ControlRight",
    "AltRight",
    "ArrowUp",
    "ArrowDown",
    "ArrowLeft",
    "ArrowRight",
    "Insert",
    "Delete",
    "Home",
    "End",
    "PageUp",
    "PageDown",
    "NumpadEnter",
    "NumpadDivide",
    "MetaLeft",
    "MetaRight",
    "ContextMenu",
    "PrintScreen",
    "NumLock",
    "AudioVolumeMute",
    "MediaPlayPause",
    "BrowserBack",
  ];
  for (const code of extended) {
    assertEquals(virtualKey(code)?.extended, true, code);
  }
  const plain = [
    "ControlLeft",
    "AltLeft",
    "ShiftLeft",
    "ShiftRight",
    "Enter",
    "NumpadMultiply",
    "Numpad0",
    "Numpad7",
    "NumpadDecimal",
    "CapsLock",
    "ScrollLock",
    "Pause",
  ];
  for (const code of plain) {
    assertEquals(virtualKey(code)?.extended, false, code);
  }
  assertEquals(entry("ControlRight"), [0x1d, VK.RCONTROL, true]);
  assertEquals(entry("AltRight"), [0x38, VK.RMENU, true]);
  assertEquals(entry("NumpadEnter"), [0x1c, VK.RETURN, true]);
  assertEquals(entry("NumpadDivide"), [0x35, VK.DIVIDE, true]);
  assertEquals(entry("ArrowLeft"), [0x4b, VK.LEFT, true]);
  assertEquals(entry("Delete"), [0x53, VK.DELETE, true]);
  assertEquals(entry("MetaLeft"), [0x5b, VK.LWIN, true]);
  assertEquals(entry("PrintScreen"), [0x37, VK.SNAPSHOT, true]);
  assertEquals(prefixedScan(virtualKey("ArrowUp")!), 0xe048);
  assertEquals(prefixedScan(virtualKey("KeyA")!), 0x1e);
});

Deno.test("the numpad, modifiers and media keys", () => {
  assertEquals(entry("Numpad0"), [0x52, 0x60, false]);
  assertEquals(entry("Numpad1"), [0x4f, 0x61, false]);
  assertEquals(entry("Numpad5"), [0x4c, 0x65, false]);
  assertEquals(entry("Numpad9"), [0x49, 0x69, false]);
  assertEquals(entry("NumpadAdd"), [0x4e, VK.ADD, false]);
  assertEquals(entry("NumpadSubtract"), [0x4a, VK.SUBTRACT, false]);
  assertEquals(entry("ShiftLeft"), [0x2a, 0xa0, false]);
  assertEquals(entry("ShiftRight"), [0x36, 0xa1, false]);
  assertEquals(entry("ControlLeft"), [0x1d, 0xa2, false]);
  assertEquals(entry("AltLeft"), [0x38, 0xa4, false]);
  assertEquals(entry("AudioVolumeUp"), [0x30, 0xaf, true]);
  assertEquals(entry("AudioVolumeDown"), [0x2e, 0xae, true]);
  assertEquals(entry("MediaTrackNext"), [0x19, 0xb0, true]);
  assertEquals(entry("MediaTrackPrevious"), [0x10, 0xb1, true]);
  assertEquals(entry("MediaStop"), [0x24, 0xb2, true]);
});

Deno.test("Pause and NumLock go by virtual key", () => {
  const byVk = Object.entries(VIRTUAL_KEYS)
    .filter(([, k]) => k.byVk)
    .map(([code]) => code)
    .sort();
  assertEquals(byVk, ["NumLock", "Pause"]);
  assertEquals(entry("NumLock"), [0x45, VK.NUMLOCK, true]);
  assertEquals(entry("Pause"), [0x45, VK.PAUSE, false]);
});

Deno.test("every key is distinct and in range; the Linux table's keys are covered", () => {
  const seen = new Map<number, string>();
  for (const [code, k] of Object.entries(VIRTUAL_KEYS)) {
    assert(k.scan > 0 && k.scan < 0x80, `${code} scan ${k.scan}`);
    assert(k.vk > 0 && k.vk < 0xff, `${code} vk ${k.vk}`);
    const id = prefixedScan(k);
    assert(!seen.has(id), `${code} and ${seen.get(id)} share ${id}`);
    seen.set(id, code);
  }
  // Keys with no Windows scan code (Chromium's table has none for them).
  const missing = Object.keys(EVDEV_KEYCODES)
    .filter((code) => !virtualKey(code))
    .sort();
  assertEquals(missing, [
    "Again",
    "Copy",
    "Cut",
    "Eject",
    "Find",
    "Lang3",
    "Lang4",
    "Lang5",
    "NumpadParenLeft",
    "NumpadParenRight",
    "Open",
    "Paste",
    "Power",
    "Props",
    "Select",
    "Undo",
    "WakeUp",
  ]);
  assertEquals(virtualKey("toString"), undefined);
  assertEquals(virtualKey(""), undefined);
});

Deno.test("named keys without a code", () => {
  assertEquals(namedVirtualKey("Enter")?.vk, VK.RETURN);
  assertEquals(namedVirtualKey("ArrowLeft")?.extended, true);
  assertEquals(namedVirtualKey("F5")?.vk, 0x74);
  assertEquals(namedVirtualKey("Shift")?.vk, VK.LSHIFT);
  assertEquals(namedVirtualKey("Control")?.vk, VK.LCONTROL);
  assertEquals(namedVirtualKey("Alt")?.vk, VK.LMENU);
  assertEquals(namedVirtualKey("Meta")?.vk, VK.LWIN);
  const altGr = namedVirtualKey("AltGraph");
  assertEquals([altGr?.vk, altGr?.extended], [VK.RMENU, true]);
  // Code names that are no key names.
  assertEquals(namedVirtualKey("KeyA"), undefined);
  assertEquals(namedVirtualKey("Digit1"), undefined);
  assertEquals(namedVirtualKey("Numpad1"), undefined);
  assertEquals(namedVirtualKey("Unidentified"), undefined);
});

Deno.test("isCharacter tells characters from key names", () => {
  assertEquals(isCharacter("a"), true);
  assertEquals(isCharacter("é"), true);
  assertEquals(isCharacter("😀"), true);
  assertEquals(isCharacter("Enter"), false);
  assertEquals(isCharacter(""), false);
});
