/**
 * The gateway client in-process against recording gateways on loopback and a
 * separate local "self-check" server standing in for the host's own
 * `/health`: registration only after a healthy self-check, the seed's
 * register and heartbeat payloads, the heartbeat interval, re-registration on
 * 404 (and only on 404), retries while the gateway is down, giving up, a
 * gateway that goes away and comes back, and unregister on `stop()`.
 *
 * @module
 */
import type { RegisterPayload } from "../../mod/contract/mod.ts";
import {
  GatewayClient,
  type GatewayClientOptions,
  GatewayEndpoints,
} from "../../mod/registration/mod.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { assert, assertEquals, assertGreater } from "../support/assert.ts";
import {
  type FakeGateway,
  HEARTBEAT_KEYS,
  type RecordedRequest,
  REGISTER_KEYS,
  startFakeGateway,
} from "../support/fake_gateway.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "../support/wait.ts";

const SECRET = "gateway-secret-for-tests";

const REGISTRATION: RegisterPayload = {
  serverUrl: "http://127.0.0.1:9",
  maxSessions: 3,
  instanceType: "m7i.large",
  ec2InstanceId: "i-0123456789abcdef0",
  tags: ["gpu", "autocad"],
  capabilities: ["xvfb", "autocad-2025"],
  version: "1.2.3",
};

/** A log record the client wrote, with its arrival time. */
type LogRecord = Record<string, unknown> & { msg: string; at: number };

/** A self-check server whose answer the test sets, recording every hit. */
interface SelfCheck {
  url: string;
  status: number;
  hits: { status: number; at: number }[];
  stop(): Promise<void>;
}

function startSelfCheck(status = 200): SelfCheck {
  const check: SelfCheck = {
    url: "",
    status,
    hits: [],
    stop: () => server.shutdown(),
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => {
      check.hits.push({ status: check.status, at: performance.now() });
      return Response.json({ status: "probe" }, { status: check.status });
    },
  );
  check.url = `http://127.0.0.1:${server.addr.port}/health`;
  return check;
}

/** What a scripted gateway does with one request. */
type Answer = number | "hang";

/** A gateway whose answers the test scripts, recording every request. */
interface ScriptedGateway {
  url: string;
  port: number;
  requests: RecordedRequest[];
  of(kind: string): RecordedRequest[];
  stop(): Promise<void>;
}

function startScriptedGateway(
  answer: (kind: string, request: RecordedRequest) => Answer | Promise<Answer>,
  port = 0,
): ScriptedGateway {
  const requests: RecordedRequest[] = [];
  const hanging = new Set<() => void>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    async (request) => {
      const kind = new URL(request.url).pathname.replace(/^\/gateway\//, "");
      const body = await request.json().catch(() => ({}));
      const recorded = {
        kind,
        body,
        headers: request.headers,
        at: performance.now(),
      };
      requests.push(recorded);
      const status = await answer(kind, recorded);
      if (status === "hang") {
        // Never answer; let go only when the gateway stops.
        await new Promise<void>((resolve) => hanging.add(resolve));
        return new Response(null, { status: 504 });
      }
      return Response.json({ status }, { status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    requests,
    of: (kind) => requests.filter((r) => r.kind === kind),
    async stop() {
      for (const release of hanging) release();
      await server.shutdown();
    },
  };
}

/** A client with test-sized timings; `logs` collects its records. */
function makeClient(
  overrides: Partial<GatewayClientOptions> & {
    gateway: GatewayEndpoints;
    selfCheckUrl: string;
  },
): { client: GatewayClient; logs: LogRecord[] } {
  const logs: LogRecord[] = [];
  const logger = createLogger({
    level: "debug",
    format: "json",
    component: "test",
    sink: (line) => logs.push({ ...JSON.parse(line), at: performance.now() }),
  });
  const client = new GatewayClient({
    registration: REGISTRATION,
    sharedSecret: SECRET,
    heartbeatIntervalMs: 200,
    retryIntervalMs: 100,
    maxAttempts: 5,
    requestTimeoutMs: 2000,
    unregisterTimeoutMs: 2000,
    state: () => ({ status: "healthy", activeSessions: 1 }),
    load: () => ({ cpuUsage: 12.5, memoryUsage: 40.1 }),
    logger,
    ...overrides,
  });
  return { client, logs };
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

/** Stops `client`, failing (instead of hanging) if it takes over 10 s. */
async function stopClient(client: GatewayClient): Promise<void> {
  let done = false;
  const stopping = client.stop().then(() => done = true);
  await waitFor(() => done, { timeoutMs: 10_000, what: "stop() to return" });
  await stopping;
}

/** What the client under test is pointed at as its gateway. */
interface Gateway {
  url: string;
  stop(): Promise<void>;
}

/**
 * The gateway at `url` that a test may stop and start again: stopping it
 * stops whichever gateway `current()` is then (none: nothing to stop).
 */
function currentGateway(
  url: string,
  current: () => Gateway | undefined,
): Gateway {
  return {
    url,
    async stop() {
      await current()?.stop();
    },
  };
}

/** A gateway URL nothing listens on. */
function absentGateway(): Gateway {
  return currentGateway(`http://127.0.0.1:${freePort()}`, () => undefined);
}

/** What {@linkcode withClient} hands the test. */
interface ClientRig<G extends Gateway> {
  check: SelfCheck;
  gateway: G;
  client: GatewayClient;
  logs: LogRecord[];
}

/** Options for {@linkcode withClient}. */
interface ClientRigOptions {
  /** What the self-check answers at first. Default 200. */
  selfCheck?: number;
  /** Client options over {@linkcode makeClient}'s (the URLs included). */
  client?: Partial<GatewayClientOptions>;
}

/**
 * Starts a self-check and a client pointed at `gateway`, runs `fn` with
 * the client started, then stops the client (a no-op when `fn` already
 * did), the gateway and the self-check.
 */
async function withClient<G extends Gateway>(
  gateway: G,
  options: ClientRigOptions,
  fn: (rig: ClientRig<G>) => Promise<void>,
): Promise<void> {
  const check = startSelfCheck(options.selfCheck);
  const { client, logs } = makeClient({
    gateway: new GatewayEndpoints(gateway.url),
    selfCheckUrl: check.url,
    ...options.client,
  });
  try {
    client.start();
    await fn({ check, gateway, client, logs });
  } finally {
    await stopClient(client);
    await gateway.stop();
    await check.stop();
  }
}

Deno.test({
  name: "gateway client: waits for a healthy self-check before registering",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withClient(
      startFakeGateway({ secret: SECRET }),
      { selfCheck: 503 },
      async ({ check, gateway, client }) => {
        await waitFor(() => check.hits.length >= 3, {
          what: "three 503 self-checks",
        });
        assertEquals(gateway.requests.length, 0, "registered while unhealthy");
        assertEquals(client.state, "checking");

        check.status = 200;
        const register = await waitFor(() => gateway.of("register")[0], {
          what: "register",
        });
        await waitFor(() => client.state === "registered", {
          what: "state registered",
        });
        const firstHealthy = check.hits.findIndex((h) => h.status === 200);
        assertGreater(firstHealthy, 2);
        // Every 503 came before the first 200, which came before the register.
        for (const hit of check.hits.slice(0, firstHealthy)) {
          assertEquals(hit.status, 503);
          assertGreater(register.at, hit.at);
        }
        assertGreater(register.at, check.hits[firstHealthy].at);
        // Nothing reached the gateway before that register.
        assertEquals(gateway.requests[0], register);
        // One healthy answer is enough: the self-check stops.
        assertEquals(check.hits.length, firstHealthy + 1);
      },
    ),
});

Deno.test({
  name: "gateway client: register carries exactly the seed's payload",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await t.step(
      "with a shared secret: Authorization: Bearer",
      () =>
        withClient(
          startFakeGateway({ secret: SECRET }),
          {},
          async ({ gateway }) => {
            const register = await waitFor(() => gateway.of("register")[0], {
              what: "register",
            });
            assertEquals(Object.keys(register.body).sort(), REGISTER_KEYS);
            assertEquals(register.body, { ...REGISTRATION });
            assertEquals(
              register.headers.get("authorization"),
              `Bearer ${SECRET}`,
            );
            assertEquals(
              register.headers.get("content-type"),
              "application/json",
            );
          },
        ),
    );
    await t.step("without a shared secret: no Authorization", () => {
      const gateway = startFakeGateway();
      return withClient(
        gateway,
        {
          client: {
            gateway: new GatewayEndpoints(`${gateway.url}/`),
            sharedSecret: undefined,
          },
        },
        async () => {
          const register = await waitFor(() => gateway.of("register")[0], {
            what: "register",
          });
          assertEquals(register.body, { ...REGISTRATION });
          assertEquals(register.headers.get("authorization"), null);
        },
      );
    });
  },
});

Deno.test({
  name:
    "gateway client: heartbeats carry the seed's fields with live values, never faster than configured",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const interval = 250;
    // Every call answers something new, so each heartbeat shows which call
    // it came from.
    const states: { status: string; activeSessions: number }[] = [];
    const loads: { cpuUsage: number; memoryUsage: number }[] = [];
    const started = Date.now();
    await withClient(startFakeGateway({ secret: SECRET }), {
      client: {
        heartbeatIntervalMs: interval,
        state: () => {
          const n = states.length;
          const state = {
            status: n % 2 ? "degraded" : "healthy",
            activeSessions: n,
          };
          states.push(state);
          return state;
        },
        load: () => {
          const n = loads.length;
          const load = { cpuUsage: 10 + n / 10, memoryUsage: 50 - n / 10 };
          loads.push(load);
          return load;
        },
      },
    }, async ({ gateway }) => {
      await waitFor(() => gateway.of("heartbeat").length >= 5, {
        what: "five heartbeats",
      });
      const register = gateway.of("register")[0];
      const beats = gateway.of("heartbeat").slice(0, 5);
      assertEquals(gateway.of("register").length, 1);
      beats.forEach((beat, i) => {
        assertEquals(Object.keys(beat.body).sort(), HEARTBEAT_KEYS);
        const { timestamp, ...rest } = beat.body;
        assertEquals(rest, {
          serverUrl: REGISTRATION.serverUrl,
          status: states[i].status,
          activeSessions: states[i].activeSessions,
          maxSessions: REGISTRATION.maxSessions,
          instanceType: REGISTRATION.instanceType,
          tags: REGISTRATION.tags,
          cpuUsage: loads[i].cpuUsage,
          memoryUsage: loads[i].memoryUsage,
        });
        const when = Date.parse(String(timestamp));
        assert(
          when >= started - 1000 && when <= Date.now() + 1000,
          `timestamp ${timestamp}`,
        );
        assertEquals(beat.headers.get("authorization"), `Bearer ${SECRET}`);
      });
      // Lower bounds only (a few ms of slack for timer rounding).
      assertGreater(beats[0].at - register.at, interval - 5);
      for (let i = 1; i < beats.length; i++) {
        assertGreater(beats[i].at - beats[i - 1].at, interval - 5);
      }
    });
  },
});

Deno.test({
  name: "gateway client: a heartbeat answered 404 leads to a new register",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withClient(
      startFakeGateway({ secret: SECRET }),
      {},
      async ({ gateway, client }) => {
        await waitFor(() => gateway.of("heartbeat").length >= 2, {
          what: "heartbeats",
        });
        assertEquals(gateway.of("register").length, 1);
        const forgottenAt = performance.now();
        gateway.forget();
        await waitFor(() => gateway.of("register").length === 2, {
          what: "a second register",
        });
        const again = gateway.of("register")[1];
        const refused = gateway.of("heartbeat").filter((h) =>
          h.at > forgottenAt && h.at < again.at
        );
        assertEquals(refused.length, 1, "exactly one 404 before registering");
        assertEquals(again.body, { ...REGISTRATION });
        // Heartbeats go on after the new registration.
        await waitFor(
          () => gateway.of("heartbeat").some((h) => h.at > again.at),
          { what: "a heartbeat after re-registering" },
        );
        assertEquals(client.state, "registered");
      },
    ),
});

Deno.test({
  name:
    "gateway client: heartbeats answered 500 or timing out do not re-register",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    for (const failure of [500, "hang"] as const) {
      await t.step(`heartbeat answered ${failure}`, () => {
        let failing = true;
        const gateway = startScriptedGateway((kind) =>
          kind === "heartbeat" && failing ? failure : 200
        );
        return withClient(
          gateway,
          { client: { requestTimeoutMs: 200 } },
          async ({ client, logs }) => {
            await waitFor(() => gateway.of("heartbeat").length >= 3, {
              what: "three failing heartbeats",
            });
            assertEquals(gateway.of("register").length, 1);
            assertEquals(client.state, "registered");
            assertGreater(
              logs.filter((r) => r.msg === "heartbeat failed").length,
              1,
            );
            // Once the gateway answers again, heartbeats simply go on.
            failing = false;
            const count = gateway.of("heartbeat").length;
            await waitFor(() => gateway.of("heartbeat").length >= count + 2, {
              what: "heartbeats after recovery",
            });
            assert(
              logs.some((r) => r.msg === "heartbeats reach the gateway again"),
            );
            assertEquals(gateway.of("register").length, 1);
          },
        );
      });
    }
  },
});

Deno.test({
  name:
    "gateway client: a heartbeat network failure keeps heartbeating without re-registering",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    // This gateway "remembers" the host: it never answers 404.
    let gateway = startScriptedGateway(() => 200);
    const port = gateway.port;
    await withClient(
      currentGateway(gateway.url, () => gateway),
      {},
      async ({ client, logs }) => {
        await waitFor(() => gateway.of("heartbeat").length >= 1, {
          what: "a heartbeat",
        });
        await gateway.stop();
        const downAt = performance.now();
        const failures = () =>
          logs.filter((r) => r.msg === "heartbeat failed" && r.at > downAt);
        const seen = new Set<string>();
        await waitFor(() => {
          seen.add(client.state);
          return failures().length >= 3;
        }, { what: "three failed heartbeats" });
        assertEquals([...seen], ["registered"]);
        assert(
          !logs.some((r) => r.at > downAt && r.msg === "registration failed"),
        );
        gateway = startScriptedGateway(() => 200, port);
        await waitFor(() => gateway.of("heartbeat").length >= 2, {
          what: "heartbeats to the returned gateway",
        });
        assertEquals(gateway.of("register").length, 0);
        assertEquals(client.state, "registered");
      },
    );
  },
});

Deno.test({
  name:
    "gateway client: with no gateway listening it retries every retryIntervalMs, then gives up",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const retry = 150;
    await withClient(absentGateway(), {
      client: { retryIntervalMs: retry, maxAttempts: 4 },
    }, async ({ client, logs }) => {
      await waitFor(() => client.state === "gave-up", {
        what: "state gave-up",
      });
      const attempts = logs.filter((r) => r.msg === "registration failed");
      assertEquals(attempts.map((r) => r.attempt), [1, 2, 3, 4]);
      for (let i = 1; i < attempts.length; i++) {
        assertGreater(attempts[i].at - attempts[i - 1].at, retry - 5);
      }
      const gaveUp = logs.find((r) =>
        r.msg === "gave up registering with the gateway"
      );
      assertEquals(gaveUp?.attempts, 4);
      // No fifth attempt comes later.
      await new Promise((r) => setTimeout(r, retry * 3));
      assertEquals(
        logs.filter((r) => r.msg === "registration failed").length,
        4,
      );
      assertEquals(client.state, "gave-up");
    });
  },
});

Deno.test({
  name:
    "gateway client: after giving up, a gateway that comes up later still gets the host",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const port = freePort();
    let gateway: FakeGateway | undefined;
    await withClient(
      currentGateway(`http://127.0.0.1:${port}`, () => gateway),
      {
        client: {
          retryIntervalMs: 50,
          maxAttempts: 2,
          heartbeatIntervalMs: 100,
        },
      },
      async ({ client }) => {
        await waitFor(() => client.state === "gave-up", { what: "gave-up" });
        gateway = startFakeGateway({ port, secret: SECRET });
        // Its first heartbeat is answered 404: a new round of registration.
        await waitFor(() => client.state === "registered", {
          what: "state registered",
        });
        assertEquals(gateway.requests[0].kind, "heartbeat");
        assertEquals(gateway.of("register").length, 1);
      },
    );
  },
});

Deno.test({
  name:
    "gateway client: registers once a gateway comes up on the port before attempts run out",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const port = freePort();
    let gateway: FakeGateway | undefined;
    await withClient(
      currentGateway(`http://127.0.0.1:${port}`, () => gateway),
      { client: { retryIntervalMs: 100, maxAttempts: 100 } },
      async ({ client, logs }) => {
        await waitFor(
          () => logs.filter((r) => r.msg === "registration failed").length >= 2,
          { what: "two failed attempts" },
        );
        assertEquals(client.state, "registering");
        gateway = startFakeGateway({ port, secret: SECRET });
        await waitFor(() => client.state === "registered", {
          what: "state registered",
        });
        assertEquals(gateway.of("register").length, 1);
        assertEquals(gateway.of("register")[0].body, { ...REGISTRATION });
        await waitFor(() => gateway?.of("heartbeat").length, {
          what: "a heartbeat",
        });
      },
    );
  },
});

Deno.test({
  name:
    "gateway client: survives the gateway going away and re-registers with one that forgot it",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let gateway = startFakeGateway({ secret: SECRET });
    const port = portOf(gateway.url);
    await withClient(
      currentGateway(gateway.url, () => gateway),
      {},
      async ({ client, logs }) => {
        await waitFor(() => gateway.of("heartbeat").length >= 1, {
          what: "a heartbeat",
        });
        await gateway.stop();
        const downAt = performance.now();
        await waitFor(
          () =>
            logs.filter((r) => r.msg === "heartbeat failed" && r.at > downAt)
              .length >= 2,
          { what: "failed heartbeats" },
        );
        assertEquals(client.state, "registered");

        gateway = startFakeGateway({ port, secret: SECRET });
        const register = await waitFor(() => gateway.of("register")[0], {
          what: "re-registration",
        });
        // The new gateway learnt of the host from a heartbeat it answered 404.
        const first = gateway.requests[0];
        assertEquals(first.kind, "heartbeat");
        assertGreater(register.at, first.at);
        assertEquals(register.body, { ...REGISTRATION });
        assert(
          logs.some((r) =>
            r.msg === "gateway does not know this host; registering again"
          ),
        );
        await waitFor(
          () => gateway.of("heartbeat").some((h) => h.at > register.at),
          { what: "heartbeats after re-registering" },
        );
        assertEquals(client.state, "registered");
      },
    );
  },
});

Deno.test({
  name: "gateway client: stop() unregisters once when registered",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withClient(
      startFakeGateway({ secret: SECRET }),
      {},
      async ({ gateway, client }) => {
        await waitFor(() => gateway.of("heartbeat").length >= 1, {
          what: "a heartbeat",
        });
        await stopClient(client);
        assertEquals(client.state, "stopped");
        const unregister = gateway.of("unregister");
        assertEquals(unregister.length, 1);
        assertEquals(unregister[0].body, {
          serverUrl: REGISTRATION.serverUrl,
        });
        assertEquals(
          unregister[0].headers.get("authorization"),
          `Bearer ${SECRET}`,
        );
        // Nothing more after stop: no heartbeats, no second unregister.
        const count = gateway.requests.length;
        assertEquals(gateway.requests[count - 1], unregister[0]);
        await new Promise((r) => setTimeout(r, 600));
        assertEquals(gateway.requests.length, count);
        await client.stop();
        assertEquals(gateway.of("unregister").length, 1);
      },
    ),
});

Deno.test({
  name:
    "gateway client: stopped while registering, it unregisters once the gateway accepts",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    const held = Promise.withResolvers<void>();
    const gateway = startScriptedGateway(async (kind) => {
      if (kind === "register") await held.promise;
      return 200;
    });
    return withClient(gateway, {}, async ({ client }) => {
      await waitFor(() => gateway.of("register").length === 1, {
        what: "a register on its way",
      });
      assertEquals(client.state, "registering");
      const stopped = client.stop();
      // The gateway takes the registration after the stop began.
      await new Promise((r) => setTimeout(r, 50));
      held.resolve();
      await stopped;
      assertEquals(client.state, "stopped");
      assertEquals(gateway.of("unregister").length, 1);
      assertEquals(gateway.of("unregister")[0].body, {
        serverUrl: REGISTRATION.serverUrl,
      });
      assertEquals(gateway.of("heartbeat").length, 0);
    });
  },
});

Deno.test({
  name: "gateway client: stop() sends no unregister when never registered",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await t.step("still waiting for the self-check", () =>
      withClient(
        startFakeGateway({ secret: SECRET }),
        { selfCheck: 503 },
        async ({ check, gateway, client }) => {
          await waitFor(() => check.hits.length >= 1, { what: "a self-check" });
          await stopClient(client);
          assertEquals(client.state, "stopped");
          assertEquals(gateway.requests.length, 0);
        },
      ));
    await t.step("gave up after the gateway refused", () =>
      withClient(
        // The client's secret is wrong: every register is answered 401.
        startFakeGateway({ secret: "another-secret-entirely" }),
        { client: { maxAttempts: 2 } },
        async ({ gateway, client }) => {
          await waitFor(() => client.state === "gave-up", {
            what: "state gave-up",
          });
          assertEquals(gateway.of("register").length, 2);
          await stopClient(client);
          assertEquals(gateway.of("unregister").length, 0);
          assertEquals(gateway.requests.length, 2);
        },
      ));
    await t.step("between retries with no gateway listening", () =>
      withClient(
        absentGateway(),
        { client: { retryIntervalMs: 60_000 } },
        async ({ client, logs }) => {
          await waitFor(
            () => logs.some((r) => r.msg === "registration failed"),
            { what: "a failed attempt" },
          );
          // The long retry wait must not hold stop() up.
          await stopClient(client);
          assertEquals(client.state, "stopped");
          assert(!logs.some((r) => r.msg === "unregistered from gateway"));
        },
      ));
  },
});

Deno.test({
  name:
    "gateway client: stop() returns when the gateway never answers unregister",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withClient(
      startScriptedGateway((kind) => kind === "unregister" ? "hang" : 200),
      { client: { unregisterTimeoutMs: 300 } },
      async ({ gateway, client, logs }) => {
        await waitFor(() => gateway.of("heartbeat").length >= 1, {
          what: "a heartbeat",
        });
        await stopClient(client);
        assertEquals(gateway.of("unregister").length, 1);
        assert(logs.some((r) => r.msg === "unregister failed"));
      },
    ),
});
