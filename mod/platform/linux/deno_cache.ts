/**
 * The Deno cache streamers run from under `deno run`. A streamer never
 * fetches code (it runs with `--cached-only` and the project's frozen lock
 * file, see `self_command.ts`), so its modules must already be in the cache
 * it is given: this process's own cache for streamers of this user, or for
 * pool users a shared copy seeded from this process's cache (the npm
 * packages the lock file names), never downloaded. Either way the cache is
 * checked against the lock file when the host starts, so a missing module is
 * a clear startup error rather than a streamer that fails later.
 *
 * @module
 */
import { lockedOffline, type SelfCommand } from "../self_command.ts";
import { CommandError, run } from "./exec.ts";

/** An npm package version the lock file names. */
export interface LockedPackage {
  /** Its name, with the scope (`@jsquash/jpeg`). */
  name: string;
  /** Its exact version. */
  version: string;
}

/**
 * The npm packages a `deno.lock` names (its `npm` section), without the
 * peer-dependency suffixes of its keys.
 */
export function lockedNpmPackages(lockText: string): LockedPackage[] {
  const lock = JSON.parse(lockText) as { npm?: Record<string, unknown> };
  const seen = new Map<string, LockedPackage>();
  for (const key of Object.keys(lock.npm ?? {})) {
    // `name@version`, `@scope/name@version`, maybe `_peer@x` after it.
    const at = key.indexOf("@", 1);
    if (at < 0) continue;
    const name = key.slice(0, at);
    const version = key.slice(at + 1).split("_")[0];
    seen.set(`${name}@${version}`, { name, version });
  }
  return [...seen.values()];
}

/** Options for {@linkcode seedNpmCache}. */
export interface SeedOptions {
  /** The project's `deno.lock`. */
  lockFile: string;
  /** The Deno cache to copy from (this process's). */
  from: string;
  /** The Deno cache to fill. */
  to: string;
}

/**
 * Copies the npm packages `lockFile` names from the Deno cache `from` into
 * `to` (each registry's folder of each package version, and its
 * `registry.json`), skipping what `to` already has. Nothing is downloaded:
 * what `from` lacks stays missing, for {@linkcode checkDenoCache} to report.
 * Each copy lands under a temporary name first, so another host seeding the
 * same cache at the same time never sees half a package.
 *
 * @returns how many package versions were copied.
 */
export async function seedNpmCache(options: SeedOptions): Promise<number> {
  const packages = lockedNpmPackages(await Deno.readTextFile(options.lockFile));
  let copied = 0;
  for (const registry of await listDir(`${options.from}/npm`)) {
    if (!registry.isDirectory) continue;
    const source = `${options.from}/npm/${registry.name}`;
    const target = `${options.to}/npm/${registry.name}`;
    for (const { name, version } of packages) {
      for (const { name: entry } of await listDir(`${source}/${name}`)) {
        // `<version>`, or `<version>_<n>` for a copy with other peers.
        const wanted = entry === version ||
          entry.startsWith(`${version}_`) || entry === "registry.json";
        if (!wanted) continue;
        if (await copyOnce(`${source}/${name}/${entry}`, `${target}/${name}`)) {
          if (entry !== "registry.json") copied++;
        }
      }
    }
  }
  return copied;
}

/** A cache that lacks modules a streamer needs. */
export class DenoCacheError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DenoCacheError";
  }
}

/**
 * Checks that the Deno cache `denoDirectory` holds every module `command`'s
 * `main.ts` can load, at the lock file's versions, without reaching the
 * network (`deno install --entrypoint` with `--cached-only --frozen`).
 *
 * @throws {DenoCacheError} naming the cache and what is missing.
 */
export async function checkDenoCache(
  command: SelfCommand,
  denoDirectory: string,
): Promise<void> {
  const root = command.projectRoot!;
  try {
    await run(command.command, [
      "install",
      "--quiet",
      ...lockedOffline(root),
      `--config=${root}/deno.json`,
      "--entrypoint",
      `${root}/main.ts`,
    ], {
      env: {
        DENO_DIR: denoDirectory,
        DENO_NO_UPDATE_CHECK: "1",
        NO_COLOR: "1",
      },
    });
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    const detail = error.message.split("\n").find((l) => /error/i.test(l)) ??
      error.message.split("\n")[0];
    throw new DenoCacheError(
      `the Deno cache ${denoDirectory} lacks modules streamers need at the ` +
        `versions of ${root}/deno.lock (${detail.trim()}); streamers never ` +
        `download code: fill webstream's own Deno cache once, with network ` +
        `access (e.g. "deno install --frozen --entrypoint ${root}/main.ts"), ` +
        `and start it again`,
    );
  }
}

/** The entries of the folder `path`; none if it does not exist. */
async function listDir(path: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(path)) out.push(entry);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out;
}

/** Copies `source` into the folder `into` unless it is there; true if copied. */
async function copyOnce(source: string, into: string): Promise<boolean> {
  const name = source.slice(source.lastIndexOf("/") + 1);
  const target = `${into}/${name}`;
  if (await exists(target)) return false;
  await Deno.mkdir(into, { recursive: true, mode: 0o755 });
  const partial = `${target}.partial-${Deno.pid}`;
  await Deno.remove(partial, { recursive: true }).catch(() => {});
  await run("cp", ["-R", source, partial]);
  try {
    await Deno.rename(partial, target);
  } catch (error) {
    // Another host put it there first.
    await Deno.remove(partial, { recursive: true }).catch(() => {});
    if (await exists(target)) return false;
    throw error;
  }
  return true;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}
