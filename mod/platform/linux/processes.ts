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

/**
 * A process named by its PID and its start time (clock ticks after boot,
 * from `/proc/<pid>/stat`), so that a PID the kernel has since given to
 * another process is never mistaken for it.
 */
export interface ProcessRef {
  /** PID. */
  pid: number;
  /** Start time in clock ticks after boot. */
  start: number;
}

/**
 * The start time of `pid` (clock ticks after boot), or undefined when it
 * is gone or a zombie.
 */
export async function processStart(pid: number): Promise<number | undefined> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // Fields after the command name, which may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  const start = Number(fields[19]);
  return Number.isFinite(start) ? start : undefined;
}

/** The {@linkcode ProcessRef} of a live process; undefined when it is gone. */
export async function processRef(
  pid: number,
): Promise<ProcessRef | undefined> {
  const start = await processStart(pid);
  return start === undefined ? undefined : { pid, start };
}

/** True while the process `ref` names still runs. */
export async function isRunning(ref: ProcessRef): Promise<boolean> {
  return (await processStart(ref.pid)) === ref.start;
}

/** Options for {@linkcode watchExit}. */
export interface WatchOptions {
  /** Poll period. Default 500 ms. */
  intervalMs?: number;
  /** Stops watching (the promise then never settles). */
  signal?: AbortSignal;
}

/**
 * Resolves once the process `ref` names has exited. For a process that is
 * not this one's child (one an earlier run started), there is no exit
 * status to wait on: `/proc` is polled until it is gone (or `signal`
 * aborts: the promise then never settles).
 */
export function watchExit(
  ref: ProcessRef,
  options: WatchOptions = {},
): Promise<void> {
  return new Promise((resolve) => {
    const poll = async (): Promise<void> => {
      if (options.signal?.aborted) return;
      if (!await isRunning(ref)) return resolve();
      setTimeout(poll, options.intervalMs ?? 500);
    };
    poll();
  });
}

/**
 * Stops the process group led by `ref` (the leader may be gone while
 * members remain): SIGTERM, then SIGKILL once the leader has exited or the
 * grace period has passed. A group whose leader is another process now
 * (its PID reused) is left alone.
 */
export async function stopGroupOf(
  ref: ProcessRef,
  options: StopOptions = {},
): Promise<void> {
  const start = await processStart(ref.pid);
  if (start !== undefined && start !== ref.start) return; // PID reused
  signalGroup(ref.pid, "SIGTERM");
  const deadline = Date.now() + (options.graceMs ?? 2000);
  while (Date.now() < deadline && await isRunning(ref)) await delay(25);
  signalGroup(ref.pid, "SIGKILL");
  while (await isRunning(ref)) await delay(10);
}

/**
 * The live processes (zombies left out) whose environment holds
 * `name=value`, such as every process of one X session by its
 * `XAUTHORITY`. Processes whose environment this user may not read are
 * left out.
 */
export async function processesWithEnv(
  name: string,
  value: string,
): Promise<number[]> {
  const wanted = `${name}=${value}`;
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    try {
      const environ = await Deno.readTextFile(`/proc/${pid}/environ`);
      if (!environ.split("\0").includes(wanted)) continue;
      if (await processStart(pid) !== undefined) pids.push(pid);
    } catch {
      // Exited while we looked, or not ours to read.
    }
  }
  return pids;
}

/** Options for {@linkcode endProcessesWithEnv}. */
export interface EndWithEnvOptions {
  /** PIDs spared (the caller itself). */
  except?: number[];
  /** How long SIGTERM is given before the rest are killed. Default 0. */
  graceMs?: number;
}

/**
 * Ends every process whose environment holds `name=value` (one session's
 * processes, whatever process group they moved to): SIGTERM and the grace
 * period when one is given, then rounds of SIGSTOP (so nothing forks a
 * replacement) and SIGKILL until none is left.
 *
 * @throws {Error} when some survive 20 rounds.
 */
export async function endProcessesWithEnv(
  name: string,
  value: string,
  options: EndWithEnvOptions = {},
): Promise<void> {
  const except = new Set([Deno.pid, ...(options.except ?? [])]);
  const find = async () =>
    (await processesWithEnv(name, value)).filter((pid) => !except.has(pid));
  if (options.graceMs) {
    const first = await find();
    for (const pid of first) trySignal(pid, "SIGTERM");
    const deadline = Date.now() + options.graceMs;
    while (Date.now() < deadline && (await find()).length) await delay(50);
  }
  for (let round = 0; round < 20; round++) {
    const pids = await find();
    if (!pids.length) return;
    for (const pid of pids) trySignal(pid, "SIGSTOP");
    for (const pid of pids) trySignal(pid, "SIGKILL");
    await delay(25 * (round + 1));
  }
  const left = await find();
  if (left.length) {
    throw new Error(
      `processes with ${name}=${value} survived: ${left.join(", ")}`,
    );
  }
}
