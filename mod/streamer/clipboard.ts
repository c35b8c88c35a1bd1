/**
 * The session's clipboard for the streamer: {@linkcode openSessionClipboard}
 * picks this platform's {@linkcode SessionClipboard} — on Windows the Win32
 * clipboard (`mod/platform/windows/win32_clipboard.ts`), elsewhere the X
 * CLIPBOARD selection through `xclip` (Debian package `xclip`): serving a
 * selection means answering other clients' requests for as long as we own
 * it, which xclip already does well in its own process. Changes by the
 * session's apps are noticed by the capture (XFixes on X11, the clipboard
 * sequence number on Windows: its `clipboardChanged`), then read here.
 *
 * @module
 */
import { MAX_CLIPBOARD, type SessionClipboard } from "../platform/clipboard.ts";
import {
  openWin32Clipboard,
  type Win32ClipboardLibraries,
} from "../platform/windows/win32_clipboard.ts";

export { MAX_CLIPBOARD, type SessionClipboard };

/** Options for {@linkcode openSessionClipboard}. */
export interface SessionClipboardOptions {
  /** The platform. Default `Deno.build.os`. */
  os?: typeof Deno.build.os;
  /** Not Windows: the xclip executable. Default `xclip`. */
  xclip?: string;
  /** Windows: the DLLs. Default: opened with `Deno.dlopen`. */
  libraries?: Win32ClipboardLibraries;
}

/**
 * This session's clipboard: the Win32 clipboard on Windows, the X
 * CLIPBOARD selection (through xclip) elsewhere.
 */
export function openSessionClipboard(
  options: SessionClipboardOptions = {},
): SessionClipboard {
  if ((options.os ?? Deno.build.os) === "windows") {
    return openWin32Clipboard({ libraries: options.libraries });
  }
  return new X11Clipboard({ xclip: options.xclip });
}

/** Options for {@linkcode X11Clipboard}. */
export interface ClipboardOptions {
  /** The xclip executable. Default `xclip`. */
  xclip?: string;
}

/** Reads and sets the X CLIPBOARD selection. */
export class X11Clipboard implements SessionClipboard {
  readonly #xclip: string;
  #owner?: Deno.ChildProcess;
  /** The text we set last: its change notification is not news. */
  #ours?: string;

  constructor(options: ClipboardOptions = {}) {
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
