/**
 * Starts an Xvfb display. Xvfb picks a free display number itself and writes
 * it to stdout once it accepts connections (`-displayfd 1`), so there is no
 * polling and no race over display numbers.
 *
 * Xvfb lets RandR resize its screen only up to the size it started with, so
 * a screen that may grow (`maxWidth` × `maxHeight`, for viewers on high-DPI
 * screens) is started at that size and set to its start size at once,
 * before anything runs in it.
 *
 * @module
 */
import { XDisplay } from "../../../ffi/x11/display.ts";
import { resizeScreen } from "../../devices/linux/x11_resize.ts";
import { withTimeout } from "../../util/async.ts";
import { keepTail } from "./output_tail.ts";
import { COOKIE_NAME, decodeXauthority } from "./xauth.ts";

/** Options for {@linkcode startXvfb}. */
export interface XvfbOptions {
  /** Xauthority file with the server's cookie. */
  authFile: string;
  /**
   * Screen geometry: the start size, and the largest RandR may give it
   * (default: the start size).
   */
  screen: {
    width: number;
    height: number;
    depth: number;
    maxWidth?: number;
    maxHeight?: number;
  };
  /** Run as this user and group (root only). */
  uid?: number;
  /** Group for `uid`. */
  gid?: number;
  /** Environment for the server. */
  env?: Record<string, string>;
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
}

/** A running Xvfb server. */
export interface XvfbServer {
  /** The display number (`:N`). */
  display: number;
  /** The server process; it leads its own process group. */
  child: Deno.ChildProcess;
  /** Why the screen kept its largest size rather than its start size. */
  sizeProblem?: string;
}

/** Starts Xvfb and resolves once it accepts connections. */
export async function startXvfb(options: XvfbOptions): Promise<XvfbServer> {
  const { depth } = options.screen;
  const width = Math.max(options.screen.width, options.screen.maxWidth ?? 0);
  const height = Math.max(
    options.screen.height,
    options.screen.maxHeight ?? 0,
  );
  const child = new Deno.Command("Xvfb", {
    args: [
      "-displayfd",
      "1",
      "-auth",
      options.authFile,
      "-nolisten",
      "tcp",
      "-noreset",
      "-screen",
      "0",
      `${width}x${height}x${depth}`,
    ],
    uid: options.uid,
    gid: options.gid,
    // Another user may not be allowed into this process's working folder.
    cwd: "/",
    env: options.env,
    clearEnv: options.env !== undefined,
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = keepTail(child.stderr);
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const display = await withTimeout(
      readDisplay(lines),
      options.timeoutMs ?? 10_000,
      { message: "Xvfb did not report a display in time" },
    );
    drain(lines);
    const sizeProblem = width === options.screen.width &&
        height === options.screen.height
      ? undefined
      : await startSize(display, options);
    return { display, child, ...(sizeProblem ? { sizeProblem } : {}) };
  } catch (error) {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    throw new Error(`${(error as Error).message}: ${(await stderr()).trim()}`);
  }
}

/** Sets the screen to its start size; answers why not when it failed. */
async function startSize(
  display: number,
  options: XvfbOptions,
): Promise<string | undefined> {
  const [entry] = decodeXauthority(await Deno.readFile(options.authFile));
  if (!entry) return `${options.authFile} holds no ${COOKIE_NAME}`;
  try {
    const x = XDisplay.open(`:${display}`, { cookie: entry.cookie });
    try {
      const { width, height } = options.screen;
      const result = resizeScreen(x, { width, height });
      return result.applied ? undefined : result.reason;
    } finally {
      x.close();
    }
  } catch (error) {
    return (error as Error).message;
  }
}

async function readDisplay(
  reader: ReadableStreamDefaultReader<string>,
): Promise<number> {
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("Xvfb exited before reporting a display");
    text += value;
  }
  const display = Number(text.trim());
  if (!Number.isInteger(display)) {
    throw new Error(`Xvfb reported a display of "${text.trim()}"`);
  }
  return display;
}

async function drain(
  reader: ReadableStreamDefaultReader<string>,
): Promise<void> {
  try {
    while (!(await reader.read()).done);
  } catch {
    // The pipe broke when the process died.
  }
}
