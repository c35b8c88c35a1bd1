/**
 * The host API (`/gateway/...`) on a loopback server over a real registry
 * and session map: register, heartbeat and unregister with the seed's
 * payloads and the farm's shared secret (401 without it), 400 naming every
 * missing or mistyped field, 404 for hosts the gateway does not know;
 * unregister ends the host's sessions, and `sessionEnded` the one session
 * its host says ended (404 for one it does not know, 401 without the
 * secret, 400 naming bad fields); streamers' licence check-ins (200 with
 * the interval for a live session of that host, 404 with the interval
 * otherwise), metrics and activity reports for live sessions only, each
 * needing the session's licence proof (400 without one, 403 for a wrong one,
 * and always 403 when the gateway has no shared secret).
 */
import { Hono } from "hono";
import { hostApi } from "../../../mod/gateway/api/host_api.ts";
import { licenceProof } from "../../../mod/contract/licence_proof.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { captureLogs } from "../../support/log.ts";
import {
  gatewayConfig,
  type GatewayParts,
  gatewayParts,
  heartbeatPayload,
  postJson,
  registerPayload,
  SECRET,
  serveApp,
  sessionRecord,
} from "../../support/gateway_parts.ts";
import { HEARTBEAT_KEYS, REGISTER_KEYS } from "../../support/fake_gateway.ts";

const HOST = "http://10.0.0.5:9005";
const OTHER = "http://10.0.0.6:9005";
const AUTH = { Authorization: `Bearer ${SECRET}` };

/** The proof a streamer of `sessionUuid` is given by its host. */
const proofOf = (sessionUuid: string) => licenceProof(SECRET, sessionUuid);

/** What a streamer's report names: its session, its host, and its proof. */
async function proven(sessionUuid: string, serverUrl = HOST) {
  return { sessionUuid, serverUrl, proof: await proofOf(sessionUuid) };
}

interface Harness {
  parts: GatewayParts;
  url: string;
  probes: string[];
  reconciles: string[];
  logs: Record<string, unknown>[];
  post(
    path: string,
    body: unknown,
    headers?: Record<string, string>,
  ): ReturnType<typeof postJson>;
  /** A streamer's licence check-in (streamers send no shared secret). */
  checkin(body: unknown): ReturnType<typeof postJson>;
  stop(): Promise<void>;
}

/** The host API over gateway parts with `gateway` settings, on loopback. */
function start(gateway: Record<string, unknown> = {}): Harness {
  const parts = gatewayParts(gatewayConfig({
    licence: { checkinInterval: 7, staleAfter: 30 },
    ...gateway,
  }));
  const probes: string[] = [];
  const reconciles: string[] = [];
  const { logger, records: logs } = captureLogs();
  const app = new Hono();
  app.route(
    "/gateway",
    hostApi({
      config: parts.config,
      registry: parts.registry,
      sessions: parts.sessions,
      metrics: parts.metrics,
      probe: (url) => probes.push(url),
      reconcile: (url) => reconciles.push(url),
      logger,
    }),
  );
  const served = serveApp(app);
  return {
    parts,
    url: served.url,
    probes,
    reconciles,
    logs,
    post: (path, body, headers = AUTH) =>
      postJson(`${served.url}/gateway/${path}`, body, headers),
    checkin: (body) => postJson(`${served.url}/gateway/licence/checkin`, body),
    async stop() {
      await served.stop();
      parts.close();
    },
  };
}

async function metricsText(parts: GatewayParts): Promise<string> {
  return (await parts.metrics.render()).body;
}

Deno.test("register, heartbeat and unregister with the seed's payloads", async () => {
  const h = start();
  try {
    const register = registerPayload(HOST);
    assertEquals(Object.keys(register).sort(), [...REGISTER_KEYS]);
    const registered = await h.post("register", register);
    assertEquals(registered.status, 200);
    assertEquals(registered.body, { ok: true, state: "Healthy" });
    assertEquals(h.probes, [HOST], "a new host is probed at once");
    assertEquals(h.reconciles, [HOST], "and its sessions reconciled");
    const host = h.parts.registry.get(HOST)!;
    assertEquals(host.registration, register);
    assertEquals(host.unregistered, false);

    const heartbeat = heartbeatPayload(HOST, {
      activeSessions: 3,
      cpuUsage: 42.5,
      memoryUsage: 61,
    });
    assertEquals(Object.keys(heartbeat).sort(), [...HEARTBEAT_KEYS]);
    const beat = await h.post("heartbeat", heartbeat);
    assertEquals(beat.status, 200);
    assertEquals(beat.body, { ok: true, state: "Healthy" });
    const { receivedAt, ...stored } = h.parts.registry.get(HOST)!.heartbeat!;
    assertEquals(stored, heartbeat);
    assert(receivedAt > 0);

    const bye = await h.post("unregister", { serverUrl: HOST });
    assertEquals(bye.status, 200);
    assertEquals(bye.body, { ok: true });
    assertEquals(h.parts.registry.get(HOST)!.state, "Unregistered");
    assertEquals(h.parts.store.loadHosts()[0].unregistered, true);
  } finally {
    await h.stop();
  }
});

Deno.test("a host that registers again is Healthy again", async () => {
  const h = start();
  try {
    await h.post("register", registerPayload(HOST));
    await h.post("unregister", { serverUrl: HOST });
    const again = await h.post(
      "register",
      registerPayload(HOST, { maxSessions: 4, tags: ["gpu"] }),
    );
    assertEquals(again.body, { ok: true, state: "Healthy" });
    assertEquals(h.parts.registry.get(HOST)!.registration.tags, ["gpu"]);
    assertEquals(h.parts.registry.size, 1);
  } finally {
    await h.stop();
  }
});

Deno.test("the host contract requires the farm's shared secret", async (t) => {
  const h = start();
  try {
    const bodies: Record<string, unknown> = {
      register: registerPayload(HOST),
      heartbeat: heartbeatPayload(HOST),
      unregister: { serverUrl: HOST },
    };
    const wrong: [string, Record<string, string>][] = [
      ["no Authorization", {}],
      ["a wrong secret", { Authorization: "Bearer not-the-secret" }],
      ["the secret without Bearer", { Authorization: SECRET }],
      ["Basic auth", { Authorization: `Basic ${btoa(`x:${SECRET}`)}` }],
    ];
    for (const [path, body] of Object.entries(bodies)) {
      for (const [what, headers] of wrong) {
        await t.step(`${path} with ${what} → 401`, async () => {
          const answer = await h.post(path, body, headers);
          assertEquals(answer.status, 401);
          assertMatch(String(answer.body.error), /shared secret/);
        });
      }
    }
    assertEquals(h.parts.registry.size, 0, "nothing was registered");
    assertEquals(h.probes, []);
    // The scheme name is case-insensitive.
    const ok = await h.post("register", registerPayload(HOST), {
      Authorization: `bearer ${SECRET}`,
    });
    assertEquals(ok.status, 200);
  } finally {
    await h.stop();
  }
});

/** Values of the wrong type (or shape) for each payload field. */
const REGISTER_WRONG: Record<string, unknown> = {
  serverUrl: 42,
  maxSessions: "10",
  instanceType: 5,
  ec2InstanceId: null,
  tags: "gpu",
  capabilities: [1],
  version: 1,
};
const HEARTBEAT_WRONG: Record<string, unknown> = {
  serverUrl: "ftp://10.0.0.5",
  status: 1,
  activeSessions: "0",
  maxSessions: 2.5,
  instanceType: true,
  tags: { gpu: true },
  cpuUsage: "10",
  memoryUsage: 120,
  timestamp: 0,
};

Deno.test("every missing or mistyped field is a 400 naming it", async (t) => {
  const h = start();
  try {
    await h.post("register", registerPayload(HOST));
    const cases: [string, Record<string, unknown>, Record<string, unknown>][] =
      [
        ["register", { ...registerPayload(HOST) }, REGISTER_WRONG],
        ["heartbeat", { ...heartbeatPayload(HOST) }, HEARTBEAT_WRONG],
        ["unregister", { serverUrl: HOST }, { serverUrl: "not a url" }],
      ];
    assertEquals(Object.keys(REGISTER_WRONG).sort(), [...REGISTER_KEYS]);
    assertEquals(Object.keys(HEARTBEAT_WRONG).sort(), [...HEARTBEAT_KEYS]);
    for (const [path, valid, wrong] of cases) {
      for (const field of Object.keys(valid)) {
        await t.step(`${path} without ${field}`, async () => {
          const body = { ...valid };
          delete body[field];
          const answer = await h.post(path, body);
          assertEquals(answer.status, 400);
          const problems = answer.body.problems as string[];
          assertEquals(problems.length, 1, problems.join("\n"));
          assertMatch(
            problems[0],
            new RegExp(`^${field}: expected .+, got nothing$`),
          );
        });
        await t.step(`${path} with a mistyped ${field}`, async () => {
          const answer = await h.post(path, {
            ...valid,
            [field]: wrong[field],
          });
          assertEquals(answer.status, 400);
          const problems = answer.body.problems as string[];
          assertEquals(problems.length, 1, problems.join("\n"));
          assertMatch(problems[0], new RegExp(`^${field}(\\[\\d+\\])?: `));
        });
      }
    }
    await t.step("a body that is not JSON", async () => {
      const answer = await h.post("register", "serverUrl=x");
      assertEquals(answer.status, 400);
      assertEquals(answer.body.error, "the body must be JSON");
    });
    // Nothing changed the registered host.
    assertEquals(h.parts.registry.list().length, 1);
    assertEquals(h.parts.registry.get(HOST)!.state, "Healthy");
  } finally {
    await h.stop();
  }
});

Deno.test("a heartbeat or goodbye from a host the gateway does not know is a 404", async () => {
  const h = start();
  try {
    const beat = await h.post("heartbeat", heartbeatPayload(HOST));
    assertEquals(beat.status, 404);
    assertMatch(String(beat.body.error), /register first/);
    const bye = await h.post("unregister", { serverUrl: HOST });
    assertEquals(bye.status, 404);
    assertEquals(h.parts.registry.size, 0, "a heartbeat registers nothing");

    // An unregistered host must register again before heartbeating.
    await h.post("register", registerPayload(HOST));
    await h.post("unregister", { serverUrl: HOST });
    const late = await h.post("heartbeat", heartbeatPayload(HOST));
    assertEquals(late.status, 404);
    assertEquals(h.parts.registry.get(HOST)!.state, "Unregistered");
  } finally {
    await h.stop();
  }
});

Deno.test("unregister ends that host's sessions and no others", async () => {
  const h = start();
  try {
    await h.post("register", registerPayload(HOST));
    await h.post("register", registerPayload(OTHER));
    const mine = [
      sessionRecord({ serverUrl: HOST }),
      sessionRecord({ serverUrl: HOST, user: "bob" }),
    ];
    const theirs = sessionRecord({ serverUrl: OTHER });
    for (const s of [...mine, theirs]) h.parts.sessions.put(s);

    assertEquals((await h.post("unregister", { serverUrl: HOST })).status, 200);
    assertEquals(h.parts.sessions.all().map((s) => s.sessionId), [
      theirs.sessionId,
    ]);
    assertEquals(
      h.parts.store.loadSessions().map((s) => s.sessionId),
      [theirs.sessionId],
      "the store forgot them too",
    );
    assertEquals(h.parts.sessions.getByUuid(mine[0].sessionUuid), undefined);
  } finally {
    await h.stop();
  }
});

Deno.test("licence check-ins: 200 with the interval for a live session of that host, 404 otherwise", async (t) => {
  const h = start();
  try {
    const session = sessionRecord({ serverUrl: HOST });
    h.parts.sessions.put(session);
    await t.step("a live session", async () => {
      h.parts.clock.now += 5_000;
      const answer = await h.checkin(await proven(session.sessionUuid));
      assertEquals(answer.status, 200);
      assertEquals(answer.body, { ok: true, interval: 7 });
      assertEquals(
        h.parts.sessions.get(session.sessionId)!.lastCheckinAt,
        h.parts.clock.now,
      );
    });
    await t.step("check-ins keep a session live past staleAfter", async () => {
      for (let i = 0; i < 3; i++) {
        h.parts.clock.now += 20_000;
        const answer = await h.checkin(await proven(session.sessionUuid));
        assertEquals(answer.status, 200);
      }
      assert(h.parts.sessions.isLive(session));
      assertEquals(h.parts.sessions.prune(), 0);
    });
    await t.step("an unknown session → 404 with the interval", async () => {
      const sessionUuid = crypto.randomUUID();
      const answer = await h.checkin(await proven(sessionUuid));
      assertEquals(answer.status, 404);
      assertEquals(answer.body, { error: "unknown session", interval: 7 });
    });
    await t.step("another host's session → 404", async () => {
      const before = h.parts.sessions.get(session.sessionId)!.lastCheckinAt;
      h.parts.clock.now += 1_000;
      const answer = await h.checkin(await proven(session.sessionUuid, OTHER));
      assertEquals(answer.status, 404);
      assertEquals(answer.body.interval, 7);
      assertEquals(
        h.parts.sessions.get(session.sessionId)!.lastCheckinAt,
        before,
        "the check-in was not counted",
      );
    });
    await t.step("a malformed check-in → 400 naming the field", async () => {
      const answer = await h.checkin(await proven("not-a-uuid"));
      assertEquals(answer.status, 400);
      const problems = answer.body.problems as string[];
      assertEquals(problems.length, 1);
      assertMatch(problems[0], /^sessionUuid: /);
      const missing = await h.checkin({
        sessionUuid: session.sessionUuid,
        proof: await proofOf(session.sessionUuid),
      });
      assertEquals(missing.status, 400);
      assertMatch((missing.body.problems as string[])[0], /^serverUrl: /);
    });
  } finally {
    await h.stop();
  }
});

Deno.test("metrics reports are taken for live sessions of that host only", async () => {
  const h = start();
  try {
    const session = sessionRecord({ serverUrl: HOST });
    h.parts.sessions.put(session);
    const report = {
      ...await proven(session.sessionUuid),
      fps: 24,
      bytes: 123_456,
      latencyMs: 40,
      inputEvents: 9,
    };
    const answer = await h.post("metrics", report, {});
    assertEquals(answer.status, 200);
    assertEquals(answer.body, { ok: true });
    let text = await metricsText(h.parts);
    assertMatch(text, /^webstream_stream_fps_count 1$/m);
    assertMatch(text, /^webstream_stream_bytes_total 123456$/m);
    assertMatch(text, /^webstream_input_events_total 9$/m);
    assertMatch(text, /^webstream_stream_latency_seconds_sum 0\.04$/m);

    const stranger = crypto.randomUUID();
    const unknown = await h.post("metrics", {
      ...report,
      ...await proven(stranger),
    }, {});
    assertEquals(unknown.status, 404);
    const elsewhere = await h.post("metrics", {
      ...report,
      serverUrl: OTHER,
    }, {});
    assertEquals(elsewhere.status, 404);
    // A session silent for longer than staleAfter has ended.
    h.parts.clock.now += 31_000;
    const stale = await h.post("metrics", report, {});
    assertEquals(stale.status, 404);
    const bad = await h.post("metrics", { ...report, fps: -1 }, {});
    assertEquals(bad.status, 400);
    assertMatch((bad.body.problems as string[])[0], /^fps: /);

    text = await metricsText(h.parts);
    assertMatch(text, /^webstream_stream_fps_count 1$/m, "refused reports");
    assertMatch(text, /^webstream_stream_bytes_total 123456$/m);
  } finally {
    await h.stop();
  }
});

Deno.test("activity events are taken for live sessions of that host only", async () => {
  const h = start();
  try {
    const session = sessionRecord({ serverUrl: HOST, user: "carol" });
    h.parts.sessions.put(session);
    const event = {
      ...await proven(session.sessionUuid),
      event: "app_launch",
      detail: "xterm",
    };
    const answer = await h.post("activity", event, {});
    assertEquals(answer.status, 200);
    assertMatch(
      await metricsText(h.parts),
      /^webstream_activity_events_total\{event="app_launch"\} 1$/m,
    );
    const logged = h.logs.find((r) => r.msg === "session activity");
    assertEquals(
      [logged?.event, logged?.detail, logged?.user, logged?.sessionId],
      ["app_launch", "xterm", "carol", session.sessionId],
    );

    assertEquals(
      (await h.post("activity", { ...event, serverUrl: OTHER }, {})).status,
      404,
    );
    const stranger = crypto.randomUUID();
    assertEquals(
      (await h.post("activity", {
        ...event,
        ...await proven(stranger),
      }, {})).status,
      404,
    );
    const bad = await h.post("activity", { ...event, event: "reboot" }, {});
    assertEquals(bad.status, 400);
    assertMatch((bad.body.problems as string[])[0], /^event: expected one of/);
    h.parts.clock.now += 31_000;
    assertEquals((await h.post("activity", event, {})).status, 404);
    assertMatch(
      await metricsText(h.parts),
      /^webstream_activity_events_total\{event="app_launch"\} 1$/m,
    );
  } finally {
    await h.stop();
  }
});

Deno.test("check-ins, metrics and activity need the session's licence proof", async (t) => {
  const h = start();
  try {
    const session = sessionRecord({ serverUrl: HOST });
    const other = sessionRecord({ serverUrl: HOST });
    h.parts.sessions.put(session);
    h.parts.sessions.put(other);
    const right = await proofOf(session.sessionUuid);
    const bodies: Record<string, Record<string, unknown>> = {
      "licence/checkin": { sessionUuid: session.sessionUuid, serverUrl: HOST },
      metrics: { sessionUuid: session.sessionUuid, serverUrl: HOST, fps: 30 },
      activity: {
        sessionUuid: session.sessionUuid,
        serverUrl: HOST,
        event: "upload",
      },
    };
    const wrong: [string, string][] = [
      ["another session's proof", await proofOf(other.sessionUuid)],
      [
        "a proof under another secret",
        await licenceProof("another-farm-secret", session.sessionUuid),
      ],
      ["a made-up proof", "0".repeat(64)],
    ];
    for (const [path, body] of Object.entries(bodies)) {
      await t.step(`${path}: a missing or malformed proof → 400`, async () => {
        for (const proof of [undefined, "", "abc", right.toUpperCase(), 42]) {
          const answer = await h.post(path, { ...body, proof }, {});
          assertEquals(answer.status, 400, String(proof));
          const problems = answer.body.problems as string[];
          assertEquals(problems.length, 1, problems.join("\n"));
          assertMatch(problems[0], /^proof: /);
        }
      });
      await t.step(`${path}: a wrong proof → 403`, async () => {
        for (const [what, proof] of wrong) {
          const answer = await h.post(path, { ...body, proof }, {});
          assertEquals(answer.status, 403, what);
          assertEquals(answer.body, { error: "invalid licence proof" });
        }
      });
      await t.step(`${path}: the right proof → 200`, async () => {
        const answer = await h.post(path, { ...body, proof: right }, {});
        assertEquals(answer.status, 200, JSON.stringify(answer.body));
      });
    }
    // Only the proven requests counted.
    const text = await metricsText(h.parts);
    assertMatch(text, /^webstream_stream_fps_count 1$/m);
    assertMatch(text, /^webstream_activity_events_total\{event="upload"\} 1$/m);
    assertEquals(
      h.parts.sessions.get(other.sessionId)!.lastCheckinAt,
      undefined,
    );
  } finally {
    await h.stop();
  }
});

Deno.test("without a shared secret no proof is accepted", async () => {
  const h = start({ backend: { sharedSecret: undefined } });
  try {
    const session = sessionRecord({ serverUrl: HOST });
    h.parts.sessions.put(session);
    const answer = await h.checkin(await proven(session.sessionUuid));
    assertEquals(answer.status, 403);
  } finally {
    await h.stop();
  }
});

Deno.test("sessionEnded ends that session of that host at once", async () => {
  const h = start();
  try {
    await h.post("register", registerPayload(HOST));
    const ended = sessionRecord({ serverUrl: HOST });
    const kept = sessionRecord({ serverUrl: HOST, user: "bob" });
    const other = sessionRecord({ serverUrl: OTHER });
    for (const s of [ended, kept, other]) h.parts.sessions.put(s);
    const report = {
      serverUrl: HOST,
      sessionUuid: ended.sessionUuid,
      reason: "display died",
    };
    assertEquals(
      (await h.post("sessionEnded", report, {})).status,
      401,
      "hosts only",
    );
    assertEquals(h.parts.sessions.size, 3);
    // Another host cannot end it.
    assertEquals(
      (await h.post("sessionEnded", { ...report, serverUrl: OTHER })).status,
      404,
    );
    const answer = await h.post("sessionEnded", report);
    assertEquals(answer.status, 200);
    assertEquals(h.parts.sessions.get(ended.sessionId), undefined);
    assertEquals(
      h.parts.store.loadSessions().map((s) => s.sessionId).sort(),
      [kept.sessionId, other.sessionId].sort(),
    );
    // Said twice (a retry whose answer was lost): nothing left to end.
    assertEquals((await h.post("sessionEnded", report)).status, 404);
    const bad = await h.post("sessionEnded", {
      serverUrl: HOST,
      sessionUuid: "nope",
    });
    assertEquals(bad.status, 400);
    assertMatch(JSON.stringify(bad.body), /sessionUuid/);
    assertMatch(JSON.stringify(bad.body), /reason/);
  } finally {
    await h.stop();
  }
});
