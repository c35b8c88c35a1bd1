/**
 * The session host's HTTP surface (hono on Deno.serve): `/health`,
 * `/getConnection`, `/control` (in `-backend`) and the static web client.
 *
 * @module
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { serveStatic } from "hono/deno";
import type { PeerVerifier } from "../control/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  PoolExhaustedError,
  PoolUnavailableError,
  type SessionPool,
} from "../pool/mod.ts";
import {
  type ConnectionAnswer,
  type HostSessions,
  logOffSchema,
} from "../contract/mod.ts";
import { parseJson } from "../util/json_depth.ts";
import { formatIssues } from "../util/zod_issues.ts";
import { hasSharedSecret } from "../contract/shared_secret.ts";
import { controlHandler } from "./control_route.ts";
import { desktopCommandFor } from "./desktop_shell.ts";
import { LaunchRequestError, parseLaunchRequest } from "./launch_request.ts";

export { controlHandler } from "./control_route.ts";
export * from "./desktop_shell.ts";
export * from "./launch_request.ts";

/** The largest JSON body the host reads. */
export const MAX_JSON_BODY = 64 * 1024;

/** The `/health` body, exactly as the seed names it. */
export interface HealthBody {
  /** `healthy`, `degraded`, `starting` or `draining`. */
  status: string;
  /** ISO 8601 time of the answer. */
  timestamp: string;
  /** Pool counts. */
  sessions: { total: number; active: number; available: number };
  /** Seconds since the host started. */
  uptime: number;
}

/** Options for {@linkcode createHostApp}. */
export interface HostAppOptions {
  /** The session pool. */
  pool: SessionPool;
  /** Logger. */
  logger: Logger;
  /** Folder of the web client (`serverHttpPath`). */
  staticRoot: string;
  /** Host name put in `/getConnection` answers (the advertised host). */
  advertisedHost: string;
  /** When set, `/getConnection` requires `Authorization: Bearer <secret>`. */
  sharedSecret?: string;
  /** When set, `/control` is served here (the `-backend` layout). */
  control?: { verifyPeer?: PeerVerifier };
  /** In `-sm`: the port of the browser relay, put in `/getConnection` answers. */
  relayPort?: number;
  /** Process start, for `uptime`. Default: now. */
  startedAt?: number;
}

/** Builds the host's hono app. */
export function createHostApp(options: HostAppOptions): Hono {
  const { pool, logger } = options;
  const startedAt = options.startedAt ?? Date.now();
  const app = new Hono();

  app.get("/health", (c) => {
    const status = pool.status();
    const { total, active, available } = pool.stats();
    const body: HealthBody = {
      status,
      timestamp: new Date().toISOString(),
      sessions: { total, active, available },
      uptime: Math.round((Date.now() - startedAt) / 1000),
    };
    const ok = status === "healthy" || status === "degraded";
    return c.json(body, ok ? 200 : 503);
  });

  app.get("/getConnection", async (c) => {
    c.header("Cache-Control", "no-store");
    if (!hasSharedSecret(c.req.raw.headers, options.sharedSecret)) {
      c.header("WWW-Authenticate", 'Bearer realm="webstream"');
      return c.json({ error: "the gateway's shared secret is required" }, 401);
    }
    let request;
    try {
      request = parseLaunchRequest(
        c.req.raw.headers,
        new URL(c.req.url).searchParams,
      );
    } catch (error) {
      if (!(error instanceof LaunchRequestError)) throw error;
      return c.json({ error: error.message, problems: error.problems }, 400);
    }
    // A desktop's shell starts in the session like an app (once per session).
    const shell = desktopCommandFor(request);
    if (shell) {
      request = { ...request, app: { ...request.app, command: shell } };
    }
    try {
      const a = await pool.allocate(request);
      const answer: ConnectionAnswer = {
        sessionId: a.sessionId,
        sessionUuid: a.sessionUuid,
        host: options.advertisedHost,
        port: a.port,
        path: "/stream",
        token: a.token,
        tokenExpiresAt: a.tokenExpiresAt.toISOString(),
        reconnect: a.reconnect,
      };
      // Beside the contract: the pool account and slot (logs, tests) and, in
      // -sm, the relay.
      return c.json({
        ...answer,
        username: a.username,
        slot: a.slot,
        ...(options.relayPort
          ? {
            relay: {
              port: options.relayPort,
              path: `/session/${a.sessionUuid}`,
            },
          }
          : {}),
      });
    } catch (error) {
      if (error instanceof PoolExhaustedError) {
        c.header("Retry-After", String(error.retryAfter));
        return c.json({ error: "all pool sessions are in use" }, 503);
      }
      if (error instanceof PoolUnavailableError) {
        c.header("Retry-After", "5");
        return c.json({ error: error.message }, 503);
      }
      logger.error("allocation failed", {
        sessionId: request.sessionId,
        error,
      });
      c.header("Retry-After", "5");
      return c.json(
        { error: "a session could not be started on this host" },
        503,
      );
    }
  });

  // The gateway's view of this host's sessions (see mod/contract/sessions.ts).
  const gatewayOnly: MiddlewareHandler = async (c, next) => {
    c.header("Cache-Control", "no-store");
    if (!hasSharedSecret(c.req.raw.headers, options.sharedSecret)) {
      c.header("WWW-Authenticate", 'Bearer realm="webstream"');
      return c.json({ error: "the gateway's shared secret is required" }, 401);
    }
    await next();
  };
  // JSON bodies are bounded in size and (before parsing) in depth.
  const jsonBodyLimit = bodyLimit({
    maxSize: MAX_JSON_BODY,
    onError: (c) =>
      c.json({ error: `the body is larger than ${MAX_JSON_BODY} bytes` }, 413),
  });
  app.use("/sessions", gatewayOnly);
  app.use("/sessions/*", gatewayOnly);

  app.get("/sessions", (c) => {
    const body: HostSessions = { sessions: pool.liveSessions() };
    return c.json(body);
  });

  app.post("/sessions/:sessionUuid/logoff", jsonBodyLimit, async (c) => {
    const parsed = parseJson(await c.req.text());
    if (!parsed.ok && parsed.reason === "too-deep") {
      return c.json({ error: parsed.error, problems: [parsed.error] }, 400);
    }
    const raw = parsed.ok ? parsed.value : undefined;
    const body = logOffSchema.safeParse(raw);
    if (!body.success) {
      const problems = formatIssues(body.error.issues, raw);
      return c.json({ error: problems.join("; "), problems }, 400);
    }
    const sessionUuid = c.req.param("sessionUuid");
    if (!await pool.logOff(sessionUuid, body.data.reason)) {
      return c.json({ error: `no session ${sessionUuid} on this host` }, 404);
    }
    logger.info("session logged off", {
      sessionUuid,
      reason: body.data.reason,
    });
    return c.json({ ok: true });
  });

  if (options.control) {
    app.get(
      "/control",
      controlHandler({
        directory: pool,
        logger,
        verifyPeer: options.control.verifyPeer,
      }),
    );
  }

  app.get("/*", serveStatic({ root: options.staticRoot }));
  app.notFound((c) => c.json({ error: "not found" }, 404));
  app.onError((error, c) => {
    logger.error("request failed", { path: c.req.path, error });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
