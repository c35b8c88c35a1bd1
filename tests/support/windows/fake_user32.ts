/**
 * A fake Windows display for the streamer's tests: one screen of BGRX
 * pixels to paint, a cursor, the desktops (Default, Winlogon…) and the
 * thread's attachment to one, the GDI objects (screen and memory DCs,
 * bitmaps) shared with `fake_gdi32.ts`, and a fake user32 over it.
 *
 * The fakes work on real memory with the SDK's layouts, written out here
 * independently of the bindings: `SendInput` decodes the caller's `INPUT`
 * array at the x64 offsets (type @0, union @8; MOUSEINPUT dx @0, dy @4,
 * mouseData @8, dwFlags @12; KEYBDINPUT wVk @0, wScan @2, dwFlags @4) and
 * records the events; `GetCursorInfo`/`GetIconInfo` fill `CURSORINFO` and
 * `ICONINFO` at theirs. Failures set the shared {@linkcode FakeKernel32}'s
 * last error, as the synchronous calls they are.
 *
 * The clipboard: a sequence number bumped by every empty and every data
 * set; an owner window; `CF_UNICODETEXT` and other formats as global
 * memory blocks of the shared {@linkcode FakeKernel32} (`SetClipboardData`
 * takes the caller's block over; emptying frees it as the system); one
 * opener at a time, with "another application" that can hold it open
 * (`OpenClipboard` then fails with `ERROR_ACCESS_DENIED`, or sets no error
 * at all, as Windows may), copy text or empty it. `SetClipboardData` fails
 * without an owner window, as documented. Windows: `CreateWindowExW` makes
 * `STATIC` windows (message-only under `HWND_MESSAGE`); while the thread
 * owns one, `SetThreadDesktop` fails. Messages: "another application" can
 * post to a window or send to it (the send waits until `PeekMessageW` runs
 * it, or the window is destroyed); `PeekMessageW` fills `MSG` at the x64
 * offsets (hwnd @0, message @8, wParam @16, lParam @24, time @32, pt @36).
 *
 * @module
 */
import type { User32Symbols } from "../../../ffi/windows/user32.ts";
import {
  addressOf,
  addressOfPointer,
  pointerAt,
} from "../../../ffi/windows/struct.ts";
import {
  type BufferArg,
  bufferBytes,
  ERROR_ACCESS_DENIED,
  ERROR_INVALID_HANDLE,
  ERROR_INVALID_PARAMETER,
  FakeKernel32,
  readWideArg,
} from "./fake_kernel32.ts";

/** `ERROR_BUSY`: a desktop in use cannot be closed or left. */
export const ERROR_BUSY = 170;
/** `ERROR_INSUFFICIENT_BUFFER`. */
export const ERROR_INSUFFICIENT_BUFFER = 122;
/** `ERROR_INVALID_CURSOR_HANDLE`. */
export const ERROR_INVALID_CURSOR_HANDLE = 1402;

/** One event `SendInput` received, decoded from the caller's memory. */
export type FakeInputEvent =
  | {
    type: "mouse";
    dx: number;
    dy: number;
    mouseData: number;
    flags: number;
  }
  | { type: "keyboard"; vk: number; scan: number; flags: number };

/** `ERROR_INVALID_WINDOW_HANDLE`. */
export const ERROR_INVALID_WINDOW_HANDLE = 1400;
/** `ERROR_CANNOT_FIND_WND_CLASS`. */
export const ERROR_CANNOT_FIND_WND_CLASS = 1407;
/** `ERROR_CLIPBOARD_NOT_OPEN`. */
export const ERROR_CLIPBOARD_NOT_OPEN = 1418;
/** `ERROR_NOT_FOUND` (GetClipboardData of a missing format, Windows 11). */
export const ERROR_NOT_FOUND = 1168;
/** `HWND_MESSAGE` as an address: `(HWND)-3`. */
export const FAKE_HWND_MESSAGE = 0xfffffffffffffffdn;
/** The window of "another application" that copies (not ours). */
export const OTHER_APP_WINDOW = 0x0abc_0010n;
/** `CF_UNICODETEXT`. */
const CF_UNICODETEXT = 13;
/** `WM_DESTROYCLIPBOARD`. */
const WM_DESTROYCLIPBOARD = 0x0307;

/** A window of the (one) thread. */
export interface FakeWindow {
  /** Its handle. */
  readonly hwnd: bigint;
  /** Its class name as given. */
  readonly className: string;
  /** Made with parent `HWND_MESSAGE`. */
  readonly messageOnly: boolean;
  /** Messages its window procedure ran (sent ones, via PeekMessageW). */
  readonly received: number[];
}

/** A message for one of the thread's windows. */
export interface FakeMessage {
  /** The window. */
  readonly hwnd: bigint;
  /** `WM_*`. */
  readonly message: number;
  /** `wParam`. */
  readonly wParam: bigint;
  /** `lParam`. */
  readonly lParam: bigint;
  /** Sent (the sender waits) rather than posted. */
  readonly sent: boolean;
  /**
   * A sent message's outcome: "waiting" until the thread runs it
   * ("answered") or its window is destroyed ("receiver gone").
   */
  state: "waiting" | "answered" | "receiver gone" | "posted";
}

/** A bitmap in the fake GDI. */
export interface FakeBitmap {
  /** Discriminant. */
  kind: "bitmap";
  /** Width. */
  width: number;
  /** Height. */
  height: number;
  /** 1 (monochrome: one byte 0/1 per pixel here) or 32 (BGRA). */
  bits: 1 | 32;
  /** The pixels. */
  pixels: Uint8Array;
  /** The memory DC it is selected into, if any. */
  selectedInto?: bigint;
  /** The stock 1×1 monochrome bitmap of new memory DCs (never deleted). */
  stock?: boolean;
}

/** A GDI object of the fake. */
export type FakeGdiObject =
  | { kind: "screenDC"; desktop: string }
  | { kind: "memoryDC"; selected: bigint }
  | FakeBitmap;

/** A cursor the fake knows, by handle. */
export interface FakeCursor {
  /** Hotspot. */
  hotX: number;
  /** Hotspot. */
  hotY: number;
  /** Width. */
  width: number;
  /** Height of the image (a monochrome mask bitmap is twice this). */
  height: number;
  /** BGRA pixels of a colour cursor; absent for a monochrome one. */
  color?: Uint8Array;
  /**
   * The mask, one byte (0/1) per pixel: `width × height` (AND) for a colour
   * cursor, `width × 2·height` (AND over XOR) for a monochrome one.
   */
  mask: Uint8Array;
}

/** A `buffer` argument's first `length` bytes, read and written through its address. */
export function realMemory(buffer: BufferArg, length: number): Uint8Array {
  const bytes = bufferBytes(buffer);
  if (bytes.byteLength < length) {
    throw new RangeError(
      `fake: buffer of ${bytes.byteLength} bytes where ${length} are used`,
    );
  }
  if (length === 0) return new Uint8Array(0);
  const pointer = pointerAt(addressOf(bytes));
  return new Uint8Array(
    Deno.UnsafePointerView.getArrayBuffer(pointer!, length),
  );
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** US-layout scan code (with 0xe0 prefix for extended keys) → virtual key. */
const US_SCAN_TO_VK: ReadonlyMap<number, number> = new Map([
  ...[..."QWERTYUIOP"].map((c, i) => [0x10 + i, c.charCodeAt(0)]),
  ...[..."ASDFGHJKL"].map((c, i) => [0x1e + i, c.charCodeAt(0)]),
  ...[..."ZXCVBNM"].map((c, i) => [0x2c + i, c.charCodeAt(0)]),
  ...[..."1234567890"].map((c, i) => [0x02 + i, c.charCodeAt(0)]),
  [0x01, 0x1b],
  [0x0c, 0xbd],
  [0x0d, 0xbb],
  [0x0e, 0x08],
  [0x0f, 0x09],
  [0x1a, 0xdb],
  [0x1b, 0xdd],
  [0x1c, 0x0d],
  [0x1d, 0xa2],
  [0x27, 0xba],
  [0x28, 0xde],
  [0x29, 0xc0],
  [0x2a, 0xa0],
  [0x2b, 0xdc],
  [0x33, 0xbc],
  [0x34, 0xbe],
  [0x35, 0xbf],
  [0x36, 0xa1],
  [0x38, 0xa4],
  [0x39, 0x20],
  [0x56, 0xe2],
  [0xe01d, 0xa3],
  [0xe038, 0xa5],
  [0xe035, 0x6f],
  [0xe04b, 0x25],
] as Array<[number, number]>);

/** US-layout characters → (shift << 8) | virtual key. */
const US_CHARACTERS: ReadonlyMap<string, number> = (() => {
  const m = new Map<string, number>();
  for (let c = 0x61; c <= 0x7a; c++) {
    m.set(String.fromCharCode(c), c - 0x20);
    m.set(String.fromCharCode(c - 0x20), 0x100 | (c - 0x20));
  }
  const pairs: Array<[string, string, number]> = [
    ["1", "!", 0x31],
    ["2", "@", 0x32],
    ["3", "#", 0x33],
    ["4", "$", 0x34],
    ["5", "%", 0x35],
    ["6", "^", 0x36],
    ["7", "&", 0x37],
    ["8", "*", 0x38],
    ["9", "(", 0x39],
    ["0", ")", 0x30],
    ["-", "_", 0xbd],
    ["=", "+", 0xbb],
    ["[", "{", 0xdb],
    ["]", "}", 0xdd],
    ["\\", "|", 0xdc],
    [";", ":", 0xba],
    ["'", '"', 0xde],
    ["`", "~", 0xc0],
    [",", "<", 0xbc],
    [".", ">", 0xbe],
    ["/", "?", 0xbf],
  ];
  for (const [plain, shifted, vk] of pairs) {
    m.set(plain, vk);
    m.set(shifted, 0x100 | vk);
  }
  m.set(" ", 0x20);
  return m;
})();

/**
 * The fake display: screen, cursor, desktops and GDI objects, shared by
 * the fake user32 ({@linkcode FakeDisplay.user32}) and gdi32
 * (`fakeGdi32(display)`).
 */
export class FakeDisplay {
  /** Last error and handle-free kernel32 the wrappers read. */
  readonly kernel32: FakeKernel32;
  /** Virtual-screen origin. */
  x = 0;
  /** Virtual-screen origin. */
  y = 0;
  /** Screen width. */
  width: number;
  /** Screen height. */
  height: number;
  /** BGRX pixels of the screen, `width × height × 4`. */
  pixels: Uint8Array;
  /** The desktop receiving input. */
  inputDesktop = "Default";
  /** The desktop the (one) thread is attached to. */
  threadDesktop = "Default";
  /** The process runs as LocalSystem (may open the Winlogon desktop). */
  system = false;
  /** SetThreadDesktop fails with ERROR_BUSY (the thread owns windows). */
  threadOwnsWindows = false;
  /** Cursors by handle. */
  readonly cursors: Map<bigint, FakeCursor> = new Map();
  /** The current cursor handle (0n: none) and whether it shows. */
  cursor = { handle: 0n, showing: true, x: 0, y: 0 };
  /** Every SendInput call's events, one array per call. */
  readonly inputBatches: FakeInputEvent[][] = [];
  /** SendInput refuses with this error (e.g. ERROR_ACCESS_DENIED). */
  refuseInput: number | undefined;
  /** Raster operations BitBlt received. */
  readonly rops: number[] = [];
  /** DPI awareness contexts set. */
  readonly dpiContexts: bigint[] = [];
  /** Violations of the GDI contract seen (the tests expect none). */
  readonly violations: string[] = [];
  /** GDI objects by handle. */
  readonly objects: Map<bigint, FakeGdiObject> = new Map();
  /** Open desktop handles → desktop name. */
  readonly desktops: Map<bigint, string> = new Map();
  /** The handle the thread's desktop was set from (0n: the initial one). */
  threadDesktopHandle = 0n;
  /** Clipboard sequence number: +1 on every empty and every data set. */
  clipboardSequence = 1;
  /** The clipboard owner window (0n: none). */
  clipboardOwner = 0n;
  /** Clipboard data: format → global block handle (the system owns them). */
  readonly clipboardData: Map<number, bigint> = new Map();
  /** Who has the clipboard open: we (with a window or 0n), or another app. */
  clipboardOpen: { by: "us"; window: bigint } | { by: "other" } | undefined;
  /**
   * How many more of our `OpenClipboard` calls another application's
   * holding makes fail (`Infinity`: until {@linkcode FakeDisplay.otherAppCloses}).
   */
  otherAppHolds = 0;
  /** The last error a refused `OpenClipboard` sets; undefined: none at all. */
  openClipboardError: number | undefined = ERROR_ACCESS_DENIED;
  /** Our `OpenClipboard` calls. */
  openClipboardCalls = 0;
  /** Called after our `CloseClipboard` succeeded (to race another app in). */
  onClipboardClosed: (() => void) | undefined;
  /** The thread's windows by handle. */
  readonly windows: Map<bigint, FakeWindow> = new Map();
  /** Every window ever created, destroyed ones included. */
  readonly windowHistory: FakeWindow[] = [];
  /** The thread's message queue (posted and sent), oldest first. */
  readonly messages: FakeMessage[] = [];
  /** The raw user32 functions over this display. */
  readonly user32: User32Symbols;
  /** The stock monochrome bitmap new memory DCs hold. */
  readonly stockBitmap: bigint;
  #next = 0x1000n;

  /** A `width × height` black screen. */
  constructor(
    width: number,
    height: number,
    options: { kernel32?: FakeKernel32 } = {},
  ) {
    this.kernel32 = options.kernel32 ?? new FakeKernel32();
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 4);
    this.stockBitmap = this.add({
      kind: "bitmap",
      width: 1,
      height: 1,
      bits: 1,
      pixels: new Uint8Array(1),
      stock: true,
    });
    this.user32 = this.#makeSymbols();
  }

  /** A new handle value (multiples of 4, like real ones). */
  newHandle(): bigint {
    const h = this.#next;
    this.#next += 4n;
    return h;
  }

  /** Adds a GDI object; returns its handle. */
  add(object: FakeGdiObject): bigint {
    const h = this.newHandle();
    this.objects.set(h, object);
    return h;
  }

  /** The GDI object `pointer` names. */
  object(pointer: Deno.PointerValue): FakeGdiObject | undefined {
    return pointer === null
      ? undefined
      : this.objects.get(addressOfPointer(pointer));
  }

  /** GDI objects still alive (stock ones aside). */
  liveObjects(): FakeGdiObject[] {
    return [...this.objects.values()].filter((o) =>
      !(o.kind === "bitmap" && o.stock)
    );
  }

  /** Fills `rect` of the screen with one BGR colour. */
  paint(
    rect: { x: number; y: number; width: number; height: number },
    bgr: [number, number, number],
  ): void {
    for (let y = rect.y; y < rect.y + rect.height; y++) {
      for (let x = rect.x; x < rect.x + rect.width; x++) {
        const i = (y * this.width + x) * 4;
        this.pixels.set([...bgr, 0], i);
      }
    }
  }

  /** Paints every pixel from its position (distinct values, for exact checks). */
  paintPattern(): void {
    for (let y = 0; y < this.height; y++) {
      for (let x = 0; x < this.width; x++) {
        const i = (y * this.width + x) * 4;
        this.pixels.set([x & 0xff, y & 0xff, (x >> 8) ^ (y >> 4), 0], i);
      }
    }
  }

  /** Changes the screen size (the pixels become black). */
  resize(width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.pixels = new Uint8Array(width * height * 4);
  }

  /** The screen pixel at virtual-screen (x, y), BGRX; black outside. */
  screenPixel(x: number, y: number): [number, number, number, number] {
    const sx = x - this.x, sy = y - this.y;
    if (sx < 0 || sy < 0 || sx >= this.width || sy >= this.height) {
      return [0, 0, 0, 0];
    }
    const i = (sy * this.width + sx) * 4;
    return [this.pixels[i], this.pixels[i + 1], this.pixels[i + 2], 0];
  }

  /** Adds a cursor; returns its handle. */
  addCursor(cursor: FakeCursor): bigint {
    const h = this.newHandle();
    this.cursors.set(h, cursor);
    return h;
  }

  /** Every event SendInput received, in order. */
  inputs(): FakeInputEvent[] {
    return this.inputBatches.flat();
  }

  #fail(code: number): 0 {
    return this.kernel32.fail(code);
  }

  /** The text on the clipboard (`CF_UNICODETEXT` up to its NUL), if any. */
  clipboardText(): string | undefined {
    const handle = this.clipboardData.get(CF_UNICODETEXT);
    if (handle === undefined) return undefined;
    const block = this.kernel32.global(pointerAt(handle));
    if (!block) throw new Error("fake: clipboard data was freed");
    const units = new Uint16Array(
      block.bytes.buffer,
      block.bytes.byteOffset,
      block.bytes.byteLength >> 1,
    );
    const end = units.indexOf(0);
    let text = "";
    // In chunks: spreading half a million arguments overflows the stack.
    for (let i = 0; i < (end < 0 ? units.length : end); i += 4096) {
      text += String.fromCharCode(
        ...units.subarray(i, Math.min(i + 4096, end < 0 ? units.length : end)),
      );
    }
    return text;
  }

  /** Another application opens the clipboard and keeps it open. */
  otherAppOpens(): void {
    if (this.clipboardOpen) throw new Error("fake: the clipboard is open");
    this.clipboardOpen = { by: "other" };
    this.otherAppHolds = Infinity;
  }

  /** Another application closes the clipboard it held. */
  otherAppCloses(): void {
    if (this.clipboardOpen?.by === "other") this.clipboardOpen = undefined;
    this.otherAppHolds = 0;
  }

  /** Another application empties the clipboard (owning it afterwards). */
  otherAppEmpties(): void {
    if (this.clipboardOpen?.by === "us") {
      throw new Error("fake: another app cannot open the clipboard we hold");
    }
    this.#empty(OTHER_APP_WINDOW, { byUs: false });
  }

  /**
   * Another application copies `text`: it empties the clipboard and sets
   * `CF_UNICODETEXT` (memory the reader sees as a fixed block, as Windows
   * hands another process's data).
   */
  otherAppCopies(text: string): void {
    this.otherAppEmpties();
    const block = this.kernel32.allocGlobal((text.length + 1) * 2, {
      moveable: false,
      owner: "system",
      what: "another app's text",
    });
    const units = new Uint16Array(block.bytes.buffer);
    for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
    this.clipboardData.set(CF_UNICODETEXT, block.handle);
    this.clipboardSequence++;
  }

  /** Another application posts a message to one of our windows. */
  postMessage(hwnd: bigint, message: number): FakeMessage {
    const entry: FakeMessage = {
      hwnd,
      message,
      wParam: 0n,
      lParam: 0n,
      sent: false,
      state: "posted",
    };
    this.messages.push(entry);
    return entry;
  }

  /** Sent messages whose senders still wait. */
  waitingSenders(): FakeMessage[] {
    return this.messages.filter((m) => m.sent && m.state === "waiting");
  }

  /** EmptyClipboard by `newOwner`: the old owner is told, the data freed. */
  #empty(newOwner: bigint, options: { byUs: boolean }): void {
    const old = this.clipboardOwner;
    const oldWindow = this.windows.get(old);
    if (oldWindow && options.byUs) {
      // Sent on the same thread: the window procedure runs at once.
      oldWindow.received.push(WM_DESTROYCLIPBOARD);
    } else if (oldWindow) {
      // From another thread: a real send, whose sender waits for us.
      this.messages.push({
        hwnd: old,
        message: WM_DESTROYCLIPBOARD,
        wParam: 0n,
        lParam: 0n,
        sent: true,
        state: "waiting",
      });
    }
    for (const handle of this.clipboardData.values()) {
      this.kernel32.systemFreeGlobal(handle);
    }
    this.clipboardData.clear();
    this.clipboardOwner = newOwner;
    this.clipboardSequence++;
  }

  /** Runs the pending sent messages of the thread (PeekMessage does). */
  #runSentMessages(): void {
    for (const m of this.messages) {
      if (m.sent && m.state === "waiting") {
        this.windows.get(m.hwnd)?.received.push(m.message);
        m.state = "answered";
      }
    }
    this.#prune();
  }

  #prune(): void {
    const keep = this.messages.filter((m) => m.state === "posted");
    this.messages.splice(0, this.messages.length, ...keep);
  }

  #clipboardOpenByUs(): boolean {
    return this.clipboardOpen?.by === "us";
  }

  #makeSymbols(): User32Symbols {
    return {
      GetDC: (hwnd) => {
        if (hwnd !== null) throw new Error("fake: GetDC of a window");
        return pointerAt(this.add({
          kind: "screenDC",
          desktop: this.threadDesktop,
        }));
      },
      ReleaseDC: (_hwnd, dc) => {
        const o = this.object(dc);
        if (o?.kind !== "screenDC") return 0;
        this.objects.delete(addressOfPointer(dc));
        return 1;
      },
      GetSystemMetrics: (index) => {
        switch (index) {
          case 0:
          case 78:
            return this.width;
          case 1:
          case 79:
            return this.height;
          case 76:
            return this.x;
          case 77:
            return this.y;
          case 80:
            return 1;
          default:
            return 0;
        }
      },
      SendInput: (count, inputs, size) => {
        if (size !== 40) return this.#fail(ERROR_INVALID_PARAMETER);
        if (this.refuseInput !== undefined) {
          return this.#fail(this.refuseInput);
        }
        // Input goes only to the desktop the thread is on, if it has input.
        if (this.threadDesktop !== this.inputDesktop) {
          return this.#fail(ERROR_ACCESS_DENIED);
        }
        const memory = view(realMemory(inputs, count * 40));
        const batch: FakeInputEvent[] = [];
        for (let i = 0; i < count; i++) {
          const base = i * 40;
          const type = memory.getUint32(base, true);
          const u = base + 8;
          if (type === 0) {
            batch.push({
              type: "mouse",
              dx: memory.getInt32(u, true),
              dy: memory.getInt32(u + 4, true),
              mouseData: memory.getInt32(u + 8, true),
              flags: memory.getUint32(u + 12, true),
            });
          } else if (type === 1) {
            batch.push({
              type: "keyboard",
              vk: memory.getUint16(u, true),
              scan: memory.getUint16(u + 2, true),
              flags: memory.getUint32(u + 4, true),
            });
          } else {
            return this.#fail(ERROR_INVALID_PARAMETER);
          }
        }
        this.inputBatches.push(batch);
        return count;
      },
      MapVirtualKeyW: (code, mapType) => {
        if (mapType === 3 || mapType === 1) {
          return US_SCAN_TO_VK.get(mapType === 1 ? code & 0xff : code) ?? 0;
        }
        if (mapType === 0 || mapType === 4) {
          for (const [scan, vk] of US_SCAN_TO_VK) {
            if (vk === code) return mapType === 0 ? scan & 0xff : scan;
          }
        }
        return 0;
      },
      VkKeyScanW: (unit) => {
        const found = US_CHARACTERS.get(String.fromCharCode(unit));
        return found === undefined ? -1 : found;
      },
      GetCursorInfo: (buffer) => {
        const memory = view(realMemory(buffer, 24));
        if (memory.getUint32(0, true) !== 24) {
          return this.#fail(ERROR_INVALID_PARAMETER);
        }
        if (this.threadDesktop !== this.inputDesktop) {
          return this.#fail(ERROR_ACCESS_DENIED);
        }
        const showing = this.cursor.showing && this.cursor.handle !== 0n;
        memory.setUint32(4, showing ? 1 : 0, true);
        memory.setBigUint64(8, showing ? this.cursor.handle : 0n, true);
        memory.setInt32(16, this.cursor.x, true);
        memory.setInt32(20, this.cursor.y, true);
        return 1;
      },
      GetIconInfo: (handle, buffer) => {
        const cursor = handle === null
          ? undefined
          : this.cursors.get(addressOfPointer(handle));
        if (!cursor) return this.#fail(ERROR_INVALID_CURSOR_HANDLE);
        const memory = view(realMemory(buffer, 32));
        // Fresh bitmaps, which the caller must delete.
        const maskHeight = cursor.color ? cursor.height : cursor.height * 2;
        const mask = this.add({
          kind: "bitmap",
          width: cursor.width,
          height: maskHeight,
          bits: 1,
          pixels: cursor.mask.slice(),
        });
        const color = cursor.color
          ? this.add({
            kind: "bitmap",
            width: cursor.width,
            height: cursor.height,
            bits: 32,
            pixels: cursor.color.slice(),
          })
          : 0n;
        memory.setInt32(0, 0, true); // fIcon: FALSE, a cursor
        memory.setUint32(4, cursor.hotX, true);
        memory.setUint32(8, cursor.hotY, true);
        memory.setBigUint64(16, mask, true);
        memory.setBigUint64(24, color, true);
        return 1;
      },
      OpenInputDesktop: (_flags, _inherit, _access) => {
        if (this.inputDesktop === "Winlogon" && !this.system) {
          this.#fail(ERROR_ACCESS_DENIED);
          return null;
        }
        const h = this.newHandle();
        this.desktops.set(h, this.inputDesktop);
        return pointerAt(h);
      },
      SetThreadDesktop: (desktop) => {
        const name = desktop === null
          ? undefined
          : this.desktops.get(addressOfPointer(desktop));
        if (name === undefined) return this.#fail(ERROR_INVALID_HANDLE);
        if (this.threadOwnsWindows || this.windows.size > 0) {
          return this.#fail(ERROR_BUSY);
        }
        this.threadDesktop = name;
        this.threadDesktopHandle = addressOfPointer(desktop);
        return 1;
      },
      CloseDesktop: (desktop) => {
        const h = desktop === null ? 0n : addressOfPointer(desktop);
        if (!this.desktops.has(h)) return this.#fail(ERROR_INVALID_HANDLE);
        // A desktop a thread of the process uses cannot be closed.
        if (h === this.threadDesktopHandle) return this.#fail(ERROR_BUSY);
        this.desktops.delete(h);
        return 1;
      },
      GetUserObjectInformationW: (handle, index, info, length, needed) => {
        const name = handle === null
          ? undefined
          : this.desktops.get(addressOfPointer(handle));
        if (name === undefined) return this.#fail(ERROR_INVALID_HANDLE);
        if (index !== 2) return this.#fail(ERROR_INVALID_PARAMETER);
        const bytes = (name.length + 1) * 2;
        view(realMemory(needed, 4)).setUint32(0, bytes, true);
        if (length < bytes) return this.#fail(ERROR_INSUFFICIENT_BUFFER);
        const out = view(realMemory(info, bytes));
        for (let i = 0; i < name.length; i++) {
          out.setUint16(i * 2, name.charCodeAt(i), true);
        }
        out.setUint16(name.length * 2, 0, true);
        return 1;
      },
      SetProcessDpiAwarenessContext: (context) => {
        // Only the first call succeeds: the awareness is set once.
        this.dpiContexts.push(addressOfPointer(context));
        return this.dpiContexts.length === 1
          ? 1
          : this.#fail(ERROR_ACCESS_DENIED);
      },
      SetProcessDPIAware: () => 1,
      GetClipboardSequenceNumber: () => this.clipboardSequence,
      OpenClipboard: (hwnd) => {
        const window = hwnd === null ? 0n : addressOfPointer(hwnd);
        if (window !== 0n && !this.windows.has(window)) {
          return this.#fail(ERROR_INVALID_WINDOW_HANDLE);
        }
        this.openClipboardCalls++;
        if (this.otherAppHolds > 0 || this.clipboardOpen?.by === "other") {
          this.otherAppHolds--;
          // Windows may fail here without setting a last error.
          if (this.openClipboardError === undefined) return 0;
          return this.#fail(this.openClipboardError);
        }
        if (this.clipboardOpen?.by === "us") {
          // The same thread may open it again, with the same window only.
          if (this.clipboardOpen.window !== window) {
            return this.#fail(ERROR_ACCESS_DENIED);
          }
          return 1;
        }
        this.clipboardOpen = { by: "us", window };
        return 1;
      },
      CloseClipboard: () => {
        if (!this.#clipboardOpenByUs()) {
          return this.#fail(ERROR_CLIPBOARD_NOT_OPEN);
        }
        for (const handle of this.clipboardData.values()) {
          const block = this.kernel32.global(pointerAt(handle));
          if (block?.moveable && block.locks > 0) {
            this.violations.push(
              `CloseClipboard with ${block.what}'s clipboard data still locked`,
            );
          }
        }
        this.clipboardOpen = undefined;
        this.onClipboardClosed?.();
        return 1;
      },
      EmptyClipboard: () => {
        if (this.clipboardOpen?.by !== "us") {
          return this.#fail(ERROR_CLIPBOARD_NOT_OPEN);
        }
        this.#empty(this.clipboardOpen.window, { byUs: true });
        return 1;
      },
      IsClipboardFormatAvailable: (format) =>
        this.clipboardData.has(format) ? 1 : 0,
      GetClipboardData: (format) => {
        if (!this.#clipboardOpenByUs()) {
          this.#fail(ERROR_CLIPBOARD_NOT_OPEN);
          return null;
        }
        const handle = this.clipboardData.get(format);
        if (handle === undefined) {
          this.#fail(ERROR_NOT_FOUND);
          return null;
        }
        return pointerAt(handle);
      },
      SetClipboardData: (format, memory) => {
        if (!this.#clipboardOpenByUs()) {
          this.#fail(ERROR_CLIPBOARD_NOT_OPEN);
          return null;
        }
        if (memory === null) {
          throw new Error("fake: delayed rendering is not modelled");
        }
        // Documented: after OpenClipboard(NULL), EmptyClipboard leaves a
        // NULL owner and SetClipboardData fails.
        if (this.clipboardOwner === 0n) {
          this.#fail(ERROR_CLIPBOARD_NOT_OPEN);
          return null;
        }
        const block = this.kernel32.global(memory);
        if (!block || block.owner !== "app" || block.discarded) {
          this.#fail(ERROR_INVALID_HANDLE);
          return null;
        }
        block.owner = "system";
        const previous = this.clipboardData.get(format);
        if (previous !== undefined) this.kernel32.systemFreeGlobal(previous);
        this.clipboardData.set(format, block.handle);
        this.clipboardSequence++;
        return memory;
      },
      CreateWindowExW: (
        _exStyle,
        className,
        _windowName,
        _style,
        _x,
        _y,
        _width,
        _height,
        parent,
      ) => {
        if (className === null) {
          this.#fail(ERROR_INVALID_PARAMETER);
          return null;
        }
        const name = readWideArg(className);
        if (name.toUpperCase() !== "STATIC") {
          this.#fail(ERROR_CANNOT_FIND_WND_CLASS);
          return null;
        }
        const window: FakeWindow = {
          hwnd: this.newHandle(),
          className: name,
          messageOnly: parent !== null &&
            addressOfPointer(parent) === FAKE_HWND_MESSAGE,
          received: [],
        };
        this.windows.set(window.hwnd, window);
        this.windowHistory.push(window);
        return pointerAt(window.hwnd);
      },
      DestroyWindow: (hwnd) => {
        const window = hwnd === null ? 0n : addressOfPointer(hwnd);
        if (!this.windows.delete(window)) {
          return this.#fail(ERROR_INVALID_WINDOW_HANDLE);
        }
        // The data stays; only the owner (and an open clipboard) goes.
        if (this.clipboardOwner === window) this.clipboardOwner = 0n;
        if (
          this.clipboardOpen?.by === "us" &&
          this.clipboardOpen.window === window
        ) {
          this.clipboardOpen = undefined;
        }
        for (const m of this.messages) {
          if (m.hwnd !== window) continue;
          m.state = m.sent ? "receiver gone" : m.state;
        }
        const keep = this.messages.filter((m) =>
          m.hwnd !== window && m.state !== "receiver gone"
        );
        this.messages.splice(0, this.messages.length, ...keep);
        return 1;
      },
      PeekMessageW: (msg, hwnd, min, max, remove) => {
        const memory = view(realMemory(msg, 48));
        this.#runSentMessages();
        const window = hwnd === null ? undefined : addressOfPointer(hwnd);
        const index = this.messages.findIndex((m) =>
          (window === undefined || m.hwnd === window) &&
          ((min === 0 && max === 0) || (m.message >= min && m.message <= max))
        );
        if (index < 0) return 0;
        const m = this.messages[index];
        memory.setBigUint64(0, m.hwnd, true);
        memory.setUint32(8, m.message, true);
        memory.setBigUint64(16, m.wParam, true);
        memory.setBigInt64(24, m.lParam, true);
        memory.setUint32(32, 0, true);
        memory.setInt32(36, this.cursor.x, true);
        memory.setInt32(40, this.cursor.y, true);
        if (remove & 1) this.messages.splice(index, 1);
        return 1;
      },
    };
  }
}
