/**
 * Makes `webstream streamer` startable by pool users. A compiled executable
 * needs nothing. Under `deno run`, streamers run from the Deno cache only,
 * held to the project's lock file (they never fetch code): for streamers of
 * this user that is this process's cache, checked once here. As root, the
 * pool users cannot read root's Deno cache and may not reach the checkout, so
 * the sources are staged where every user can read them (when they are not
 * already) and a shared, read-only Deno cache is seeded for them from this
 * process's cache (see `deno_cache.ts`), then checked the same way.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import { type SelfCommand, selfCommand } from "../self_command.ts";
import { checkDenoCache, seedNpmCache } from "./deno_cache.ts";
import { run } from "./exec.ts";

/** How to start the streamer, and the extra environment it needs. */
export interface StreamerRuntime {
  /** The command line prefix. */
  command: SelfCommand;
  /** Environment added to the streamer's. */
  env: Record<string, string>;
}

/** Options for {@linkcode prepareStreamerRuntime}. */
export interface StreamerRuntimeOptions {
  /** True when streamers run as other (pool) users. */
  otherUsers: boolean;
  /** Where sources are staged if needed (root-owned, world-readable). */
  stageDirectory: string;
  /** The shared Deno cache for pool users. */
  denoDirectory: string;
  /** Progress and problems. */
  logger: Logger;
}

const QUIET = { DENO_NO_UPDATE_CHECK: "1" };

/** This process's Deno cache: `DENO_DIR`, else Deno's default on Linux. */
export function ownDenoDirectory(): string {
  const env = Deno.env.toObject();
  if (env.DENO_DIR) return env.DENO_DIR;
  const cache = env.XDG_CACHE_HOME ?? `${env.HOME ?? "/root"}/.cache`;
  return `${cache}/deno`;
}

/** The files a streamer needs from the checkout. */
export const STAGED_ENTRIES = [
  "main.ts",
  "deno.json",
  "deno.lock",
  "mod",
  "ffi",
  // The streamer speaks the protocol the web client defines.
  "httpdocs",
];

/**
 * Prepares and returns how streamers are started.
 *
 * @throws {DenoCacheError} under `deno run`, when the streamers' Deno cache
 *   lacks a module they need (nothing is downloaded to fill it).
 */
export async function prepareStreamerRuntime(
  options: StreamerRuntimeOptions,
): Promise<StreamerRuntime> {
  const own = selfCommand();
  if (own.compiled) return { command: own, env: {} };
  if (!options.otherUsers) {
    // Same user, but each slot has its own HOME: keep using this process's
    // Deno cache instead of filling a new one in every session.
    const denoDirectory = ownDenoDirectory();
    await checkDenoCache(own, denoDirectory);
    return { command: own, env: { DENO_DIR: denoDirectory, ...QUIET } };
  }
  let root = own.projectRoot!;
  if (!await readableByAll(`${root}/main.ts`)) {
    root = await stage(root, options.stageDirectory);
    options.logger.info("staged streamer sources for pool users", { root });
  }
  const command = selfCommand({ projectRoot: root });
  await Deno.mkdir(options.denoDirectory, { recursive: true, mode: 0o755 });
  const copied = await seedNpmCache({
    lockFile: `${root}/deno.lock`,
    from: ownDenoDirectory(),
    to: options.denoDirectory,
  });
  if (copied) {
    options.logger.info("seeded the streamers' Deno cache from this one", {
      denoDirectory: options.denoDirectory,
      packages: copied,
    });
  }
  await checkDenoCache(command, options.denoDirectory);
  await makeReadableByAll(options.denoDirectory);
  return { command, env: { DENO_DIR: options.denoDirectory, ...QUIET } };
}

/**
 * `chmod -R a+rX path`, except that an entry removed while it walks is
 * skipped rather than an error: another webstream process filling the same
 * shared cache at the same time creates and removes SQLite journal files in
 * it (with `chmod -R`, two hosts starting together could fail to start).
 */
export async function makeReadableByAll(path: string): Promise<void> {
  try {
    const info = await Deno.lstat(path);
    if (info.isSymlink) return;
    const mode = info.mode! & 0o7777;
    const search = info.isDirectory || (mode & 0o111) !== 0 ? 0o111 : 0;
    if ((mode | 0o444 | search) !== mode) {
      await Deno.chmod(path, mode | 0o444 | search);
    }
    if (!info.isDirectory) return;
    for await (const entry of Deno.readDir(path)) {
      await makeReadableByAll(`${path}/${entry.name}`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

async function stage(root: string, target: string): Promise<string> {
  await Deno.remove(target, { recursive: true }).catch(() => {});
  await Deno.mkdir(target, { recursive: true, mode: 0o755 });
  for (const entry of STAGED_ENTRIES) {
    try {
      await Deno.lstat(`${root}/${entry}`);
    } catch {
      continue;
    }
    await run("cp", ["-R", `${root}/${entry}`, `${target}/`]);
  }
  await run("chmod", ["-R", "a+rX,go-w", target]);
  if (!await readableByAll(`${target}/main.ts`)) {
    throw new Error(
      `staged sources in ${target} are not reachable by other users; ` +
        "choose a webstreamSettings.runtimeDirectory every user can traverse",
    );
  }
  return target;
}

/** True when `path` is world-readable and every folder above it is traversable. */
export async function readableByAll(path: string): Promise<boolean> {
  try {
    if (((await Deno.stat(path)).mode! & 0o004) === 0) return false;
    let dir = path.slice(0, path.lastIndexOf("/"));
    while (dir) {
      if (((await Deno.stat(dir)).mode! & 0o001) === 0) return false;
      dir = dir.slice(0, dir.lastIndexOf("/"));
    }
    return true;
  } catch {
    return false;
  }
}
