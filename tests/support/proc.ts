/**
 * The live processes of this machine as `/proc` shows them, for tests that
 * look for what a component started (or left behind) from outside it, such
 * as the streamer serving a port or the Xvfb servers a role started.
 *
 * @module
 */
import { waitFor } from "./wait.ts";

/** A live process. */
export interface ProcInfo {
  /** PID. */
  pid: number;
  /** Real uid. */
  uid: number;
  /** Command line, without empty arguments. */
  argv: string[];
}

/**
 * Every live process (zombies left out). A process that exits while it is
 * being read is left out too.
 */
export async function liveProcesses(): Promise<ProcInfo[]> {
  const out: ProcInfo[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      if (/^State:\s+Z/m.test(status)) continue;
      const argv = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`))
        .split("\0").filter(Boolean);
      out.push({
        pid: Number(entry.name),
        uid: Number(status.match(/^Uid:\s+(\d+)/m)![1]),
        argv,
      });
    } catch {
      // Exited while we looked.
    }
  }
  return out;
}

/** The live `webstream streamer` serving `port`, if there is one. */
export async function findStreamer(
  port: number,
): Promise<ProcInfo | undefined> {
  return (await liveProcesses()).find(({ argv }) => {
    const at = argv.indexOf("-port");
    return argv.includes("streamer") && at >= 0 &&
      argv[at + 1] === String(port);
  });
}

/**
 * The live descendants of `pid` (children, their children, …), found by
 * their parent PIDs in `/proc`.
 */
export async function descendants(pid: number): Promise<ProcInfo[]> {
  const parents = new Map<number, number>();
  const all = await liveProcesses();
  for (const { pid: child } of all) {
    try {
      const status = await Deno.readTextFile(`/proc/${child}/status`);
      parents.set(child, Number(status.match(/^PPid:\s+(\d+)/m)![1]));
    } catch {
      // Exited while we looked.
    }
  }
  const found = new Set([pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [child, parent] of parents) {
      if (found.has(parent) && !found.has(child)) {
        found.add(child);
        grew = true;
      }
    }
  }
  return all.filter((p) => p.pid !== pid && found.has(p.pid));
}

/** True while `pid` is alive and still runs `argv` (not a reused PID). */
export async function stillRunning(
  pid: number,
  argv: string[],
): Promise<boolean> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    if (/^State:\s+Z/m.test(status)) return false;
    const now = (await Deno.readTextFile(`/proc/${pid}/cmdline`))
      .split("\0").filter(Boolean);
    return now.join("\0") === argv.join("\0");
  } catch {
    return false;
  }
}

/**
 * Ends, by its PID (SIGTERM), the process whose command line is exactly
 * `command` (a test app's unique one), once it runs.
 */
export async function endProcessRunning(command: string): Promise<void> {
  const app = await waitFor(
    async () =>
      (await liveProcesses()).find((p) => p.argv.join(" ") === command),
    { what: `the process ${command}` },
  );
  Deno.kill(app.pid, "SIGTERM");
}
