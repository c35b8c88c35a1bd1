/**
 * Looking at a test's pool users from outside: which accounts exist, their
 * password hashes and which processes they run; and a test user (root only)
 * that is deleted once it runs nothing. Cleanup ends only the processes of
 * the test's own pool users, by PID.
 *
 * @module
 */
import {
  createPoolUser,
  deleteUser,
  POOL_GECOS,
  type UserEntry,
} from "../../mod/platform/linux/accounts.ts";
import { processesOfUser } from "../../mod/platform/linux/processes.ts";
import { testUsername } from "./config.ts";
import { findStreamer, liveProcesses } from "./proc.ts";
import { waitFor } from "./wait.ts";

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

/** The password hash of `name` in /etc/shadow; undefined without an entry. */
export async function shadowHash(name: string): Promise<string | undefined> {
  const shadow = await Deno.readTextFile("/etc/shadow");
  return shadow.split("\n").find((l) => l.startsWith(`${name}:`))?.split(
    ":",
  )[1];
}

/**
 * Deletes the test user `name` and its home once `uid` runs no process any
 * more (failing after 10 s). With `uid` undefined (the user may never have
 * been made) it only deletes the name, which is harmless when it is absent.
 */
export async function deleteTestUser(
  name: string,
  uid: number | undefined,
): Promise<void> {
  if (uid !== undefined) {
    await waitFor(async () => !(await processesOfUser(uid)).length, {
      timeoutMs: 10_000,
      what: "the test user to have no process",
    });
  }
  await deleteUser(name);
}

/**
 * Runs `fn` with a new pool user named from a fresh test prefix and
 * `suffix`, its home built from an empty skeleton. Afterwards the user is
 * deleted with {@linkcode deleteTestUser}, so `fn` must end (or have ended)
 * the user's processes.
 */
export async function withTestUser(
  suffix: string,
  fn: (user: UserEntry) => Promise<void>,
): Promise<void> {
  const name = testUsername() + suffix;
  const skeleton = await Deno.makeTempDir({ prefix: "webstream-skel-" });
  let uid: number | undefined;
  try {
    const user = await createPoolUser(name, "Test-Passw0rd", { skeleton });
    uid = user.uid;
    await fn(user);
  } finally {
    await deleteTestUser(name, uid);
    await Deno.remove(skeleton, { recursive: true });
  }
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
  for (const { pid, uid, argv } of await liveProcesses()) {
    const user = byUid.get(uid);
    const cmdline = argv.join(" ");
    if (user && pattern.test(cmdline)) found.push({ pid, user, cmdline });
  }
  return found;
}

/** The PID of the streamer serving `port` (found by its command line). */
export async function streamerPid(port: number): Promise<number> {
  const streamer = await findStreamer(port);
  if (!streamer) throw new Error(`no streamer process serves port ${port}`);
  return streamer.pid;
}
