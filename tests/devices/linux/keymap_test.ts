/**
 * Tests for `mod/devices/linux/keymap.ts`: the `KeyboardEvent.code` →
 * evdev table holds every common key with distinct keycodes, characters and
 * keysyms convert both ways, and against a real Xvfb's keymap (XKB "evdev"
 * rules, US layout) the X keycode (evdev + 8) of each code carries the
 * expected keysym.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/fs.ts";
import { XDisplay } from "../../../ffi/x11/display.ts";
import {
  getKeyboardMapping,
  type KeyboardMapping,
  keysymName,
} from "../../../ffi/x11/keyboard.ts";
import {
  characterForKeysym,
  EVDEV_KEYCODES,
  isCharacter,
  keysymForCharacter,
  NAMED_KEYSYMS,
  x11Keycode,
} from "../../../mod/devices/linux/keymap.ts";
import { stopProcessGroup } from "../../../mod/platform/linux/processes.ts";
import {
  encodeXauthority,
  newCookie,
} from "../../../mod/platform/linux/xauth.ts";
import { startXvfb } from "../../../mod/platform/linux/xvfb.ts";

const LETTERS = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"];
const COMMON = [
  ...LETTERS.map((l) => `Key${l}`),
  ...[...Array(10).keys()].map((d) => `Digit${d}`),
  ...[...Array(12).keys()].map((n) => `F${n + 1}`),
  ...["Up", "Down", "Left", "Right"].map((a) => `Arrow${a}`),
  "ShiftLeft",
  "ShiftRight",
  "ControlLeft",
  "ControlRight",
  "AltLeft",
  "AltRight",
  "MetaLeft",
  "MetaRight",
  "CapsLock",
  ...[...Array(10).keys()].map((d) => `Numpad${d}`),
  "NumpadAdd",
  "NumpadSubtract",
  "NumpadMultiply",
  "NumpadDivide",
  "NumpadDecimal",
  "NumpadEnter",
  "NumLock",
  "Minus",
  "Equal",
  "BracketLeft",
  "BracketRight",
  "Backslash",
  "Semicolon",
  "Quote",
  "Backquote",
  "Comma",
  "Period",
  "Slash",
  "IntlBackslash",
  "Enter",
  "Escape",
  "Backspace",
  "Tab",
  "Space",
  "Insert",
  "Delete",
  "Home",
  "End",
  "PageUp",
  "PageDown",
  "PrintScreen",
  "ScrollLock",
  "Pause",
  "ContextMenu",
];

Deno.test("keymap: every common code is in the table", () => {
  for (const code of COMMON) {
    assert(Object.hasOwn(EVDEV_KEYCODES, code), `${code} is missing`);
    assertEquals(x11Keycode(code), EVDEV_KEYCODES[code] + 8);
  }
  assertEquals(x11Keycode("KeyA"), 38);
  assertEquals(x11Keycode("Enter"), 36);
  assertEquals(x11Keycode("NoSuchKey"), undefined);
  assertEquals(x11Keycode(""), undefined);
  assertEquals(x11Keycode("toString"), undefined, "no prototype keys");
});

Deno.test("keymap: keycodes are distinct and X keycodes fit 8..255", () => {
  const seen = new Map<number, string>();
  for (const [code, evdev] of Object.entries(EVDEV_KEYCODES)) {
    assert(!seen.has(evdev), `${code} and ${seen.get(evdev)} share ${evdev}`);
    seen.set(evdev, code);
    assert(evdev + 8 >= 8 && evdev + 8 <= 255, code);
  }
});

Deno.test("keymap: characters and keysyms convert both ways", () => {
  assertEquals(keysymForCharacter("a"), 0x61);
  assertEquals(keysymForCharacter("~"), 0x7e);
  assertEquals(keysymForCharacter("é"), 0xe9);
  assertEquals(keysymForCharacter("€"), 0x010020ac);
  assertEquals(keysymForCharacter("😀"), 0x0101f600);
  assertEquals(keysymForCharacter("\n"), undefined);
  assertEquals(keysymForCharacter("ab"), undefined);
  for (const ch of ["a", "Z", " ", "é", "ÿ", "€", "ж", "😀"]) {
    assertEquals(characterForKeysym(keysymForCharacter(ch)!), ch);
  }
  assertEquals(characterForKeysym(0xffb7), "7", "KP_7");
  assertEquals(characterForKeysym(0xffab), "+", "KP_Add");
  assertEquals(characterForKeysym(0xff0d), undefined, "Return");
  assert(isCharacter("a") && isCharacter("😀") && isCharacter("é"));
  assert(!isCharacter("") && !isCharacter("Enter") && !isCharacter("F5"));
  assertEquals(NAMED_KEYSYMS.Enter, 0xff0d);
  assertEquals(NAMED_KEYSYMS.ArrowLeft, 0xff51);
});

/** Runs `fn` with the keyboard mapping of a fresh Xvfb. */
async function withKeymap(fn: (mapping: KeyboardMapping) => void) {
  await withTempDir(async (dir) => {
    const authFile = `${dir}/Xauthority`;
    await Deno.writeFile(authFile, encodeXauthority([{ cookie: newCookie() }]));
    const server = await startXvfb({
      authFile,
      screen: { width: 320, height: 240, depth: 24 },
    });
    const previous = Deno.env.get("XAUTHORITY");
    Deno.env.set("XAUTHORITY", authFile);
    try {
      const display = XDisplay.open(`:${server.display}`);
      try {
        fn(getKeyboardMapping(display));
      } finally {
        display.close();
      }
    } finally {
      if (previous === undefined) Deno.env.delete("XAUTHORITY");
      else Deno.env.set("XAUTHORITY", previous);
      await stopProcessGroup(server.child, { graceMs: 2_000 });
    }
  }, { prefix: "webstream-keymap-" });
}

Deno.test({
  name: "keymap: codes land on the right keysyms in Xvfb's keymap",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withKeymap((mapping) => {
      const level0 = (code: string) =>
        keysymName(mapping.at(x11Keycode(code)!)[0]);
      assertEquals(level0("KeyA"), "a");
      for (const l of LETTERS) assertEquals(level0(`Key${l}`), l.toLowerCase());
      for (let d = 0; d <= 9; d++) assertEquals(level0(`Digit${d}`), `${d}`);
      for (let n = 1; n <= 12; n++) assertEquals(level0(`F${n}`), `F${n}`);
      const expected: Record<string, string> = {
        Enter: "Return",
        Escape: "Escape",
        Backspace: "BackSpace",
        Tab: "Tab",
        Space: "space",
        ShiftLeft: "Shift_L",
        ShiftRight: "Shift_R",
        ControlLeft: "Control_L",
        ControlRight: "Control_R",
        AltLeft: "Alt_L",
        MetaLeft: "Super_L",
        CapsLock: "Caps_Lock",
        ArrowLeft: "Left",
        ArrowRight: "Right",
        ArrowUp: "Up",
        ArrowDown: "Down",
        Home: "Home",
        End: "End",
        PageUp: "Prior",
        PageDown: "Next",
        Insert: "Insert",
        Delete: "Delete",
        Minus: "minus",
        Equal: "equal",
        BracketLeft: "bracketleft",
        BracketRight: "bracketright",
        Backslash: "backslash",
        Semicolon: "semicolon",
        Quote: "apostrophe",
        Backquote: "grave",
        Comma: "comma",
        Period: "period",
        Slash: "slash",
        IntlBackslash: "less",
        NumpadEnter: "KP_Enter",
        NumpadAdd: "KP_Add",
        NumpadSubtract: "KP_Subtract",
        NumpadMultiply: "KP_Multiply",
        NumpadDivide: "KP_Divide",
        Numpad7: "KP_Home",
        NumLock: "Num_Lock",
        PrintScreen: "Print",
        ContextMenu: "Menu",
      };
      for (const [code, name] of Object.entries(expected)) {
        assertEquals(level0(code), name, code);
      }
      assertEquals(keysymName(mapping.at(x11Keycode("Numpad7")!)[1]), "KP_7");
    }),
});
