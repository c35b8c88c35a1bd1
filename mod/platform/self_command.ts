/**
 * How to start this program again with other arguments (the session manager
 * starts `webstream streamer` in every session). A compiled `webstream`
 * re-runs itself; under `deno run` the same `main.ts` is run with the same
 * Deno and configuration, held to the project's lock file (`--frozen`) and
 * to modules already in the Deno cache (`--cached-only`): a process webstream
 * starts never fetches code, and never gets other versions than the lock's.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** A command line that starts webstream. */
export interface SelfCommand {
  /** The executable. */
  command: string;
  /** Arguments that come before webstream's own arguments. */
  prefix: string[];
  /** True when running as a `deno compile`d executable. */
  compiled: boolean;
  /** Under `deno run`: the project root holding `main.ts` and `deno.json`. */
  projectRoot?: string;
}

const PROJECT_ROOT = new URL("../../", import.meta.url);

/** True when this program is a `deno compile`d executable. */
export function isCompiled(): boolean {
  const exe = Deno.execPath().split(/[\\/]/).pop()!.toLowerCase();
  return exe !== "deno" && exe !== "deno.exe";
}

/** Options for {@linkcode selfCommand}. */
export interface SelfCommandOptions {
  /** Under `deno run`, use this project root instead of this one (a staged copy). */
  projectRoot?: string;
}

/** The command line that starts webstream with `args` appended to `prefix`. */
export function selfCommand(options: SelfCommandOptions = {}): SelfCommand {
  if (isCompiled()) {
    return { command: Deno.execPath(), prefix: [], compiled: true };
  }
  const root = options.projectRoot ??
    fileURLToPath(PROJECT_ROOT).replace(/[\\/]$/, "");
  return {
    command: Deno.execPath(),
    prefix: [
      "run",
      "--allow-all",
      "--no-prompt",
      ...lockedOffline(root),
      `--config=${root}/deno.json`,
      `${root}/main.ts`,
    ],
    compiled: false,
    projectRoot: root,
  };
}

/**
 * The flags that hold a `deno run` or `deno install` of the project at `root`
 * to its lock file and to the Deno cache: `--lock=<root>/deno.lock --frozen
 * --cached-only`. A module missing from the cache is an error, never a
 * download.
 */
export function lockedOffline(root: string): string[] {
  return [`--lock=${root}/deno.lock`, "--frozen", "--cached-only"];
}
