/**
 * `webstream -gateway`, wired from the configuration: the gateway serves the
 * same web client as the hosts (its own copy).
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { type GatewayHandle, startGateway } from "../gateway/mod.ts";
import type { Logger } from "../log/mod.ts";
import { staticRoot } from "./common.ts";

/** Options for {@linkcode startGatewayRole}. */
export interface GatewayRoleOptions {
  /** Logger. */
  logger: Logger;
}

/** Starts the gateway. */
export function startGatewayRole(
  config: Config,
  options: GatewayRoleOptions,
): Promise<GatewayHandle> {
  return startGateway(config, {
    logger: options.logger,
    staticRoot: staticRoot(config.webstreamSettings.serverHttpPath),
  });
}
