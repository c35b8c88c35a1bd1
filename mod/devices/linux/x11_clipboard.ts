/**
 * The session's clipboard on X11 ({@linkcode SessionClipboard}): the X
 * CLIPBOARD selection through `xclip` (Debian package `xclip`). Serving a
 * selection means answering other clients' requests for as long as we own
 * it, which xclip already does well in its own process. Changes by the
 * session's apps are noticed by the capture (XFixes: its
 * `clipboardChanged`), then read here.
 *
 * @module
 */
import { MAX_CLIPBOARD, type SessionClipboard } from "../clipboard.ts";

/** Options for {@linkcode X11Clipboard}. */
export interface X11ClipboardOptions {
  /** The xclip executable. Default `xclip`. */
  xclip?: string;
}

/** Reads and sets the X CLIPBOARD selection. */
export class X11Clipboard implements SessionClipboard {
  readonly #xclip: string;
  #owner?: Deno.ChildProcess;
  /** The text we set last: its change notification is not news. */
  #ours?: string;

  constructor(options: X11ClipboardOptions = {}) {
    this.#xclip = options.xclip ?? "xclip";
  }

  /** Sets the clipboard; the previous xclip owner (ours) is ended. */
  async write(text: string): Promise<void> {
    const value = text.slice(0, MAX_CLIPBOARD);
    this.#stopOwner();
    // -quiet keeps xclip in the foreground, so it is ours to stop by PID.
    const child = new Deno.Command(this.#xclip, {
      args: ["-selection", "clipboard", "-in", "-quiet"],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#owner = child;
    this.#ours = value;
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(value));
    await writer.close();
    child.status.then(() => {
      if (this.#owner === child) this.#owner = undefined;
    });
  }

  /**
   * Reads the clipboard as text; undefined when it is empty, not text, or
   * the text we set ourselves.
   */
  async readChange(): Promise<string | undefined> {
    const text = await this.read();
    if (text === undefined || text === this.#ours) return undefined;
    this.#ours = undefined;
    return text;
  }

  /** Reads the clipboard as text; undefined when empty or not text. */
  async read(): Promise<string | undefined> {
    const child = new Deno.Command(this.#xclip, {
      args: ["-selection", "clipboard", "-out", "-target", "UTF8_STRING"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, 2000);
    try {
      const output = await child.output();
      if (!output.success) return undefined;
      const text = new TextDecoder().decode(output.stdout);
      return text.slice(0, MAX_CLIPBOARD);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops owning the selection. */
  close(): void {
    this.#stopOwner();
  }

  #stopOwner(): void {
    const owner = this.#owner;
    this.#owner = undefined;
    if (!owner) return;
    try {
      owner.kill("SIGTERM");
    } catch {
      // Exited already (another client took the selection).
    }
  }
}
