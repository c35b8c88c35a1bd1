/**
 * The gateway's pruning on real parts (an in-memory store, a clock the test
 * moves): a host unregistered long enough is forgotten with its sessions,
 * one still registered is kept, expired revocations go; started, it prunes
 * on its interval until stopped.
 *
 * @module
 */
import { Revocations } from "../../mod/gateway/auth/mod.ts";
import {
  prune,
  startPruning,
  UNREGISTERED_AFTER_MS,
} from "../../mod/gateway/pruning.ts";
import { assert, assertEquals } from "../support/assert.ts";
import {
  addHost,
  gatewayConfig,
  gatewayParts,
  quietLogger,
  sessionRecord,
} from "../support/gateway_parts.ts";
import { waitFor } from "../support/wait.ts";

const GONE = "http://127.0.0.1:9101";
const KEPT = "http://127.0.0.1:9102";

Deno.test("a host unregistered long enough goes with its sessions; expired revocations go", async () => {
  const parts = gatewayParts(gatewayConfig());
  const { registry, sessions, clock } = parts;
  const revocations = new Revocations({
    store: parts.store,
    now: () => clock.now,
  });
  try {
    addHost(registry, GONE);
    addHost(registry, KEPT);
    const onGone = sessionRecord({ serverUrl: GONE, sessionId: "s-gone" });
    const onKept = sessionRecord({ serverUrl: KEPT, sessionId: "s-kept" });
    sessions.put(onGone);
    sessions.put(onKept);
    const signIn = { id: "signin-1", user: "alice", issuedAt: clock.now };
    revocations.revoke({
      kind: "signin",
      id: signIn.id,
      expiresAt: clock.now + UNREGISTERED_AFTER_MS,
    });
    registry.unregister(GONE);
    addHost(registry, KEPT); // heard of again: not silent

    // Not yet long enough.
    clock.now += UNREGISTERED_AFTER_MS - 1000;
    addHost(registry, KEPT);
    // Both sessions still checked in: only a forgotten host removes one.
    sessions.put({ ...onGone, lastCheckinAt: clock.now });
    sessions.put({ ...onKept, lastCheckinAt: clock.now });
    prune({ registry, sessions, revocations });
    assert(registry.list().some((h) => h.serverUrl === GONE));
    assertEquals(sessions.get("s-gone")?.serverUrl, GONE);
    assertEquals(await revocations.isRevoked(signIn), true, "not expired");

    clock.now += 2000;
    addHost(registry, KEPT);
    sessions.put({ ...onGone, lastCheckinAt: clock.now });
    sessions.put({ ...onKept, lastCheckinAt: clock.now });
    prune({ registry, sessions, revocations });
    assertEquals(registry.list().map((h) => h.serverUrl), [KEPT]);
    assertEquals(sessions.get("s-gone"), undefined);
    assertEquals(sessions.get("s-kept")?.serverUrl, KEPT);
    assertEquals(await revocations.isRevoked(signIn), false, "expired");
  } finally {
    parts.close();
  }
});

Deno.test("started, it prunes on its interval until stopped", async () => {
  const parts = gatewayParts(gatewayConfig());
  const { registry, sessions, clock } = parts;
  const revocations = new Revocations({ now: () => clock.now });
  const stop = startPruning({ registry, sessions, revocations }, {
    intervalMs: 10,
    logger: quietLogger,
  });
  try {
    addHost(registry, GONE);
    registry.unregister(GONE);
    clock.now += UNREGISTERED_AFTER_MS + 1;
    await waitFor(() => registry.list().length === 0, {
      what: "the unregistered host forgotten",
    });
    stop();
    addHost(registry, KEPT);
    registry.unregister(KEPT);
    clock.now += UNREGISTERED_AFTER_MS + 1;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assertEquals(registry.list().map((h) => h.serverUrl), [KEPT]);
  } finally {
    stop();
    parts.close();
  }
});
