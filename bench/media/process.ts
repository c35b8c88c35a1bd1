/**
 * Child processes of the media benchmark (Xvfb's X clients, x11vnc,
 * websockify): each is started in its own process group, its stdout read
 * line by line, the tail of its stderr kept for error messages, and it is
 * stopped by its process group id — never by name. Also the CPU time a
 * process group has used, read from `/proc`.
 *
 * @module
 */
import { clockTicks, type ProcStat, readStat } from "../proc_stat.ts";

/** A child process started by {@linkcode spawnGroup}. */
export interface GroupProcess {
  /** The PID, also the process group id. */
  pid: number;
  /** Resolves with the exit status. */
  status: Promise<Deno.CommandStatus>;
  /** The next stdout line; `undefined` once stdout closed. */
  nextLine(): Promise<string | undefined>;
  /** Keeps reading stdout in the background, calling `onLine` per line. */
  follow(onLine: (line: string) => void): void;
  /** The last few KiB of stderr. */
  stderr(): string;
  /** SIGTERM to the group, SIGKILL after `graceMs` (default 3 s). */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `command` with `args` in a process group of its own (`detached`),
 * stdin closed, stdout and stderr piped.
 */
export function spawnGroup(
  command: string,
  args: string[],
  options: { env?: Record<string, string> } = {},
): GroupProcess {
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    detached: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  let kept = "";
  (async () => {
    try {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        kept = (kept + chunk).slice(-4096);
      }
    } catch {
      // The pipe broke when the process died.
    }
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let closed = false;
  async function nextLine(): Promise<string | undefined> {
    while (!buffered.includes("\n")) {
      if (closed) {
        const rest = buffered;
        buffered = "";
        return rest || undefined;
      }
      try {
        const { value, done } = await reader.read();
        if (done) closed = true;
        else buffered += value;
      } catch {
        closed = true;
      }
    }
    const at = buffered.indexOf("\n");
    const line = buffered.slice(0, at);
    buffered = buffered.slice(at + 1);
    return line;
  }
  function follow(onLine: (line: string) => void): void {
    (async () => {
      for (let line = await nextLine(); line !== undefined;) {
        onLine(line);
        line = await nextLine();
      }
    })();
  }
  async function stop(graceMs = 3000): Promise<void> {
    signal("SIGTERM");
    const timer = setTimeout(() => signal("SIGKILL"), graceMs);
    await status;
    clearTimeout(timer);
    // Whatever the leader left in its group (websockify's workers).
    signal("SIGKILL");
  }
  function signal(name: Deno.Signal): void {
    try {
      Deno.kill(-child.pid, name);
    } catch {
      // The group is gone.
    }
    if (!exited) {
      try {
        Deno.kill(child.pid, name);
      } catch {
        // Already gone.
      }
    }
  }
  return {
    pid: child.pid,
    status,
    nextLine,
    follow,
    stderr: () => kept,
    stop,
  };
}

/** Starts a Deno script of this folder as a process group of its own. */
export function spawnScript(
  script: string,
  args: string[],
  env: Record<string, string>,
): GroupProcess {
  const path = new URL(script, import.meta.url).pathname;
  return spawnGroup(
    Deno.execPath(),
    ["run", "-A", "--no-prompt", "--no-lock", path, ...args],
    { env: { NO_COLOR: "1", ...env } },
  );
}

/**
 * CPU seconds (user + system, including reaped children) of every process
 * whose PID or process group is in `groups`.
 */
export async function groupCpuSeconds(groups: number[]): Promise<number> {
  const wanted = new Set(groups);
  let ticks = 0;
  for (const [pid, stat] of await allStats()) {
    if (!wanted.has(pid) && !wanted.has(stat.pgrp)) continue;
    ticks += stat.ticks + stat.childTicks;
  }
  return ticks / await clockTicks();
}

/**
 * CPU seconds (user + system, including reaped children) of process `root`
 * and all its descendants (a browser's renderers, GPU and utility
 * processes), found through each process's parent in `/proc`.
 */
export async function treeCpuSeconds(root: number): Promise<number> {
  const stats = await allStats();
  let total = 0;
  for (const [pid, stat] of stats) {
    // Walk up to the root (or to init): a descendant counts.
    for (let p: number | undefined = pid; p !== undefined && p > 1;) {
      if (p === root) {
        total += stat.ticks + stat.childTicks;
        break;
      }
      p = stats.get(p)?.ppid;
    }
  }
  return total / await clockTicks();
}

/** The `stat` of every process now, by PID. */
async function allStats(): Promise<Map<number, ProcStat>> {
  const stats = new Map<number, ProcStat>();
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await readStat(`/proc/${entry.name}/stat`);
    if (stat) stats.set(Number(entry.name), stat);
  }
  return stats;
}
