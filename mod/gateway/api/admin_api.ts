/**
 * The admin API: hosts with their load and state, drain and undrain, the
 * session map (and logging any session off), placement explanations, and
 * signing a user out everywhere. Callers are signed-in admins, or
 * carry `Authorization: Bearer <gateway.adminToken>` (for scripts and
 * Prometheus, which also reads `/metrics` this way).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { z } from "zod";
import type { Logger } from "../../log/mod.ts";
import { timingSafeEqual } from "../../util/encoding.ts";
import type { Authenticator } from "../auth/mod.ts";
import type { Launcher } from "../launch.ts";
import type { GatewayMetrics } from "../metrics.ts";
import { hostLoad } from "../placement.ts";
import type { HostRegistry } from "../registry.ts";
import { logOffSession } from "../log_off.ts";
import type { SessionMap } from "../sessions.ts";
import { readJson } from "./json.ts";

/** Options for {@linkcode adminApi}. */
export interface AdminApiOptions {
  /** Sign-in (admins). */
  auth: Authenticator;
  /** `gateway.adminToken`. */
  adminToken?: string;
  /** Hosts. */
  registry: HostRegistry;
  /** Sessions. */
  sessions: SessionMap;
  /** Decisions. */
  launcher: Launcher;
  /** Metrics. */
  metrics: GatewayMetrics;
  /** The farm's shared secret (to log sessions off on their hosts). */
  sharedSecret?: string;
  /** Logger. */
  logger: Logger;
}

const drainSchema = z.object({
  serverUrl: z.string().min(1),
  draining: z.boolean(),
});

const signOutUserSchema = z.object({ user: z.string().min(1).max(64) });

/** Routes under `/admin/api/` and `/metrics`. */
export function adminApi(options: AdminApiOptions): Hono {
  const { auth, registry, sessions, launcher, metrics } = options;
  const app = new Hono();

  const isAdmin = async (c: Context): Promise<boolean> => {
    const header = c.req.header("authorization")?.match(/^Bearer\s+(.+)$/i);
    if (header && options.adminToken) {
      return timingSafeEqual(header[1], options.adminToken);
    }
    return (await auth.identify(c))?.admin === true;
  };

  for (const path of ["/admin/api/*", "/metrics"]) {
    app.use(path, async (c, next) => {
      if (!(await isAdmin(c))) {
        return c.json(
          { error: "an administrator's credentials are required" },
          401,
        );
      }
      await next();
    });
  }

  app.get("/admin/api/hosts", (c) =>
    c.json(
      registry.list().map((host) => {
        const load = hostLoad(host);
        return {
          serverUrl: host.serverUrl,
          state: host.state,
          stateReason: host.stateReason,
          draining: host.draining,
          tags: host.registration.tags,
          capabilities: host.registration.capabilities,
          version: host.registration.version,
          instanceType: host.registration.instanceType,
          activeSessions: host.heartbeat?.activeSessions ?? 0,
          maxSessions: load.max,
          cpuUsage: host.heartbeat?.cpuUsage,
          memoryUsage: host.heartbeat?.memoryUsage,
          logonsInFlight: host.logonsInFlight,
          lastHeartbeat: host.heartbeat
            ? new Date(host.heartbeat.receivedAt).toISOString()
            : null,
          lastProbe: host.lastProbe ?? null,
          probeFailures: host.probeFailures,
          registeredAt: new Date(host.registeredAt).toISOString(),
        };
      }),
    ));

  app.post("/admin/api/hosts/drain", async (c) => {
    const body = await readJson(c, drainSchema);
    if (!body.ok) return body.response;
    const host = registry.setDraining(
      body.value.serverUrl,
      body.value.draining,
    );
    if (!host) return c.json({ error: "unknown host" }, 404);
    return c.json({ serverUrl: host.serverUrl, state: host.state });
  });

  // Every sign-in of the user issued before now stops working, everywhere.
  app.post("/admin/api/users/signout", async (c) => {
    const body = await readJson(c, signOutUserSchema);
    if (!body.ok) return body.response;
    const before = auth.signOutEverywhere(body.value.user);
    if (before === undefined) {
      return c.json(
        { error: `no user "${body.value.user}" in gateway.auth.users` },
        404,
      );
    }
    return c.json({
      user: body.value.user,
      signedOutBefore: new Date(before).toISOString(),
    });
  });

  app.get("/admin/api/sessions", (c) =>
    c.json(
      sessions.all().map((s) => ({
        sessionId: s.sessionId,
        sessionUuid: s.sessionUuid,
        user: s.user,
        kind: s.kind,
        workspaceIds: s.workspaceIds,
        serverUrl: s.serverUrl,
        credentials: s.credentials,
        live: sessions.isLive(s),
        createdAt: new Date(s.createdAt).toISOString(),
        lastLaunchAt: new Date(s.lastLaunchAt).toISOString(),
        lastCheckinAt: s.lastCheckinAt
          ? new Date(s.lastCheckinAt).toISOString()
          : null,
      })),
    ));

  app.post("/admin/api/sessions/:sessionId/logoff", async (c) => {
    const session = await sessions.find(c.req.param("sessionId"));
    if (!session) return c.json({ error: "no such session" }, 404);
    const result = await logOffSession(session, {
      sessions,
      sharedSecret: options.sharedSecret,
      by: "an administrator",
      logger: options.logger,
    });
    if (result.kind === "failed") {
      return c.json(
        { error: `the session's host could not end it: ${result.detail}` },
        502,
      );
    }
    return c.json({ ok: true });
  });

  app.get(
    "/admin/api/placements",
    (c) =>
      c.json(
        launcher.decisions().map((d) => ({
          id: d.id,
          at: d.at,
          user: d.user,
          workspaceId: d.workspaceId,
          outcome: d.outcome,
          sessionId: d.sessionId,
          serverUrl: d.serverUrl,
          summary: d.summary,
        })),
      ),
  );

  app.get("/admin/api/placements/:id", (c) => {
    const decision = launcher.decision(c.req.param("id"));
    return decision
      ? c.json(decision)
      : c.json({ error: "no such decision" }, 404);
  });

  app.get("/metrics", async (c) => {
    const { body, contentType } = await metrics.render();
    return c.body(body, 200, { "Content-Type": contentType });
  });

  return app;
}
