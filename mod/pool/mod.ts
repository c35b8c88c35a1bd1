/**
 * The session pool: slot arithmetic, tokens and the pool state machine.
 *
 * @module
 */
export * from "./types.ts";
export * from "./slots.ts";
export { hashToken, newToken } from "./tokens.ts";
export {
  PoolExhaustedError,
  PoolUnavailableError,
  SessionPool,
  type SessionPoolOptions,
} from "./pool.ts";
