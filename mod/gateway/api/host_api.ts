/**
 * The gateway's side of the session host contract: `POST /gateway/register`,
 * `/gateway/heartbeat` and `/gateway/unregister` with the seed's payloads,
 * authenticated with the farm's shared secret, beside them
 * `/gateway/sessionEnded` (a host says a session ended, see
 * `mod/contract/sessions.ts`) and a reconciliation with the host's own list
 * of sessions on every registration; and what streamers send:
 * licence check-ins every 15 s, metrics and activity events, accepted for
 * live sessions only.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { Config } from "../../config/mod.ts";
import {
  activitySchema,
  checkinSchema,
  heartbeatSchema,
  metricsReportSchema,
  registerSchema,
  sessionEndedSchema,
  unregisterSchema,
} from "../../contract/mod.ts";
import { hasSharedSecret } from "../../contract/shared_secret.ts";
import type { Logger } from "../../log/mod.ts";
import { verifyLicenceProof } from "../../contract/licence_proof.ts";
import type { GatewayMetrics } from "../metrics.ts";
import type { HostRegistry } from "../registry.ts";
import type { SessionMap } from "../sessions.ts";
import { readJson } from "./json.ts";

/** Options for {@linkcode hostApi}. */
export interface HostApiOptions {
  /** The validated configuration. */
  config: Config;
  /** Hosts. */
  registry: HostRegistry;
  /** Sessions. */
  sessions: SessionMap;
  /** Metrics. */
  metrics: GatewayMetrics;
  /** Probes a newly registered host at once. */
  probe: (serverUrl: string) => void;
  /** Reconciles with a (re)registered host's own list of sessions. */
  reconcile: (serverUrl: string) => void;
  /** Logger. */
  logger: Logger;
}

/** Routes under `/gateway/`. */
export function hostApi(options: HostApiOptions): Hono {
  const { registry, sessions, metrics, logger } = options;
  const secret = options.config.gateway.backend.sharedSecret;
  const licence = options.config.gateway.licence;
  const app = new Hono();

  // The host contract needs the shared secret; streamers prove themselves by
  // naming a live session of their host instead.
  for (
    const path of ["/register", "/heartbeat", "/unregister", "/sessionEnded"]
  ) {
    app.use(path, async (c, next) => {
      if (!hasSharedSecret(c.req.raw.headers, secret)) {
        return c.json({ error: "the farm's shared secret is required" }, 401);
      }
      await next();
    });
  }

  app.post("/register", async (c) => {
    const body = await readJson(c, registerSchema);
    if (!body.ok) return body.response;
    const host = registry.register(body.value);
    options.probe(host.serverUrl);
    options.reconcile(host.serverUrl);
    return c.json({ ok: true, state: host.state });
  });

  app.post("/sessionEnded", async (c) => {
    const body = await readJson(c, sessionEndedSchema);
    if (!body.ok) return body.response;
    const { serverUrl, sessionUuid, reason } = body.value;
    if (!sessions.endOnHost(serverUrl, { sessionUuid, reason })) {
      return c.json({ error: "unknown session" }, 404);
    }
    return c.json({ ok: true });
  });

  app.post("/heartbeat", async (c) => {
    const body = await readJson(c, heartbeatSchema);
    if (!body.ok) return body.response;
    const host = registry.heartbeat(body.value);
    if (!host) {
      return c.json({ error: "unknown host; register first" }, 404);
    }
    return c.json({ ok: true, state: host.state });
  });

  app.post("/unregister", async (c) => {
    const body = await readJson(c, unregisterSchema);
    if (!body.ok) return body.response;
    if (!registry.unregister(body.value.serverUrl)) {
      return c.json({ error: "unknown host" }, 404);
    }
    sessions.deleteHost(body.value.serverUrl, "its host unregistered");
    return c.json({ ok: true });
  });

  /** 403 unless the streamer's proof matches its session id. */
  const refuseProof = async (
    c: Context,
    claim: { sessionUuid: string; proof: string },
  ): Promise<Response | undefined> => {
    if (
      secret && await verifyLicenceProof(secret, claim.sessionUuid, claim.proof)
    ) {
      return undefined;
    }
    return c.json({ error: "invalid licence proof" }, 403);
  };

  app.post("/licence/checkin", async (c) => {
    const body = await readJson(c, checkinSchema);
    if (!body.ok) return body.response;
    const refused = await refuseProof(c, body.value);
    if (refused) return refused;
    const { sessionUuid, serverUrl } = body.value;
    // A session another gateway on the same store placed is taken up.
    await sessions.findByUuid(sessionUuid);
    const session = sessions.checkin(sessionUuid, serverUrl);
    if (!session) {
      // Not a session this gateway placed (or one it already ended).
      return c.json(
        { error: "unknown session", interval: licence.checkinInterval },
        404,
      );
    }
    return c.json({ ok: true, interval: licence.checkinInterval });
  });

  app.post("/metrics", async (c) => {
    const body = await readJson(c, metricsReportSchema);
    if (!body.ok) return body.response;
    const refused = await refuseProof(c, body.value);
    if (refused) return refused;
    const { sessionUuid, serverUrl, proof: _, ...report } = body.value;
    const session = sessions.getByUuid(sessionUuid);
    if (
      !session || session.serverUrl !== serverUrl || !sessions.isLive(session)
    ) {
      return c.json({ error: "unknown session" }, 404);
    }
    metrics.report(report);
    return c.json({ ok: true });
  });

  app.post("/activity", async (c) => {
    const body = await readJson(c, activitySchema);
    if (!body.ok) return body.response;
    const refused = await refuseProof(c, body.value);
    if (refused) return refused;
    const { sessionUuid, serverUrl, event, detail } = body.value;
    const session = sessions.getByUuid(sessionUuid);
    if (
      !session || session.serverUrl !== serverUrl || !sessions.isLive(session)
    ) {
      return c.json({ error: "unknown session" }, 404);
    }
    metrics.activity(event);
    logger.info("session activity", {
      event,
      detail,
      sessionId: session.sessionId,
      user: session.user,
      serverUrl,
    });
    return c.json({ ok: true });
  });

  return app;
}
