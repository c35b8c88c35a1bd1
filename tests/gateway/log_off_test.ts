/**
 * Tests for `mod/gateway/log_off.ts` against a real host app and pool on
 * loopback: a session ends on its host and at the gateway; one its host no
 * longer has is forgotten at the gateway too; one whose host cannot be
 * reached is kept, with the reason.
 */
import { logOffSession } from "../../mod/gateway/log_off.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  gatewayConfig,
  gatewayParts,
  quietLogger,
  SECRET,
  sessionRecord,
} from "../support/gateway_parts.ts";
import { startPoolHost } from "../support/pool_host.ts";
import { freePort } from "../support/ports.ts";

Deno.test("log off: ended on the host, forgotten, or kept when the host is away", async () => {
  const host = await startPoolHost({ sharedSecret: SECRET });
  const parts = gatewayParts(gatewayConfig());
  const options = {
    sessions: parts.sessions,
    sharedSecret: SECRET,
    by: "alice",
    logger: quietLogger,
  };
  try {
    const launched = await host.launch("gw-1");
    const live = sessionRecord({
      sessionId: "gw-1",
      sessionUuid: launched.sessionUuid,
      serverUrl: host.url,
    });
    const lost = sessionRecord({ sessionId: "gw-2", serverUrl: host.url });
    const away = sessionRecord({
      sessionId: "gw-3",
      serverUrl: `http://127.0.0.1:${freePort()}`,
    });
    for (const s of [live, lost, away]) parts.sessions.put(s);

    assertEquals(await logOffSession(live, options), { kind: "ended" });
    assertEquals(host.pool.liveSessions(), []);
    assertEquals(parts.sessions.get("gw-1"), undefined);

    assertEquals(await logOffSession(lost, options), { kind: "ended" });
    assertEquals(parts.sessions.get("gw-2"), undefined);

    const failed = await logOffSession(away, options);
    assertEquals(failed.kind, "failed");
    if (failed.kind === "failed") assertMatch(failed.detail, /did not answer/);
    assert(parts.sessions.get("gw-3"));
  } finally {
    parts.close();
    await host.stop();
  }
});
