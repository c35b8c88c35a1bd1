/**
 * The wire contracts between the gateway, the session hosts and the
 * streamers: schemas and their types, imported by both sides of each.
 *
 * @module
 */
export * from "./desktop_shell.ts";
export * from "./get_connection.ts";
export * from "./header_value.ts";
export * from "./licence_proof.ts";
export * from "./limits.ts";
export * from "./registration.ts";
export * from "./sessions.ts";
export * from "./shared_secret.ts";
export * from "./streamer_launch.ts";
export * from "./streamer_reports.ts";
