/**
 * The Windows session's clipboard through the Win32 clipboard API, behind
 * the same {@linkcode SessionClipboard} interface as X11's xclip one.
 *
 * - Text is `CF_UNICODETEXT`: NUL-terminated UTF-16 in a `GMEM_MOVEABLE`
 *   block. Lines end CR LF on Windows and LF in the browser, so `write`
 *   turns LF into CR LF and `read` turns CR LF back into LF. A NUL would end
 *   the text early: `write` drops NULs. Text is cut to
 *   {@linkcode MAX_CLIPBOARD} characters both ways, as on X11.
 * - Changes by the session's apps are seen by the GDI capture's `poll()`
 *   through `GetClipboardSequenceNumber` (no window, no message loop),
 *   which reports `clipboardChanged`; the viewer then calls `readChange()`.
 *   Our own `write` changes the number too: `readChange()` returns
 *   undefined while the clipboard holds the text we set, as on X11.
 * - The clipboard is opened by one thread at a time: `OpenClipboard` fails
 *   while another app has it open (it does not always set a last error),
 *   so every open is retried a few times with short, growing waits (never
 *   blocking the event loop) before a {@linkcode ClipboardBusyError}. It is
 *   held only for the few synchronous calls between open and close.
 * - Memory: the block `write` allocates belongs to the system once
 *   `SetClipboardData` succeeds (it is freed when the clipboard is next
 *   emptied); it is freed here only when that call failed. What `read`
 *   gets from `GetClipboardData` is the clipboard's: locked, copied out
 *   (bounded by `GlobalSize`) and unlocked before the clipboard is closed,
 *   never freed.
 *
 * ## The owner window, and why nothing needs to pump messages
 *
 * `SetClipboardData` needs an owner window (documented: after
 * `OpenClipboard(NULL)`, `EmptyClipboard` sets a NULL owner and
 * `SetClipboardData` fails). Each `write` creates a message-only window,
 * opens the clipboard with it, empties it, sets the text, closes it, and
 * destroys the window — all synchronously, so no window of ours survives
 * a `write`. This is deliberate:
 *
 * - The owner is *sent* `WM_DESTROYCLIPBOARD` whenever another app empties
 *   the clipboard, i.e. on every copy in the session; a cross-thread send
 *   waits until the receiving thread processes messages. Deno's main
 *   thread runs no message loop, and the capture (which could pump) polls
 *   only while a viewer watches, so a long-lived owner window would freeze
 *   every app that copies while nobody is watching.
 * - A thread that owns a window cannot `SetThreadDesktop`, which the
 *   capture does to follow the input desktop.
 *
 * Data set with a real memory handle outlives its owner window (the owner
 * becomes NULL; only delayed-rendered formats are lost, and none are used
 * here), so destroying the window right away loses nothing. Between our
 * `CloseClipboard` and `DestroyWindow` another app could still empty the
 * clipboard and send `WM_DESTROYCLIPBOARD` to the window: the window's
 * messages are peeked (which runs pending sent messages and so releases
 * their senders) right before it is destroyed. A send that lands after
 * that peek is left to the window's destruction, which is expected (not
 * verified) to fail pending sends to it.
 *
 * Everything runs on the calling thread (the clipboard is opened by, and
 * the window belongs to, a thread): use it from Deno's main thread, like
 * the capture.
 *
 * @module
 */
import { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  GMEM_MOVEABLE,
  Kernel32,
  type Kernel32Symbols,
  openKernel32,
} from "../../../ffi/windows/kernel32.ts";
import { readWide } from "../../../ffi/windows/strings.ts";
import {
  CF_UNICODETEXT,
  openUser32,
  User32,
  type User32Symbols,
} from "../../../ffi/windows/user32.ts";
import { MAX_CLIPBOARD, type SessionClipboard } from "../clipboard.ts";

/** The raw DLL functions the clipboard needs (fakes in tests). */
export interface Win32ClipboardLibraries {
  /** user32.dll. */
  user32: User32Symbols;
  /** kernel32.dll (global memory, GetLastError). */
  kernel32: Kernel32Symbols;
}

/** Opens user32 and kernel32 with `Deno.dlopen` (Windows only). */
export function openClipboardLibraries(): Win32ClipboardLibraries {
  return { user32: openUser32(), kernel32: openKernel32() };
}

/** Options for {@linkcode openWin32Clipboard}. */
export interface Win32ClipboardOptions {
  /** The DLLs; default {@linkcode openClipboardLibraries}. */
  libraries?: Win32ClipboardLibraries;
  /** How many times to try `OpenClipboard` before giving up. Default 6. */
  openAttempts?: number;
  /** The first wait between attempts, in ms; it doubles. Default 10. */
  retryDelayMs?: number;
}

/** Most messages peeked off the owner window before it is destroyed. */
const MAX_DRAINED = 64;
/** UTF-16 units read at most: CR LF pairs shrink to LF afterwards. */
const MAX_READ_UNITS = MAX_CLIPBOARD * 2;

/** Opens the clipboard of the calling thread's window station. */
export function openWin32Clipboard(
  options: Win32ClipboardOptions = {},
): Win32Clipboard {
  const libraries = options.libraries ?? openClipboardLibraries();
  const kernel32 = new Kernel32(libraries.kernel32);
  return new Win32Clipboard(new User32(libraries.user32, kernel32), options);
}

/** Another application kept the clipboard open through every attempt. */
export class ClipboardBusyError extends Error {
  /** How many times `OpenClipboard` was tried. */
  readonly attempts: number;

  /** `cause` is the last attempt's `Win32Error`. */
  constructor(attempts: number, cause?: Win32Error) {
    super(
      `cannot open the clipboard: another application holds it (${attempts} attempts${
        cause ? `; last: ${cause.message}` : ""
      })`,
      { cause },
    );
    this.name = "ClipboardBusyError";
    this.attempts = attempts;
  }
}

/**
 * Browser text as Windows clipboard text: NULs dropped (`CF_UNICODETEXT`
 * ends at the first), every line ending CR LF.
 */
export function toWindowsText(text: string): string {
  return text.replaceAll("\0", "").replace(/\r?\n/g, "\r\n");
}

/** Windows clipboard text as browser text: CR LF becomes LF. */
export function fromWindowsText(text: string): string {
  return text.replaceAll("\r\n", "\n");
}

/** The Win32 clipboard; see the module documentation. */
export class Win32Clipboard implements SessionClipboard {
  readonly #user32: User32;
  readonly #kernel32: Kernel32;
  readonly #attempts: number;
  readonly #delayMs: number;
  /** The text we set last, as `read()` returns it: not news when seen. */
  #ours?: string;
  #closed = false;

  /** A clipboard through wrapped DLLs (see {@linkcode openWin32Clipboard}). */
  constructor(
    user32: User32,
    options: Omit<Win32ClipboardOptions, "libraries"> = {},
  ) {
    this.#user32 = user32;
    this.#kernel32 = user32.kernel32;
    this.#attempts = Math.max(1, Math.floor(options.openAttempts ?? 6));
    this.#delayMs = Math.max(0, options.retryDelayMs ?? 10);
  }

  /** Sets the clipboard to `text`; rejects when it stays held or is refused. */
  async write(text: string): Promise<void> {
    this.#assertOpen();
    const value = toWindowsText(text.slice(0, MAX_CLIPBOARD));
    const memory = this.#globalText(value);
    let given = false;
    try {
      await this.#withClipboard({ owner: true }, () => {
        this.#user32.emptyClipboard();
        this.#user32.setClipboardData(CF_UNICODETEXT, memory);
        // From here on the block is the system's, whatever fails next.
        given = true;
      });
    } finally {
      if (!given) this.#kernel32.globalFree(memory);
    }
    // As read() will return it: lone surrogates decode as U+FFFD.
    this.#ours = fromWindowsText(value.toWellFormed());
  }

  /** The clipboard's text unless it is empty or what we set last. */
  async readChange(): Promise<string | undefined> {
    const text = await this.read();
    if (text === undefined || text === this.#ours) return undefined;
    this.#ours = undefined;
    return text;
  }

  /** The clipboard's text; undefined when there is none. */
  async read(): Promise<string | undefined> {
    this.#assertOpen();
    // Answered without opening the clipboard, which would lock other apps
    // out of it for a moment.
    if (!this.#user32.isClipboardFormatAvailable(CF_UNICODETEXT)) {
      return undefined;
    }
    return await this.#withClipboard({ owner: false }, () => this.#readOpen());
  }

  /** Nothing is held between calls: later calls are refused. */
  close(): void {
    this.#closed = true;
  }

  /** `text` and a NUL as UTF-16 in a new `GMEM_MOVEABLE` block. */
  #globalText(text: string): Deno.PointerValue {
    const bytes = (text.length + 1) * 2;
    const memory = this.#kernel32.globalAlloc(GMEM_MOVEABLE, bytes);
    try {
      const pointer = this.#kernel32.globalLock(memory);
      try {
        // A view of the block's own memory (getArrayBuffer does not copy).
        const units = new Uint16Array(
          Deno.UnsafePointerView.getArrayBuffer(pointer!, bytes),
        );
        for (let i = 0; i < text.length; i++) units[i] = text.charCodeAt(i);
        units[text.length] = 0;
      } finally {
        this.#kernel32.globalUnlock(memory);
      }
    } catch (error) {
      this.#kernel32.globalFree(memory);
      throw error;
    }
    return memory;
  }

  /** The open clipboard's `CF_UNICODETEXT`, copied out. */
  #readOpen(): string | undefined {
    const handle = this.#user32.clipboardData(CF_UNICODETEXT);
    if (handle === null) return undefined;
    const size = this.#kernel32.globalSize(handle);
    if (size < 2) return undefined;
    const pointer = this.#kernel32.globalLock(handle);
    let text: string;
    try {
      // Bounded by the block, in case its text lacks the NUL.
      text = readWide(pointer, {
        maxUnits: Math.min(Math.floor(size / 2), MAX_READ_UNITS),
      });
    } finally {
      this.#kernel32.globalUnlock(handle);
    }
    return fromWindowsText(text).slice(0, MAX_CLIPBOARD);
  }

  /**
   * Opens the clipboard (with a fresh owner window when `owner`), runs
   * `use`, closes it and destroys the window; retried while another app
   * holds the clipboard. No window outlives a call, nor is one kept across
   * an `await`.
   */
  async #withClipboard<T>(
    options: { owner: boolean },
    use: () => T,
  ): Promise<T> {
    let failure: Win32Error | undefined;
    for (let attempt = 1; attempt <= this.#attempts; attempt++) {
      if (attempt > 1) {
        await sleep(this.#delayMs * 2 ** (attempt - 2));
        this.#assertOpen();
      }
      const window = options.owner ? this.#user32.createMessageWindow() : null;
      try {
        try {
          this.#user32.openClipboard(window);
        } catch (error) {
          if (!(error instanceof Win32Error)) throw error;
          failure = error;
          continue;
        }
        try {
          return use();
        } finally {
          this.#user32.closeClipboard();
        }
      } finally {
        if (window !== null) this.#dropWindow(window);
      }
    }
    throw new ClipboardBusyError(this.#attempts, failure);
  }

  /**
   * Runs what was sent to the window (releasing a waiting sender), drops
   * what was posted to it, and destroys it.
   */
  #dropWindow(window: Deno.PointerValue): void {
    for (let i = 0; i < MAX_DRAINED; i++) {
      if (this.#user32.peekMessage(window) === undefined) break;
    }
    this.#user32.destroyWindow(window);
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error("the clipboard is closed");
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
