/**
 * The wire contracts between the gateway, the session hosts and the
 * streamers: schemas and their types, imported by both sides of each.
 *
 * @module
 */
export * from "./sessions.ts";
