/**
 * user32: the streamer's screen metrics, input injection (SendInput),
 * keyboard layout queries, cursor image, the input desktop, and the
 * clipboard (with the message-only window that owns what we put there).
 *
 * ## Threads and desktops
 *
 * Every call here works on the calling thread's desktop (and its keyboard
 * layout): `GetDC(NULL)` is that desktop's screen, `SendInput` goes to the
 * input desktop only when the thread is attached to it, `SetThreadDesktop`
 * changes the thread itself. None of them may run on Deno's blocking pool,
 * so no symbol here is `nonblocking` (a test pins that), and every failure
 * reads `GetLastError` at once through {@linkcode Kernel32.fail}.
 *
 * When Windows switches the input desktop (the lock screen, a UAC prompt on
 * the secure desktop, Ctrl+Alt+Del), the streamer's thread stays on the old
 * one: captures show the old desktop and `SendInput` is refused. The thread
 * must `OpenInputDesktop` + `SetThreadDesktop` to follow
 * (`mod/devices/windows/gdi_capture.ts` does it on every poll). The
 * `Winlogon` (secure) desktop only opens for LocalSystem; a streamer running
 * as the session's user gets `ERROR_ACCESS_DENIED` and cannot show or drive
 * UAC prompts. `SetThreadDesktop` also fails while the thread owns windows
 * or hooks on its current desktop.
 *
 * ## The clipboard
 *
 * The clipboard belongs to the window station (every desktop of the
 * session shares it); it is opened by one thread at a time, and
 * `OpenClipboard` fails while another application has it open — with
 * `ERROR_ACCESS_DENIED`, or without setting the last error at all (Wine's
 * conformance tests, which pass on Windows, accept both), so callers retry
 * on any failure. `GetClipboardSequenceNumber` needs neither a window nor
 * an open clipboard. Setting data needs an owner window: per the
 * documentation, after `OpenClipboard(NULL)` `EmptyClipboard` makes the
 * owner NULL and `SetClipboardData` fails. {@linkcode User32.createMessageWindow}
 * makes a message-only window of the system class `STATIC` for that. The
 * owner is sent `WM_DESTROYCLIPBOARD` (a real cross-thread *send*: the
 * sender waits) when another application empties the clipboard, so a
 * window that outlives the write on a thread that pumps no messages would
 * stall that application; see `mod/devices/windows/win32_clipboard.ts`
 * for how the streamer avoids it.
 *
 * @module
 */
import type { Kernel32 } from "./kernel32.ts";
import {
  defineStruct,
  defineUnion,
  encodeStruct,
  OutParam,
  pointerAt,
  readField,
  viewOf,
  writeField,
} from "./struct.ts";
import { fromWide, wide } from "./strings.ts";

/** user32's symbols used by the streamer. Thread-bound: none is `nonblocking`. */
export const USER32_SYMBOLS = {
  GetDC: { parameters: ["pointer"], result: "pointer" },
  ReleaseDC: { parameters: ["pointer", "pointer"], result: "i32" },
  GetSystemMetrics: { parameters: ["i32"], result: "i32" },
  SendInput: { parameters: ["u32", "buffer", "i32"], result: "u32" },
  MapVirtualKeyW: { parameters: ["u32", "u32"], result: "u32" },
  VkKeyScanW: { parameters: ["u16"], result: "i16" },
  GetCursorInfo: { parameters: ["buffer"], result: "i32" },
  GetIconInfo: { parameters: ["pointer", "buffer"], result: "i32" },
  OpenInputDesktop: { parameters: ["u32", "i32", "u32"], result: "pointer" },
  SetThreadDesktop: { parameters: ["pointer"], result: "i32" },
  CloseDesktop: { parameters: ["pointer"], result: "i32" },
  GetUserObjectInformationW: {
    parameters: ["pointer", "i32", "buffer", "u32", "buffer"],
    result: "i32",
  },
  // Windows 10 1703+; older systems fall back to SetProcessDPIAware.
  SetProcessDpiAwarenessContext: {
    parameters: ["pointer"],
    result: "i32",
    optional: true,
  },
  SetProcessDPIAware: { parameters: [], result: "i32" },
  // The clipboard (winuser.h). All thread-bound: the clipboard is opened
  // by, and the owner window belongs to, the calling thread.
  GetClipboardSequenceNumber: { parameters: [], result: "u32" },
  OpenClipboard: { parameters: ["pointer"], result: "i32" },
  CloseClipboard: { parameters: [], result: "i32" },
  EmptyClipboard: { parameters: [], result: "i32" },
  IsClipboardFormatAvailable: { parameters: ["u32"], result: "i32" },
  // (UINT uFormat) -> HANDLE, owned by the clipboard.
  GetClipboardData: { parameters: ["u32"], result: "pointer" },
  // (UINT uFormat, HANDLE hMem) -> HANDLE; the system owns hMem on success.
  SetClipboardData: { parameters: ["u32", "pointer"], result: "pointer" },
  // (DWORD dwExStyle, LPCWSTR lpClassName, LPCWSTR lpWindowName, DWORD
  // dwStyle, int X, int Y, int nWidth, int nHeight, HWND hWndParent, HMENU
  // hMenu, HINSTANCE hInstance, LPVOID lpParam) -> HWND.
  CreateWindowExW: {
    parameters: [
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
    ],
    result: "pointer",
  },
  DestroyWindow: { parameters: ["pointer"], result: "i32" },
  // (LPMSG lpMsg, HWND hWnd, UINT wMsgFilterMin, UINT wMsgFilterMax, UINT
  // wRemoveMsg) -> BOOL. Also runs the thread's pending incoming sent
  // messages before it looks at posted ones.
  PeekMessageW: {
    parameters: ["buffer", "pointer", "u32", "u32", "u32"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The class name of message-only windows: a system class every process has. */
const STATIC_CLASS = wide("STATIC");

/** The raw user32 functions. */
export type User32Symbols = Deno.DynamicLibrary<
  typeof USER32_SYMBOLS
>["symbols"];

/** Opens user32.dll (Windows only). */
export function openUser32(): User32Symbols {
  return Deno.dlopen("user32.dll", USER32_SYMBOLS).symbols;
}

// GetSystemMetrics indexes (winuser.h).
/** `SM_CXSCREEN`: primary monitor width. */
export const SM_CXSCREEN = 0;
/** `SM_CYSCREEN`: primary monitor height. */
export const SM_CYSCREEN = 1;
/** `SM_XVIRTUALSCREEN`: left of the virtual screen (all monitors). */
export const SM_XVIRTUALSCREEN = 76;
/** `SM_YVIRTUALSCREEN`: top of the virtual screen. */
export const SM_YVIRTUALSCREEN = 77;
/** `SM_CXVIRTUALSCREEN`: width of the virtual screen. */
export const SM_CXVIRTUALSCREEN = 78;
/** `SM_CYVIRTUALSCREEN`: height of the virtual screen. */
export const SM_CYVIRTUALSCREEN = 79;
/** `SM_CMONITORS`: display monitors on the desktop. */
export const SM_CMONITORS = 80;
/** `SM_REMOTESESSION`: nonzero in a Remote Desktop session. */
export const SM_REMOTESESSION = 0x1000;

/** `INPUT.type` values (winuser.h). */
export const INPUT_TYPE = Object.freeze({ MOUSE: 0, KEYBOARD: 1, HARDWARE: 2 });

/** `KEYBDINPUT.dwFlags` (winuser.h). */
export const KEYEVENTF = Object.freeze({
  EXTENDEDKEY: 0x0001,
  KEYUP: 0x0002,
  UNICODE: 0x0004,
  SCANCODE: 0x0008,
});

/** `MOUSEINPUT.dwFlags` (winuser.h). */
export const MOUSEEVENTF = Object.freeze({
  MOVE: 0x0001,
  LEFTDOWN: 0x0002,
  LEFTUP: 0x0004,
  RIGHTDOWN: 0x0008,
  RIGHTUP: 0x0010,
  MIDDLEDOWN: 0x0020,
  MIDDLEUP: 0x0040,
  XDOWN: 0x0080,
  XUP: 0x0100,
  WHEEL: 0x0800,
  HWHEEL: 0x1000,
  MOVE_NOCOALESCE: 0x2000,
  VIRTUALDESK: 0x4000,
  ABSOLUTE: 0x8000,
});

/** `XBUTTON1` / `XBUTTON2` in `mouseData` with `MOUSEEVENTF_XDOWN/XUP`. */
export const XBUTTON1 = 0x0001;
/** `XBUTTON2`. */
export const XBUTTON2 = 0x0002;
/** `WHEEL_DELTA`: one wheel notch. */
export const WHEEL_DELTA = 120;

/** `MapVirtualKeyW` translation types (winuser.h). */
export const MAPVK = Object.freeze({
  VK_TO_VSC: 0,
  VSC_TO_VK: 1,
  VK_TO_CHAR: 2,
  VSC_TO_VK_EX: 3,
  VK_TO_VSC_EX: 4,
});

/** `CURSORINFO.flags`: the cursor is showing. */
export const CURSOR_SHOWING = 0x00000001;
/** `CURSORINFO.flags`: touch/pen input suppresses the cursor (Windows 8+). */
export const CURSOR_SUPPRESSED = 0x00000002;

/** Desktop access rights (winuser.h). */
export const DESKTOP_ACCESS = Object.freeze({
  READOBJECTS: 0x0001,
  CREATEWINDOW: 0x0002,
  CREATEMENU: 0x0004,
  HOOKCONTROL: 0x0008,
  JOURNALRECORD: 0x0010,
  JOURNALPLAYBACK: 0x0020,
  ENUMERATE: 0x0040,
  WRITEOBJECTS: 0x0080,
  SWITCHDESKTOP: 0x0100,
});
/** `GENERIC_WRITE` (winnt.h). */
export const GENERIC_WRITE = 0x40000000;
/**
 * What the streamer asks of the input desktop: read it (capture), write to
 * it (input), and attach the thread (the rights VNC servers use).
 */
export const STREAMER_DESKTOP_ACCESS = DESKTOP_ACCESS.READOBJECTS |
  DESKTOP_ACCESS.CREATEWINDOW | DESKTOP_ACCESS.CREATEMENU |
  DESKTOP_ACCESS.HOOKCONTROL | DESKTOP_ACCESS.ENUMERATE |
  DESKTOP_ACCESS.WRITEOBJECTS | DESKTOP_ACCESS.SWITCHDESKTOP | GENERIC_WRITE;

/** `UOI_NAME`: `GetUserObjectInformationW` index of the object's name. */
export const UOI_NAME = 2;

/** `DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2`, the handle value `-4`. */
export const DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2 = -4n;

/** `CF_TEXT`: ANSI text (winuser.h standard clipboard formats). */
export const CF_TEXT = 1;
/** `CF_UNICODETEXT`: NUL-terminated UTF-16 text, lines ending CR LF. */
export const CF_UNICODETEXT = 13;

/** `HWND_MESSAGE`, `(HWND)-3`: the parent of message-only windows. */
export const HWND_MESSAGE = -3n;

/** `PeekMessageW` removal flags (winuser.h). */
export const PM = Object.freeze({ NOREMOVE: 0, REMOVE: 1, NOYIELD: 2 });

/** `WM_DESTROYCLIPBOARD`: sent to the owner when the clipboard is emptied. */
export const WM_DESTROYCLIPBOARD = 0x0307;

/** `POINT` (8 bytes). */
export const POINT = defineStruct({ x: "i32", y: "i32" });

/**
 * `MSG` (48 bytes on x64: `wParam` at 16, `lParam` at 24, `time` at 32,
 * `pt` at 36, then 4 bytes of tail padding; `lPrivate` exists only under
 * `_MAC`).
 */
export const MSG = defineStruct({
  hwnd: "ptr",
  message: "u32",
  wParam: "u64",
  lParam: "i64",
  time: "u32",
  pt: POINT,
});

/** `MOUSEINPUT` (32 bytes on x64: `dwExtraInfo` is pointer-sized at 24). */
export const MOUSEINPUT = defineStruct({
  dx: "i32",
  dy: "i32",
  mouseData: "u32",
  dwFlags: "u32",
  time: "u32",
  dwExtraInfo: "ptr",
});

/** `KEYBDINPUT` (24 bytes on x64: `dwExtraInfo` at 16). */
export const KEYBDINPUT = defineStruct({
  wVk: "u16",
  wScan: "u16",
  dwFlags: "u32",
  time: "u32",
  dwExtraInfo: "ptr",
});

/** `HARDWAREINPUT` (8 bytes). */
export const HARDWAREINPUT = defineStruct({
  uMsg: "u32",
  wParamL: "u16",
  wParamH: "u16",
});

/** The anonymous union of `INPUT` (32 bytes, 8-aligned). */
export const INPUT_UNION = defineUnion({
  mi: MOUSEINPUT,
  ki: KEYBDINPUT,
  hi: HARDWAREINPUT,
});

/** `INPUT` (40 bytes on x64: the union at 8). */
export const INPUT = defineStruct({ type: "u32", u: INPUT_UNION });

/** `CURSORINFO` (24 bytes: `hCursor` at 8, `ptScreenPos` at 16). */
export const CURSORINFO = defineStruct({
  cbSize: "u32",
  flags: "u32",
  hCursor: "ptr",
  ptScreenPos: POINT,
});

/** `ICONINFO` (32 bytes: `hbmMask` at 16, `hbmColor` at 24). */
export const ICONINFO = defineStruct({
  fIcon: "i32",
  xHotspot: "u32",
  yHotspot: "u32",
  hbmMask: "ptr",
  hbmColor: "ptr",
});

/** One synthesized mouse event (a `MOUSEINPUT`). */
export interface MouseInput {
  /** Discriminant. */
  type: "mouse";
  /** `dx` (normalized 0–65535 with `MOUSEEVENTF_ABSOLUTE`). */
  dx?: number;
  /** `dy`. */
  dy?: number;
  /** `mouseData`: signed wheel delta, or the X button. */
  mouseData?: number;
  /** `MOUSEEVENTF_*`. */
  flags: number;
}

/** One synthesized key event (a `KEYBDINPUT`). */
export interface KeyboardInput {
  /** Discriminant. */
  type: "keyboard";
  /** `wVk` (0 with `KEYEVENTF_SCANCODE` or `KEYEVENTF_UNICODE`). */
  vk?: number;
  /** `wScan`: the scan code, or a UTF-16 code unit with `KEYEVENTF_UNICODE`. */
  scan?: number;
  /** `KEYEVENTF_*`. */
  flags: number;
}

/** An event for {@linkcode User32.sendInput}. */
export type InputRecord = MouseInput | KeyboardInput;

/** Encodes events as a packed `INPUT[]`, ready for `SendInput`. */
export function encodeInputs(records: readonly InputRecord[]): Uint8Array {
  const bytes = new Uint8Array(INPUT.size * records.length);
  const view = viewOf(bytes);
  records.forEach((record, i) => {
    const base = i * INPUT.size;
    const u = base + INPUT.offsets.u;
    if (record.type === "mouse") {
      writeField(view, INPUT, { field: "type", value: INPUT_TYPE.MOUSE, base });
      writeField(view, MOUSEINPUT, {
        field: "dx",
        value: record.dx ?? 0,
        base: u,
      });
      writeField(view, MOUSEINPUT, {
        field: "dy",
        value: record.dy ?? 0,
        base: u,
      });
      // A DWORD holding a signed delta (negative = wheel toward the user).
      writeField(view, MOUSEINPUT, {
        field: "mouseData",
        value: (record.mouseData ?? 0) >>> 0,
        base: u,
      });
      writeField(view, MOUSEINPUT, {
        field: "dwFlags",
        value: record.flags,
        base: u,
      });
    } else {
      writeField(view, INPUT, {
        field: "type",
        value: INPUT_TYPE.KEYBOARD,
        base,
      });
      writeField(view, KEYBDINPUT, {
        field: "wVk",
        value: record.vk ?? 0,
        base: u,
      });
      writeField(view, KEYBDINPUT, {
        field: "wScan",
        value: record.scan ?? 0,
        base: u,
      });
      writeField(view, KEYBDINPUT, {
        field: "dwFlags",
        value: record.flags,
        base: u,
      });
    }
  });
  return bytes;
}

/** Decodes a packed `INPUT[]` (the inverse of {@linkcode encodeInputs}). */
export function decodeInputs(bytes: Uint8Array, count: number): InputRecord[] {
  const view = viewOf(bytes);
  const out: InputRecord[] = [];
  for (let i = 0; i < count; i++) {
    const base = i * INPUT.size;
    const u = base + INPUT.offsets.u;
    const type = readField(view, INPUT, { field: "type", base });
    if (type === INPUT_TYPE.MOUSE) {
      out.push({
        type: "mouse",
        dx: Number(readField(view, MOUSEINPUT, { field: "dx", base: u })),
        dy: Number(readField(view, MOUSEINPUT, { field: "dy", base: u })),
        mouseData: view.getInt32(u + MOUSEINPUT.offsets.mouseData, true),
        flags: Number(
          readField(view, MOUSEINPUT, { field: "dwFlags", base: u }),
        ),
      });
    } else if (type === INPUT_TYPE.KEYBOARD) {
      out.push({
        type: "keyboard",
        vk: Number(readField(view, KEYBDINPUT, { field: "wVk", base: u })),
        scan: Number(readField(view, KEYBDINPUT, { field: "wScan", base: u })),
        flags: Number(
          readField(view, KEYBDINPUT, { field: "dwFlags", base: u }),
        ),
      });
    } else {
      throw new TypeError(`INPUT ${i} has type ${type}`);
    }
  }
  return out;
}

/** The virtual screen (every monitor) in desktop coordinates. */
export interface VirtualScreen {
  /** Left edge (negative when a monitor sits left of the primary). */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** What `GetCursorInfo` says. */
export interface CursorInfo {
  /** `CURSOR_SHOWING` is set. */
  showing: boolean;
  /** The raw `flags`. */
  flags: number;
  /** The cursor handle (null when hidden). */
  cursor: Deno.PointerValue;
  /** The handle's value, for comparisons (0n when hidden). */
  handle: bigint;
  /** Position in desktop coordinates. */
  x: number;
  /** Position in desktop coordinates. */
  y: number;
}

/** What `GetIconInfo` says. The caller owns (and deletes) both bitmaps. */
export interface IconInfo {
  /** An icon, not a cursor. */
  isIcon: boolean;
  /** Hotspot x. */
  hotX: number;
  /** Hotspot y. */
  hotY: number;
  /** The AND mask (for monochrome cursors, AND over XOR: twice as tall). */
  mask: Deno.PointerValue;
  /** The colour bitmap; null for a monochrome cursor. */
  color: Deno.PointerValue;
}

/** A message `PeekMessageW` returned (`MSG`). */
export interface WindowMessage {
  /** The window it is for (0n: a thread message). */
  hwnd: bigint;
  /** `WM_*`. */
  message: number;
  /** `wParam`. */
  wParam: bigint;
  /** `lParam`. */
  lParam: bigint;
}

/** Typed user32 calls (synchronous; errors read `GetLastError` at once). */
export class User32 {
  readonly #u: User32Symbols;
  readonly #k: Kernel32;

  /** Wraps raw user32 functions; `kernel32` reads the last error. */
  constructor(symbols: User32Symbols, kernel32: Kernel32) {
    this.#u = symbols;
    this.#k = kernel32;
  }

  /** The kernel32 wrapper this one reports errors through. */
  get kernel32(): Kernel32 {
    return this.#k;
  }

  /** The device context of the thread's desktop's whole screen. */
  screenDC(): Deno.PointerValue {
    const dc = this.#u.GetDC(null);
    if (dc === null) throw this.#k.fail("GetDC");
    return dc;
  }

  /** Releases a DC from {@linkcode screenDC}; false when it was not released. */
  releaseDC(dc: Deno.PointerValue): boolean {
    return this.#u.ReleaseDC(null, dc) === 1;
  }

  /** `GetSystemMetrics(index)` (0 when unknown: it sets no error). */
  metric(index: number): number {
    return this.#u.GetSystemMetrics(index);
  }

  /**
   * The virtual screen; the primary monitor from the origin when the
   * virtual-screen metrics are missing.
   */
  virtualScreen(): VirtualScreen {
    const width = this.metric(SM_CXVIRTUALSCREEN);
    const height = this.metric(SM_CYVIRTUALSCREEN);
    if (width > 0 && height > 0) {
      return {
        x: this.metric(SM_XVIRTUALSCREEN),
        y: this.metric(SM_YVIRTUALSCREEN),
        width,
        height,
      };
    }
    return {
      x: 0,
      y: 0,
      width: this.metric(SM_CXSCREEN),
      height: this.metric(SM_CYSCREEN),
    };
  }

  /**
   * Injects `records` in one `SendInput` call (so nothing interleaves with
   * them). Throws `Win32Error` unless all were inserted; note that
   * UIPI blocking is not reported at all (see SendInput's documentation).
   */
  sendInput(records: readonly InputRecord[]): void {
    if (records.length === 0) return;
    const inserted = this.#u.SendInput(
      records.length,
      encodeInputs(records),
      INPUT.size,
    );
    if (inserted !== records.length) throw this.#k.fail("SendInput");
  }

  /** `MapVirtualKeyW(code, mapType)`: 0 when there is no translation. */
  mapVirtualKey(code: number, mapType: number): number {
    return this.#u.MapVirtualKeyW(code, mapType);
  }

  /**
   * The virtual key and shift state (bit 0 Shift, 1 Ctrl, 2 Alt) that type
   * the UTF-16 code unit `unit` in the thread's keyboard layout, or
   * undefined when the layout cannot type it.
   */
  vkKeyScan(unit: number): { vk: number; shift: number } | undefined {
    const result = this.#u.VkKeyScanW(unit);
    if (result === -1) return undefined;
    const bits = result & 0xffff;
    return { vk: bits & 0xff, shift: bits >> 8 };
  }

  /** The current cursor (`GetCursorInfo`). */
  cursorInfo(): CursorInfo {
    const bytes = encodeStruct(CURSORINFO, { cbSize: CURSORINFO.size });
    if (!this.#u.GetCursorInfo(bytes)) throw this.#k.fail("GetCursorInfo");
    const view = viewOf(bytes);
    const flags = Number(readField(view, CURSORINFO, { field: "flags" }));
    const handle = readField(view, CURSORINFO, { field: "hCursor" }) as bigint;
    const point = CURSORINFO.offsets.ptScreenPos;
    return {
      showing: (flags & CURSOR_SHOWING) !== 0,
      flags,
      cursor: pointerAt(handle),
      handle,
      x: view.getInt32(point + POINT.offsets.x, true),
      y: view.getInt32(point + POINT.offsets.y, true),
    };
  }

  /** A cursor's bitmaps and hotspot; delete both bitmaps afterwards. */
  iconInfo(cursor: Deno.PointerValue): IconInfo {
    const bytes = encodeStruct(ICONINFO);
    if (!this.#u.GetIconInfo(cursor, bytes)) throw this.#k.fail("GetIconInfo");
    const view = viewOf(bytes);
    return {
      isIcon: readField(view, ICONINFO, { field: "fIcon" }) !== 0,
      hotX: Number(readField(view, ICONINFO, { field: "xHotspot" })),
      hotY: Number(readField(view, ICONINFO, { field: "yHotspot" })),
      mask: pointerAt(readField(view, ICONINFO, { field: "hbmMask" })),
      color: pointerAt(readField(view, ICONINFO, { field: "hbmColor" })),
    };
  }

  /**
   * Opens the desktop receiving input now. Throws `Win32Error`
   * (`ERROR_ACCESS_DENIED` for the secure desktop unless LocalSystem).
   */
  openInputDesktop(
    access: number = STREAMER_DESKTOP_ACCESS,
  ): Deno.PointerValue {
    const desktop = this.#u.OpenInputDesktop(0, 0, access);
    if (desktop === null) throw this.#k.fail("OpenInputDesktop");
    return desktop;
  }

  /** Attaches the calling thread to `desktop`. */
  setThreadDesktop(desktop: Deno.PointerValue): void {
    if (!this.#u.SetThreadDesktop(desktop)) {
      throw this.#k.fail("SetThreadDesktop");
    }
  }

  /** Closes a desktop handle (fails while a thread of ours uses it). */
  closeDesktop(desktop: Deno.PointerValue): void {
    if (!this.#u.CloseDesktop(desktop)) throw this.#k.fail("CloseDesktop");
  }

  /** A desktop's or window station's name (`UOI_NAME`). */
  objectName(handle: Deno.PointerValue): string {
    let size = 128;
    for (let attempt = 1;; attempt++) {
      const bytes = new Uint8Array(size);
      const needed = new OutParam();
      if (
        this.#u.GetUserObjectInformationW(
          handle,
          UOI_NAME,
          bytes,
          bytes.length,
          needed.bytes,
        )
      ) {
        return fromWide(bytes);
      }
      // The code is only reported (it may have been overwritten before this
      // read); a buffer too small shows as a needed size, in bytes, above it.
      const error = this.#k.fail("GetUserObjectInformationW");
      if (needed.u32() <= size || attempt >= 3) throw error;
      size = needed.u32();
    }
  }

  /**
   * Makes the process per-monitor DPI aware, so metrics, the screen DC and
   * cursor positions are in physical pixels rather than scaled ones. False
   * when it was already set (by the manifest or an earlier call) or refused.
   */
  setDpiAware(): boolean {
    const setContext = this.#u.SetProcessDpiAwarenessContext;
    if (setContext) {
      return setContext(
        pointerAt(
          BigInt.asUintN(64, DPI_AWARENESS_CONTEXT_PER_MONITOR_AWARE_V2),
        ),
      ) !== 0;
    }
    return this.#u.SetProcessDPIAware() !== 0;
  }
  /**
   * `GetClipboardSequenceNumber`: changes whenever the clipboard is
   * emptied or data is set (0 without clipboard access to the window
   * station). No window, no open clipboard, no message loop.
   */
  clipboardSequenceNumber(): number {
    return this.#u.GetClipboardSequenceNumber();
  }

  /**
   * Opens the clipboard for this thread, `owner` becoming its owner at
   * the next {@linkcode User32.emptyClipboard}. Throws `Win32Error` when
   * another thread or application has it open; the code read then may be
   * `ERROR_ACCESS_DENIED` or stale (Windows does not always set one).
   */
  openClipboard(owner: Deno.PointerValue): void {
    if (!this.#u.OpenClipboard(owner)) throw this.#k.fail("OpenClipboard");
  }

  /** Closes the clipboard this thread opened. */
  closeClipboard(): void {
    if (!this.#u.CloseClipboard()) throw this.#k.fail("CloseClipboard");
  }

  /** Empties the open clipboard; the opening window becomes its owner. */
  emptyClipboard(): void {
    if (!this.#u.EmptyClipboard()) throw this.#k.fail("EmptyClipboard");
  }

  /** Whether the clipboard holds (or can synthesize) `format`. */
  isClipboardFormatAvailable(format: number): boolean {
    return this.#u.IsClipboardFormatAvailable(format) !== 0;
  }

  /**
   * The open clipboard's data in `format`, or null when there is none (or
   * its owner failed to render it): Windows 11 then sets
   * `ERROR_NOT_FOUND`, earlier versions nothing, so null is not an error.
   * The handle stays the clipboard's: read it, never free it, and unlock
   * it before closing the clipboard.
   */
  clipboardData(format: number): Deno.PointerValue {
    return this.#u.GetClipboardData(format);
  }

  /**
   * Puts `memory` (a `GMEM_MOVEABLE` block) on the open clipboard as
   * `format`. On success the system owns the block: do not free it, nor
   * write to it after the clipboard is closed. On failure (thrown) it is
   * still the caller's to free.
   */
  setClipboardData(format: number, memory: Deno.PointerValue): void {
    if (memory === null) {
      // NULL asks for delayed rendering, which needs a window procedure.
      throw new TypeError("SetClipboardData: no memory block");
    }
    if (this.#u.SetClipboardData(format, memory) === null) {
      throw this.#k.fail("SetClipboardData");
    }
  }

  /**
   * A message-only window (class `STATIC`, parent `HWND_MESSAGE`): never
   * shown, never enumerated, not sent broadcasts. It belongs to the
   * calling thread, which then cannot `SetThreadDesktop` until
   * {@linkcode User32.destroyWindow}.
   */
  createMessageWindow(): Deno.PointerValue {
    const window = this.#u.CreateWindowExW(
      0,
      STATIC_CLASS,
      null,
      0,
      0,
      0,
      0,
      0,
      pointerAt(BigInt.asUintN(64, HWND_MESSAGE)),
      null,
      null,
      null,
    );
    if (window === null) throw this.#k.fail("CreateWindowExW");
    return window;
  }

  /** Destroys a window of this thread. */
  destroyWindow(window: Deno.PointerValue): void {
    if (!this.#u.DestroyWindow(window)) throw this.#k.fail("DestroyWindow");
  }

  /**
   * `PeekMessageW` for `window` (null: any window of the thread, and
   * thread messages). Before looking, Windows runs the thread's pending
   * incoming sent messages through their window procedures, which is what
   * releases their senders. Undefined when nothing (matching) is posted.
   */
  peekMessage(
    window: Deno.PointerValue,
    options: { remove?: boolean } = {},
  ): WindowMessage | undefined {
    const bytes = encodeStruct(MSG);
    const found = this.#u.PeekMessageW(
      bytes,
      window,
      0,
      0,
      (options.remove ?? true) ? PM.REMOVE : PM.NOREMOVE,
    );
    if (!found) return undefined;
    const view = viewOf(bytes);
    return {
      hwnd: readField(view, MSG, { field: "hwnd" }) as bigint,
      message: Number(readField(view, MSG, { field: "message" })),
      wParam: BigInt(readField(view, MSG, { field: "wParam" })),
      lParam: BigInt(readField(view, MSG, { field: "lParam" })),
    };
  }
}
