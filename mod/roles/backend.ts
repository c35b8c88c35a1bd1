/**
 * `webstream -backend`: the session host behind a gateway. HTTP (health,
 * `/getConnection`, `/control`, web client) on the advertised URL's port,
 * the session pool, and registration with the gateway when one is configured.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import {
  createHostApp,
  DEFAULT_DESKTOP_SHELL,
  missingShellPrograms,
} from "../host/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { SessionPool } from "../pool/mod.ts";
import {
  createLoadSampler,
  GatewayClient,
  GatewayEndpoints,
  readInstanceMetadata,
  SessionEndReporter,
} from "../registration/mod.ts";
import { stopServer } from "../util/serve.ts";
import { VERSION } from "../version.ts";
import {
  bindAddress,
  createSessionPool,
  localAddress,
  requireSecretBeyondLoopback,
  type RoleHandle,
  staticRoot,
  warnOfEphemeralPorts,
} from "./common.ts";

/** Options for {@linkcode startBackend}. */
export interface BackendOptions {
  /** `-tags` from the command line (added to `gateway.backend.tags`). */
  tags?: string[];
  /** Logger. */
  logger: Logger;
}

/** Starts the session host; resolves once it serves HTTP and the pool runs. */
export async function startBackend(
  config: Config,
  options: BackendOptions,
): Promise<RoleHandle & { pool: SessionPool }> {
  const { logger } = options;
  const backend = config.gateway.backend;
  const settings = config.webstreamSettings;
  const advertised = new URL(backend.advertisedUrl);
  const port = Number(
    advertised.port || (advertised.protocol === "https:" ? 443 : 80),
  );
  const bind = bindAddress(settings.listenAddress, advertised.hostname);
  const local = `${localAddress(bind)}:${port}`;
  requireSecretBeyondLoopback(bind, backend.sharedSecret);

  // One gateway or several (failing over between them).
  const gateways = backend.gatewayUrl
    ? new GatewayEndpoints(backend.gatewayUrl)
    : undefined;
  const gatewayHttp = gateways && backend.caCertificate
    ? Deno.createHttpClient({
      caCerts: [await Deno.readTextFile(backend.caCertificate)],
    })
    : undefined;
  const sessionEnds = gateways
    ? new SessionEndReporter({
      gateway: gateways,
      sharedSecret: backend.sharedSecret,
      client: gatewayHttp,
      serverUrl: backend.advertisedUrl,
      requestTimeoutMs: backend.requestTimeout * 1000,
      logger: logger.child("gateway"),
    })
    : undefined;
  await warnOfEphemeralPorts(config, logger);
  const { platform, pool } = createSessionPool(config, {
    onSessionEnd: sessionEnds &&
      ((end) =>
        sessionEnds.report({
          sessionUuid: end.sessionUuid,
          reason: end.reason,
        })),
    controlUrl: `ws://${local}/control`,
    bindAddress: bind,
    logger,
    licence: gateways
      ? {
        // Streamers fail over between the same gateways, in the same order.
        gatewayUrl: gateways.urls,
        serverUrl: backend.advertisedUrl,
        caCertificate: backend.caCertificate,
      }
      : undefined,
    licenceSecret: backend.sharedSecret,
  });
  const app = createHostApp({
    pool,
    logger: logger.child("http"),
    staticRoot: staticRoot(settings.serverHttpPath),
    advertisedHost: advertised.hostname,
    sharedSecret: backend.sharedSecret,
    control: {
      verifyPeer: (account, peer) =>
        platform.verifyStreamerPeer(account, peer, { serverPort: port }),
    },
  });
  const server = Deno.serve({
    hostname: bind,
    port,
    onListen: () =>
      logger.info("session host listening", { address: bind, port }),
  }, app.fetch);

  try {
    await pool.start();
  } catch (error) {
    await stopServer(server);
    throw error;
  }
  await warnWithoutDesktopShell(logger);

  let gateway: GatewayClient | undefined;
  if (gateways) {
    const identity = await readInstanceMetadata({
      mode: backend.instanceMetadata,
      baseUrl: backend.instanceMetadataUrl,
    });
    const tags = [...new Set([...backend.tags, ...(options.tags ?? [])])];
    gateway = new GatewayClient({
      gateway: gateways,
      registration: {
        serverUrl: backend.advertisedUrl,
        maxSessions: backend.maxSessions ?? settings.serverMaxSessionCount,
        instanceType: identity.instanceType ?? backend.instanceType ??
          "unknown",
        ec2InstanceId: identity.ec2InstanceId ?? backend.ec2InstanceId ??
          "unknown",
        tags,
        capabilities: [
          ...new Set([...platform.capabilities, ...backend.capabilities]),
        ],
        version: VERSION,
      },
      selfCheckUrl: `http://${local}/health`,
      sharedSecret: backend.sharedSecret,
      heartbeatIntervalMs: backend.heartbeatInterval * 1000,
      retryIntervalMs: backend.registrationRetryInterval * 1000,
      maxAttempts: backend.registrationMaxAttempts,
      requestTimeoutMs: backend.requestTimeout * 1000,
      unregisterTimeoutMs: backend.unregisterTimeout * 1000,
      state: () => ({
        status: pool.status(),
        activeSessions: pool.stats().active,
      }),
      load: createLoadSampler(),
      logger: logger.child("gateway"),
      client: gatewayHttp,
    });
    gateway.start();
  } else {
    logger.info("no gateway.backend.gatewayUrl configured; not registering");
  }

  return {
    port: server.addr.port,
    pool,
    async stop() {
      await gateway?.stop();
      await pool.shutdown();
      await sessionEnds?.stop();
      await stopServer(server);
    },
  };
}

/**
 * Says, once at start, when the default desktop shell cannot start here
 * (Linux): its desktops would show a bare screen until the named packages
 * are installed.
 */
async function warnWithoutDesktopShell(logger: Logger): Promise<void> {
  if (Deno.build.os !== "linux") return;
  const missing = await missingShellPrograms(DEFAULT_DESKTOP_SHELL);
  if (!missing.length) return;
  logger.warn("the default desktop shell cannot start: desktops will be bare", {
    shell: DEFAULT_DESKTOP_SHELL,
    missing: missing.map((m) =>
      `${m.program} (Debian package ${m.debianPackage})`
    )
      .join(", "),
  });
}
