/**
 * The session's clipboard on X11 ({@linkcode SessionClipboard}): the X
 * CLIPBOARD selection through `xclip` (Debian package `xclip`). Serving a
 * selection means answering other clients' requests for as long as we own
 * it, which xclip already does well in its own process. Changes by the
 * session's apps are noticed by the capture (XFixes: its
 * `clipboardChanged`), then read here. Images go both ways as PNG: set with
 * the target `image/png`, and read when the owner offers `image/png`.
 *
 * @module
 */
import {
  type ClipboardContent,
  type ImageClipboard,
  MAX_CLIPBOARD,
  MAX_CLIPBOARD_IMAGE,
} from "../clipboard.ts";

/** How long one read of the selection may take, in ms. */
const READ_TIMEOUT_MS = 2_000;

/** Options for {@linkcode X11Clipboard}. */
export interface X11ClipboardOptions {
  /** The xclip executable. Default `xclip`. */
  xclip?: string;
}

/** Reads and sets the X CLIPBOARD selection. */
export class X11Clipboard implements ImageClipboard {
  readonly #xclip: string;
  #owner?: Deno.ChildProcess;
  /** What we set last: its change notification is not news. */
  #ours?: ClipboardContent;

  constructor(options: X11ClipboardOptions = {}) {
    this.#xclip = options.xclip ?? "xclip";
  }

  /** Sets the clipboard; the previous xclip owner (ours) is ended. */
  async write(text: string): Promise<void> {
    const value = text.slice(0, MAX_CLIPBOARD);
    this.#ours = { kind: "text", text: value };
    await this.#own([], new TextEncoder().encode(value));
  }

  /** Sets the clipboard to a PNG image, offered as `image/png`. */
  async writeImage(png: Uint8Array): Promise<void> {
    if (png.length > MAX_CLIPBOARD_IMAGE) {
      throw new RangeError(
        `clipboard image: ${png.length} bytes, at most ${MAX_CLIPBOARD_IMAGE}`,
      );
    }
    this.#ours = { kind: "image", png };
    await this.#own(["-target", "image/png"], png);
  }

  /**
   * Reads the clipboard as text; undefined when it is empty, not text, or
   * the text we set ourselves.
   */
  async readChange(): Promise<string | undefined> {
    const text = await this.read();
    if (text === undefined || this.#isOurs({ kind: "text", text })) {
      return undefined;
    }
    this.#ours = undefined;
    return text;
  }

  /**
   * The clipboard's image when its owner offers `image/png`, else its text;
   * undefined when empty, neither, too large, or what we set ourselves.
   */
  async readContentChange(): Promise<ClipboardContent | undefined> {
    const targets = await this.targets();
    let content: ClipboardContent | undefined;
    if (targets.includes("image/png")) {
      const png = await this.readImage();
      if (png) content = { kind: "image", png };
    } else {
      const text = await this.read();
      if (text !== undefined) content = { kind: "text", text };
    }
    if (!content || this.#isOurs(content)) return undefined;
    this.#ours = undefined;
    return content;
  }

  /** Reads the clipboard as text; undefined when empty or not text. */
  async read(): Promise<string | undefined> {
    // A code unit takes at most 3 bytes of UTF-8; longer text is cut.
    const out = await this.#read("UTF8_STRING", MAX_CLIPBOARD * 3, "cut");
    if (!out) return undefined;
    return new TextDecoder().decode(out).slice(0, MAX_CLIPBOARD);
  }

  /** The clipboard's `image/png`; undefined when absent or too large. */
  readImage(): Promise<Uint8Array | undefined> {
    return this.#read("image/png", MAX_CLIPBOARD_IMAGE, "drop");
  }

  /** The targets the clipboard's owner offers (empty when none). */
  async targets(): Promise<string[]> {
    const out = await this.#read("TARGETS", 64 * 1024, "cut");
    if (!out) return [];
    return new TextDecoder().decode(out).split("\n").map((t) => t.trim())
      .filter(Boolean);
  }

  /** Becomes the selection's owner, serving `data` (xclip `-in`). */
  async #own(args: string[], data: Uint8Array): Promise<void> {
    this.#stopOwner();
    // -quiet keeps xclip in the foreground, so it is ours to stop by PID.
    const child = new Deno.Command(this.#xclip, {
      args: ["-selection", "clipboard", ...args, "-in", "-quiet"],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#owner = child;
    const writer = child.stdin.getWriter();
    await writer.write(data);
    await writer.close();
    child.status.then(() => {
      if (this.#owner === child) this.#owner = undefined;
    });
  }

  /**
   * The selection converted to `target`; undefined when the conversion
   * fails or takes too long. Past `max` bytes the reader stops (rather than
   * hold it all) and gives the first `max` bytes (`cut`) or nothing
   * (`drop`).
   */
  async #read(
    target: string,
    max: number,
    over: "cut" | "drop",
  ): Promise<Uint8Array | undefined> {
    const child = new Deno.Command(this.#xclip, {
      args: ["-selection", "clipboard", "-out", "-target", target],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const kill = () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    };
    const timer = setTimeout(kill, READ_TIMEOUT_MS);
    try {
      const chunks: Uint8Array[] = [];
      let size = 0;
      let complete = true;
      for await (const chunk of child.stdout) {
        if (size + chunk.length > max) {
          if (over === "drop") {
            kill();
            await child.status;
            return undefined;
          }
          chunks.push(chunk.subarray(0, max - size));
          size = max;
          complete = false;
          kill();
          break;
        }
        size += chunk.length;
        chunks.push(chunk);
      }
      const status = await child.status;
      if (complete && !status.success) return undefined;
      const out = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      return out;
    } finally {
      clearTimeout(timer);
    }
  }

  #isOurs(content: ClipboardContent): boolean {
    const ours = this.#ours;
    if (!ours) return false;
    if (ours.kind === "text" || content.kind === "text") {
      return ours.kind === "text" && content.kind === "text" &&
        ours.text === content.text;
    }
    return ours.png.length === content.png.length &&
      ours.png.every((byte, i) => byte === content.png[i]);
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
