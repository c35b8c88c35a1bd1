/**
 * Starts an Xvfb display. Xvfb picks a free display number itself and writes
 * it to stdout once it accepts connections (`-displayfd 1`), so there is no
 * polling and no race over display numbers.
 *
 * @module
 */
import { withTimeout } from "../../util/async.ts";
import { keepTail } from "./output_tail.ts";

/** Options for {@linkcode startXvfb}. */
export interface XvfbOptions {
  /** Xauthority file with the server's cookie. */
  authFile: string;
  /** Screen geometry. */
  screen: { width: number; height: number; depth: number };
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
}

/** Starts Xvfb and resolves once it accepts connections. */
export async function startXvfb(options: XvfbOptions): Promise<XvfbServer> {
  const { width, height, depth } = options.screen;
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
    return { display, child };
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
