/**
 * Tests for `mod/gateway/host_sessions.ts` against a real host app and pool
 * on loopback: the host's list of bound sessions, logging one off (ended,
 * unknown, refused without the secret, a host that does not answer), and an
 * answer out of contract refused.
 */
import {
  listHostSessions,
  logOffHostSession,
} from "../../mod/gateway/host_sessions.ts";
import { assertEquals, assertMatch, assertRejects } from "../support/assert.ts";
import { startPoolHost } from "../support/pool_host.ts";
import { freePort } from "../support/ports.ts";

const SECRET = "farm-secret-1";

Deno.test("the host's sessions, and logging one off", async () => {
  const host = await startPoolHost({ sharedSecret: SECRET });
  try {
    const options = { sharedSecret: SECRET };
    assertEquals(await listHostSessions(host.url, options), []);
    const a = await host.launch("gw-a");
    const listed = await listHostSessions(host.url, options);
    assertEquals(listed.map((s) => [s.sessionUuid, s.sessionId]), [
      [a.sessionUuid, "gw-a"],
    ]);
    await assertRejects(() => listHostSessions(host.url), Error, /401/);

    const refused = await logOffHostSession(host.url, a.sessionUuid, {
      reason: "test",
    });
    assertEquals(refused.kind, "failed");
    const ended = await logOffHostSession(host.url, a.sessionUuid, {
      ...options,
      reason: "logged off by alice",
    });
    assertEquals(ended, { kind: "ended" });
    assertEquals(await listHostSessions(host.url, options), []);
    const again = await logOffHostSession(host.url, a.sessionUuid, {
      ...options,
      reason: "again",
    });
    assertEquals(again.kind, "unknown");
  } finally {
    await host.stop();
  }
});

Deno.test("a host that does not answer, or answers out of contract", async () => {
  const dead = `http://127.0.0.1:${freePort()}`;
  const outcome = await logOffHostSession(dead, crypto.randomUUID(), {
    reason: "test",
  });
  assertEquals(outcome.kind, "failed");
  if (outcome.kind === "failed") assertMatch(outcome.detail, /did not answer/);
  await assertRejects(() => listHostSessions(dead, { timeoutMs: 2000 }));

  const odd = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json({ sessions: [{ sessionUuid: "not-a-uuid" }] }),
  );
  try {
    await assertRejects(
      () => listHostSessions(`http://127.0.0.1:${odd.addr.port}`),
      Error,
      /out of contract/,
    );
  } finally {
    await odd.shutdown();
  }
});
