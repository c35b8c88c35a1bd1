/**
 * Tests for `ffi/windows/user32.ts`: struct layouts and constants against
 * the Windows SDK (x64), no thread-bound call marked `nonblocking`, the
 * INPUT encoding as the fake SendInput decodes it from memory, and the
 * wrapper's error handling (GetLastError read at once, named codes) over
 * the fake display.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { Kernel32 } from "../../../ffi/windows/kernel32.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  CF_TEXT,
  CF_UNICODETEXT,
  CURSOR_SHOWING,
  CURSORINFO,
  decodeInputs,
  DESKTOP_ACCESS,
  encodeInputs,
  GENERIC_WRITE,
  HARDWAREINPUT,
  HWND_MESSAGE,
  ICONINFO,
  INPUT,
  INPUT_TYPE,
  INPUT_UNION,
  KEYBDINPUT,
  KEYEVENTF,
  MAPVK,
  MOUSEEVENTF,
  MOUSEINPUT,
  MSG,
  PM,
  POINT,
  SM_CMONITORS,
  SM_CXSCREEN,
  SM_CXVIRTUALSCREEN,
  SM_CYSCREEN,
  SM_CYVIRTUALSCREEN,
  SM_REMOTESESSION,
  SM_XVIRTUALSCREEN,
  SM_YVIRTUALSCREEN,
  STREAMER_DESKTOP_ACCESS,
  UOI_NAME,
  User32,
  USER32_SYMBOLS,
  type User32Symbols,
  WHEEL_DELTA,
  WM_DESTROYCLIPBOARD,
  XBUTTON1,
  XBUTTON2,
} from "../../../ffi/windows/user32.ts";
import {
  ERROR_CLIPBOARD_NOT_OPEN,
  ERROR_INVALID_WINDOW_HANDLE,
  FAKE_HWND_MESSAGE,
  FakeDisplay,
} from "../../support/windows/fake_user32.ts";
import { addressOfPointer } from "../../../ffi/windows/struct.ts";
import { fromWide } from "../../../ffi/windows/strings.ts";

function setUp(
  width = 64,
  height = 48,
  override: Partial<User32Symbols> = {},
): { display: FakeDisplay; user32: User32 } {
  const display = new FakeDisplay(width, height);
  const user32 = new User32(
    { ...display.user32, ...override } as User32Symbols,
    new Kernel32(display.kernel32.symbols),
  );
  return { display, user32 };
}

Deno.test("user32 struct layouts match the x64 SDK", () => {
  assertEquals([POINT.size, POINT.offsets], [8, { x: 0, y: 4 }]);
  assertEquals(MOUSEINPUT.size, 32);
  assertEquals(MOUSEINPUT.offsets, {
    dx: 0,
    dy: 4,
    mouseData: 8,
    dwFlags: 12,
    time: 16,
    dwExtraInfo: 24,
  });
  assertEquals(KEYBDINPUT.size, 24);
  assertEquals(KEYBDINPUT.offsets, {
    wVk: 0,
    wScan: 2,
    dwFlags: 4,
    time: 8,
    dwExtraInfo: 16,
  });
  assertEquals(HARDWAREINPUT.size, 8);
  assertEquals([INPUT_UNION.size, INPUT_UNION.align], [32, 8]);
  assertEquals([INPUT.size, INPUT.offsets.type, INPUT.offsets.u], [40, 0, 8]);
  assertEquals(CURSORINFO.size, 24);
  assertEquals(CURSORINFO.offsets, {
    cbSize: 0,
    flags: 4,
    hCursor: 8,
    ptScreenPos: 16,
  });
  assertEquals(ICONINFO.size, 32);
  assertEquals(ICONINFO.offsets, {
    fIcon: 0,
    xHotspot: 4,
    yHotspot: 8,
    hbmMask: 16,
    hbmColor: 24,
  });
});

Deno.test("user32 constants are the SDK's", () => {
  assertEquals(
    [
      SM_CXSCREEN,
      SM_CYSCREEN,
      SM_XVIRTUALSCREEN,
      SM_YVIRTUALSCREEN,
      SM_CXVIRTUALSCREEN,
      SM_CYVIRTUALSCREEN,
      SM_CMONITORS,
      SM_REMOTESESSION,
    ],
    [0, 1, 76, 77, 78, 79, 80, 0x1000],
  );
  assertEquals(INPUT_TYPE, { MOUSE: 0, KEYBOARD: 1, HARDWARE: 2 });
  assertEquals(KEYEVENTF, {
    EXTENDEDKEY: 1,
    KEYUP: 2,
    UNICODE: 4,
    SCANCODE: 8,
  });
  assertEquals(MOUSEEVENTF, {
    MOVE: 0x1,
    LEFTDOWN: 0x2,
    LEFTUP: 0x4,
    RIGHTDOWN: 0x8,
    RIGHTUP: 0x10,
    MIDDLEDOWN: 0x20,
    MIDDLEUP: 0x40,
    XDOWN: 0x80,
    XUP: 0x100,
    WHEEL: 0x800,
    HWHEEL: 0x1000,
    MOVE_NOCOALESCE: 0x2000,
    VIRTUALDESK: 0x4000,
    ABSOLUTE: 0x8000,
  });
  assertEquals([XBUTTON1, XBUTTON2, WHEEL_DELTA], [1, 2, 120]);
  assertEquals(MAPVK, {
    VK_TO_VSC: 0,
    VSC_TO_VK: 1,
    VK_TO_CHAR: 2,
    VSC_TO_VK_EX: 3,
    VK_TO_VSC_EX: 4,
  });
  assertEquals([CURSOR_SHOWING, UOI_NAME], [1, 2]);
  assertEquals(DESKTOP_ACCESS.SWITCHDESKTOP, 0x100);
  assertEquals(GENERIC_WRITE, 0x40000000);
  assertEquals(STREAMER_DESKTOP_ACCESS, 0x400001cf);
});

Deno.test("no user32 call is nonblocking: all are thread/desktop bound", () => {
  const nonblocking = Object.entries(USER32_SYMBOLS)
    .filter(([, s]) => "nonblocking" in s && s.nonblocking)
    .map(([name]) => name);
  assertEquals(nonblocking, []);
  const optional = Object.entries(USER32_SYMBOLS)
    .filter(([, s]) => "optional" in s && s.optional)
    .map(([name]) => name);
  assertEquals(optional, ["SetProcessDpiAwarenessContext"]);
  assertEquals(USER32_SYMBOLS.SendInput.parameters, ["u32", "buffer", "i32"]);
  assertEquals(USER32_SYMBOLS.VkKeyScanW.result, "i16");
});

Deno.test("INPUT records encode at the SDK offsets", () => {
  const bytes = encodeInputs([
    { type: "mouse", dx: 100, dy: -5, mouseData: -240, flags: 0x0801 },
    { type: "keyboard", vk: 0x41, scan: 0x1e, flags: 0x0a },
  ]);
  assertEquals(bytes.length, 80);
  const view = new DataView(bytes.buffer);
  assertEquals(view.getUint32(0, true), 0);
  assertEquals(view.getInt32(8, true), 100);
  assertEquals(view.getInt32(12, true), -5);
  assertEquals(view.getUint32(16, true), 0xffffff10); // -240 as a DWORD
  assertEquals(view.getUint32(20, true), 0x0801);
  assertEquals(view.getUint32(40, true), 1);
  assertEquals(view.getUint16(48, true), 0x41);
  assertEquals(view.getUint16(50, true), 0x1e);
  assertEquals(view.getUint32(52, true), 0x0a);
  assertEquals(decodeInputs(bytes, 2), [
    { type: "mouse", dx: 100, dy: -5, mouseData: -240, flags: 0x0801 },
    { type: "keyboard", vk: 0x41, scan: 0x1e, flags: 0x0a },
  ]);
});

Deno.test("sendInput inserts every event in one call, or throws with the last error", () => {
  const { display, user32 } = setUp();
  user32.sendInput([
    { type: "keyboard", scan: 0x1e, flags: KEYEVENTF.SCANCODE },
    { type: "mouse", mouseData: -120, flags: MOUSEEVENTF.WHEEL },
  ]);
  assertEquals(display.inputBatches, [[
    { type: "keyboard", vk: 0, scan: 0x1e, flags: KEYEVENTF.SCANCODE },
    {
      type: "mouse",
      dx: 0,
      dy: 0,
      mouseData: -120,
      flags: MOUSEEVENTF.WHEEL,
    },
  ]]);
  user32.sendInput([]); // nothing to send: no call
  assertEquals(display.inputBatches.length, 1);
  display.refuseInput = 5;
  const error = assertThrows(
    () => user32.sendInput([{ type: "mouse", flags: MOUSEEVENTF.MOVE }]),
    Win32Error,
  ) as Win32Error;
  assertEquals([error.function, error.codeName], [
    "SendInput",
    "ERROR_ACCESS_DENIED",
  ]);
});

Deno.test("virtualScreen reads the virtual-screen metrics, or the primary screen", () => {
  const { display, user32 } = setUp(800, 600);
  display.x = -1920;
  display.y = 0;
  assertEquals(user32.virtualScreen(), {
    x: -1920,
    y: 0,
    width: 800,
    height: 600,
  });
  const primaryOnly = setUp(1024, 768, {
    GetSystemMetrics: (i: number) => i === 0 ? 1024 : i === 1 ? 768 : 0,
  }).user32;
  assertEquals(primaryOnly.virtualScreen(), {
    x: 0,
    y: 0,
    width: 1024,
    height: 768,
  });
});

Deno.test("vkKeyScan and mapVirtualKey report the layout", () => {
  const { user32 } = setUp();
  assertEquals(user32.vkKeyScan("a".charCodeAt(0)), { vk: 0x41, shift: 0 });
  assertEquals(user32.vkKeyScan("?".charCodeAt(0)), { vk: 0xbf, shift: 1 });
  assertEquals(user32.vkKeyScan("é".charCodeAt(0)), undefined);
  assertEquals(user32.mapVirtualKey(0x1e, MAPVK.VSC_TO_VK_EX), 0x41);
  assertEquals(user32.mapVirtualKey(0xe01d, MAPVK.VSC_TO_VK_EX), 0xa3);
});

Deno.test("cursorInfo and iconInfo read CURSORINFO and ICONINFO", () => {
  const { display, user32 } = setUp();
  const handle = display.addCursor({
    hotX: 3,
    hotY: 4,
    width: 2,
    height: 2,
    mask: new Uint8Array(8),
  });
  display.cursor = { handle, showing: true, x: 10, y: -2 };
  const info = user32.cursorInfo();
  assertEquals(
    [info.showing, info.handle, info.x, info.y],
    [true, handle, 10, -2],
  );
  const icon = user32.iconInfo(info.cursor);
  assertEquals([icon.isIcon, icon.hotX, icon.hotY], [false, 3, 4]);
  assert(icon.mask !== null);
  assertEquals(icon.color, null); // monochrome
  const error = assertThrows(
    () => user32.iconInfo(Deno.UnsafePointer.create(0x999n)),
    Win32Error,
  ) as Win32Error;
  assertEquals(error.codeName, "ERROR_INVALID_CURSOR_HANDLE");
});

Deno.test("desktops: open, name, attach, close; the secure one is denied to users", () => {
  const { display, user32 } = setUp();
  const desktop = user32.openInputDesktop();
  assertEquals(user32.objectName(desktop), "Default");
  user32.setThreadDesktop(desktop);
  // In use by the thread: CloseDesktop refuses.
  const busy = assertThrows(
    () => user32.closeDesktop(desktop),
    Win32Error,
  ) as Win32Error;
  assertEquals(busy.codeName, "ERROR_BUSY");
  display.inputDesktop = "Winlogon";
  const denied = assertThrows(
    () => user32.openInputDesktop(),
    Win32Error,
  ) as Win32Error;
  assertEquals([denied.function, denied.codeName], [
    "OpenInputDesktop",
    "ERROR_ACCESS_DENIED",
  ]);
  // A long name takes a second call with the size asked for.
  display.inputDesktop = "D".repeat(100);
  const other = user32.openInputDesktop();
  assertEquals(user32.objectName(other), "D".repeat(100));
  user32.closeDesktop(other);
});

Deno.test("objectName grows its buffer to the size returned, whatever the last error reads", () => {
  const { display, user32 } = setUp();
  display.inputDesktop = "N".repeat(200);
  const desktop = user32.openInputDesktop();
  // ERROR_INSUFFICIENT_BUFFER overwritten before it could be read.
  display.kernel32.overwrittenLastError = 0;
  assertEquals(user32.objectName(desktop), "N".repeat(200));
  // A failure that asks for no more room is reported, not retried.
  display.kernel32.overwrittenLastError = undefined;
  const gone = assertThrows(
    () => user32.objectName(Deno.UnsafePointer.create(0x999n)),
    Win32Error,
  ) as Win32Error;
  assertEquals(gone.codeName, "ERROR_INVALID_HANDLE");
  user32.closeDesktop(desktop);
});

Deno.test("setDpiAware asks for per-monitor v2 once, else SetProcessDPIAware", () => {
  const { display, user32 } = setUp();
  assertEquals(user32.setDpiAware(), true);
  assertEquals(user32.setDpiAware(), false); // already set
  assertEquals(display.dpiContexts, [
    0xfffffffffffffffcn,
    0xfffffffffffffffcn,
  ]);
  let legacy = 0;
  const old = setUp(8, 8, {
    SetProcessDpiAwarenessContext: null,
    SetProcessDPIAware: () => ++legacy,
  }).user32;
  assertEquals(old.setDpiAware(), true);
  assertEquals(legacy, 1);
});

Deno.test("screenDC and releaseDC pair up", () => {
  const { display, user32 } = setUp();
  const dc = user32.screenDC();
  assertEquals(display.liveObjects().length, 1);
  assertEquals(user32.releaseDC(dc), true);
  assertEquals(display.liveObjects(), []);
  assertEquals(user32.releaseDC(dc), false);
});

Deno.test("MSG and the clipboard constants match the x64 SDK", () => {
  // tagMSG: 44 bytes of fields, padded to 8 (lPrivate exists only on _MAC).
  assertEquals([MSG.size, MSG.align], [48, 8]);
  assertEquals(MSG.offsets, {
    hwnd: 0,
    message: 8,
    wParam: 16,
    lParam: 24,
    time: 32,
    pt: 36,
  });
  assertEquals([CF_TEXT, CF_UNICODETEXT, WM_DESTROYCLIPBOARD], [1, 13, 0x307]);
  assertEquals(PM, { NOREMOVE: 0, REMOVE: 1, NOYIELD: 2 });
  assertEquals(BigInt.asUintN(64, HWND_MESSAGE), 0xfffffffffffffffdn);
  assertEquals(USER32_SYMBOLS.CreateWindowExW.parameters, [
    "u32",
    "buffer",
    "buffer",
    "u32",
    "i32",
    "i32",
    "i32",
    "i32",
    "pointer",
    "pointer",
    "pointer",
    "pointer",
  ]);
  assertEquals(USER32_SYMBOLS.PeekMessageW.parameters, [
    "buffer",
    "pointer",
    "u32",
    "u32",
    "u32",
  ]);
  assertEquals(USER32_SYMBOLS.SetClipboardData.parameters, ["u32", "pointer"]);
  assertEquals(USER32_SYMBOLS.GetClipboardData.result, "pointer");
  assertEquals(USER32_SYMBOLS.GetClipboardSequenceNumber.result, "u32");
});

Deno.test("clipboard calls: failures carry their last error; no data is not an error", () => {
  const { display, user32 } = setUp();
  assertEquals(user32.clipboardSequenceNumber(), display.clipboardSequence);
  const notOpen = assertThrows(
    () => user32.emptyClipboard(),
    Win32Error,
    /EmptyClipboard failed: ERROR_CLIPBOARD_NOT_OPEN \(1418\)/,
  ) as Win32Error;
  assertEquals(notOpen.code, ERROR_CLIPBOARD_NOT_OPEN);
  assertThrows(() => user32.closeClipboard(), Win32Error, /CloseClipboard/);
  user32.openClipboard(null);
  assertEquals(user32.isClipboardFormatAvailable(CF_UNICODETEXT), false);
  assertEquals(user32.clipboardData(CF_UNICODETEXT), null);
  assertThrows(
    () => user32.setClipboardData(CF_UNICODETEXT, null),
    TypeError,
    /no memory block/,
  );
  user32.closeClipboard();
  display.otherAppOpens();
  const held = assertThrows(
    () => user32.openClipboard(null),
    Win32Error,
    /OpenClipboard failed: ERROR_ACCESS_DENIED/,
  ) as Win32Error;
  assertEquals(held.function, "OpenClipboard");
});

Deno.test("createMessageWindow makes a STATIC window under HWND_MESSAGE", () => {
  let className = "";
  let parent = 0n;
  const seen: { display?: FakeDisplay } = {};
  const { display, user32 } = setUp(8, 8, {
    CreateWindowExW: (...args) => {
      className = fromWide(new Uint8Array(args[1] as Uint8Array));
      parent = addressOfPointer(args[8]);
      return seen.display!.user32.CreateWindowExW(...args);
    },
  });
  seen.display = display;
  const window = user32.createMessageWindow();
  assertEquals([className, parent], ["STATIC", FAKE_HWND_MESSAGE]);
  assertEquals(
    display.windows.get(addressOfPointer(window))?.messageOnly,
    true,
  );
  // A thread owning a window cannot switch desktops until it is destroyed.
  const desktop = user32.openInputDesktop();
  assertThrows(
    () => user32.setThreadDesktop(desktop),
    Win32Error,
    /ERROR_BUSY/,
  );
  user32.destroyWindow(window);
  user32.setThreadDesktop(desktop);
  const gone = assertThrows(
    () => user32.destroyWindow(window),
    Win32Error,
  ) as Win32Error;
  assertEquals(gone.code, ERROR_INVALID_WINDOW_HANDLE);
});

Deno.test("peekMessage reads MSG from memory, for one window, removing by default", () => {
  const { display, user32 } = setUp();
  display.cursor.x = 7;
  const a = user32.createMessageWindow();
  const b = user32.createMessageWindow();
  display.postMessage(addressOfPointer(b), 0x0401);
  display.postMessage(addressOfPointer(a), 0x0400);
  assertEquals(user32.peekMessage(a, { remove: false }), {
    hwnd: addressOfPointer(a),
    message: 0x0400,
    wParam: 0n,
    lParam: 0n,
  });
  assertEquals(display.messages.length, 2, "PM_NOREMOVE keeps it");
  assertEquals(user32.peekMessage(a)?.message, 0x0400);
  assertEquals(user32.peekMessage(a), undefined);
  assertEquals(user32.peekMessage(null)?.message, 0x0401);
  assertEquals(display.messages, []);
  user32.destroyWindow(a);
  user32.destroyWindow(b);
});
