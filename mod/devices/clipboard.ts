/**
 * The session's clipboard as the streamer uses it, independent of the
 * OS: text everywhere, and PNG images where the platform's clipboard
 * carries them ({@linkcode ImageClipboard}, {@linkcode carriesImages}). On
 * Linux it is `linux/x11_clipboard.ts`'s `X11Clipboard`
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

/**
 * Largest clipboard image carried, in bytes of PNG: the same bound as the
 * protocol's `MAX_CLIPBOARD_IMAGE`.
 */
export const MAX_CLIPBOARD_IMAGE = 8 * 1024 * 1024;

/** What a changed clipboard holds: text, or a PNG image. */
export type ClipboardContent =
  | { kind: "text"; text: string }
  | { kind: "image"; png: Uint8Array };

/** A session clipboard that carries PNG images besides text. */
export interface ImageClipboard extends SessionClipboard {
  /** Sets the clipboard to a PNG image (offered as `image/png`). */
  writeImage(png: Uint8Array): Promise<void>;
  /**
   * The clipboard's content when it changed: the image when it offers
   * `image/png` (at most {@linkcode MAX_CLIPBOARD_IMAGE} bytes), else its
   * text; undefined when it is empty, neither, too large, or what this
   * clipboard set itself.
   */
  readContentChange(): Promise<ClipboardContent | undefined>;
}

/** Whether `clipboard` carries images too. */
export function carriesImages(
  clipboard: SessionClipboard,
): clipboard is ImageClipboard {
  const candidate = clipboard as Partial<ImageClipboard>;
  return typeof candidate.writeImage === "function" &&
    typeof candidate.readContentChange === "function";
}
