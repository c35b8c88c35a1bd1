/**
 * Tests for `mod/devices/windows/send_input.ts` over the fake user32,
 * whose SendInput decodes the INPUT array from memory: each browser event
 * becomes the right INPUT structs in one call; keys go by scan code (with
 * the extended flag; the numpad always), else as Unicode characters the
 * layout lacks, else by
 * virtual key; absolute coordinates are exact at every pixel; wheel deltas
 * are multiples of 120; releaseAll lets go of exactly what is held; and
 * refused injections are reported, never thrown.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  KEYEVENTF,
  MOUSEEVENTF,
  XBUTTON1,
  XBUTTON2,
} from "../../../ffi/windows/user32.ts";
import {
  MAX_WHEEL_NOTCHES,
  normalize,
  openSendInput,
  type SendInputSink,
} from "../../../mod/devices/windows/send_input.ts";
import { BUTTONS } from "../../../mod/devices/input.ts";
import {
  FakeDisplay,
  type FakeInputEvent,
} from "../../support/windows/fake_user32.ts";
import { fakeGraphicsLibraries } from "../../support/windows/fake_gdi32.ts";

const ABS_MOVE = MOUSEEVENTF.MOVE | MOUSEEVENTF.ABSOLUTE |
  MOUSEEVENTF.VIRTUALDESK;
const SCAN = KEYEVENTF.SCANCODE;
const UP = KEYEVENTF.KEYUP;
const EXT = KEYEVENTF.EXTENDEDKEY;
const UNI = KEYEVENTF.UNICODE;

function setUp(width = 1920, height = 1080) {
  const display = new FakeDisplay(width, height);
  const errors: Win32Error[] = [];
  const sink = openSendInput({
    libraries: fakeGraphicsLibraries(display),
    onError: (e) => errors.push(e),
  });
  /** The batches sent since the last call. */
  let seen = 0;
  const sent = (): FakeInputEvent[][] => {
    const out = display.inputBatches.slice(seen);
    seen = display.inputBatches.length;
    return out;
  };
  return { display, sink, errors, sent };
}

function key(scan: number, flags: number, vk = 0): FakeInputEvent {
  return { type: "keyboard", vk, scan, flags };
}

function mouse(flags: number, extra: Partial<FakeInputEvent> = {}) {
  return { type: "mouse", dx: 0, dy: 0, mouseData: 0, flags, ...extra };
}

Deno.test("absolute coordinates land on the same pixel at every position", () => {
  for (const size of [1, 2, 800, 1080, 1366, 1920, 2560, 3840, 7680]) {
    for (let at = 0; at < size; at++) {
      const value = normalize(at, size);
      assert(value >= 0 && value <= 65535, `${at}/${size}: ${value}`);
      // Windows maps back with value * size / 65536, truncated or rounded.
      assertEquals(Math.floor(value * size / 65536), at, `${at}/${size}`);
      if (size > 1) {
        assertEquals(Math.round(value * size / 65536), at, `${at}/${size}`);
      }
    }
  }
});

Deno.test("pointer moves are absolute over the virtual desktop, corners exact", () => {
  const { sink, sent } = setUp(1920, 1080);
  sink.pointer(0, 0, 0);
  sink.pointer(1919, 1079, 0);
  sink.pointer(5000, -3, 0); // clamped into the screen
  assertEquals(sent(), [
    [mouse(ABS_MOVE, { dx: 0, dy: 0 })],
    [mouse(ABS_MOVE, { dx: 65502, dy: 65476 })],
    [mouse(ABS_MOVE, { dx: 65502, dy: 0 })],
  ]);
  // The same place again: nothing to send.
  sink.pointer(1919, 0, 0);
  assertEquals(sent(), []);
});

Deno.test("buttons press and release the difference, in the move's call", () => {
  const { sink, sent } = setUp(100, 100);
  sink.pointer(10, 20, BUTTONS.LEFT);
  sink.pointer(10, 20, BUTTONS.LEFT | BUTTONS.RIGHT);
  sink.pointer(10, 20, BUTTONS.MIDDLE);
  sink.pointer(10, 20, BUTTONS.BACK | BUTTONS.FORWARD);
  sink.pointer(11, 20, 0);
  assertEquals(sent(), [
    [
      mouse(ABS_MOVE, { dx: 6554, dy: 13108 }),
      mouse(MOUSEEVENTF.LEFTDOWN),
    ],
    [mouse(MOUSEEVENTF.RIGHTDOWN)],
    [
      mouse(MOUSEEVENTF.LEFTUP),
      mouse(MOUSEEVENTF.RIGHTUP),
      mouse(MOUSEEVENTF.MIDDLEDOWN),
    ],
    [
      mouse(MOUSEEVENTF.MIDDLEUP),
      mouse(MOUSEEVENTF.XDOWN, { mouseData: XBUTTON1 }),
      mouse(MOUSEEVENTF.XDOWN, { mouseData: XBUTTON2 }),
    ],
    [
      mouse(ABS_MOVE, { dx: 7209, dy: 13108 }),
      mouse(MOUSEEVENTF.XUP, { mouseData: XBUTTON1 }),
      mouse(MOUSEEVENTF.XUP, { mouseData: XBUTTON2 }),
    ],
  ]);
});

Deno.test("wheel notches become multiples of WHEEL_DELTA, down negative", () => {
  const { sink, sent } = setUp();
  sink.wheel(0, 2);
  sink.wheel(-1, -3);
  sink.wheel(0, 0);
  sink.wheel(0, 10_000);
  sink.wheel(Number.NaN, 0.5);
  assertEquals(sent(), [
    [mouse(MOUSEEVENTF.WHEEL, { mouseData: -240 })],
    [
      mouse(MOUSEEVENTF.WHEEL, { mouseData: 360 }),
      mouse(MOUSEEVENTF.HWHEEL, { mouseData: -120 }),
    ],
    [mouse(MOUSEEVENTF.WHEEL, { mouseData: -MAX_WHEEL_NOTCHES * 120 })],
  ]);
});

Deno.test("keys go by scan code, extended where the 0xe0 prefix is", () => {
  const { sink, sent } = setUp();
  sink.key("KeyA", "a", true);
  sink.key("KeyA", "a", false);
  sink.key("ArrowLeft", "ArrowLeft", true);
  sink.key("ArrowLeft", "ArrowLeft", false);
  sink.key("ControlRight", "Control", true);
  sink.key("NumpadEnter", "Enter", true);
  sink.key("Enter", "Enter", true);
  assertEquals(sent(), [
    [key(0x1e, SCAN)],
    [key(0x1e, SCAN | UP)],
    [key(0x4b, SCAN | EXT)],
    [key(0x4b, SCAN | EXT | UP)],
    [key(0x1d, SCAN | EXT)],
    [key(0x1c, SCAN | EXT)],
    [key(0x1c, SCAN)],
  ]);
});

Deno.test("a character the layout types at that key, with the held Shift, goes by scan code", () => {
  const { sink, sent } = setUp();
  sink.key("Digit1", "!", true); // no Shift held: typed as a character
  sink.key("Digit1", "!", false);
  sink.key("ShiftLeft", "Shift", true);
  sink.key("Digit1", "!", true);
  sink.key("KeyA", "A", true);
  sink.key("KeyA", "A", false);
  sink.key("ShiftLeft", "Shift", false);
  sink.key("KeyB", "B", true); // CapsLock: a letter's case is not checked
  assertEquals(sent(), [
    [key(0x21, UNI)],
    [key(0x21, UNI | UP)],
    [key(0x2a, SCAN)],
    [key(0x02, SCAN)],
    [key(0x1e, SCAN)],
    [key(0x1e, SCAN | UP)],
    [key(0x2a, SCAN | UP)],
    [key(0x30, SCAN)],
  ]);
});

Deno.test("numpad keys go by scan code whatever character they type", () => {
  const { sink, sent } = setUp();
  // VkKeyScanW answers "1" with the main row's key, and MapVirtualKeyW maps
  // numpad scan codes to navigation keys: no layout check can match.
  sink.key("Numpad1", "1", true);
  sink.key("Numpad1", "1", false);
  sink.key("NumpadAdd", "+", true);
  sink.key("NumpadMultiply", "*", true);
  sink.key("NumpadDivide", "/", true);
  sink.key("NumpadDecimal", ".", true);
  assertEquals(sent(), [
    [key(0x4f, SCAN)],
    [key(0x4f, SCAN | UP)],
    [key(0x4e, SCAN)],
    [key(0x37, SCAN)],
    [key(0x35, SCAN | EXT)],
    [key(0x53, SCAN)],
  ]);
});

Deno.test("characters the layout lacks are typed as Unicode", () => {
  const { sink, sent } = setUp();
  sink.key("KeyE", "é", true);
  sink.key("KeyE", "é", false);
  // An AZERTY browser's "a" at KeyQ: the session's layout has "q" there.
  sink.key("KeyQ", "a", true);
  sink.key("KeyQ", "a", false);
  // No code at all (a virtual keyboard), and a character beyond the BMP.
  sink.key("", "😀", true);
  sink.key("", "😀", false);
  assertEquals(sent(), [
    [key(0xe9, UNI)],
    [key(0xe9, UNI | UP)],
    [key(0x61, UNI)],
    [key(0x61, UNI | UP)],
    [key(0xd83d, UNI), key(0xde00, UNI)],
    [key(0xd83d, UNI | UP), key(0xde00, UNI | UP)],
  ]);
});

Deno.test("a held AltGr is lifted around a Unicode character", () => {
  const { sink, sent } = setUp();
  // Windows browsers report AltGr as ControlLeft + AltRight.
  sink.key("ControlLeft", "Control", true);
  sink.key("AltRight", "AltGraph", true);
  sink.key("KeyE", "€", true);
  assertEquals(sent().at(-1), [
    key(0x1d, SCAN | UP),
    key(0x38, SCAN | EXT | UP),
    key(0x20ac, UNI),
    key(0x1d, SCAN),
    key(0x38, SCAN | EXT),
  ]);
});

Deno.test("a dead key is not pressed; the composed character is typed", () => {
  const { sink, sent } = setUp();
  sink.key("Backquote", "Dead", true);
  sink.key("Backquote", "Dead", false);
  assertEquals(sent(), []);
  sink.key("KeyE", "ê", true);
  sink.key("KeyE", "ê", false);
  assertEquals(sent(), [[key(0xea, UNI)], [key(0xea, UNI | UP)]]);
});

Deno.test("named keys without a code, Pause and NumLock go by virtual key", () => {
  const { sink, sent } = setUp();
  sink.key("", "Enter", true);
  sink.key("", "Enter", false);
  sink.key("NumLock", "NumLock", true);
  sink.key("Pause", "Pause", true);
  sink.key("", "Unidentified", true); // nothing to press
  sink.key("KeyZ", "z", false); // never pressed: nothing to release
  assertEquals(sent(), [
    [key(0x1c, 0, 0x0d)],
    [key(0x1c, UP, 0x0d)],
    [key(0x45, EXT, 0x90)],
    [key(0x45, 0, 0x13)],
  ]);
});

Deno.test("auto-repeat presses again; one release ends it", () => {
  const { sink, sent } = setUp();
  sink.key("KeyE", "é", true);
  sink.key("KeyE", "é", true);
  sink.key("KeyE", "é", false);
  assertEquals(sent(), [
    [key(0xe9, UNI)],
    [key(0xe9, UNI)],
    [key(0xe9, UNI | UP)],
  ]);
  assertEquals(sink.heldKeys.size, 0);
});

Deno.test("releaseAll releases exactly what is held, in one call", () => {
  const { sink, sent } = setUp(100, 100);
  sink.key("ShiftLeft", "Shift", true);
  sink.key("KeyA", "a", true);
  sink.key("KeyE", "é", true);
  sink.key("KeyB", "b", true);
  sink.key("KeyB", "b", false);
  sink.pointer(5, 5, BUTTONS.LEFT | BUTTONS.BACK);
  sent();
  assertEquals([...sink.heldKeys.keys()], ["ShiftLeft", "KeyA", "KeyE"]);
  assertEquals(sink.heldButtons, BUTTONS.LEFT | BUTTONS.BACK);
  sink.releaseAll();
  assertEquals(sent(), [[
    key(0x2a, SCAN | UP),
    key(0x1e, SCAN | UP),
    key(0xe9, UNI | UP),
    mouse(MOUSEEVENTF.LEFTUP),
    mouse(MOUSEEVENTF.XUP, { mouseData: XBUTTON1 }),
  ]]);
  assertEquals([sink.heldKeys.size, sink.heldButtons], [0, 0]);
  sink.releaseAll(); // nothing held: no call at all
  assertEquals(sent(), []);
});

Deno.test("refused injections are reported, not thrown", () => {
  const { display, sink, errors, sent } = setUp();
  // The secure desktop has the input; this thread is still on Default.
  display.inputDesktop = "Winlogon";
  sink.pointer(1, 1, BUTTONS.LEFT);
  sink.key("KeyA", "a", true);
  assertEquals(sent(), []);
  assertEquals(errors.map((e) => [e.function, e.codeName]), [
    ["SendInput", "ERROR_ACCESS_DENIED"],
    ["SendInput", "ERROR_ACCESS_DENIED"],
  ]);
  assert(errors.every((e) => e instanceof Win32Error));
  // What may be down is still released later.
  display.inputDesktop = "Default";
  sink.releaseAll();
  assertEquals(sent(), [[
    key(0x1e, SCAN | UP),
    mouse(MOUSEEVENTF.LEFTUP),
  ]]);
});

Deno.test("by default a refusal is warned once per error code", () => {
  const display = new FakeDisplay(10, 10);
  const sink: SendInputSink = openSendInput({
    libraries: fakeGraphicsLibraries(display),
  });
  const warnings: string[] = [];
  const warn = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    display.refuseInput = 5;
    sink.wheel(0, 1);
    sink.wheel(0, 1);
    display.refuseInput = 87;
    sink.wheel(0, 1);
  } finally {
    console.warn = warn;
  }
  assertEquals(warnings.length, 2);
  assert(warnings[0].includes("ERROR_ACCESS_DENIED"), warnings[0]);
  assert(warnings[1].includes("ERROR_INVALID_PARAMETER"), warnings[1]);
});

Deno.test("close releases everything, then ignores input", () => {
  const { sink, sent } = setUp();
  sink.key("MetaLeft", "Meta", true);
  sent();
  sink.close();
  assertEquals(sent(), [[key(0x5b, SCAN | EXT | UP)]]);
  sink.close();
  sink.key("KeyA", "a", true);
  sink.pointer(3, 3, 1);
  sink.releaseAll();
  assertEquals(sent(), []);
});
