/**
 * Small promise helpers used across roles: a cancellable delay and a timeout
 * wrapper that always clears its timer.
 *
 * @module
 */

/** A timer handle as `setTimeout` returns it. */
export type Timer = ReturnType<typeof setTimeout>;

/** A promise that did not settle in time. */
export class TimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TimeoutError";
  }
}

/** Options for {@linkcode delay}. */
export interface DelayOptions {
  /** Resolves early when aborted. */
  signal?: AbortSignal;
}

/** Resolves after `ms` milliseconds, or as soon as `signal` aborts. */
export function delay(ms: number, options: DelayOptions = {}): Promise<void> {
  const { signal } = options;
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/** Options for {@linkcode withTimeout}. */
export interface WithTimeoutOptions {
  /** Message of the {@linkcode TimeoutError}. */
  message?: string;
}

/**
 * Settles like `promise`, or rejects with a {@linkcode TimeoutError} after
 * `ms` milliseconds.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  options: WithTimeoutOptions = {},
): Promise<T> {
  let timer: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new TimeoutError(options.message ?? `timed out after ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
