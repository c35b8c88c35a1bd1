/**
 * Waiting for a condition in tests: polls until it holds or a generous
 * deadline passes. Deadlines only bound a hang; they never assert speed.
 *
 * @module
 */

/** Options for {@linkcode waitFor}. */
export interface WaitOptions {
  /** Give up after this long. Default 30 s. */
  timeoutMs?: number;
  /** Poll period. Default 50 ms. */
  intervalMs?: number;
  /** What was awaited, for the error. */
  what?: string;
}

/** Resolves with the first truthy value of `check()`. */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: WaitOptions = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 50));
  }
  throw new Error(
    `timed out waiting for ${options.what ?? "a condition"}${
      lastError ? ` (last error: ${lastError})` : ""
    }`,
  );
}
