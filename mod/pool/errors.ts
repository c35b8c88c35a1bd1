/**
 * Why the pool could not give a launch a session.
 *
 * @module
 */

/** Every slot is bound to a session or being prepared: try again later. */
export class PoolExhaustedError extends Error {
  /** Suggested wait before retrying, in seconds. */
  readonly retryAfter: number;

  constructor(retryAfter: number) {
    super("no pool session is available");
    this.name = "PoolExhaustedError";
    this.retryAfter = retryAfter;
  }
}

/** The pool is not accepting launches (starting or shutting down). */
export class PoolUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PoolUnavailableError";
  }
}

/** A session that ended while a launch was waiting for it. */
export class SessionGoneError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "SessionGoneError";
  }
}
