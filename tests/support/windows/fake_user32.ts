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
        if (this.threadOwnsWindows) return this.#fail(ERROR_BUSY);
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
    };
  }
}
