/**
 * Tests for `ffi/x11/keyboard.ts` against a real Xvfb (default XKB "evdev"
 * rules, US layout): the keycode range, the mapping read from the server
 * (letters on levels 0 and 1, empty spare keycodes), binding a keysym to a
 * spare keycode and reading it back, keysym names and Xlib's keysym →
 * keycode lookup.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { withTempDir } from "../../support/fs.ts";
import { XDisplay } from "../../../ffi/x11/display.ts";
import {
  changeKeyboardMapping,
  getKeyboardMapping,
  keycodeRange,
  keysymFromName,
  keysymName,
  keysymToKeycode,
  NO_SYMBOL,
} from "../../../ffi/x11/keyboard.ts";
import { stopProcessGroup } from "../../../mod/platform/linux/processes.ts";
import {
  encodeXauthority,
  newCookie,
} from "../../../mod/platform/linux/xauth.ts";
import { startXvfb } from "../../../mod/platform/linux/xvfb.ts";

/** Runs `fn` with a connection to a fresh 640×480 Xvfb. */
async function withDisplay(fn: (display: XDisplay) => void): Promise<void> {
  await withTempDir(async (dir) => {
    const authFile = `${dir}/Xauthority`;
    await Deno.writeFile(authFile, encodeXauthority([{ cookie: newCookie() }]));
    const server = await startXvfb({
      authFile,
      screen: { width: 640, height: 480, depth: 24 },
    });
    const previous = Deno.env.get("XAUTHORITY");
    Deno.env.set("XAUTHORITY", authFile);
    let display: XDisplay | undefined;
    try {
      display = XDisplay.open(`:${server.display}`);
      fn(display);
    } finally {
      display?.close();
      if (previous === undefined) Deno.env.delete("XAUTHORITY");
      else Deno.env.set("XAUTHORITY", previous);
      await stopProcessGroup(server.child, { graceMs: 2_000 });
    }
  }, { prefix: "webstream-keyboard-" });
}

function xTest(name: string, fn: (display: XDisplay) => void): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () => withDisplay(fn),
  });
}

xTest("keyboard: the server uses keycodes 8..255", (display) => {
  assertEquals(keycodeRange(display), { min: 8, max: 255 });
});

xTest("keyboard: the mapping puts a/A on keycode 38", (display) => {
  const mapping = getKeyboardMapping(display);
  assertEquals(mapping.first, 8);
  assertEquals(mapping.count, 248);
  assert(mapping.perKeycode >= 2);
  assertEquals(mapping.at(38).slice(0, 2), [0x61, 0x41]);
  assertEquals(mapping.find(0x61), { keycode: 38, level: 0 });
  assertEquals(mapping.find(0x41), { keycode: 38, level: 1 });
  // "!" is Shift+1 (keycode 10).
  assertEquals(mapping.find(0x21), { keycode: 10, level: 1 });
  assertEquals(mapping.find(0xe9), undefined, "US layout has no é");
  assertEquals(mapping.at(7), []);
  assertEquals(mapping.at(256), []);
  const part = getKeyboardMapping(display, { first: 38, count: 2 });
  assertEquals(part.count, 2);
  assertEquals(part.at(39).slice(0, 2), [0x73, 0x53]); // s S
});

xTest("keyboard: a keysym bound to a spare keycode reads back", (display) => {
  const before = getKeyboardMapping(display);
  const spare = [...Array(before.count).keys()]
    .map((i) => before.first + i)
    .reverse()
    .find((keycode) => before.isEmpty(keycode));
  assert(spare !== undefined, "no empty keycode");
  const eacute = keysymFromName("eacute");
  assertEquals(eacute, 0xe9);
  changeKeyboardMapping(display, spare, [eacute, eacute]);
  display.sync();
  const after = getKeyboardMapping(display);
  assertEquals(after.at(spare).slice(0, 2), [eacute, eacute]);
  assertEquals(after.find(eacute), { keycode: spare, level: 0 });
  changeKeyboardMapping(display, spare, [NO_SYMBOL]);
  display.sync();
  assert(getKeyboardMapping(display).isEmpty(spare));
});

xTest("keyboard: keysym names and Xlib's keycode lookup", (display) => {
  assertEquals(keysymName(0xff0d), "Return");
  assertEquals(keysymName(0x61), "a");
  assertEquals(keysymFromName("Shift_L"), 0xffe1);
  assertEquals(keysymFromName("no-such-keysym"), 0);
  assertEquals(keysymToKeycode(display, 0x61), 38);
  assertEquals(keysymToKeycode(display, 0xff0d), 36);
  assertEquals(keysymToKeycode(display, 0x10020ac), 0, "no U+20AC key");
});
