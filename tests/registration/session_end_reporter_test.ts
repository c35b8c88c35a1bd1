/**
 * Tests for `mod/registration/session_end_reporter.ts` against the real
 * gateway host API on loopback: a report ends the session at the gateway
 * at once; reports made while the gateway is down are kept and delivered,
 * in order, when it comes up; a session the gateway does not know counts as
 * done; a refusal that no retry changes (a wrong secret) is logged and
 * dropped; stop() ends the retries.
 */
import { Hono } from "hono";
import { hostApi } from "../../mod/gateway/api/host_api.ts";
import {
  GatewayEndpoints,
  SessionEndReporter,
} from "../../mod/registration/mod.ts";
import { assert, assertEquals } from "../support/assert.ts";
import {
  gatewayConfig,
  gatewayParts,
  quietLogger,
  SECRET,
  sessionRecord,
} from "../support/gateway_parts.ts";
import { captureLogs } from "../support/log.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "../support/wait.ts";

const HOST = "http://10.0.0.5:9005";

/** The gateway's host API over fresh parts, on `port` (0: any). */
function gateway(port = 0) {
  const parts = gatewayParts(gatewayConfig());
  const app = new Hono();
  app.route(
    "/gateway",
    hostApi({
      config: parts.config,
      registry: parts.registry,
      sessions: parts.sessions,
      metrics: parts.metrics,
      probe: () => {},
      reconcile: () => {},
      logger: quietLogger,
    }),
  );
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    app.fetch,
  );
  return {
    parts,
    url: `http://127.0.0.1:${server.addr.port}`,
    async stop() {
      await server.shutdown();
      parts.close();
    },
  };
}

Deno.test("a report ends the session at the gateway; unknown ones count as done", async () => {
  const gw = gateway();
  const reporter = new SessionEndReporter({
    gateway: new GatewayEndpoints(gw.url),
    sharedSecret: SECRET,
    serverUrl: HOST,
    requestTimeoutMs: 2000,
    logger: quietLogger,
  });
  try {
    const session = sessionRecord({ serverUrl: HOST });
    gw.parts.sessions.put(session);
    reporter.report({ sessionUuid: session.sessionUuid, reason: "logged off" });
    reporter.report({ sessionUuid: crypto.randomUUID(), reason: "unknown" });
    await waitFor(() => reporter.pending === 0 || undefined);
    assertEquals(gw.parts.sessions.get(session.sessionId), undefined);
  } finally {
    await reporter.stop();
    await gw.stop();
  }
});

Deno.test("reports wait for a gateway that is down, then arrive in order", async () => {
  const port = freePort();
  const reporter = new SessionEndReporter({
    gateway: new GatewayEndpoints(`http://127.0.0.1:${port}`),
    sharedSecret: SECRET,
    serverUrl: HOST,
    requestTimeoutMs: 1000,
    logger: quietLogger,
    retryMs: 20,
    maxRetryMs: 100,
  });
  let gw: ReturnType<typeof gateway> | undefined;
  try {
    const sessions = [
      sessionRecord({ serverUrl: HOST }),
      sessionRecord({
        serverUrl: HOST,
        user: "bob",
      }),
    ];
    for (const s of sessions) {
      reporter.report({ sessionUuid: s.sessionUuid, reason: "display died" });
    }
    await new Promise((r) => setTimeout(r, 150));
    assertEquals(reporter.pending, 2, "kept while the gateway is down");
    gw = gateway(port);
    for (const s of sessions) gw.parts.sessions.put(s);
    await waitFor(() => reporter.pending === 0 || undefined);
    assertEquals(gw.parts.sessions.size, 0);
  } finally {
    await reporter.stop();
    await gw?.stop();
  }
});

Deno.test("a refusal no retry changes is logged and dropped", async () => {
  const gw = gateway();
  const { logger, records } = captureLogs();
  const reporter = new SessionEndReporter({
    gateway: new GatewayEndpoints(gw.url),
    sharedSecret: "the-wrong-secret",
    serverUrl: HOST,
    requestTimeoutMs: 2000,
    logger,
  });
  try {
    const session = sessionRecord({ serverUrl: HOST });
    gw.parts.sessions.put(session);
    reporter.report({ sessionUuid: session.sessionUuid, reason: "x" });
    await waitFor(() => reporter.pending === 0 || undefined);
    assert(
      records.some((r) =>
        r.msg === "gateway refused a session-end report" && r.status === 401
      ),
    );
    assert(gw.parts.sessions.get(session.sessionId), "not ended");
  } finally {
    await reporter.stop();
    await gw.stop();
  }
});
