/**
 * Ending processes: a process group with a grace period, and every process of
 * a user (the Linux equivalent of a logoff).
 *
 * @module
 */
import { delay, withTimeout } from "../../util/async.ts";

/** Sends `signal` to a process group; false if the group is already gone. */
export function signalGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Options for {@linkcode stopProcessGroup}. */
export interface StopOptions {
  /** How long to wait after SIGTERM before SIGKILL. Default 2000 ms. */
  graceMs?: number;
}

/**
 * Stops a child that leads its own process group: SIGTERM to the group, then
 * SIGKILL to whatever is left once the child has exited or the grace period
 * has passed.
 */
export async function stopProcessGroup(
  child: Deno.ChildProcess,
  options: StopOptions = {},
): Promise<void> {
  signalGroup(child.pid, "SIGTERM");
  await withTimeout(child.status, options.graceMs ?? 2000).catch(() => {});
  signalGroup(child.pid, "SIGKILL");
  await child.status;
}

/** The ids of the live (not zombie) processes whose real user id is `uid`. */
export async function processesOfUser(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      const real = status.match(/^Uid:\s+(\d+)/m)?.[1];
      const zombie = /^State:\s+Z/m.test(status);
      if (Number(real) === uid && !zombie) pids.push(Number(entry.name));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

/**
 * Ends every process of a user. Processes are stopped first so none can fork
 * a replacement between rounds, then killed; repeats until none is left.
 *
 * @throws {Error} when asked to end root's or this process's own processes.
 */
export async function endUserProcesses(uid: number): Promise<void> {
  if (uid === 0 || uid === Deno.uid()) {
    throw new Error(`refusing to end every process of uid ${uid}`);
  }
  for (let round = 0; round < 20; round++) {
    const pids = await processesOfUser(uid);
    if (!pids.length) return;
    for (const pid of pids) trySignal(pid, "SIGSTOP");
    for (const pid of pids) trySignal(pid, "SIGKILL");
    await delay(25 * (round + 1));
  }
  const left = await processesOfUser(uid);
  if (left.length) {
    throw new Error(`processes of uid ${uid} survived: ${left.join(", ")}`);
  }
}

function trySignal(pid: number, signal: Deno.Signal): void {
  try {
    Deno.kill(pid, signal);
  } catch {
    // Gone already.
  }
}
