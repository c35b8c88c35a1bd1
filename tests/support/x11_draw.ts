/**
 * Real X11 screens for capture tests: a private Xvfb with its own cookie
 * (this process's `XAUTHORITY` points at it while the test runs, so in-process
 * Xlib connections authenticate), and drawing on its root window from a
 * separate client connection (`ffi/x11/draw.ts`), as another application
 * would.
 *
 * @module
 */
import { XDisplay } from "../../ffi/x11/display.ts";
import {
  createWindow,
  defineFontCursor,
  GraphicsContext,
  mapWindow,
  sendEvent,
  setSelectionOwner,
  STRUCTURE_NOTIFY_MASK,
  warpPointer,
} from "../../ffi/x11/draw.ts";
import { stopProcessGroup } from "../../mod/platform/linux/processes.ts";
import { encodeXauthority, newCookie } from "../../mod/platform/linux/xauth.ts";
import { withTimeout } from "../../mod/util/async.ts";
import { withTempDir } from "./fs.ts";

/** A running test X server. */
export interface TestScreen {
  /** `:N`. */
  display: string;
  /** Its Xauthority file. */
  authFile: string;
  /** `DISPLAY` and `XAUTHORITY` for child processes. */
  env: Record<string, string>;
  /** The server's PID. */
  pid: number;
}

/** Options for {@linkcode withXvfb}. */
export interface TestXvfbOptions {
  /** Screen size. */
  width: number;
  /** Screen size. */
  height: number;
  /** Screen depth. Default 24. */
  depth?: number;
  /** Extensions to switch off (`-extension NAME`), such as `MIT-SHM`. */
  disable?: string[];
  /** Run the server as this user (root only). */
  user?: { uid: number; gid: number; home: string };
}

/**
 * Runs `fn` with a fresh Xvfb; afterwards stops it by its process group,
 * restores `XAUTHORITY` and removes the temp folder.
 */
export async function withXvfb(
  options: TestXvfbOptions,
  fn: (screen: TestScreen) => void | Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const authFile = `${dir}/Xauthority`;
    await Deno.writeFile(
      authFile,
      encodeXauthority([{ cookie: newCookie() }]),
      {
        mode: 0o600,
      },
    );
    const { user } = options;
    if (user) await Deno.chown(authFile, user.uid, user.gid);
    const child = new Deno.Command("Xvfb", {
      args: [
        "-displayfd",
        "1",
        "-auth",
        authFile,
        "-nolisten",
        "tcp",
        "-noreset",
        ...(options.disable ?? []).flatMap((name) => ["-extension", name]),
        "-screen",
        "0",
        `${options.width}x${options.height}x${options.depth ?? 24}`,
      ],
      uid: user?.uid,
      gid: user?.gid,
      cwd: "/",
      env: user ? { PATH: "/usr/bin:/bin", HOME: user.home } : undefined,
      clearEnv: user !== undefined,
      detached: true,
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const saved = Deno.env.get("XAUTHORITY");
    try {
      const number = await withTimeout(readLine(child.stdout), 10_000, {
        message: "Xvfb did not report its display",
      });
      const display = `:${number}`;
      Deno.env.set("XAUTHORITY", authFile);
      await fn({
        display,
        authFile,
        env: { DISPLAY: display, XAUTHORITY: authFile },
        pid: child.pid,
      });
    } finally {
      if (saved === undefined) Deno.env.delete("XAUTHORITY");
      else Deno.env.set("XAUTHORITY", saved);
      await stopProcessGroup(child, { graceMs: 2_000 });
    }
  }, { prefix: "webstream-x11-", mode: 0o755 });
}

/**
 * {@linkcode withXvfb} with an Xlib connection to the new screen, closed
 * before the server stops.
 */
export async function withXDisplay(
  options: TestXvfbOptions,
  fn: (display: XDisplay, screen: TestScreen) => void | Promise<void>,
): Promise<void> {
  await withXvfb(options, async (screen) => {
    const display = XDisplay.open(screen.display);
    try {
      await fn(display, screen);
    } finally {
      display.close();
    }
  });
}

/** The first line of `stream` (the rest is read and dropped). */
async function readLine(stream: ReadableStream<Uint8Array>): Promise<number> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Xvfb exited before reporting a display");
    text += value;
  }
  (async () => {
    try {
      while (!(await reader.read()).done);
    } catch {
      // The pipe broke when the server died.
    }
  })();
  return Number(text.trim());
}

/**
 * Offsets and size of a C struct under the x64 (LP64) rules: each field at
 * the next multiple of its own alignment, the size rounded up to the largest
 * alignment. `fields` are `[name, size]` with alignment = size, or
 * `[name, size, align]` (for arrays and nested structs).
 */
export function cLayout(
  fields: ([string, number] | [string, number, number])[],
): Record<string, number> & { size: number } {
  const out: Record<string, number> = {};
  let at = 0;
  let largest = 1;
  for (const [name, size, align = size] of fields) {
    at = Math.ceil(at / align) * align;
    out[name] = at;
    at += size;
    largest = Math.max(largest, align);
  }
  return { ...out, size: Math.ceil(at / largest) * largest };
}

/** `0xRRGGBB` as BGRX bytes. */
export function bgrx(rgb: number): [number, number, number] {
  return [rgb & 0xff, (rgb >> 8) & 0xff, (rgb >> 16) & 0xff];
}

/** A drawing client: its own connection to the test screen. */
export class Painter {
  /** The connection. */
  readonly display: XDisplay;

  constructor(display: string) {
    this.display = XDisplay.open(display);
  }

  /** Fills a rectangle of the root with `0xRRGGBB` and waits until drawn. */
  fill(
    rect: { x: number; y: number; width: number; height: number },
    rgb: number,
  ): void {
    const gc = new GraphicsContext(this.display);
    try {
      gc.colour(rgb);
      gc.rect(this.display.root, rect);
    } finally {
      gc.free();
    }
    this.display.sync();
  }

  /** Maps a `0xRRGGBB` window at `rect`; returns its id. */
  window(
    rect: { x: number; y: number; width: number; height: number },
    rgb: number,
  ): bigint {
    const id = createWindow(this.display, rect, {
      background: rgb,
      events: 0n,
    });
    mapWindow(this.display, id);
    this.display.sync();
    return id;
  }

  /** Moves the pointer to (`px`, `py`) on the screen. */
  warp(px: number, py: number): void {
    warpPointer(this.display, { x: px, y: py });
    this.display.sync();
  }

  /**
   * Sets the root's cursor to glyph `shape` of the cursor font (150 is
   * `XC_watch`, 68 `XC_left_ptr`). The cursor stays this client's: Xvfb's
   * XFixesGetCursorImage returns NULL once the client that made the shown
   * cursor has disconnected (as after `xsetroot -cursor_name`).
   */
  defineCursor(shape: number): void {
    defineFontCursor(this.display, this.display.root, shape);
    this.display.sync();
  }

  /**
   * Sends a synthetic ConfigureNotify for the root claiming it is now
   * `width`×`height` (to StructureNotify listeners), as a misbehaving client
   * could; the root's real size does not change.
   */
  fakeRootConfigure(width: number, height: number): void {
    const event = new Uint8Array(new ArrayBuffer(192));
    const view = new DataView(event.buffer);
    view.setInt32(0, 22, true); // ConfigureNotify
    view.setBigUint64(32, this.display.root, true); // event
    view.setBigUint64(40, this.display.root, true); // window
    view.setInt32(56, width, true);
    view.setInt32(60, height, true);
    sendEvent(this.display, this.display.root, {
      mask: STRUCTURE_NOTIFY_MASK,
      event,
    });
    this.display.sync();
  }

  /** Makes a new window of this client the owner of `selection`. */
  ownSelection(selection: string): void {
    const owner = createWindow(
      this.display,
      { x: 0, y: 0, width: 1, height: 1 },
      { background: 0, events: 0n },
    );
    setSelectionOwner(this.display, selection, owner);
    this.display.sync();
  }

  /** Closes the connection (its windows go with it). */
  close(): void {
    this.display.close();
  }
}
