/**
 * Which published app a window belongs to, from the process that made it
 * (`_NET_WM_PID`): each app the streamer starts leads a process group of
 * its own (`apps.ts`), so a window belongs to the app whose group its
 * process is in. A streamer restarted in a session did not start the apps
 * running there; it knows them by command line, and matches the group
 * leader's command line instead.
 *
 * @module
 */
import { CommandLineError, splitCommandLine } from "./command_line.ts";

/** An app as the owner lookup knows it. */
export interface KnownApp {
  /** Its command line. */
  command: string;
  /** Its process (group leader), when this streamer started it. */
  pid?: number;
}

/** What the lookup reads of processes (Linux: `/proc`). */
export interface ProcessProbe {
  /** The process group of `pid`, if it runs. */
  group(pid: number): number | undefined;
  /** The argument vector of `pid`, if it runs. */
  argv(pid: number): string[] | undefined;
}

/**
 * The app (its command line) whose process group made a window with
 * `pid`, or undefined when none of `apps` did.
 */
export function windowOwner(
  pid: number | undefined,
  apps: readonly KnownApp[],
  options: { probe?: ProcessProbe } = {},
): string | undefined {
  if (pid === undefined) return undefined;
  const probe = options.probe ?? PROC;
  const group = probe.group(pid);
  if (group === undefined) return undefined;
  const started = apps.find((app) => app.pid === group);
  if (started) return started.command;
  const argv = probe.argv(group);
  if (!argv) return undefined;
  return apps.find((app) => sameArgv(words(app.command), argv))?.command;
}

function words(command: string): string[] | undefined {
  try {
    return splitCommandLine(command);
  } catch (error) {
    if (error instanceof CommandLineError) return undefined;
    throw error;
  }
}

function sameArgv(a: string[] | undefined, b: string[]): boolean {
  return !!a && a.length === b.length && a.every((word, i) => word === b[i]);
}

/** {@linkcode ProcessProbe} over Linux's `/proc`. */
export const PROC: ProcessProbe = {
  group(pid) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const group = Number(fields[2]);
      return Number.isInteger(group) ? group : undefined;
    } catch {
      return undefined;
    }
  },
  argv(pid) {
    try {
      const raw = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      return raw ? raw.replace(/\0$/, "").split("\0") : undefined;
    } catch {
      return undefined;
    }
  },
};
