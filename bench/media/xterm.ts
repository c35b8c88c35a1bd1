/**
 * Real terminals for the media benchmark: `xterm` with a TrueType font
 * (DejaVu Sans Mono 10 pt, 8×17 pixels a cell) on the benchmark's display,
 * running a command, and the X operations the workloads do on its window
 * from a child process of their own (`window_ops.ts`): give it the
 * keyboard focus, drag it. There is no window manager: the window is
 * placed by `-geometry` and moved with `XMoveWindow`.
 *
 * Each xterm is started in a process group of its own and stopped by it;
 * the command inside runs in the terminal's own session and ends with the
 * SIGHUP the terminal sends when it closes (scroll_text.ts also stops by
 * itself after a while).
 *
 * @module
 */
import type { XTarget } from "./animation.ts";
import { type GroupProcess, spawnGroup, spawnScript } from "./process.ts";

/** A running xterm. */
export interface Xterm {
  /** Its PID (and process group). */
  pid: number;
  /** Its top-level window (`$WINDOWID`). */
  windowId: bigint;
  /** Stops it by its process group. */
  stop(): Promise<void>;
}

/** Options for {@linkcode spawnXterm}. */
export interface XtermOptions {
  /** `COLSxROWS+X+Y`. */
  geometry: string;
  /** The command and its arguments. */
  command: string[];
}

function env(x: XTarget): Record<string, string> {
  return { DISPLAY: x.display, XAUTHORITY: x.authFile };
}

/** `deno run` of a script of this folder, as a command for `xterm -e`. */
export function denoCommand(script: string, args: string[]): string[] {
  return [
    Deno.execPath(),
    "run",
    "--no-prompt",
    "--no-lock",
    "--no-check",
    new URL(script, import.meta.url).pathname,
    ...args,
  ];
}

/** Starts an xterm; resolves once its window exists. */
export async function spawnXterm(
  x: XTarget,
  options: XtermOptions,
): Promise<Xterm> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-xterm-" });
  const idFile = `${dir}/windowid`;
  // The shell reports the window, then becomes the command.
  const script = `echo "$WINDOWID" > '${idFile}'; exec "$@"`;
  const child = spawnGroup("xterm", [
    "-fa",
    "DejaVu Sans Mono",
    "-fs",
    "10",
    "-geometry",
    options.geometry,
    "-e",
    "sh",
    "-c",
    script,
    "sh",
    ...options.command,
  ], { env: { ...env(x), NO_COLOR: "1" } });
  const stop = async (): Promise<void> => {
    await child.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const windowId = await readWindowId(idFile, child);
    return { pid: child.pid, windowId, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function readWindowId(
  file: string,
  child: GroupProcess,
): Promise<bigint> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline && !exited) {
    try {
      const text = (await Deno.readTextFile(file)).trim();
      if (/^\d+$/.test(text)) return BigInt(text);
    } catch {
      // Not written yet.
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`xterm did not start: ${child.stderr().trim().slice(-800)}`);
}

/** Gives `windowId` the keyboard focus (a short-lived child process). */
export async function focusXWindow(
  x: XTarget,
  windowId: bigint,
): Promise<void> {
  const child = spawnScript(
    "./window_ops.ts",
    ["focus", String(windowId)],
    env(x),
  );
  const status = await child.status;
  if (!status.success) {
    throw new Error(`focusing the window failed: ${child.stderr().trim()}`);
  }
}

/** A running drag: frames are window moves. */
export interface Drag {
  /** Moves done so far, as last reported (every 100 ms). */
  frames(): number;
  /** Stops it by its PID. */
  stop(): Promise<void>;
}

/**
 * Moves `windowId` along a closed path at `hz` moves per second (a child
 * process of its own); resolves once the first move is done.
 */
export async function spawnDrag(
  x: XTarget,
  windowId: bigint,
  options: { hz: number },
): Promise<Drag> {
  const child = spawnScript(
    "./window_ops.ts",
    ["drag", String(windowId), "--hz", String(options.hz)],
    env(x),
  );
  let frames = 0;
  const first = await child.nextLine();
  if (first === undefined) {
    await child.stop();
    throw new Error(`the drag exited: ${child.stderr().trim()}`);
  }
  child.follow((line) => {
    try {
      frames = JSON.parse(line).frames;
    } catch {
      // Not a report.
    }
  });
  return { frames: () => frames, stop: () => child.stop() };
}
