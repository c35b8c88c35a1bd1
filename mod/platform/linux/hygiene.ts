/**
 * Session hygiene at recycle: the profile rebuilt from a skeleton, the user's
 * leftovers in shared temporary folders removed, and filesystem restrictions
 * applied as POSIX ACL entries (Linux's stand-in for NTFS DENY ACEs).
 *
 * @module
 */
import type { FilesystemRestriction } from "../../config/mod.ts";
import { run } from "./exec.ts";

/** The owner a rebuilt home is given. */
export interface Owner {
  /** Numeric user id. */
  uid: number;
  /** Numeric group id. */
  gid: number;
}

/**
 * Replaces `home` with a fresh copy of `skeleton`, owned by `owner` (when
 * given) with mode 0700. Symbolic links inside the old home are removed, never
 * followed.
 */
export async function rebuildHome(
  home: string,
  skeleton: string,
  owner?: Owner,
): Promise<void> {
  if (!home.startsWith("/") || home.split("/").filter(Boolean).length < 2) {
    throw new Error(`refusing to rebuild suspicious home "${home}"`);
  }
  // Read-only folders the user left behind cannot be emptied without root.
  await run("chmod", ["-R", "u+w", home], { okCodes: [0, 1] }).catch(() => {});
  await Deno.remove(home, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  await Deno.mkdir(home, { recursive: true, mode: 0o700 });
  if (await exists(skeleton)) await run("cp", ["-a", `${skeleton}/.`, home]);
  if (owner) await run("chown", ["-R", `${owner.uid}:${owner.gid}`, home]);
  await Deno.chmod(home, 0o700);
}

/** The shared temporary folders purged of a pool user's files. */
export const TEMP_DIRECTORIES = ["/tmp", "/var/tmp", "/dev/shm"];

/** Removes the entries directly inside `directories` that `uid` owns. */
export async function purgeTemp(
  uid: number,
  directories: string[] = TEMP_DIRECTORIES,
): Promise<number> {
  let removed = 0;
  for (const dir of directories) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(dir));
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = `${dir}/${entry.name}`;
      try {
        if ((await Deno.lstat(path)).uid !== uid) continue;
        await Deno.remove(path, { recursive: true });
        removed++;
      } catch {
        // Raced with its owner, or not ours to remove.
      }
    }
  }
  return removed;
}

/** A pool user as the ACL code needs it. */
export interface AclUser {
  /** Login name. */
  name: string;
  /** Primary group id (decides whether group or other bits apply). */
  gid: number;
}

/**
 * Applies every restriction as a named-user ACL entry granting the user what
 * it would otherwise get minus the denied rights. Returns one problem line per
 * restriction that could not be applied (for example a missing path); the
 * others are still applied.
 */
export async function applyRestrictions(
  restrictions: FilesystemRestriction[],
  user: AclUser,
): Promise<string[]> {
  const problems: string[] = [];
  for (const restriction of restrictions) {
    try {
      const paths = restriction.recursive
        ? await walk(restriction.path)
        : [restriction.path];
      // Paths needing the same entry go to one setfacl call, in batches.
      const byEntry = new Map<string, string[]>();
      for (const path of paths) {
        const perms = await allowedPerms(path, restriction.deny, user);
        if (perms === undefined) continue;
        byEntry.set(perms, [...byEntry.get(perms) ?? [], path]);
      }
      for (const [perms, batch] of byEntry) {
        for (let i = 0; i < batch.length; i += SETFACL_BATCH) {
          // -P: never follow a symbolic link, even one swapped in meanwhile.
          await run("setfacl", [
            "-P",
            "-m",
            `u:${user.name}:${perms}`,
            "--",
            ...batch.slice(i, i + SETFACL_BATCH),
          ]);
        }
      }
    } catch (error) {
      problems.push(`${restriction.path}: ${(error as Error).message}`);
    }
  }
  return problems;
}

const BITS = { read: 4, write: 2, execute: 1 } as const;
const SETFACL_BATCH = 200;

/** What the user would get on `path` minus the denied rights (`r-x`). */
async function allowedPerms(
  path: string,
  deny: FilesystemRestriction["deny"],
  user: AclUser,
): Promise<string | undefined> {
  const info = await Deno.lstat(path);
  if (info.isSymlink) return undefined;
  const mode = info.mode ?? 0;
  const base = info.gid === user.gid ? (mode >> 3) & 7 : mode & 7;
  const allowed = deny.reduce((bits, right) => bits & ~BITS[right], base);
  return (allowed & 4 ? "r" : "-") + (allowed & 2 ? "w" : "-") +
    (allowed & 1 ? "x" : "-");
}

async function walk(root: string): Promise<string[]> {
  const out = [root];
  const info = await Deno.lstat(root);
  if (!info.isDirectory) return out;
  for await (const entry of Deno.readDir(root)) {
    const path = `${root}/${entry.name}`;
    if (entry.isDirectory) out.push(...await walk(path));
    else if (!entry.isSymlink) out.push(path);
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
