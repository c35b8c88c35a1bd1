/**
 * The roles webstream can play, each started from a validated configuration.
 *
 * @module
 */
export * from "./common.ts";
export { type BackendOptions, startBackend } from "./backend.ts";
export { type StandaloneOptions, startStandalone } from "./standalone.ts";
export { startGatewayRole } from "./gateway.ts";
export { farmConfig, type FarmHandle, startFarm } from "./farm.ts";
