/**
 * CPU time from `/proc`, for the benchmarks: one parser of
 * `/proc/<pid>/stat` (and of a thread's `/proc/<pid>/task/<tid>/stat`) and
 * the clock-tick rate its times are counted in.
 *
 * @module
 */

let ticksPerSecond: number | undefined;

/** Clock ticks per second (`getconf CLK_TCK`), asked once. */
export async function clockTicks(): Promise<number> {
  if (ticksPerSecond === undefined) {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] })
      .output();
    ticksPerSecond = Number(new TextDecoder().decode(out.stdout).trim()) ||
      100;
  }
  return ticksPerSecond;
}

/** What the benchmarks read of one `stat` file. */
export interface ProcStat {
  /** The command (or thread) name. */
  name: string;
  /** Parent process id. */
  ppid: number;
  /** Process group id. */
  pgrp: number;
  /** User + system time, ticks. */
  ticks: number;
  /** User + system time of reaped children, ticks. */
  childTicks: number;
}

/** Reads `path` (a `stat` file); undefined when the process has gone. */
export async function readStat(path: string): Promise<ProcStat | undefined> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(path);
  } catch {
    return undefined; // Exited meanwhile.
  }
  // Fields after the command name: state, ppid, pgrp, …, utime (12th),
  // stime, cutime, cstime.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return {
    name: stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")),
    ppid: Number(fields[1]),
    pgrp: Number(fields[2]),
    ticks: Number(fields[11]) + Number(fields[12]),
    childTicks: Number(fields[13]) + Number(fields[14]),
  };
}

/** User + system CPU seconds of process `pid` so far (all its threads). */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readStat(`/proc/${pid}/stat`);
  if (!stat) throw new Error(`no process ${pid}`);
  return stat.ticks / await clockTicks();
}

/**
 * CPU seconds of process `pid` and its children: its own, those of the
 * children it has reaped, and those of the children alive now (a server
 * that forks a process per connection, as PostgreSQL does).
 */
export async function treeCpuSeconds(pid: number): Promise<number> {
  const root = await readStat(`/proc/${pid}/stat`);
  if (!root) throw new Error(`no process ${pid}`);
  let ticks = root.ticks + root.childTicks;
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const stat = await readStat(`/proc/${entry.name}/stat`);
    if (stat?.ppid === pid) ticks += stat.ticks;
  }
  return ticks / await clockTicks();
}

/** The PID of the first process whose command line contains `text`. */
export async function findProcess(text: string): Promise<number | undefined> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const line = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`))
        .replaceAll("\0", " ");
      if (line.includes(text)) return Number(entry.name);
    } catch {
      // Exited meanwhile.
    }
  }
  return undefined;
}
