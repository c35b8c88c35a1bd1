/**
 * Tests for `mod/gateway/probe_sharing.ts`, a gateway's rounds with a real
 * store: on SQLite a gateway probes every registered host (none
 * unregistered); on a real PostgreSQL two gateways' hosts to probe are
 * disjoint and cover every host, a probe recorded by one reaches the
 * other's registry, a database that stops answering makes each probe every
 * host once its leases lapse (said once in the log) and divided again when
 * it is back, and a gateway that stops hands its hosts over at once.
 *
 * @module
 */
import type { HealthCheckSettings } from "../../mod/config/mod.ts";
import type { SharedProbe } from "../../mod/gateway/probe_leases.ts";
import {
  ProbeSharing,
  REFRESH_INTERVALS,
  resultsToShare,
} from "../../mod/gateway/probe_sharing.ts";
import { HostRegistry } from "../../mod/gateway/registry.ts";
import { asyncStore, openSqliteStore } from "../../mod/gateway/store.ts";
import { openPostgresStore } from "../../mod/gateway/store_postgres.ts";
import { assertEquals } from "../support/assert.ts";
import { registerPayload } from "../support/gateway_parts.ts";
import { captureLogs } from "../support/log.ts";
import { hasPostgres, startPostgres } from "../support/postgres.ts";
import { waitFor } from "../support/wait.ts";

/** Rounds every 0.2 s (the schema's least is 1 s; shorter keeps it quick). */
const HEALTH: HealthCheckSettings = {
  interval: 0.2,
  timeout: 1,
  failureThreshold: 2,
  heartbeatInterval: 60,
  missedHeartbeats: 3,
};

const HOSTS = Array.from({ length: 8 }, (_, i) => `http://h${i}.test:9005`);

/** A registry (on its own in-memory SQLite) knowing `hosts`. */
function registryOf(hosts: string[]) {
  const { logger, records } = captureLogs("debug");
  const own = openSqliteStore(":memory:");
  const registry = new HostRegistry({ store: own, health: HEALTH, logger });
  for (const url of hosts) registry.register(registerPayload(url));
  return { registry, logger, records, close: () => own.close() };
}

const sorted = (urls: string[]) => [...urls].sort();

Deno.test("on SQLite a gateway probes every registered host", async () => {
  const store = asyncStore(openSqliteStore(":memory:"));
  const { registry, logger, close } = registryOf(HOSTS);
  registry.unregister(HOSTS[0]);
  const sharing = new ProbeSharing({
    store,
    registry,
    gatewayId: "only",
    health: HEALTH,
    logger,
  });
  try {
    await sharing.start();
    assertEquals(sorted(await sharing.targets()), HOSTS.slice(1));
  } finally {
    await sharing.stop();
    await store.close();
    close();
  }
});

Deno.test({
  name: "on PostgreSQL two gateways divide the hosts and share probes",
  ignore: !hasPostgres(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await startPostgres();
    const store = await openPostgresStore(await cluster.createDatabase(), {
      connectTimeout: 2,
    });
    const a = registryOf(HOSTS);
    const b = registryOf(HOSTS);
    const sharing = (gatewayId: string, side: typeof a) =>
      new ProbeSharing({
        store,
        registry: side.registry,
        gatewayId,
        health: HEALTH,
        logger: side.logger,
      });
    const onA = sharing("gateway-a", a);
    const onB = sharing("gateway-b", b);
    /** One round each; both gateways' targets. */
    const round = async () => [await onA.targets(), await onB.targets()];
    try {
      await onA.start();
      await onB.start();

      await t.step("their hosts are disjoint and cover all", async () => {
        await waitFor(async () => {
          const [first, second] = await round();
          return first.length && second.length &&
            first.length + second.length === HOSTS.length &&
            sorted([...first, ...second]).join() === HOSTS.join();
        }, { what: "the hosts divided" });
      });

      await t.step("a probe recorded by one reaches the other", async () => {
        const [mine] = await round();
        const url = mine[0];
        const lastProbe = {
          at: Date.now(),
          ok: false,
          latencyMs: 4,
          error: "answered 503",
        };
        a.registry.recordProbe(url, lastProbe);
        a.registry.recordProbe(url, { ...lastProbe, at: lastProbe.at + 1 });
        await waitFor(async () => {
          await round();
          return b.registry.get(url)?.probeFailures === 2;
        }, { what: "B to have A's probes" });
        assertEquals(b.registry.get(url)?.lastProbe, {
          ...lastProbe,
          at: lastProbe.at + 1,
        });
        assertEquals(b.registry.get(url)?.state, "Unreachable");
      });

      await t.step(
        "with the database down each probes all once its leases lapse, divided again when back",
        async () => {
          await cluster.halt();
          await waitFor(async () => {
            const [first, second] = await round();
            return first.length === HOSTS.length &&
              second.length === HOSTS.length;
          }, { what: "each to probe every host" });
          const said = (records: Record<string, unknown>[], text: string) =>
            records.filter((r) => String(r.msg).startsWith(text)).length;
          await round();
          assertEquals(said(a.records, "probe leases cannot be shared"), 1);
          await cluster.resume();
          await waitFor(async () => {
            const [first, second] = await round();
            return first.length + second.length === HOSTS.length;
          }, { what: "the hosts divided again" });
          assertEquals(said(a.records, "probe leases work again"), 1);
        },
      );

      await t.step("a gateway that stops hands its hosts over", async () => {
        await onB.stop();
        assertEquals(sorted(await onA.targets()), HOSTS);
      });
    } finally {
      await onA.stop();
      await onB.stop();
      await store.close();
      a.close();
      b.close();
      await cluster.stop();
    }
  },
});

Deno.test("a round shares a host's result when new, changed or due", () => {
  const intervalMs = 1000;
  const due = REFRESH_INTERVALS * intervalMs;
  const result = (
    serverUrl: string,
    at: number,
    ok = true,
    failures = 0,
  ): SharedProbe => ({
    serverUrl,
    failures,
    lastProbe: { at, ok, latencyMs: at % 7, error: ok ? undefined : "down" },
  });
  const shared = new Map(
    ["a", "b", "c", "d"].map((url) => [url, result(url, 1000)]),
  );
  const urls = (results: SharedProbe[]) => results.map((r) => r.serverUrl);
  // Unchanged a probe later (a new latency alone): nothing; new or
  // changed: shared; not newer than the one shared: never.
  assertEquals(
    urls(resultsToShare(
      [
        result("a", 2000),
        result("b", 2000, false, 1),
        result("c", 1000, false, 1),
        result("e", 2000),
      ],
      shared,
      { intervalMs },
    )),
    ["b", "e"],
  );
  // Unchanged for two refresh periods: every host is due by then; none
  // before one.
  assertEquals(
    urls(resultsToShare(
      ["a", "b", "c", "d"].map((url) => result(url, 1000 + due - 1)),
      shared,
      { intervalMs },
    )),
    [],
  );
  assertEquals(
    urls(resultsToShare(
      ["a", "b", "c", "d"].map((url) => result(url, 1000 + 2 * due)),
      shared,
      { intervalMs },
    )),
    ["a", "b", "c", "d"],
  );
});
