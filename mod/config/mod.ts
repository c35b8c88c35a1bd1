/**
 * Configuration: schema, loading, validation and redaction.
 *
 * @module
 */
export * from "./schema.ts";
export * from "./load.ts";
