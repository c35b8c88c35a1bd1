/**
 * What the desktop benchmark and tests read of a real X display: whether a
 * window manager runs (`_NET_SUPPORTING_WM_CHECK` on the root window), the
 * panel windows (`_NET_WM_WINDOW_TYPE_DOCK` among `_NET_CLIENT_LIST`, or
 * any mapped top-level dock), and the resident memory of a process
 * session (every process whose session id is the given one).
 *
 * @module
 */

import type { TopLevelWindow } from "../../mod/devices/app_windows.ts";
import { openX11AppWindows } from "../../mod/devices/linux/x11_app_windows.ts";
import { openX11Capture } from "../../mod/devices/linux/x11_capture.ts";

/** A display and its cookie. */
export interface DisplayAccess {
  /** `:N`. */
  display: string;
  /** Xauthority file. */
  authFile: string;
}

/** Runs `xprop` on `access` with `args`; its output, or "" on failure. */
async function xprop(access: DisplayAccess, args: string[]): Promise<string> {
  const out = await new Deno.Command("xprop", {
    args,
    env: { DISPLAY: access.display, XAUTHORITY: access.authFile },
    clearEnv: true,
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success ? new TextDecoder().decode(out.stdout) : "";
}

/** The window ids in an `xprop` line `NAME(WINDOW): window id # 0x1, 0x2`. */
function windowIds(line: string): string[] {
  return [...line.matchAll(/0x[0-9a-f]+/gi)].map((m) => m[0]);
}

/** Whether a window manager has announced itself on the root window. */
export async function hasWindowManager(
  access: DisplayAccess,
): Promise<boolean> {
  const out = await xprop(access, ["-root", "_NET_SUPPORTING_WM_CHECK"]);
  return windowIds(out).length > 0;
}

/** The top-level windows of type `_NET_WM_WINDOW_TYPE_DOCK` (panels). */
export async function dockWindows(access: DisplayAccess): Promise<string[]> {
  const list = await xprop(access, ["-root", "_NET_CLIENT_LIST"]);
  const docks: string[] = [];
  for (const id of windowIds(list)) {
    const type = await xprop(access, ["-id", id, "_NET_WM_WINDOW_TYPE"]);
    if (type.includes("_NET_WM_WINDOW_TYPE_DOCK")) docks.push(id);
  }
  return docks;
}

/** Whether the display has a window manager and a panel. */
export async function desktopReady(access: DisplayAccess): Promise<boolean> {
  return await hasWindowManager(access) &&
    (await dockWindows(access)).length > 0;
}

/**
 * Memory of every process in session `sid`, KiB, and their names: resident
 * (`VmRSS`, shared library pages counted once per process) and proportional
 * (`Pss`, shared pages divided among the processes sharing them).
 */
export async function sessionMemory(
  sid: number,
): Promise<{ rssKiB: number; pssKiB: number; processes: string[] }> {
  let rssKiB = 0;
  let pssKiB = 0;
  const processes: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // After the name: state, ppid, pgrp, session.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[3]) !== sid) continue;
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      const rss = /VmRSS:\s+(\d+) kB/.exec(status);
      rssKiB += rss ? Number(rss[1]) : 0;
      const rollup = await Deno.readTextFile(
        `/proc/${entry.name}/smaps_rollup`,
      ).catch(() => "");
      pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
      processes.push(stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
    } catch {
      // Gone meanwhile.
    }
  }
  return { rssKiB, pssKiB, processes };
}

/** Resident memory of process `pid`, KiB (0 when it has gone). */
export async function processMemory(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/**
 * How many distinct colours the screen of `access` shows, all of it or
 * `region` (read with
 * the streamer's own X11 capture, without shared memory, as this process:
 * `XAUTHORITY` is set to `access.authFile` while the display opens).
 */
export function screenColours(
  access: DisplayAccess,
  region?: { x: number; y: number; width: number; height: number },
): number {
  const saved = Deno.env.get("XAUTHORITY");
  Deno.env.set("XAUTHORITY", access.authFile);
  let capture;
  try {
    capture = openX11Capture({ display: access.display, noShm: true });
  } finally {
    if (saved === undefined) Deno.env.delete("XAUTHORITY");
    else Deno.env.set("XAUTHORITY", saved);
  }
  try {
    const frame = capture.grab(region);
    const colours = new Set<number>();
    const view = new DataView(
      frame.data.buffer,
      frame.data.byteOffset,
      frame.data.byteLength,
    );
    for (let y = 0; y < frame.height; y++) {
      for (let x = 0; x < frame.width; x++) {
        colours.add(view.getUint32(y * frame.stride + x * 4, true) & 0xffffff);
      }
    }
    return colours.size;
  } finally {
    capture.close();
  }
}

/** The display and Xauthority file of the process `pid` (its environment). */
export async function displayOf(pid: number): Promise<DisplayAccess> {
  const environ = await Deno.readTextFile(`/proc/${pid}/environ`);
  const env = Object.fromEntries(
    environ.split("\0").filter(Boolean).map((entry) => {
      const at = entry.indexOf("=");
      return [entry.slice(0, at), entry.slice(at + 1)];
    }),
  );
  if (!env.DISPLAY || !env.XAUTHORITY) {
    throw new Error(`process ${pid} has no DISPLAY and XAUTHORITY`);
  }
  return { display: env.DISPLAY, authFile: env.XAUTHORITY };
}

/**
 * The managed top-level windows of `access` (read as this process, through
 * the streamer's own X11 app windows).
 */
export function topLevelWindows(access: DisplayAccess): TopLevelWindow[] {
  const saved = Deno.env.get("XAUTHORITY");
  Deno.env.set("XAUTHORITY", access.authFile);
  let windows;
  try {
    windows = openX11AppWindows({ display: access.display });
  } finally {
    if (saved === undefined) Deno.env.delete("XAUTHORITY");
    else Deno.env.set("XAUTHORITY", saved);
  }
  try {
    return windows.windows();
  } finally {
    windows.close();
  }
}
