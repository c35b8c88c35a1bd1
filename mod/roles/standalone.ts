/**
 * `webstream -sm`: the standalone session manager (no gateway). `/control`
 * and the browser relay (`/session/{sessionUuid}`) on `basePortNumber`; the
 * web client, `/health` and `/getConnection` on `basePortNumber + 1`.
 *
 * @module
 */
import { Hono } from "hono";
import type { Config } from "../config/mod.ts";
import { controlHandler, createHostApp } from "../host/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { SessionPool } from "../pool/mod.ts";
import { relayWebSocket } from "../relay/mod.ts";
import { stopServer } from "../util/serve.ts";
import {
  bindAddress,
  createSessionPool,
  localAddress,
  requireSecretBeyondLoopback,
  type RoleHandle,
  staticRoot,
  warnOfEphemeralPorts,
} from "./common.ts";

/** Options for {@linkcode startStandalone}. */
export interface StandaloneOptions {
  /** Logger. */
  logger: Logger;
}

/** Starts the standalone session manager. */
export async function startStandalone(
  config: Config,
  options: StandaloneOptions,
): Promise<RoleHandle & { pool: SessionPool }> {
  const { logger } = options;
  const settings = config.webstreamSettings;
  const bind = bindAddress(settings.listenAddress, "127.0.0.1");
  const sharedSecret = config.gateway.backend.sharedSecret;
  requireSecretBeyondLoopback(bind, sharedSecret);
  const controlPort = settings.basePortNumber;
  const httpPort = settings.basePortNumber + 1;

  await warnOfEphemeralPorts(config, logger);
  const { platform, pool } = createSessionPool(config, {
    controlUrl: `ws://${localAddress(bind)}:${controlPort}/control`,
    bindAddress: "127.0.0.1",
    logger,
  });

  const relayApp = new Hono();
  relayApp.get(
    "/control",
    controlHandler({
      directory: pool,
      logger: logger.child("control"),
      verifyPeer: (account, peer) =>
        platform.verifyStreamerPeer(account, peer, { serverPort: controlPort }),
    }),
  );
  relayApp.get("/session/:uuid", (c) => {
    const slot = pool.findSession(c.req.param("uuid"));
    if (!slot) return c.json({ error: "no such session" }, 404);
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: "expected a WebSocket upgrade" }, 426);
    }
    const token = new URL(c.req.url).searchParams.get("token") ?? "";
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    relayWebSocket(
      socket,
      `ws://127.0.0.1:${slot.port}/stream?token=${encodeURIComponent(token)}`,
      { logger: logger.child("relay") },
    );
    return response;
  });
  relayApp.notFound((c) => c.json({ error: "not found" }, 404));

  const httpApp = createHostApp({
    pool,
    logger: logger.child("http"),
    staticRoot: staticRoot(settings.serverHttpPath),
    advertisedHost: bind === "0.0.0.0" ? "127.0.0.1" : bind,
    relayPort: controlPort,
    sharedSecret,
  });

  const relayServer = Deno.serve({
    hostname: bind,
    port: controlPort,
    onListen: () =>
      logger.info("control and relay listening", { port: controlPort }),
  }, relayApp.fetch);
  let httpServer: Deno.HttpServer<Deno.NetAddr>;
  try {
    httpServer = Deno.serve({
      hostname: bind,
      port: httpPort,
      onListen: () => logger.info("web client listening", { port: httpPort }),
    }, httpApp.fetch);
  } catch (error) {
    await stopServer(relayServer);
    throw error;
  }

  try {
    await pool.start();
  } catch (error) {
    await Promise.all([stopServer(relayServer), stopServer(httpServer)]);
    throw error;
  }
  return {
    port: httpServer.addr.port,
    pool,
    async stop() {
      await pool.shutdown();
      await Promise.all([stopServer(relayServer), stopServer(httpServer)]);
    },
  };
}
