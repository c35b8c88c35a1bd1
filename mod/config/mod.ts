/**
 * Configuration: schema, loading, validation and redaction.
 *
 * @module
 */
export * from "./schema.ts";
export * from "./gateway_schema.ts";
export * from "./load.ts";
