/**
 * Files in tests: whether a path exists (without following a final link),
 * and a temporary folder that is removed when the test's work is done (for
 * async or sync work).
 *
 * @module
 */

/** True when `path` exists; a symbolic link counts even if it dangles. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

/** Options for {@linkcode withTempDir}. */
export interface TempDirOptions {
  /** Name prefix of the folder. Default `webstream-test-`. */
  prefix?: string;
  /**
   * Mode to give the folder (temporary folders are made 0700), e.g. 0o755
   * for a folder other users must traverse.
   */
  mode?: number;
}

/** Runs `fn` with a new temporary folder that is removed afterwards. */
export async function withTempDir(
  fn: (dir: string) => Promise<void>,
  options: TempDirOptions = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({
    prefix: options.prefix ?? "webstream-test-",
  });
  try {
    if (options.mode !== undefined) await Deno.chmod(dir, options.mode);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** As {@linkcode withTempDir}, for work that is synchronous. */
export function withTempDirSync(fn: (dir: string) => void): void {
  const dir = Deno.makeTempDirSync({ prefix: "webstream-test-" });
  try {
    fn(dir);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
