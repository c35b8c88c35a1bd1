/**
 * The health monitor against real HTTP servers on 127.0.0.1 standing in for
 * hosts' `/health`: a healthy host stays Healthy; one answering slowly but
 * within the timeout is never counted failing and never has two probes in
 * flight; one answering 503, one slower than the timeout and a closed port
 * become Unreachable after `failureThreshold` probes (not before); one good
 * answer heals; unregistered hosts are not probed; `stop()` waits for probes
 * in flight, records nothing for them, and probing ends; with `targets`
 * only the hosts it names are probed, each probe naming the gateway in
 * `X-Gateway-Id`; never more probes in flight than `maxConcurrentProbes`
 * (the schedule itself is `probe_schedule_test.ts`'s, on a virtual clock);
 * `unheard` hosts are probed in the first round even when not targets, and
 * `firstProbes` settles once they answered, or the monitor stopped.
 *
 * The schema bounds `interval` to 1–10 s; the settings object is passed to
 * the functions directly with a shorter interval to keep the tests quick.
 *
 * @module
 */
import type { HealthCheckSettings } from "../../mod/config/mod.ts";
import { startHealthMonitor } from "../../mod/gateway/health_monitor.ts";
import { HostRegistry } from "../../mod/gateway/registry.ts";
import { openSqliteStore } from "../../mod/gateway/store.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "../support/wait.ts";

/** How a fake host answers `/health`. */
interface FakeHostState {
  /** `X-Gateway-Id` of each probe. */
  gateways: string[];
  status: number;
  delayMs: number;
  requests: number;
  active: number;
  maxActive: number;
  answered: number;
}

interface FakeHost {
  url: string;
  state: FakeHostState;
  stop(): Promise<void>;
}

/** Probes in flight across several fake hosts. */
interface Concurrency {
  active: number;
  maxActive: number;
}

function startFakeHost(
  status = 200,
  delayMs = 0,
  across?: Concurrency,
): FakeHost {
  const state: FakeHostState = {
    gateways: [],
    status,
    delayMs,
    requests: 0,
    active: 0,
    maxActive: 0,
    answered: 0,
  };
  // Releases handlers still waiting when the test ends.
  const release = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      if (new URL(request.url).pathname !== "/health") {
        return new Response("not found", { status: 404 });
      }
      state.requests++;
      state.gateways.push(request.headers.get("x-gateway-id") ?? "");
      state.active++;
      state.maxActive = Math.max(state.maxActive, state.active);
      if (across) {
        across.active++;
        across.maxActive = Math.max(across.maxActive, across.active);
      }
      try {
        if (state.delayMs) await sleep(state.delayMs, release.signal);
        return new Response(JSON.stringify({ status: "ok" }), {
          status: state.status,
        });
      } finally {
        state.active--;
        if (across) across.active--;
        state.answered++;
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    state,
    async stop() {
      release.abort();
      await server.shutdown();
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

function settings(
  overrides: Partial<HealthCheckSettings> = {},
): HealthCheckSettings {
  return {
    interval: 0.1,
    timeout: 2,
    failureThreshold: 3,
    heartbeatInterval: 60,
    missedHeartbeats: 3,
    ...overrides,
  };
}

function makeRegistry(health: HealthCheckSettings) {
  const store = openSqliteStore(":memory:");
  const { logger, records: logs } = captureLogs();
  const registry = new HostRegistry({ store, health, logger });
  return { registry, store, logs };
}

function register(registry: HostRegistry, serverUrl: string): void {
  registry.register({
    serverUrl,
    maxSessions: 4,
    instanceType: "test",
    ec2InstanceId: "",
    tags: [],
    capabilities: ["linux"],
    version: "0.1.0",
  });
}

// Real servers and fetch timeouts leave timers the sanitizers would flag.
const real = { sanitizeOps: false, sanitizeResources: false };

Deno.test("a healthy host stays Healthy", real, async () => {
  const host = startFakeHost();
  const health = settings();
  const { registry, store } = makeRegistry(health);
  register(registry, host.url);
  const monitor = startHealthMonitor(registry, { health });
  try {
    await waitFor(() => host.state.answered >= 5, {
      what: "five probes",
      timeoutMs: 10_000,
    });
    const view = registry.get(host.url)!;
    assertEquals(view.state, "Healthy");
    assertEquals(view.probeFailures, 0);
    assertEquals(view.lastProbe?.ok, true);
    assertEquals(view.lastProbe?.error, undefined);
  } finally {
    await monitor.stop();
    await host.stop();
    store.close();
  }
});

Deno.test(
  "a slow answer within the timeout is not a failure, nor probed twice",
  real,
  async () => {
    // Each answer takes seven intervals: the loop comes round six times
    // while a probe is in flight and must leave it alone.
    const host = startFakeHost(200, 700);
    const health = settings({ interval: 0.1, timeout: 3 });
    const { registry, store } = makeRegistry(health);
    register(registry, host.url);
    const monitor = startHealthMonitor(registry, { health });
    try {
      await waitFor(() => host.state.answered >= 3, {
        what: "three slow answers",
        timeoutMs: 15_000,
      });
      assertEquals(host.state.maxActive, 1, "two probes were in flight");
      // Requests started is at most one more than answers seen.
      assert(host.state.requests <= host.state.answered + 1);
      const view = registry.get(host.url)!;
      assertEquals(view.state, "Healthy");
      assertEquals(view.probeFailures, 0);
      assertEquals(view.lastProbe?.ok, true);
      assert(
        view.lastProbe!.latencyMs >= 650,
        `latency ${view.lastProbe!.latencyMs} ms includes the delay`,
      );
    } finally {
      await monitor.stop();
      await host.stop();
      store.close();
    }
  },
);

/**
 * Drives probes one at a time (the loop's interval is long) and checks the
 * host stays Healthy until the `failureThreshold`-th failure.
 */
async function probeUntilUnreachable(
  serverUrl: string,
  health: HealthCheckSettings,
  reason: RegExp,
): Promise<void> {
  const { registry, store, logs } = makeRegistry(health);
  register(registry, serverUrl);
  // The loop probes once at start; its next round is 10 s away.
  const monitor = startHealthMonitor(registry, { health });
  try {
    for (let n = 1; n <= health.failureThreshold; n++) {
      await monitor.probe(serverUrl);
      const view = registry.get(serverUrl)!;
      assertEquals(view.probeFailures, n);
      assertEquals(view.lastProbe?.ok, false);
      assertMatch(view.lastProbe?.error ?? "", reason);
      assertEquals(
        view.state,
        n < health.failureThreshold ? "Healthy" : "Unreachable",
        `after ${n} failed probes`,
      );
    }
    const view = registry.get(serverUrl)!;
    assertMatch(view.stateReason, /3 health probes failed in a row/);
    assertMatch(view.stateReason, reason);
    assert(
      logs.some((r) =>
        r.msg === "host state changed" && r.to === "Unreachable"
      ),
    );
  } finally {
    await monitor.stop();
    store.close();
  }
}

Deno.test("failing hosts become Unreachable", real, async (t) => {
  await t.step("answering 503", async () => {
    const host = startFakeHost(503);
    try {
      await probeUntilUnreachable(
        host.url,
        settings({ interval: 10 }),
        /answered 503/,
      );
      assertEquals(host.state.requests, 3);
    } finally {
      await host.stop();
    }
  });

  await t.step("slower than the timeout", async () => {
    const host = startFakeHost(200, 5_000);
    try {
      await probeUntilUnreachable(
        host.url,
        settings({ interval: 10, timeout: 0.3 }),
        /no answer within 0\.3 s/,
      );
      assertEquals(host.state.requests, 3);
    } finally {
      await host.stop();
    }
  });

  await t.step("a closed port", async () => {
    const url = `http://127.0.0.1:${freePort()}`;
    // Deno reports a refused connection as "fetch failed".
    await probeUntilUnreachable(
      url,
      settings({ interval: 10 }),
      /fetch failed|refused|connect/i,
    );
  });
});

Deno.test("a host answering again recovers", real, async () => {
  const host = startFakeHost(503);
  const health = settings();
  const { registry, store, logs } = makeRegistry(health);
  register(registry, host.url);
  const monitor = startHealthMonitor(registry, { health });
  try {
    await waitFor(() => registry.get(host.url)?.state === "Unreachable", {
      what: "Unreachable",
      timeoutMs: 10_000,
    });
    assert(host.state.requests >= health.failureThreshold);
    host.state.status = 200;
    await waitFor(() => registry.get(host.url)?.state === "Healthy", {
      what: "Healthy again",
      timeoutMs: 10_000,
    });
    assertEquals(registry.get(host.url)?.probeFailures, 0);
    const changes = logs.filter((r) => r.msg === "host state changed")
      .map((r) => r.to);
    assertEquals(changes, ["Unreachable", "Healthy"]);
  } finally {
    await monitor.stop();
    await host.stop();
    store.close();
  }
});

Deno.test("unregistered hosts are not probed", real, async () => {
  const kept = startFakeHost();
  const gone = startFakeHost();
  const health = settings();
  const { registry, store } = makeRegistry(health);
  register(registry, kept.url);
  register(registry, gone.url);
  registry.unregister(gone.url);
  const monitor = startHealthMonitor(registry, { health });
  try {
    await waitFor(() => kept.state.answered >= 5, {
      what: "probes of the registered host",
      timeoutMs: 10_000,
    });
    assertEquals(gone.state.requests, 0);
  } finally {
    await monitor.stop();
    await kept.stop();
    await gone.stop();
    store.close();
  }
});

Deno.test(
  "stop() waits for probes in flight and ends probing",
  real,
  async () => {
    const host = startFakeHost(200, 400);
    const health = settings();
    const { registry, store } = makeRegistry(health);
    register(registry, host.url);
    const monitor = startHealthMonitor(registry, { health });
    try {
      // One answered probe, then catch the next one in flight.
      await waitFor(() => host.state.answered >= 1 && host.state.active === 1, {
        what: "a probe in flight",
        timeoutMs: 10_000,
      });
      const before = registry.get(host.url)!;
      let settled = false;
      monitor.probe(host.url).then(() => settled = true);
      await monitor.stop();
      // The probe's promise has settled by the time stop() resolves.
      await Promise.resolve();
      assert(settled, "stop() returned before the probe in flight settled");

      const requests = host.state.requests;
      await sleep(800); // Eight intervals.
      assertEquals(host.state.requests, requests, "probing went on after stop");
      // The aborted probe counts neither as a failure nor as a result.
      const after = registry.get(host.url)!;
      assertEquals(after.probeFailures, 0);
      assertEquals(after.lastProbe, before.lastProbe);
      assertEquals(after.state, "Healthy");
    } finally {
      await host.stop();
      store.close();
    }
  },
);

Deno.test(
  "with targets, only the hosts named are probed, naming the gateway",
  real,
  async () => {
    const [named, other] = [startFakeHost(), startFakeHost()];
    const health = settings();
    const { registry, store } = makeRegistry(health);
    register(registry, named.url);
    register(registry, other.url);
    let rounds = 0;
    const monitor = startHealthMonitor(registry, {
      health,
      gatewayId: "gateway-7",
      targets: () => {
        rounds++;
        return Promise.resolve([named.url]);
      },
    });
    try {
      await waitFor(() => named.state.answered >= 3, { what: "three probes" });
      assertEquals(other.state.requests, 0);
      assertEquals(new Set(named.state.gateways), new Set(["gateway-7"]));
      assert(rounds >= 3, `${rounds} rounds`);
    } finally {
      await monitor.stop();
      await named.stop();
      await other.stop();
      store.close();
    }
  },
);

Deno.test(
  "never more probes in flight than maxConcurrentProbes",
  real,
  async () => {
    const across: Concurrency = { active: 0, maxActive: 0 };
    // Each answer takes three intervals: unbounded, all four would overlap.
    const hosts = Array.from(
      { length: 4 },
      () => startFakeHost(200, 300, across),
    );
    const health = settings({ maxConcurrentProbes: 2 });
    const { registry, store } = makeRegistry(health);
    for (const host of hosts) register(registry, host.url);
    const monitor = startHealthMonitor(registry, { health });
    try {
      await waitFor(() => hosts.every((h) => h.state.answered >= 2), {
        what: "two probes of every host",
        timeoutMs: 15_000,
      });
      assertEquals(across.maxActive, 2);
      for (const host of hosts) {
        assertEquals(registry.get(host.url)?.state, "Healthy");
      }
      // A registration's probe waits for a slot too.
      await Promise.all(hosts.map((h) => monitor.probe(h.url)));
      assertEquals(across.maxActive, 2);
    } finally {
      await monitor.stop();
      await Promise.all(hosts.map((h) => h.stop()));
      store.close();
    }
  },
);

Deno.test(
  "unheard hosts are probed in the first round whoever probes them, and firstProbes settles once they are",
  real,
  async () => {
    // Not a target (another gateway's lease), answering slowly.
    const [unheard, held] = [startFakeHost(200, 1000), startFakeHost()];
    // Interval 10 s: a second round would come long after the test.
    const health = settings({ interval: 10 });
    const { registry, store } = makeRegistry(health);
    register(registry, unheard.url);
    register(registry, held.url);
    let settled = false;
    const monitor = startHealthMonitor(registry, {
      health,
      unheard: [unheard.url],
      targets: () => Promise.resolve([held.url]),
    });
    monitor.firstProbes.then(() => settled = true);
    try {
      await waitFor(() => unheard.state.requests === 1, {
        what: "the unheard host's probe",
      });
      assert(!settled, "settled before its probe answered");
      await monitor.firstProbes;
      assertEquals(unheard.state.answered, 1);
      assert(registry.get(unheard.url)?.lastProbe?.ok, "its probe recorded");
      await waitFor(() => held.state.answered === 1, { what: "held's probe" });
    } finally {
      await monitor.stop();
      await unheard.stop();
      await held.stop();
      store.close();
    }
  },
);

Deno.test(
  "firstProbes settles when the monitor stops before the probes answer",
  real,
  async () => {
    const host = startFakeHost(200, 60_000);
    const health = settings({ interval: 10, timeout: 60 });
    const { registry, store } = makeRegistry(health);
    register(registry, host.url);
    const monitor = startHealthMonitor(registry, {
      health,
      unheard: [host.url],
    });
    try {
      await waitFor(() => host.state.requests === 1, { what: "the probe" });
      await monitor.stop();
      await monitor.firstProbes;
      assertEquals(registry.get(host.url)?.lastProbe, undefined);
    } finally {
      await host.stop();
      store.close();
    }
  },
);
