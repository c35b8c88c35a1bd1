/**
 * Looking at a test's pool users from outside: which accounts exist and
 * which processes they run. Cleanup ends only the processes of the test's own
 * pool users, by PID.
 *
 * @module
 */
import { POOL_GECOS } from "../../mod/platform/linux/accounts.ts";

/** A pool user found in the passwd database. */
export interface PoolUser {
  /** Login name. */
  name: string;
  /** Numeric uid. */
  uid: number;
  /** Home directory. */
  home: string;
}

/** The pool users whose names start with `prefix`. */
export async function poolUsers(prefix: string): Promise<PoolUser[]> {
  const out = await new Deno.Command("getent", { args: ["passwd"] }).output();
  return new TextDecoder().decode(out.stdout).split("\n")
    .map((line) => line.split(":"))
    .filter((f) => f[0]?.startsWith(prefix) && f[4] === POOL_GECOS)
    .map((f) => ({ name: f[0], uid: Number(f[2]), home: f[5] }));
}

/** A process of a pool user. */
export interface PoolProcess {
  /** PID. */
  pid: number;
  /** Owner's login name. */
  user: string;
  /** Command line, arguments joined by spaces. */
  cmdline: string;
}

/** The processes of `users` whose command line matches `pattern`. */
export async function poolUserProcesses(
  users: PoolUser[],
  pattern: RegExp = /./,
): Promise<PoolProcess[]> {
  const byUid = new Map(users.map((u) => [u.uid, u.name]));
  const found: PoolProcess[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const status = await Deno.readTextFile(`/proc/${entry.name}/status`);
      if (/^State:\s+Z/m.test(status)) continue;
      const uid = Number(status.match(/^Uid:\s+(\d+)/m)?.[1]);
      const user = byUid.get(uid);
      if (!user) continue;
      const cmdline = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`))
        .split("\0").join(" ").trim();
      if (pattern.test(cmdline)) {
        found.push({ pid: Number(entry.name), user, cmdline });
      }
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}

/** The PID of the streamer serving `port` (found by its command line). */
export async function streamerPid(port: number): Promise<number> {
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const args = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`))
        .split("\0");
      const at = args.indexOf("-port");
      if (
        args.includes("streamer") && at >= 0 && args[at + 1] === String(port)
      ) {
        return Number(entry.name);
      }
    } catch {
      // Exited while we looked.
    }
  }
  throw new Error(`no streamer process serves port ${port}`);
}
