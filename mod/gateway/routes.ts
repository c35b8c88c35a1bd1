/**
 * Every route of a gateway on one Hono app: `/health`, the host contract
 * (`/gateway/*`), `/resolveSession`, the admin and user APIs, the web
 * client's files, and the answers to what matches none or fails (a store
 * that cannot be reached is a 503 naming it). The parts it serves are made
 * and started elsewhere (`mod.ts`); this only routes to them.
 *
 * @module
 */
import { Hono } from "hono";
import { serveStatic } from "hono/deno";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { adminApi } from "./api/admin_api.ts";
import { hostApi } from "./api/host_api.ts";
import { jsonOnly } from "./api/json.ts";
import { resolverApi } from "./api/resolver.ts";
import { userApi } from "./api/user_api.ts";
import type { Authenticator } from "./auth/mod.ts";
import type { Launcher } from "./launch.ts";
import type { GatewayMetrics } from "./metrics.ts";
import type { HostRegistry } from "./registry.ts";
import type { SessionMap } from "./sessions.ts";
import { StoreUnavailableError } from "./store_guard.ts";

/** What the routes serve. */
export interface GatewayAppParts {
  /** The validated configuration. */
  config: Config;
  /** Hosts. */
  registry: HostRegistry;
  /** Sessions. */
  sessions: SessionMap;
  /** Launches. */
  launcher: Launcher;
  /** Metrics. */
  metrics: GatewayMetrics;
  /** Sign-in. */
  auth: Authenticator;
  /** Probes a newly registered host at once. */
  probe(serverUrl: string): void;
  /** Reconciles with a (re)registered host's own list of sessions. */
  reconcile(serverUrl: string): void;
}

/** Options for {@linkcode gatewayApp}. */
export interface GatewayAppOptions {
  /** Folder of the web client. */
  staticRoot: string;
  /** Logger. */
  logger: Logger;
  /** Clock of `/health` (ms). */
  now: () => number;
}

/** The gateway's routes over `parts`. */
export function gatewayApp(
  parts: GatewayAppParts,
  options: GatewayAppOptions,
): Hono {
  const { config, registry, sessions, launcher, metrics, auth } = parts;
  const { logger, now } = options;
  const sharedSecret = config.gateway.backend.sharedSecret;
  const startedAt = now();
  const app = new Hono();
  app.get("/health", (c) => {
    const hosts = registry.list();
    return c.json({
      status: "healthy",
      timestamp: new Date(now()).toISOString(),
      hosts: {
        total: hosts.length,
        healthy: hosts.filter((h) => h.state === "Healthy").length,
      },
      sessions: sessions.liveCount(),
      uptime: Math.round((now() - startedAt) / 1000),
    });
  });
  for (const path of ["/api/*", "/gateway/*", "/admin/api/*"]) {
    app.use(path, jsonOnly());
  }
  app.route(
    "/gateway",
    hostApi({
      config,
      registry,
      sessions,
      metrics,
      probe: (url) => parts.probe(url),
      reconcile: (url) => parts.reconcile(url),
      logger: logger.child("hosts"),
    }),
  );
  app.route("/", resolverApi(sessions, registry));
  app.route(
    "/",
    adminApi({
      auth,
      adminToken: config.gateway.adminToken,
      registry,
      sessions,
      launcher,
      metrics,
      sharedSecret,
      logger: logger.child("admin"),
    }),
  );
  app.route(
    "/",
    userApi({
      auth,
      launcher,
      sessions,
      metrics,
      sharedSecret,
      logger: logger.child("user"),
    }),
  );
  const root = options.staticRoot;
  // `path` is joined to `root` (default "./"): an absolute path given
  // alone would resolve against the working directory.
  app.get("/", serveStatic({ root, path: "portal.html" }));
  app.get("/admin", serveStatic({ root, path: "admin.html" }));
  app.get("/*", serveStatic({ root }));
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((error, c) => {
    if (error instanceof StoreUnavailableError) {
      c.header("Retry-After", "10");
      return c.json({ error: error.message }, 503);
    }
    logger.error("request failed", { path: c.req.path, error });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
