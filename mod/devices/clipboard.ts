/**
 * The session's clipboard as the streamer uses it, independent of the
 * OS: text only. On Linux it is `linux/x11_clipboard.ts`'s `X11Clipboard`
 * (xclip); on Windows `windows/win32_clipboard.ts`. Changes
 * made by the session's apps are noticed by the screen capture (its
 * `poll()`'s `clipboardChanged`), then read with `readChange()`.
 *
 * @module
 */

/** Largest clipboard text carried, in characters (UTF-16 code units). */
export const MAX_CLIPBOARD = 512 * 1024;

/** Reads and sets the session's clipboard text. */
export interface SessionClipboard {
  /** Sets the clipboard to `text` (cut to {@linkcode MAX_CLIPBOARD}). */
  write(text: string): Promise<void>;
  /**
   * The clipboard's text when it changed: undefined when it is empty, not
   * text, or the text this clipboard set itself (that change is not news).
   */
  readChange(): Promise<string | undefined>;
  /** The clipboard's text; undefined when it is empty or not text. */
  read(): Promise<string | undefined>;
  /** Releases what the clipboard holds (for X11, stops owning the selection). */
  close(): void;
}
