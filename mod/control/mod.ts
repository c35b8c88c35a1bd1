/**
 * The Session Manager ↔ Streamer control channel: the text codec and the
 * manager's socket handler.
 *
 * @module
 */
export * from "./codec.ts";
export * from "./hub.ts";
export * from "./token_hash.ts";
