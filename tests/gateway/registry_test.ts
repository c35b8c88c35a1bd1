/**
 * The host registry over a real SQLite store, with an injected clock:
 * register, heartbeat, unregister and drain; state derivation
 * (`failureThreshold` failed probes → Unreachable and one good probe → Healthy;
 * `missedHeartbeats` × `heartbeatInterval` of silence → Unreachable; drain →
 * Draining; unregister → Unregistered, after which heartbeats get undefined,
 * i.e. 404); a registration starts afresh (no old heartbeat); a registry
 * re-created on the same store file restores hosts Unreachable until a good
 * probe or a heartbeat, then with a fresh heartbeat window and their drain
 * flags; a heartbeat reporting draining or starting → Draining; heartbeat
 * tags replace registered ones; `beginLogon` placements count until the next
 * heartbeat; `sweep` forgets long-unregistered and silent hosts (in the
 * store too); a failed `flush` is retried by the next; `beginLogon` counting
 * with an idempotent release; state changes logged; another gateway's
 * shared probe state is taken when newer (not when older), counts its
 * failures as its own, and a good one verifies a restored host when it is
 * younger than the heartbeat window (`unheard` lists those not verified; a
 * heartbeat another gateway received verifies one too). A host another gateway
 * on the store wrote (`applyRemote`) enters memory and the placement index
 * without being written back, merged so the later registration and
 * heartbeat win (`mergeHost`), and stays Healthy here on good probes while
 * its heartbeats reach only the other gateway; `forgetRemote` drops it.
 *
 * The placement index, as a property: a seeded random farm (tags,
 * capabilities, load, ties, full and overloaded hosts, logons in flight,
 * drained, failed-probe, silent and unregistered hosts) changes between
 * decisions (heartbeats, logons begun and ended, drains, probes,
 * re-registrations with other tags, sweeps), and every decision — random
 * workspace, the user's sessions, a failed-host set, one of several settings
 * — is made on `registry.list()` (the full scan, the reference) and on
 * `registry.index()`. Both must choose the same, every host the index looked
 * at must have the reference's verdict, and the hosts it did not must be
 * counted (those lacking what the workspace needs by that reason).
 *
 * @module
 */
import {
  healthCheckSchema,
  type HealthCheckSettings,
  placementSchema,
  type PlacementSettings,
  type Workspace,
  workspaceSchema,
} from "../../mod/config/mod.ts";
import { missingFor, place, RUNNERS_UP } from "../../mod/gateway/placement.ts";
import {
  HostRegistry,
  type LogonOutcome,
  mergeHost,
} from "../../mod/gateway/registry.ts";
import type { HostRecord, SessionRecord } from "../../mod/gateway/types.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { type GatewayStore, openSqliteStore } from "../../mod/gateway/store.ts";
import type {
  HeartbeatPayload,
  RegisterPayload,
} from "../../mod/contract/mod.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { seeded } from "../support/seeded.ts";
import { withTempDirSync } from "../support/fs.ts";

// interval 5, timeout 6, failureThreshold 3, heartbeatInterval 10, missed 3.
const HEALTH: HealthCheckSettings = healthCheckSchema.parse({});
const WINDOW_MS = HEALTH.missedHeartbeats * HEALTH.heartbeatInterval * 1000;
const T0 = 1_700_000_000_000;

interface Harness {
  registry: HostRegistry;
  store: GatewayStore;
  logs: Record<string, unknown>[];
  clock: { now: number };
}

function harness(
  store: GatewayStore = openSqliteStore(":memory:"),
  start = T0,
): Harness {
  const { logger, records: logs } = captureLogs("debug");
  const clock = { now: start };
  const registry = new HostRegistry({
    store,
    health: HEALTH,
    logger,
    now: () => clock.now,
  });
  return { registry, store, logs, clock };
}

function registration(name: string, maxSessions = 4): RegisterPayload {
  return {
    serverUrl: `http://${name}.test:8080`,
    maxSessions,
    instanceType: "test",
    ec2InstanceId: "",
    tags: ["eu"],
    capabilities: ["linux"],
    version: "0.1.0",
  };
}

function heartbeat(name: string, activeSessions = 1): HeartbeatPayload {
  return {
    serverUrl: `http://${name}.test:8080`,
    status: "Healthy",
    activeSessions,
    maxSessions: 4,
    instanceType: "test",
    tags: ["eu"],
    cpuUsage: 10,
    memoryUsage: 20,
    timestamp: new Date(T0).toISOString(),
  };
}

function failedProbe(at: number) {
  return { at, ok: false, latencyMs: 5, error: "answered 503" };
}

function stateChanges(logs: Record<string, unknown>[]) {
  return logs.filter((r) => r.msg === "host state changed").map((r) => ({
    serverUrl: r.serverUrl,
    from: r.from,
    to: r.to,
  }));
}

Deno.test("register, heartbeat, list", () => {
  const { registry, store, logs, clock } = harness();
  try {
    const view = registry.register(registration("a"));
    assertEquals(view.state, "Healthy");
    assertEquals(view.registeredAt, T0);
    assertEquals(view.heartbeat, undefined);
    assertEquals(view.logonsInFlight, 0);
    assertEquals(registry.size, 1);
    assertEquals(store.loadHosts().map((h) => h.serverUrl), [view.serverUrl]);
    assert(logs.some((r) => r.msg === "host registered"));

    clock.now += 5_000;
    const beat = registry.heartbeat(heartbeat("a", 3));
    assert(beat);
    assertEquals(beat.heartbeat?.activeSessions, 3);
    assertEquals(beat.heartbeat?.receivedAt, T0 + 5_000);

    // Unknown hosts get no heartbeat (the API answers 404).
    assertEquals(registry.heartbeat(heartbeat("stranger")), undefined);
    assertEquals(registry.get("http://stranger.test:8080"), undefined);

    // A second registration starts afresh (no figures until its next
    // heartbeat) and is logged as such.
    registry.register(registration("a", 6));
    assertEquals(registry.get(view.serverUrl)?.registration.maxSessions, 6);
    assertEquals(registry.get(view.serverUrl)?.heartbeat, undefined);
    assertEquals(store.loadHosts()[0].heartbeat, undefined);
    assert(logs.some((r) => r.msg === "host registered again"));

    registry.register(registration("b"));
    assertEquals(
      registry.list().map((h) => h.serverUrl).sort(),
      ["http://a.test:8080", "http://b.test:8080"],
    );
    assertEquals(registry.probeTargets().length, 2);
  } finally {
    store.close();
  }
});

Deno.test("failed probes make a host Unreachable; one good probe heals", () => {
  const { registry, store, logs, clock } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    for (let n = 1; n < HEALTH.failureThreshold; n++) {
      registry.recordProbe(url, failedProbe(clock.now));
      assertEquals(registry.get(url)?.state, "Healthy", `after ${n} failures`);
      assertEquals(registry.get(url)?.probeFailures, n);
    }
    registry.recordProbe(url, failedProbe(clock.now));
    const down = registry.get(url)!;
    assertEquals(down.state, "Unreachable");
    assertMatch(down.stateReason, /3 health probes failed in a row/);
    assertMatch(down.stateReason, /answered 503/);
    assertEquals(down.lastProbe?.ok, false);

    // Heartbeats do not override failing probes.
    registry.heartbeat(heartbeat("a"));
    assertEquals(registry.get(url)?.state, "Unreachable");

    registry.recordProbe(url, { at: clock.now, ok: true, latencyMs: 3 });
    const up = registry.get(url)!;
    assertEquals(up.state, "Healthy");
    assertEquals(up.probeFailures, 0);

    assertEquals(stateChanges(logs), [
      { serverUrl: url, from: "Healthy", to: "Unreachable" },
      { serverUrl: url, from: "Unreachable", to: "Healthy" },
    ]);
    // Probes of unknown hosts are ignored.
    registry.recordProbe("http://stranger.test", failedProbe(clock.now));
    assertEquals(registry.size, 1);
  } finally {
    store.close();
  }
});

Deno.test("another gateway's probe state is taken when newer", () => {
  const { registry, store, clock } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    registry.recordProbe(url, { at: clock.now, ok: true, latencyMs: 3 });
    const failing = failedProbe(clock.now + 1000);
    registry.applyProbe(url, { failures: 3, lastProbe: failing });
    const down = registry.get(url)!;
    assertEquals(down.state, "Unreachable");
    assertEquals(down.probeFailures, 3);
    assertEquals(down.lastProbe, failing);
    // An older one (from a gateway that lost the lease) changes nothing.
    registry.applyProbe(url, {
      failures: 0,
      lastProbe: { at: clock.now + 500, ok: true, latencyMs: 2 },
    });
    assertEquals(registry.get(url)?.probeFailures, 3);
    // Probing it itself goes on from the shared count.
    registry.recordProbe(url, failedProbe(clock.now + 2000));
    assertEquals(registry.get(url)?.probeFailures, 4);
    registry.applyProbe("http://stranger.test", {
      failures: 1,
      lastProbe: failing,
    });
    assertEquals(registry.size, 1);
  } finally {
    store.close();
  }
  // A restored host, not heard from, is verified by a good shared probe.
  withTempDirSync((dir) => {
    const first = openSqliteStore(`${dir}/g.db`);
    const before = harness(first);
    const url = before.registry.register(registration("b")).serverUrl;
    first.close();
    const again = harness(openSqliteStore(`${dir}/g.db`));
    try {
      assertEquals(again.registry.get(url)?.state, "Unreachable");
      again.registry.applyProbe(url, {
        failures: 0,
        lastProbe: { at: again.clock.now, ok: true, latencyMs: 1 },
      });
      assertEquals(again.registry.get(url)?.state, "Healthy");
    } finally {
      again.store.close();
    }
  });
});

Deno.test("missed heartbeats make a host Unreachable", () => {
  const { registry, store, logs, clock } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    // Exactly the window of silence is still tolerated.
    clock.now = T0 + WINDOW_MS;
    assertEquals(registry.get(url)?.state, "Healthy");
    clock.now = T0 + WINDOW_MS + 1;
    const silent = registry.get(url)!;
    assertEquals(silent.state, "Unreachable");
    assertMatch(silent.stateReason, /no heartbeat for 30 s/);

    // A heartbeat brings it back and opens a new window.
    registry.heartbeat(heartbeat("a"));
    assertEquals(registry.get(url)?.state, "Healthy");
    clock.now += WINDOW_MS;
    assertEquals(registry.get(url)?.state, "Healthy");
    clock.now += 1;
    assertEquals(registry.list()[0].state, "Unreachable");
    // Registering again also counts as being heard from.
    registry.register(registration("a"));
    assertEquals(registry.get(url)?.state, "Healthy");

    assertEquals(stateChanges(logs).map((c) => c.to), [
      "Unreachable",
      "Healthy",
      "Unreachable",
      "Healthy",
    ]);
  } finally {
    store.close();
  }
});

Deno.test("drain and undrain", () => {
  const { registry, store, logs, clock } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    const drained = registry.setDraining(url, true)!;
    assertEquals(drained.state, "Draining");
    assertEquals(drained.draining, true);
    assertMatch(drained.stateReason, /drained by an administrator/);
    assertEquals(store.loadHosts()[0].draining, true);
    assert(logs.some((r) => r.msg === "host drained"));

    // Drained hosts keep heartbeating and are still probed.
    registry.heartbeat(heartbeat("a"));
    assertEquals(registry.get(url)?.state, "Draining");
    assertEquals(registry.probeTargets(), [url]);
    // A drained host that goes silent is Unreachable, which matters more.
    clock.now += WINDOW_MS + 1;
    assertEquals(registry.get(url)?.state, "Unreachable");
    registry.heartbeat(heartbeat("a"));
    // Re-registering does not undo a drain.
    registry.register(registration("a"));
    assertEquals(registry.get(url)?.state, "Draining");

    const undrained = registry.setDraining(url, false)!;
    assertEquals(undrained.state, "Healthy");
    assertEquals(store.loadHosts()[0].draining, false);
    assert(logs.some((r) => r.msg === "host undrained"));
    assertEquals(registry.setDraining("http://stranger.test", true), undefined);
    assertEquals(stateChanges(logs).map((c) => c.to), [
      "Draining",
      "Unreachable",
      "Draining",
      "Healthy",
    ]);
  } finally {
    store.close();
  }
});

Deno.test("unregister", () => {
  const { registry, store, logs } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    registry.register(registration("b"));
    assertEquals(registry.unregister(url), true);
    const gone = registry.get(url)!;
    assertEquals(gone.state, "Unregistered");
    assertEquals(gone.unregistered, true);
    assert(logs.some((r) => r.msg === "host unregistered"));
    assertEquals(
      store.loadHosts().find((h) => h.serverUrl === url)?.unregistered,
      true,
    );
    // No more heartbeats (→ 404) and no more probes.
    assertEquals(registry.heartbeat(heartbeat("a")), undefined);
    assertEquals(registry.probeTargets(), ["http://b.test:8080"]);
    assertEquals(registry.unregister("http://stranger.test"), false);
    assertEquals(stateChanges(logs), [
      { serverUrl: url, from: "Healthy", to: "Unregistered" },
    ]);
    // Registering again brings it back.
    assertEquals(registry.register(registration("a")).state, "Healthy");
    assert(registry.heartbeat(heartbeat("a")));
  } finally {
    store.close();
  }
});

Deno.test("a registry re-created on the same store restores hosts", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/gateway.db`;
    const first = harness(openSqliteStore(path));
    first.registry.register(registration("a"));
    first.registry.register(registration("b"));
    first.registry.register(registration("c"));
    first.registry.setDraining("http://b.test:8080", true);
    first.registry.unregister("http://c.test:8080");
    first.store.close();

    // Restarted an hour later: nothing is known of the hosts until they are
    // heard from, so none takes sessions yet.
    const later = T0 + 3_600_000;
    const second = harness(openSqliteStore(path), later);
    try {
      const states = () =>
        Object.fromEntries(
          second.registry.list().map((h) => [h.serverUrl, h.state]),
        );
      assertEquals(states(), {
        "http://a.test:8080": "Unreachable",
        "http://b.test:8080": "Unreachable",
        "http://c.test:8080": "Unregistered",
      });
      assertEquals(
        second.registry.get("http://a.test:8080")?.stateReason,
        "not heard from since the gateway started",
      );
      // A failed probe changes nothing; a good probe (a) or a heartbeat (b)
      // does, within a fresh heartbeat window.
      second.registry.recordProbe("http://a.test:8080", failedProbe(later));
      assertEquals(states()["http://a.test:8080"], "Unreachable");
      second.registry.recordProbe("http://a.test:8080", {
        at: later,
        ok: true,
        latencyMs: 2,
      });
      assert(second.registry.heartbeat(heartbeat("b")));
      assertEquals(states(), {
        "http://a.test:8080": "Healthy",
        "http://b.test:8080": "Draining",
        "http://c.test:8080": "Unregistered",
      });
      assertEquals(second.registry.get("http://a.test:8080")?.registeredAt, T0);
      assertEquals(second.registry.probeTargets().length, 2);
      assertEquals(
        second.registry.heartbeat(heartbeat("c")),
        undefined,
        "an unregistered host stays unregistered",
      );

      // The fresh window closes like any other.
      second.clock.now = later + WINDOW_MS + 1;
      assertEquals(
        second.registry.get("http://a.test:8080")?.state,
        "Unreachable",
      );
    } finally {
      second.store.close();
    }
  });
});

Deno.test("beginLogon counts logons in flight", () => {
  const { registry, store } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    const first = registry.beginLogon(url);
    const second = registry.beginLogon(url);
    assertEquals(registry.get(url)?.logonsInFlight, 2);
    first("failed");
    first("failed"); // Releasing twice counts once.
    assertEquals(registry.get(url)?.logonsInFlight, 1);
    // A re-registration does not forget logons under way.
    registry.register(registration("a"));
    assertEquals(registry.get(url)?.logonsInFlight, 1);
    second("failed");
    second("placed");
    assertEquals(registry.get(url)?.logonsInFlight, 0);
    // Unknown hosts: a harmless release.
    const none = registry.beginLogon("http://stranger.test");
    none("failed");
    assertEquals(registry.get(url)?.logonsInFlight, 0);
  } finally {
    store.close();
  }
});

Deno.test("flush writes the latest heartbeats, so a restart keeps load figures", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/gateway.db`;
    const first = harness(openSqliteStore(path));
    first.registry.register(registration("a"));
    first.registry.heartbeat(heartbeat("a", 3));
    first.registry.flush();
    first.registry.heartbeat(heartbeat("a", 4)); // not flushed: not kept
    first.store.close();

    const second = harness(openSqliteStore(path), T0 + 60_000);
    try {
      assertEquals(
        second.registry.get("http://a.test:8080")?.heartbeat?.activeSessions,
        3,
      );
    } finally {
      second.store.close();
    }
  });
});

Deno.test("a placed logon counts until the next heartbeat, unless one came during it", () => {
  const { registry, store } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    registry.heartbeat(heartbeat("a", 1));
    assertEquals(registry.get(url)?.placedSinceHeartbeat, 0);
    registry.beginLogon(url)("placed");
    registry.beginLogon(url)("placed");
    registry.beginLogon(url)("failed");
    assertEquals(registry.get(url)?.placedSinceHeartbeat, 2);
    assertEquals(registry.list()[0].placedSinceHeartbeat, 2);
    // The heartbeat's own figures include them now.
    registry.heartbeat(heartbeat("a", 3));
    assertEquals(registry.get(url)?.placedSinceHeartbeat, 0);
    // A heartbeat during a logon may already count its session: not twice.
    const during = registry.beginLogon(url);
    registry.heartbeat(heartbeat("a", 4));
    during("placed");
    assertEquals(registry.get(url)?.placedSinceHeartbeat, 0);
    // Another host's heartbeat does not matter.
    registry.register(registration("b"));
    const other = registry.beginLogon(url);
    registry.heartbeat(heartbeat("b", 1));
    other("placed");
    assertEquals(registry.get(url)?.placedSinceHeartbeat, 1);
    // A registration starts afresh, and a logon ending after it counts.
    const across = registry.beginLogon(url);
    registry.register(registration("a"));
    assertEquals(registry.get(url)?.placedSinceHeartbeat, 0);
    across("placed");
    assertEquals(registry.get(url)?.placedSinceHeartbeat, 1);
    // Unknown hosts: nothing happens.
    registry.beginLogon("http://stranger.test")("placed");
    assertEquals(registry.size, 2);
  } finally {
    store.close();
  }
});

Deno.test("a host reporting draining or starting is Draining", () => {
  const { registry, store } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    for (const status of ["draining", "starting"]) {
      registry.heartbeat({ ...heartbeat("a"), status });
      const view = registry.get(url)!;
      assertEquals(view.state, "Draining", status);
      assertEquals(view.stateReason, `the host reports it is ${status}`);
      assertEquals(view.draining, false, "not an administrator's drain");
    }
    registry.heartbeat({ ...heartbeat("a"), status: "healthy" });
    assertEquals(registry.get(url)?.state, "Healthy");
    // An administrator's drain is named as such.
    registry.setDraining(url, true);
    registry.heartbeat({ ...heartbeat("a"), status: "draining" });
    assertEquals(registry.get(url)?.stateReason, "drained by an administrator");
  } finally {
    store.close();
  }
});

Deno.test("heartbeat tags replace the registration's tags", () => {
  const { registry, store } = harness();
  try {
    const url = registry.register(registration("a")).serverUrl;
    assertEquals(registry.get(url)?.registration.tags, ["eu"]);
    registry.heartbeat({ ...heartbeat("a"), tags: ["gpu", "us"] });
    assertEquals(registry.get(url)?.registration.tags, ["gpu", "us"]);
    registry.heartbeat({ ...heartbeat("a"), tags: [] });
    assertEquals(registry.get(url)?.registration.tags, []);
    // And they are what a restart finds.
    registry.flush();
    assertEquals(store.loadHosts()[0].registration.tags, []);
  } finally {
    store.close();
  }
});

Deno.test("sweep forgets hosts long unregistered or silent, in the store too", () => {
  const { registry, store, logs, clock } = harness();
  const MINUTE = 60_000;
  const DAY = 24 * 60 * MINUTE;
  const limits = { unregisteredAfterMs: 10 * MINUTE, silentAfterMs: DAY };
  const url = (name: string) => `http://${name}.test:8080`;
  try {
    for (const name of ["beating", "silent", "probed", "gone"]) {
      registry.register(registration(name));
    }
    // Unregistered five minutes after registering: the ten minutes count
    // from the goodbye.
    clock.now = T0 + 5 * MINUTE;
    registry.unregister(url("gone"));
    assertEquals(registry.get(url("gone"))?.unregisteredAt, clock.now);
    assertEquals(
      store.loadHosts().find((h) => h.serverUrl === url("gone"))
        ?.unregisteredAt,
      clock.now,
    );

    // Exactly at a limit nothing is forgotten.
    clock.now = T0 + 15 * MINUTE;
    assertEquals(registry.sweep(limits), []);
    clock.now += 1;
    assertEquals(registry.sweep(limits), [url("gone")]);
    assertEquals(registry.get(url("gone")), undefined);
    assertEquals(registry.size, 3);

    // A day on: one host heartbeats, one only answers probes, one is silent.
    clock.now = T0 + DAY;
    registry.heartbeat(heartbeat("beating"));
    registry.recordProbe(url("probed"), {
      at: clock.now,
      ok: true,
      latencyMs: 1,
    });
    registry.recordProbe(url("silent"), failedProbe(clock.now));
    clock.now = T0 + DAY + 1;
    assertEquals(registry.sweep(limits), [url("silent")]);
    assertEquals(
      registry.list().map((h) => h.serverUrl).sort(),
      [url("beating"), url("probed")],
    );
    assertEquals(
      store.loadHosts().map((h) => h.serverUrl).sort(),
      [url("beating"), url("probed")],
      "the store forgot them too",
    );
    // A forgotten host must register again.
    assertEquals(registry.heartbeat(heartbeat("silent")), undefined);
    assertEquals(
      logs.filter((r) => r.msg === "host forgotten").map((r) => r.serverUrl),
      [url("gone"), url("silent")],
    );
  } finally {
    store.close();
  }
});

Deno.test("a flush that fails is written by the next one", () => {
  const real = openSqliteStore(":memory:");
  let failing = false;
  // The real store, but its batch write fails while `failing` (a full disk).
  const store: GatewayStore = {
    ...real,
    putHosts(hosts) {
      if (failing) throw new Error("database or disk is full");
      real.putHosts(hosts);
    },
  };
  const { registry } = harness(store);
  try {
    registry.register(registration("a"));
    registry.heartbeat(heartbeat("a", 3));
    failing = true;
    let thrown: unknown;
    try {
      registry.flush();
    } catch (error) {
      thrown = error;
    }
    assertMatch(String(thrown), /disk is full/);
    assertEquals(real.loadHosts()[0].heartbeat, undefined);
    failing = false;
    registry.flush();
    assertEquals(real.loadHosts()[0].heartbeat?.activeSessions, 3);
  } finally {
    real.close();
  }
});

const TAGS = ["eu", "us", "gpu", "office"];

const WORKSPACES: Workspace[] = [
  { id: "desk", name: "Desk", kind: "desktop" },
  { id: "gpu-desk", name: "GPU", kind: "desktop", requiredTags: ["gpu"] },
  {
    id: "eu-office",
    name: "EU office",
    kind: "app",
    command: { linux: "lo" },
    requiredTags: ["eu", "office"],
  },
  {
    id: "word",
    name: "Word",
    kind: "app",
    command: { windows: "winword.exe" },
    requiredCapabilities: ["windows"],
  },
  {
    id: "edit",
    name: "Edit",
    kind: "app",
    command: { linux: "gedit", windows: "notepad.exe" },
  },
  { id: "nowhere", name: "None", kind: "desktop", requiredTags: ["mars"] },
].map((w) => workspaceSchema.parse(w));

const SETTINGS: PlacementSettings[] = [
  placementSchema.parse({}),
  placementSchema.parse({ strategy: "depth" }),
  placementSchema.parse({
    weights: { sessions: 1, cpu: 0, memory: 0 },
    maxConcurrentLogons: 1,
  }),
  placementSchema.parse({
    overload: { sessionRatio: 1, cpuUsage: 100, memoryUsage: 60 },
  }),
];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)];
}

Deno.test("the placement index chooses as the full scan does", () => {
  const random = seeded(2026);
  const clock = { now: 1_700_000_000_000 };
  const store = openSqliteStore(":memory:");
  const health = healthCheckSchema.parse({});
  const registry = new HostRegistry({
    store,
    health,
    logger: createLogger({ level: "error", sink: () => {} }),
    now: () => clock.now,
  });
  const urls: string[] = [];
  const pending: ((outcome: LogonOutcome) => void)[] = [];
  const register = (url: string) => {
    const tags = TAGS.filter(() => random() < 0.4);
    const capabilities = random() < 0.25 ? ["windows"] : ["linux"];
    const maxSessions = 1 + Math.floor(random() * 8);
    registry.register({
      serverUrl: url,
      maxSessions,
      instanceType: "t",
      ec2InstanceId: "",
      tags,
      capabilities,
      version: "0.1.0",
    });
    return { tags, maxSessions };
  };
  const beat = (url: string, tags: string[], maxSessions: number) => {
    registry.heartbeat({
      serverUrl: url,
      status: random() < 0.03 ? "draining" : "healthy",
      // Small integers: many ties, some full hosts.
      activeSessions: Math.floor(random() * (maxSessions + 1)),
      maxSessions,
      instanceType: "t",
      tags,
      // Round figures tie too; some over the limits.
      cpuUsage: 10 * Math.floor(random() * 10),
      memoryUsage: 10 * Math.floor(random() * 10),
      timestamp: new Date(clock.now).toISOString(),
    });
  };
  const farm = new Map<string, { tags: string[]; maxSessions: number }>();
  for (let n = 0; n < 240; n++) {
    const url = `http://h${n}.test:8080`;
    urls.push(url);
    const shape = register(url);
    farm.set(url, shape);
    // Some never beat (no figures), some fall silent later.
    if (random() < 0.95) beat(url, shape.tags, shape.maxSessions);
    clock.now += 100;
  }
  const mutate = () => {
    const url = pick(random, urls);
    const shape = farm.get(url)!;
    const r = random();
    if (r < 0.35) beat(url, shape.tags, shape.maxSessions);
    else if (r < 0.5) pending.push(registry.beginLogon(url));
    else if (r < 0.62 && pending.length) {
      const done = pending.splice(Math.floor(random() * pending.length), 1);
      done[0](random() < 0.5 ? "placed" : "failed");
    } else if (r < 0.7) registry.setDraining(url, random() < 0.5);
    else if (r < 0.8) {
      registry.recordProbe(url, {
        at: clock.now,
        ok: random() < 0.5,
        latencyMs: 1,
      });
    } else if (r < 0.86) farm.set(url, register(url));
    else if (r < 0.9) registry.unregister(url);
    else if (r < 0.93) {
      registry.sweep({ unregisteredAfterMs: 0, silentAfterMs: 3_600_000 });
    } else clock.now += 1000 * Math.floor(random() * 8);
  };

  let compared = 0;
  const outcomes: Record<string, number> = { share: 0, new: 0, none: 0 };
  for (let draw = 0; draw < 600; draw++) {
    for (let i = Math.floor(random() * 6); i > 0; i--) mutate();
    const workspace = pick(random, WORKSPACES);
    const settings = pick(random, SETTINGS);
    const sessions: SessionRecord[] = [];
    for (let i = Math.floor(random() * 4); i > 0; i--) {
      sessions.push({
        sessionId: `s${draw}-${i}`,
        sessionUuid: `u${draw}-${i}`,
        user: "alice",
        credentials: random() < 0.8 ? "user" : "other",
        serverUrl: pick(random, urls),
        host: "127.0.0.1",
        port: 20010,
        path: "/stream",
        kind: random() < 0.8 ? "app" : "desktop",
        workspaceIds: ["edit"],
        resources: workspace.resources,
        createdAt: 0,
        lastLaunchAt: 0,
      });
    }
    const exclude = new Set(
      Array.from(
        { length: Math.floor(random() * 3) },
        () => pick(random, urls),
      ),
    );
    const tie = random();
    const input = { workspace, sessions, settings, exclude };
    const reference = place({
      ...input,
      hosts: registry.list(),
      random: () => tie,
    });
    const indexed = place({
      ...input,
      hosts: registry.index(),
      random: () => tie,
    });
    const what = `draw ${draw}: ${workspace.id}, ${JSON.stringify(settings)}`;
    assertEquals(indexed.outcome, reference.outcome, what);
    assertEquals(indexed.serverUrl, reference.serverUrl, what);
    assertEquals(indexed.sessionId, reference.sessionId, what);
    assertEquals(indexed.summary, reference.summary, what);
    assertEquals(indexed.sessions, reference.sessions, what);
    outcomes[indexed.outcome]++;
    if (indexed.outcome === "share") continue;
    // Every host the index looked at is explained as the reference does.
    const byUrl = new Map(reference.hosts.map((v) => [v.serverUrl, v]));
    for (const verdict of indexed.hosts) {
      assertEquals(verdict, byUrl.get(verdict.serverUrl), what);
    }
    // The rest are counted; hosts that lack what the workspace needs by
    // that (the reference names their state first, when not Healthy).
    const omitted = indexed.omitted ?? {};
    const total = Object.values(omitted).reduce((a, b) => a + b, 0);
    assertEquals(indexed.hosts.length + total, registry.size, what);
    const lacking = Object.keys(omitted).filter((r) => r.startsWith("lacks"));
    for (const reason of lacking) {
      const expected = registry.list().filter((h) =>
        missingFor(workspace, h) === reason
      );
      assertEquals(omitted[reason], expected.length, `${what}: ${reason}`);
    }
    // It looked at fewer hosts than there are (the point of it), yet at
    // every tie and some runners-up.
    const eligible = reference.hosts.filter((v) => v.verdict !== "excluded");
    assert(
      indexed.hosts.filter((v) => v.verdict !== "excluded").length >=
        Math.min(eligible.length, RUNNERS_UP + 1),
      what,
    );
    compared++;
  }
  store.close();
  // The farm must have left real choices, and refusals, to compare.
  assert(compared > 300, `${compared} decisions compared`);
  assert(outcomes.new > 150 && outcomes.none > 30, JSON.stringify(outcomes));
});

/** A host as another gateway on the store wrote it. */
function remoteRecord(
  name: string,
  options: { registeredAt: number; heartbeatAt?: number; active?: number },
): HostRecord {
  return {
    serverUrl: `http://${name}.test:8080`,
    registration: registration(name),
    registeredAt: options.registeredAt,
    heartbeat: options.heartbeatAt === undefined ? undefined : {
      ...heartbeat(name, options.active ?? 1),
      receivedAt: options.heartbeatAt,
    },
    draining: false,
    unregistered: false,
  };
}

/** The hosts the placement index ranks for the default settings. */
function ranked(registry: HostRegistry): string[] {
  const settings = placementSchema.parse({});
  return [...registry.index().groups(settings)]
    .flatMap((group) => [...group.ranked()].map((h) => h.serverUrl));
}

Deno.test("applyRemote and forgetRemote: memory and the placement index, nothing written", () => {
  const { registry, store, clock } = harness();
  try {
    const url = "http://r.test:8080";
    assertEquals(ranked(registry), []);
    registry.applyRemote(
      remoteRecord("r", { registeredAt: T0, heartbeatAt: T0 }),
    );
    assertEquals(registry.get(url)?.state, "Healthy");
    assertEquals(ranked(registry), [url]);
    assertEquals(store.loadHosts(), [], "nothing written back");
    // A newer heartbeat's figures; an older one does not undo them.
    clock.now += 1000;
    registry.applyRemote(
      remoteRecord("r", {
        registeredAt: T0,
        heartbeatAt: T0 + 1000,
        active: 3,
      }),
    );
    registry.applyRemote(
      remoteRecord("r", { registeredAt: T0, heartbeatAt: T0 + 500, active: 2 }),
    );
    assertEquals(registry.get(url)?.heartbeat?.activeSessions, 3);
    // A drain is the writer's, whatever its heartbeat.
    registry.applyRemote({
      ...remoteRecord("r", { registeredAt: T0, heartbeatAt: T0 + 500 }),
      draining: true,
    });
    assertEquals(registry.get(url)?.state, "Draining");
    assertEquals(registry.get(url)?.heartbeat?.activeSessions, 3);
    assertEquals(ranked(registry), []);
    assert(registry.forgetRemote(url));
    assertEquals(registry.get(url), undefined);
    assertEquals(registry.forgetRemote(url), false);
    assertEquals(store.loadHosts(), []);
  } finally {
    store.close();
  }
});

Deno.test("a host heartbeating at another gateway stays Healthy here on good probes", () => {
  const { registry, store, clock } = harness();
  try {
    const url = "http://r.test:8080";
    registry.applyRemote(
      remoteRecord("r", { registeredAt: T0, heartbeatAt: T0 }),
    );
    // No news through the store past the window, but the probes answer.
    clock.now = T0 + WINDOW_MS + 5000;
    registry.recordProbe(url, { at: clock.now, ok: true, latencyMs: 3 });
    assertEquals(registry.get(url)?.state, "Healthy");
    // One that heartbeats here again is judged by its heartbeats alone.
    registry.heartbeat(heartbeat("r"));
    clock.now += WINDOW_MS + 5000;
    registry.recordProbe(url, { at: clock.now, ok: true, latencyMs: 3 });
    assertEquals(registry.get(url)?.state, "Unreachable");
  } finally {
    store.close();
  }
});

Deno.test("mergeHost: the later registration and heartbeat win; a goodbye stays", () => {
  const old = remoteRecord("m", { registeredAt: T0, heartbeatAt: T0 + 10 });
  const newer = remoteRecord("m", { registeredAt: T0 + 5 });
  // A registration after the heartbeat resets it.
  assertEquals(mergeHost(old, newer).heartbeat, undefined);
  assertEquals(mergeHost(newer, old).registeredAt, T0 + 5);
  const gone = { ...old, unregistered: true, unregisteredAt: T0 + 20 };
  const merged = mergeHost(gone, { ...old });
  assertEquals([merged.unregistered, merged.unregisteredAt], [true, T0 + 20]);
  assertEquals(mergeHost(gone, newer).unregistered, false);
});

Deno.test("unheard: restored hosts not heard from; a shared probe verifies one only when fresh, a heartbeat at another gateway does", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/g.db`;
    const first = harness(openSqliteStore(path));
    for (const name of ["fresh", "stale", "remote", "gone", "quiet"]) {
      first.registry.register(registration(name));
    }
    first.registry.unregister("http://gone.test:8080");
    first.store.close();

    const later = T0 + 3_600_000;
    const again = harness(openSqliteStore(path), later);
    try {
      const url = (name: string) => `http://${name}.test:8080`;
      assertEquals(
        new Set(again.registry.unheard()),
        new Set(["fresh", "stale", "remote", "quiet"].map(url)),
      );
      // A good probe from within the heartbeat window vouches for a host.
      again.registry.applyProbe(url("fresh"), {
        failures: 0,
        lastProbe: { at: later - WINDOW_MS, ok: true, latencyMs: 1 },
      });
      // One older than that (a gateway long stopped) says nothing of now.
      again.registry.applyProbe(url("stale"), {
        failures: 0,
        lastProbe: { at: later - WINDOW_MS - 1, ok: true, latencyMs: 1 },
      });
      // A heartbeat another gateway received since this one read the store.
      again.registry.applyRemote(
        remoteRecord("remote", { registeredAt: T0, heartbeatAt: later }),
      );
      assertEquals(
        new Set(again.registry.unheard()),
        new Set([url("stale"), url("quiet")]),
      );
      assertEquals(again.registry.get(url("fresh"))?.state, "Healthy");
      assertEquals(again.registry.get(url("remote"))?.state, "Healthy");
      const stale = again.registry.get(url("stale"))!;
      assertEquals(stale.state, "Unreachable");
      assertEquals(
        stale.stateReason,
        "not heard from since the gateway started",
      );
      // Its own probe does, as ever.
      again.registry.recordProbe(url("stale"), {
        at: later,
        ok: true,
        latencyMs: 1,
      });
      assertEquals(again.registry.unheard(), [url("quiet")]);
    } finally {
      again.store.close();
    }
  });
});
