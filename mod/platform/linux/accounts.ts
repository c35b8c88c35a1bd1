/**
 * Real Linux pool users: created with `useradd`, passwords set with
 * `chpasswd` (over stdin, never on a command line), removed with `userdel`.
 * Every pool user carries a GECOS marker so that webstream never adopts or
 * deletes an account it did not create.
 *
 * @module
 */
import { hasCommand, run } from "./exec.ts";

/** The GECOS comment that marks an account as a webstream pool account. */
export const POOL_GECOS = "webstream pool account";

/** A user as `getent passwd` reports it. */
export interface UserEntry {
  /** Login name. */
  name: string;
  /** Numeric user id. */
  uid: number;
  /** Primary group id. */
  gid: number;
  /** GECOS comment. */
  gecos: string;
  /** Home directory. */
  home: string;
}

/** Looks a user up through NSS; undefined when there is no such user. */
export async function lookupUser(name: string): Promise<UserEntry | undefined> {
  const out = await run("getent", ["passwd", name], { okCodes: [0, 2] });
  const line = out.trim();
  if (!line) return undefined;
  const [login, , uid, gid, gecos, home] = line.split(":");
  return { name: login, uid: Number(uid), gid: Number(gid), gecos, home };
}

/** Options for {@linkcode createPoolUser}. */
export interface CreateUserOptions {
  /** Skeleton directory the home is built from. */
  skeleton: string;
}

/** Creates a pool user with its own group and a home built from `skeleton`. */
export async function createPoolUser(
  name: string,
  password: string,
  options: CreateUserOptions,
): Promise<UserEntry> {
  await run("useradd", [
    "--create-home",
    "--skel",
    options.skeleton,
    "--user-group",
    // No interactive logins: sessions are started by webstream only.
    "--shell",
    "/usr/sbin/nologin",
    "--comment",
    POOL_GECOS,
    name,
  ]);
  await setPassword(name, password);
  const user = await lookupUser(name);
  if (!user) throw new Error(`useradd created ${name} but it cannot be found`);
  return user;
}

/** Sets a user's password; the password travels over stdin only. */
export async function setPassword(
  name: string,
  password: string,
): Promise<void> {
  if (/[:\n]/.test(password)) {
    throw new Error("a pool password may not contain ':' or a newline");
  }
  await run("chpasswd", [], { stdin: `${name}:${password}\n` });
}

/** Deletes a user, its home and its mail spool. */
export async function deleteUser(name: string): Promise<void> {
  // Exit 12: the home could not be removed (already gone); the user is.
  await run("userdel", ["--remove", name], { okCodes: [0, 6, 12] });
}

/**
 * Removes the user's crontab and queued `at` jobs (where cron and at are
 * installed), so nothing a tenant scheduled runs in the next tenant's time.
 */
export async function removeScheduledJobs(name: string): Promise<void> {
  if (await hasCommand("crontab")) {
    // Exit 1: the user has no crontab.
    await run("crontab", ["-r", "-u", name], { okCodes: [0, 1] });
  }
  if (await hasCommand("atq")) {
    const jobs = (await run("atq", [])).split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields.length > 2 && fields.at(-1) === name)
      .map((fields) => fields[0]);
    if (jobs.length) await run("atrm", jobs);
  }
}
