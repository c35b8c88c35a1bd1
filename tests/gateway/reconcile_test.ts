/**
 * Tests for `mod/gateway/reconcile.ts` against a real host app and pool on
 * loopback: what the host no longer has ends at the gateway, what it has is
 * kept, a session launched while the list was asked for is kept, other
 * hosts' sessions are untouched; a host that does not answer changes
 * nothing and says so.
 */
import { reconcileHost } from "../../mod/gateway/reconcile.ts";
import { assertEquals } from "../support/assert.ts";
import {
  gatewayConfig,
  gatewayParts,
  quietLogger,
  SECRET,
  sessionRecord,
} from "../support/gateway_parts.ts";
import { startPoolHost } from "../support/pool_host.ts";
import { freePort } from "../support/ports.ts";

Deno.test("reconciling ends what the host no longer has, keeps the rest", async () => {
  const host = await startPoolHost({ sharedSecret: SECRET });
  const parts = gatewayParts(gatewayConfig());
  try {
    const live = await host.launch("gw-live");
    const asked = parts.clock.now;
    const stillThere = sessionRecord({
      sessionId: "gw-live",
      sessionUuid: live.sessionUuid,
      serverUrl: host.url,
      lastLaunchAt: asked - 10_000,
    });
    const gone = sessionRecord({
      serverUrl: host.url,
      lastLaunchAt: asked - 10_000,
    });
    // Launched as the list was being asked for: not in it yet.
    const justLaunched = sessionRecord({
      serverUrl: host.url,
      lastLaunchAt: asked,
    });
    const elsewhere = sessionRecord({
      serverUrl: "http://10.9.9.9:9005",
      lastLaunchAt: asked - 10_000,
    });
    for (const s of [stillThere, gone, justLaunched, elsewhere]) {
      parts.sessions.put(s);
    }
    const outcome = await reconcileHost(host.url, {
      sessions: parts.sessions,
      sharedSecret: SECRET,
      logger: quietLogger,
      now: () => asked,
    });
    assertEquals(outcome, { kind: "reconciled", ended: 1, kept: 2 });
    assertEquals(
      parts.sessions.all().map((s) => s.sessionId).sort(),
      [stillThere.sessionId, justLaunched.sessionId, elsewhere.sessionId]
        .sort(),
    );
    assertEquals(
      parts.store.loadSessions().some((s) => s.sessionId === gone.sessionId),
      false,
      "the store forgot it too",
    );
  } finally {
    parts.close();
    await host.stop();
  }
});

Deno.test("a host that does not answer changes nothing", async () => {
  const parts = gatewayParts(gatewayConfig());
  try {
    const url = `http://127.0.0.1:${freePort()}`;
    const session = sessionRecord({ serverUrl: url, lastLaunchAt: 0 });
    parts.sessions.put(session);
    const outcome = await reconcileHost(url, {
      sessions: parts.sessions,
      sharedSecret: SECRET,
      logger: quietLogger,
      attempts: 2,
      retryMs: 10,
    });
    assertEquals(outcome.kind, "unreachable");
    assertEquals(parts.sessions.all().map((s) => s.sessionId), [
      session.sessionId,
    ]);
  } finally {
    parts.close();
  }
});
