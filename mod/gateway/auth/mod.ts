/**
 * Gateway sign-in: password hashes, the caller's identity and revoked
 * sign-ins.
 *
 * @module
 */
export * from "./password.ts";
export * from "./identity.ts";
export * from "./revocations.ts";
