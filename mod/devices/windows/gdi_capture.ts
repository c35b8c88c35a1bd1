/**
 * Screen capture of the Windows session's desktop with GDI, behind the same
 * {@linkcode ScreenCapture} interface as X11.
 *
 * - Pixels: `BitBlt` (`SRCCOPY | CAPTUREBLT`) from the screen DC into a
 *   compatible bitmap, then `GetDIBits` as 32-bit top-down BGRX rows into
 *   one reused buffer (re-created only when the screen size changes). The
 *   whole virtual screen (every monitor) is captured; (0, 0) is its top left.
 * - Changes: GDI has no damage notices, so every poll reports the whole
 *   screen (`damageAvailable` is false) and the tile encoder's comparison
 *   with what it last sent finds what changed.
 * - Resize: the virtual-screen metrics are read on every poll.
 * - Cursor: `GetCursorInfo` on every poll; a new cursor handle is a cursor
 *   change, and `cursor()` builds the image from `GetIconInfo`'s bitmaps.
 * - Clipboard: `GetClipboardSequenceNumber` on every poll; a new number is
 *   `clipboardChanged` (read with `win32_clipboard.ts`). It needs no
 *   window and no message loop: a clipboard-format listener window would
 *   need this thread to pump messages, and a thread owning a window cannot
 *   follow the input desktop. Our own writes change the number too; the
 *   clipboard's `readChange()` filters them out.
 * - The input desktop: each poll follows the desktop receiving input
 *   (`OpenInputDesktop` + `SetThreadDesktop`, see `ffi/windows/user32.ts`),
 *   so the lock screen and other desktops are captured and injected into by
 *   this thread. The secure desktop (UAC, Ctrl+Alt+Del) opens only for
 *   LocalSystem: as the session's user the last frame stays on screen and
 *   `BitBlt` failures go to `onError` rather than ending the stream.
 *
 * GDI objects belong to the thread that made them: use a capture, and the
 * input sink that relies on its desktop switching, from one thread.
 *
 * @module
 */
import { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  Gdi32,
  type Gdi32Symbols,
  openGdi32,
} from "../../../ffi/windows/gdi32.ts";
import {
  Kernel32,
  type Kernel32Symbols,
  openKernel32,
} from "../../../ffi/windows/kernel32.ts";
import {
  type CursorInfo,
  openUser32,
  User32,
  type User32Symbols,
  type VirtualScreen,
} from "../../../ffi/windows/user32.ts";
import {
  type CapturedFrame,
  type CaptureEvents,
  type CursorShape,
  fullScreen,
  grabArea,
  type Rect,
  type ScreenCapture,
} from "../capture.ts";

/** The raw DLL functions a capture needs (fakes in tests). */
export interface WindowsGraphicsLibraries {
  /** user32.dll. */
  user32: User32Symbols;
  /** gdi32.dll. */
  gdi32: Gdi32Symbols;
  /** kernel32.dll (for GetLastError). */
  kernel32: Kernel32Symbols;
}

/** Opens user32, gdi32 and kernel32 with `Deno.dlopen` (Windows only). */
export function openWindowsGraphics(): WindowsGraphicsLibraries {
  return {
    user32: openUser32(),
    gdi32: openGdi32(),
    kernel32: openKernel32(),
  };
}

/** Options for {@linkcode openGdiCapture}. */
export interface GdiCaptureOptions {
  /** The DLLs; default {@linkcode openWindowsGraphics}. */
  libraries?: WindowsGraphicsLibraries;
  /** Follow the input desktop on every poll. Default true. */
  followInputDesktop?: boolean;
  /** Make the process per-monitor DPI aware first. Default true. */
  dpiAware?: boolean;
  /**
   * Told when the screen cannot be copied (another desktop has the input
   * and cannot be opened): the previous frame is returned meanwhile.
   * Default: nothing.
   */
  onError?: (error: Win32Error) => void;
}

/** Cursors larger than this (either side) are not sent. */
const MAX_CURSOR_SIZE = 256;

/**
 * Opens a GDI capture of the virtual screen. Throws {@linkcode Win32Error}
 * when the screen DC or bitmap cannot be made.
 */
export function openGdiCapture(options: GdiCaptureOptions = {}): GdiCapture {
  const libraries = options.libraries ?? openWindowsGraphics();
  const kernel32 = new Kernel32(libraries.kernel32);
  return new GdiCapture(
    new User32(libraries.user32, kernel32),
    new Gdi32(libraries.gdi32, kernel32),
    options,
  );
}

/** What {@linkcode InputDesktopFollower.follow} did. */
export type FollowResult = "unchanged" | "switched" | "unreachable";

/**
 * Keeps the calling thread on the desktop that receives input. It keeps
 * the handle of the desktop it attached (a desktop in use by a thread
 * cannot be closed) and closes the one it leaves.
 */
export class InputDesktopFollower {
  readonly #user32: User32;
  #current: Deno.PointerValue = null;
  #name: string | undefined;
  #lastError: Win32Error | undefined;

  /** Follows through `user32`. */
  constructor(user32: User32) {
    this.#user32 = user32;
  }

  /** The name of the desktop the thread was last attached to. */
  get name(): string | undefined {
    return this.#name;
  }

  /** Why the last `follow()` could not attach, if it could not. */
  get lastError(): Win32Error | undefined {
    return this.#lastError;
  }

  /**
   * Attaches the thread to the input desktop when it is another one than
   * last time. "unreachable" when it cannot be opened (the secure desktop
   * as a user) or attached (the thread owns windows or hooks).
   */
  follow(): FollowResult {
    let desktop: Deno.PointerValue;
    try {
      desktop = this.#user32.openInputDesktop();
    } catch (error) {
      return this.#unreachable(error);
    }
    let name: string;
    try {
      name = this.#user32.objectName(desktop);
      if (name === this.#name) {
        this.#user32.closeDesktop(desktop);
        this.#lastError = undefined;
        return "unchanged";
      }
      this.#user32.setThreadDesktop(desktop);
    } catch (error) {
      this.#closeQuietly(desktop);
      return this.#unreachable(error);
    }
    const previous = this.#current;
    this.#current = desktop;
    this.#name = name;
    this.#lastError = undefined;
    if (previous !== null) this.#closeQuietly(previous);
    return "switched";
  }

  #closeQuietly(desktop: Deno.PointerValue): void {
    try {
      this.#user32.closeDesktop(desktop);
    } catch (error) {
      if (!(error instanceof Win32Error)) throw error;
    }
  }

  #unreachable(error: unknown): FollowResult {
    if (!(error instanceof Win32Error)) throw error;
    this.#lastError = error;
    return "unreachable";
  }
}

/** A GDI capture of the virtual screen; see the module documentation. */
export class GdiCapture implements ScreenCapture {
  readonly #user32: User32;
  readonly #gdi: Gdi32;
  readonly #follower: InputDesktopFollower | undefined;
  readonly #onError: (error: Win32Error) => void;
  #screen: VirtualScreen;
  #screenDC: Deno.PointerValue = null;
  #memoryDC: Deno.PointerValue = null;
  #bitmap: Deno.PointerValue = null;
  /** The pixels of the last grab, screen-sized, reused. */
  #pixels = new Uint8Array(0);
  #cursorHandle = 0n;
  #clipboardSequence: number;
  #cursor: { handle: bigint; shape: CursorShape } | undefined;
  #serial = 0;
  #closed = false;

  /** A capture through wrapped DLLs (see {@linkcode openGdiCapture}). */
  constructor(user32: User32, gdi32: Gdi32, options: GdiCaptureOptions = {}) {
    this.#user32 = user32;
    this.#gdi = gdi32;
    this.#onError = options.onError ?? (() => {});
    if (options.dpiAware ?? true) user32.setDpiAware();
    if (options.followInputDesktop ?? true) {
      this.#follower = new InputDesktopFollower(user32);
      this.#follower.follow();
    }
    this.#screen = user32.virtualScreen();
    this.#setUp();
    this.#cursorHandle = this.#readCursor()?.handle ?? 0n;
    // What is on the clipboard at the start is read by each new viewer.
    this.#clipboardSequence = user32.clipboardSequenceNumber();
  }

  get width(): number {
    return this.#screen.width;
  }

  get height(): number {
    return this.#screen.height;
  }

  get method(): "shm" | "getimage" {
    // The pixels are copied out of GDI on every grab.
    return "getimage";
  }

  get damageAvailable(): boolean {
    return false;
  }

  /** The name of the desktop captured now (after following). */
  get desktop(): string | undefined {
    return this.#follower?.name;
  }

  /** The screen DC, memory DC, bitmap and buffer for the current size. */
  #setUp(): void {
    this.#release();
    const { width, height } = this.#screen;
    if (width <= 0 || height <= 0) {
      throw new Win32Error("GetSystemMetrics", undefined);
    }
    this.#screenDC = this.#user32.screenDC();
    this.#memoryDC = this.#gdi.createCompatibleDC(this.#screenDC);
    // From the screen DC: the memory DC's would be monochrome.
    this.#bitmap = this.#gdi.createCompatibleBitmap(this.#screenDC, {
      width,
      height,
    });
    this.#pixels = new Uint8Array(width * height * 4);
  }

  #release(): void {
    if (this.#bitmap !== null) this.#gdi.deleteObject(this.#bitmap);
    if (this.#memoryDC !== null) this.#gdi.deleteDC(this.#memoryDC);
    if (this.#screenDC !== null) this.#user32.releaseDC(this.#screenDC);
    this.#bitmap = this.#memoryDC = this.#screenDC = null;
  }

  poll(): CaptureEvents {
    this.#assertOpen();
    const events: CaptureEvents = {
      damage: [],
      cursorChanged: false,
      clipboardChanged: false,
      resized: false,
    };
    const switched = this.#follower?.follow() === "switched";
    const screen = this.#user32.virtualScreen();
    const resized = screen.width !== this.#screen.width ||
      screen.height !== this.#screen.height;
    if (
      resized || switched || screen.x !== this.#screen.x ||
      screen.y !== this.#screen.y
    ) {
      // A new desktop needs its own screen DC; a new size a new bitmap.
      this.#screen = screen;
      this.#setUp();
      events.resized = resized;
    }
    const handle = this.#readCursor()?.handle;
    if (handle !== undefined && handle !== this.#cursorHandle) {
      this.#cursorHandle = handle;
      events.cursorChanged = true;
    }
    const sequence = this.#user32.clipboardSequenceNumber();
    if (sequence !== this.#clipboardSequence) {
      this.#clipboardSequence = sequence;
      events.clipboardChanged = true;
    }
    // No damage notices in GDI: everything may have changed.
    events.damage = [fullScreen(this)];
    return events;
  }

  grab(region?: Rect): CapturedFrame {
    this.#assertOpen();
    const area = grabArea(region, this);
    const { width, height } = this.#screen;
    const previous = this.#gdi.selectObject(this.#memoryDC, this.#bitmap);
    let copied = true;
    try {
      this.#gdi.bitBlt(this.#memoryDC, this.#screenDC, {
        x: this.#screen.x + area.x,
        y: this.#screen.y + area.y,
        width: area.width,
        height: area.height,
      });
    } catch (error) {
      if (!(error instanceof Win32Error)) throw error;
      // Another desktop has the screen: keep showing the last frame.
      copied = false;
      this.#onError(error);
    } finally {
      // GetDIBits wants the bitmap selected nowhere.
      this.#gdi.selectObject(this.#memoryDC, previous);
    }
    const stride = width * 4;
    if (copied) {
      this.#gdi.readBitmap(this.#screenDC, this.#bitmap, {
        width,
        height,
        into: this.#pixels,
      });
    }
    // The region was copied to the bitmap's top left.
    return {
      width: area.width,
      height: area.height,
      stride,
      data: this.#pixels.subarray(0, stride * area.height),
    };
  }

  cursor(): CursorShape | undefined {
    this.#assertOpen();
    const info = this.#readCursor();
    if (!info) return undefined;
    const handle = info.showing ? info.handle : 0n;
    if (this.#cursor?.handle === handle) return this.#cursor.shape;
    const shape = handle === 0n
      ? hiddenCursor(++this.#serial)
      : this.#cursorShape(info);
    if (!shape) return undefined;
    this.#cursor = { handle, shape };
    return shape;
  }

  pointer(): { x: number; y: number } {
    this.#assertOpen();
    const info = this.#readCursor();
    if (!info) return { x: 0, y: 0 };
    return { x: info.x - this.#screen.x, y: info.y - this.#screen.y };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#pixels = new Uint8Array(0);
  }

  /** `GetCursorInfo`, undefined when refused (another desktop). */
  #readCursor(): CursorInfo | undefined {
    try {
      const info = this.#user32.cursorInfo();
      return info.showing ? info : { ...info, handle: 0n, cursor: null };
    } catch (error) {
      if (error instanceof Win32Error) return undefined;
      throw error;
    }
  }

  /** The image of the cursor `info` names, from its icon bitmaps. */
  #cursorShape(info: CursorInfo): CursorShape | undefined {
    let icon;
    try {
      icon = this.#user32.iconInfo(info.cursor);
    } catch (error) {
      if (error instanceof Win32Error) return undefined;
      throw error;
    }
    try {
      const rgba = this.#cursorPixels(icon.mask, icon.color);
      if (!rgba) return undefined;
      return {
        serial: ++this.#serial,
        hotX: Math.min(icon.hotX, rgba.width - 1),
        hotY: Math.min(icon.hotY, rgba.height - 1),
        width: rgba.width,
        height: rgba.height,
        rgba: rgba.pixels,
      };
    } finally {
      // GetIconInfo's bitmaps are ours to delete.
      this.#gdi.deleteObject(icon.mask);
      this.#gdi.deleteObject(icon.color);
    }
  }

  #cursorPixels(
    mask: Deno.PointerValue,
    color: Deno.PointerValue,
  ): { width: number; height: number; pixels: Uint8Array } | undefined {
    if (mask === null && color === null) return undefined;
    const read = (bitmap: Deno.PointerValue, width: number, height: number) => {
      const into = new Uint8Array(width * height * 4);
      this.#gdi.readBitmap(this.#screenDC, bitmap, { width, height, into });
      return into;
    };
    if (color !== null) {
      const { width, height } = this.#gdi.bitmapSize(color);
      if (!cursorSizeOk(width, height)) return undefined;
      const and = mask !== null ? read(mask, width, height) : undefined;
      return {
        width,
        height,
        pixels: colorCursor(read(color, width, height), and),
      };
    }
    // Monochrome: the AND mask over the XOR mask in one bitmap.
    const size = this.#gdi.bitmapSize(mask);
    const height = Math.floor(size.height / 2);
    if (!cursorSizeOk(size.width, height)) return undefined;
    const bits = read(mask, size.width, height * 2);
    return {
      width: size.width,
      height,
      pixels: monochromeCursor(bits, size.width, height),
    };
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("the capture is closed");
  }
}

function cursorSizeOk(width: number, height: number): boolean {
  return width > 0 && height > 0 && width <= MAX_CURSOR_SIZE &&
    height <= MAX_CURSOR_SIZE;
}

/** An invisible 1×1 cursor (the cursor is hidden). */
function hiddenCursor(serial: number): CursorShape {
  return {
    serial,
    hotX: 0,
    hotY: 0,
    width: 1,
    height: 1,
    rgba: new Uint8Array(4),
  };
}

/**
 * RGBA of a colour cursor from its BGRX/BGRA pixels: its own alpha when it
 * has any, else opaque where the AND mask is black, and (XOR pixels over a
 * white AND mask, which invert the screen) opaque where the colour is not
 * black.
 */
export function colorCursor(
  bgra: Uint8Array,
  andMask: Uint8Array | undefined,
): Uint8Array {
  const out = new Uint8Array(bgra.length);
  let hasAlpha = false;
  for (let i = 3; i < bgra.length; i += 4) {
    if (bgra[i] !== 0) {
      hasAlpha = true;
      break;
    }
  }
  for (let i = 0; i < bgra.length; i += 4) {
    const b = bgra[i], g = bgra[i + 1], r = bgra[i + 2];
    out[i] = r;
    out[i + 1] = g;
    out[i + 2] = b;
    if (hasAlpha) {
      out[i + 3] = bgra[i + 3];
    } else {
      const transparent = andMask !== undefined && andMask[i] !== 0;
      out[i + 3] = !transparent || (r | g | b) !== 0 ? 255 : 0;
    }
  }
  return out;
}

/**
 * RGBA of a monochrome cursor from its mask read as 32-bit rows (a set bit
 * reads white): the AND half over the XOR half. AND 0 draws black (XOR 0)
 * or white (XOR 1); AND 1 leaves the screen (XOR 0) or inverts it (XOR 1),
 * which an image cannot do: inverting pixels are drawn black.
 */
export function monochromeCursor(
  bits: Uint8Array,
  width: number,
  height: number,
): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  const xorStart = width * height * 4;
  for (let i = 0; i < width * height * 4; i += 4) {
    const and = bits[i] !== 0;
    const xor = bits[xorStart + i] !== 0;
    const white = !and && xor;
    out[i] = out[i + 1] = out[i + 2] = white ? 255 : 0;
    out[i + 3] = and && !xor ? 0 : 255;
  }
  return out;
}
