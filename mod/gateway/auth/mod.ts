/**
 * Gateway sign-in: password hashes and the caller's identity.
 *
 * @module
 */
export * from "./password.ts";
export * from "./identity.ts";
