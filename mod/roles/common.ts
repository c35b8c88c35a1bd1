/**
 * What the server roles share: where the web client lives, which address to
 * bind, and waiting for a shutdown signal.
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import type { Config } from "../config/mod.ts";
import { isLoopback } from "../control/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  createPlatform,
  type CreatePlatformOptions,
  type Platform,
  type StreamerLicence,
} from "../platform/mod.ts";
import { SessionPool, type SessionPoolOptions } from "../pool/mod.ts";
import { streamerPort } from "../pool/slots.ts";
import {
  ephemeralPortRange,
  type PortRange,
} from "../platform/linux/port_range.ts";

/** The web client shipped with webstream (embedded in compiled builds). */
export const DEFAULT_HTTPDOCS: string = fileURLToPath(
  new URL("../../httpdocs", import.meta.url),
);

/** The folder of the static web client. */
export function staticRoot(serverHttpPath: string | undefined): string {
  return serverHttpPath ?? DEFAULT_HTTPDOCS;
}

/**
 * The address to listen on: `listenAddress` when set, else loopback when the
 * advertised host is loopback (a local host stays local), else all interfaces.
 */
export function bindAddress(
  listenAddress: string | undefined,
  advertisedHost: string,
): string {
  if (listenAddress) return listenAddress;
  return isLoopback(advertisedHost) || advertisedHost === "localhost"
    ? "127.0.0.1"
    : "0.0.0.0";
}

/**
 * Refuses to serve `/getConnection` beyond loopback without the shared
 * secret: anyone who could reach the port could otherwise start sessions and
 * apps.
 *
 * @throws {Error} naming the setting to add.
 */
export function requireSecretBeyondLoopback(
  bind: string,
  sharedSecret: string | undefined,
): void {
  if (sharedSecret || isLoopback(bind)) return;
  throw new Error(
    `gateway.backend.sharedSecret (or WEBSTREAM_GATEWAY_SECRET) is required ` +
      `when the host listens on ${bind}, beyond loopback`,
  );
}

/** The address local clients (streamers, self-checks) use to reach `bind`. */
export function localAddress(bind: string): string {
  if (bind === "0.0.0.0" || bind === "::" || bind === "[::]") {
    return "127.0.0.1";
  }
  return bind.includes(":") ? `[${bind}]` : bind;
}

/** The signals that shut a role down cleanly on this OS. */
export const SHUTDOWN_SIGNALS: readonly Deno.Signal[] =
  Deno.build.os === "windows"
    ? ["SIGINT", "SIGBREAK"]
    // SIGHUP: the terminal closed. Left to its default, it would end the
    // process at once and leave its sessions' Xvfb servers behind.
    : ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Resolves with the signal's name at the first of
 * {@linkcode SHUTDOWN_SIGNALS} (SIGINT, SIGTERM or SIGHUP; on Windows SIGINT
 * or SIGBREAK). Later hang-ups are ignored.
 */
export function waitForShutdownSignal(): Promise<string> {
  return new Promise((resolve) => {
    let received = false;
    const handlers = SHUTDOWN_SIGNALS.map((signal) => {
      const handler = (): void => {
        if (received) return;
        received = true;
        // A second SIGINT or SIGTERM then ends the process at once (its
        // default). A hang-up often comes twice (the terminal, then the
        // shell passing it on): its listener stays, so a repeat cannot cut
        // the clean shutdown short.
        for (const [s, h] of handlers) {
          if (s !== "SIGHUP") Deno.removeSignalListener(s, h);
        }
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
  });
}

/** A running server role. */
export interface RoleHandle {
  /** The HTTP port actually bound. */
  port: number;
  /** Stops the role cleanly. */
  stop(): Promise<void>;
}

/** Options for {@linkcode createSessionPool}. */
export interface SessionPoolSetup {
  /** The `/control` URL streamers connect to. */
  controlUrl: string;
  /** Where streamers listen. */
  bindAddress: string;
  /** The role's logger; the platform and pool log as its children. */
  logger: Logger;
  /** Licence check-ins for streamers, when a gateway is configured. */
  licence?: StreamerLicence;
  /** The farm's shared secret (for the streamers' licence proofs). */
  licenceSecret?: string;
  /** Told when a bound session ends on this host. */
  onSessionEnd?: SessionPoolOptions["onSessionEnd"];
}

/**
 * The {@linkcode createPlatform} options for `config`: the pool settings,
 * and `webstreamSettings.windows` with its seconds in milliseconds.
 */
export function platformOptions(
  config: Config,
  logger: Logger,
): CreatePlatformOptions {
  const settings = config.webstreamSettings;
  const windows = settings.windows;
  return {
    accountMode: settings.poolAccounts,
    runtimeDirectory: settings.runtimeDirectory,
    logger,
    windows: {
      rdpClient: windows.rdpClient,
      logonTimeoutMs: windows.logonTimeout * 1000,
      logoffTimeoutMs: windows.logoffTimeout * 1000,
    },
  };
}

/**
 * A warning for a `provisioningTimeout` no longer than the Windows logon
 * timeout: provisioning covers the logon and the streamer's start, and a
 * first logon (which builds the profile) would be cut short by the pool.
 */
export function windowsTimeoutWarning(config: Config): string | undefined {
  const { provisioningTimeout, windows } = config.webstreamSettings;
  if (provisioningTimeout > windows.logonTimeout) return undefined;
  return `webstreamSettings.provisioningTimeout (${provisioningTimeout} s) ` +
    `is not longer than webstreamSettings.windows.logonTimeout ` +
    `(${windows.logonTimeout} s): a first logon, which builds the profile, ` +
    `can be cut short; raise provisioningTimeout (e.g. to ` +
    `${windows.logonTimeout + 30})`;
}

/**
 * A warning for streamer ports inside the kernel's ephemeral `range`: an
 * outgoing connection may hold one (or leave it in TIME_WAIT) just when its
 * session starts, and the streamer then cannot listen.
 */
export function ephemeralPortsWarning(
  config: Config,
  range: PortRange | undefined,
): string | undefined {
  if (!range) return undefined;
  const s = config.webstreamSettings;
  const first = streamerPort(s.basePortNumber, 1);
  const last = streamerPort(s.basePortNumber, s.serverMaxSessionCount);
  if (last < range.low || first > range.high) return undefined;
  return `streamer ports ${first}–${last} (webstreamSettings.basePortNumber ` +
    `${s.basePortNumber}) overlap the kernel's ephemeral port range ` +
    `${range.low}–${range.high} (net.ipv4.ip_local_port_range): an ` +
    `outgoing connection can hold one when its session starts, and that ` +
    `session fails; move basePortNumber out of the range`;
}

/** Logs {@linkcode ephemeralPortsWarning} for this machine (Linux). */
export async function warnOfEphemeralPorts(
  config: Config,
  logger: Logger,
): Promise<void> {
  if (Deno.build.os !== "linux") return;
  const warning = ephemeralPortsWarning(config, await ephemeralPortRange());
  if (warning) logger.warn(warning);
}

/** The platform for this OS and a session pool on it, as configured. */
export function createSessionPool(
  config: Config,
  setup: SessionPoolSetup,
): { platform: Platform; pool: SessionPool } {
  const platform = createPlatform(
    platformOptions(config, setup.logger.child("platform")),
  );
  if (platform.name === "windows") {
    const warning = windowsTimeoutWarning(config);
    if (warning) setup.logger.warn(warning);
  }
  const pool = new SessionPool({
    config,
    platform,
    controlUrl: setup.controlUrl,
    bindAddress: setup.bindAddress,
    logger: setup.logger.child("pool"),
    licence: setup.licence,
    licenceSecret: setup.licenceSecret,
    onSessionEnd: setup.onSessionEnd,
  });
  return { platform, pool };
}
