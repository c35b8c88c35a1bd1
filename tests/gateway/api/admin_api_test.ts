/**
 * The admin API and `/metrics` on a loopback server over real gateway parts:
 * 401 without credentials, with a non-admin's cookie or a wrong bearer
 * token; the admin token and an admin's cookie both work; the hosts list
 * with its fields, drain and undrain (404 for an unknown host), the session
 * map, the placement decision log and one decision's explanation (after a
 * real launch against a scripted host), logging any session off on its
 * (real) host, signing a user out everywhere (their cookies refused, other
 * users' not; 404 for an unknown user, 400 for a bad body), and the
 * Prometheus exposition.
 */
import { Hono } from "hono";
import { adminApi } from "../../../mod/gateway/api/admin_api.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import {
  addHost,
  ADMIN_TOKEN,
  gatewayConfig,
  type GatewayParts,
  gatewayParts,
  partsUserApi,
  postJson,
  quietLogger,
  SECRET,
  serveWithHost,
  sessionRecord,
  signIn,
  userEntry,
} from "../../support/gateway_parts.ts";
import { startPoolHost } from "../../support/pool_host.ts";
import type { ScriptedHost } from "../../support/scripted_host.ts";

const ADMIN_PATHS = [
  "/admin/api/hosts",
  "/admin/api/sessions",
  "/admin/api/placements",
  `/admin/api/placements/${crypto.randomUUID()}`,
  "/metrics",
];

interface Harness {
  parts: GatewayParts;
  url: string;
  host: ScriptedHost;
  /** Cookie of alice, an administrator. */
  admin: string;
  /** Cookie of bob, a user. */
  user: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  stop(): Promise<void>;
}

/** Starts the harness; a null `token` configures no admin token. */
async function start(
  token: string | null = ADMIN_TOKEN,
): Promise<Harness> {
  const adminToken = token ?? undefined;
  const parts = gatewayParts(gatewayConfig({
    adminToken,
    auth: {
      users: [
        await userEntry("alice", "alice-password", { admin: true }),
        await userEntry("bob", "bob-password"),
      ],
    },
    workspaces: [{ id: "desktop", name: "Desktop", kind: "desktop" }],
  }));
  const app = new Hono();
  app.route(
    "/",
    adminApi({
      auth: parts.auth,
      adminToken,
      registry: parts.registry,
      sessions: parts.sessions,
      launcher: parts.launcher,
      metrics: parts.metrics,
      sharedSecret: SECRET,
      logger: quietLogger,
    }),
  );
  app.route("/", partsUserApi(parts));
  const served = serveWithHost(parts, app);
  return {
    parts,
    url: served.url,
    host: served.host,
    admin: await signIn(served.url, "alice", "alice-password"),
    user: await signIn(served.url, "bob", "bob-password"),
    get: (path, headers = {}) => fetch(`${served.url}${path}`, { headers }),
    stop: served.stop,
  };
}

async function status(response: Response): Promise<number> {
  await response.body?.cancel();
  return response.status;
}

Deno.test("admin routes refuse callers without an administrator's credentials", async (t) => {
  const h = await start();
  try {
    const callers: [string, Record<string, string>][] = [
      ["no credentials", {}],
      ["a user's cookie", { Cookie: h.user }],
      ["a wrong bearer token", {
        Authorization: "Bearer wrong-token-123456789",
      }],
      [
        "a wrong bearer token with an admin's cookie",
        { Authorization: "Bearer wrong-token-123456789", Cookie: h.admin },
      ],
      ["a forged cookie", { Cookie: `${h.admin.split("=")[0]}=forged` }],
    ];
    for (const [who, headers] of callers) {
      await t.step(who, async () => {
        for (const path of ADMIN_PATHS) {
          const response = await h.get(path, headers);
          assertEquals(response.status, 401, path);
          assertEquals(await response.json(), {
            error: "an administrator's credentials are required",
          });
        }
        const drain = await postJson(`${h.url}/admin/api/hosts/drain`, {
          serverUrl: h.host.url,
          draining: true,
        }, headers);
        assertEquals(drain.status, 401);
        const signOut = await postJson(`${h.url}/admin/api/users/signout`, {
          user: "alice",
        }, headers);
        assertEquals(signOut.status, 401);
      });
    }
  } finally {
    await h.stop();
  }
});

Deno.test("the admin token and an admin's cookie both work", async () => {
  const h = await start();
  try {
    const callers: Record<string, string>[] = [
      { Authorization: `Bearer ${ADMIN_TOKEN}` },
      { Authorization: `bearer ${ADMIN_TOKEN}` },
      { Cookie: h.admin },
    ];
    for (const headers of callers) {
      for (
        const path of ADMIN_PATHS.filter((p) => !p.includes("placements/"))
      ) {
        assertEquals(await status(await h.get(path, headers)), 200, path);
      }
    }
  } finally {
    await h.stop();
  }
});

Deno.test("without an admin token configured, a bearer token is never enough", async () => {
  const h = await start(null);
  try {
    for (const token of [ADMIN_TOKEN, "", "undefined"]) {
      const response = await h.get("/admin/api/hosts", {
        Authorization: `Bearer ${token}`,
      });
      assertEquals(await status(response), 401);
    }
    const cookie = await h.get("/admin/api/hosts", { Cookie: h.admin });
    assertEquals(await status(cookie), 200);
  } finally {
    await h.stop();
  }
});

Deno.test("hosts: the list with load and state, drain and undrain", async (t) => {
  const h = await start();
  const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  const other = "http://10.0.0.9:9005";
  try {
    addHost(h.parts.registry, h.host.url, {
      activeSessions: 2,
      maxSessions: 8,
      cpuUsage: 33,
      memoryUsage: 44,
      // The tags a host heartbeats with are its tags.
      tags: ["gpu"],
    }, { tags: ["registered"], capabilities: ["linux", "autocad"] });
    h.parts.registry.register({
      serverUrl: other,
      maxSessions: 4,
      instanceType: "t3.small",
      ec2InstanceId: "i-1",
      tags: [],
      capabilities: ["windows"],
      version: "0.0.9",
    });
    h.parts.registry.recordProbe(other, {
      at: Date.now(),
      ok: false,
      latencyMs: 6000,
      error: "no answer within 6 s",
    });

    await t.step("the list", async () => {
      const hosts = await (await h.get("/admin/api/hosts", auth)).json();
      assertEquals(hosts.length, 2);
      const a = hosts.find((x: { serverUrl: string }) =>
        x.serverUrl === h.host.url
      );
      assertEquals(Object.keys(a).sort(), [
        "activeSessions",
        "capabilities",
        "cpuUsage",
        "draining",
        "instanceType",
        "lastHeartbeat",
        "lastProbe",
        "logonsInFlight",
        "maxSessions",
        "memoryUsage",
        "probeFailures",
        "registeredAt",
        "serverUrl",
        "state",
        "stateReason",
        "tags",
        "version",
      ]);
      assertEquals(a.state, "Healthy");
      assertEquals(a.draining, false);
      assertEquals(a.tags, ["gpu"]);
      assertEquals(a.capabilities, ["linux", "autocad"]);
      assertEquals(a.instanceType, "m7i.large");
      assertEquals(
        [a.activeSessions, a.maxSessions, a.cpuUsage, a.memoryUsage],
        [2, 8, 33, 44],
      );
      assertEquals(a.logonsInFlight, 0);
      assertEquals(a.lastProbe, null);
      assertEquals(a.probeFailures, 0);
      assert(!Number.isNaN(Date.parse(a.lastHeartbeat)));
      assert(!Number.isNaN(Date.parse(a.registeredAt)));

      const b = hosts.find((x: { serverUrl: string }) => x.serverUrl === other);
      assertEquals(b.lastHeartbeat, null);
      assertEquals(b.activeSessions, 0);
      assertEquals(b.maxSessions, 4);
      assertEquals(b.probeFailures, 1);
      assertEquals(b.lastProbe.error, "no answer within 6 s");
      assertEquals(b.state, "Healthy", "one failure is below the threshold");
    });

    await t.step("drain, then undrain", async () => {
      const drained = await postJson(`${h.url}/admin/api/hosts/drain`, {
        serverUrl: h.host.url,
        draining: true,
      }, auth);
      assertEquals(drained.status, 200);
      assertEquals(drained.body, { serverUrl: h.host.url, state: "Draining" });
      const hosts = await (await h.get("/admin/api/hosts", auth)).json();
      const a = hosts.find((x: { serverUrl: string }) =>
        x.serverUrl === h.host.url
      );
      assertEquals([a.state, a.draining], ["Draining", true]);
      assertEquals(
        h.parts.store.loadHosts().find((x) => x.serverUrl === h.host.url)
          ?.draining,
        true,
      );

      const undrained = await postJson(`${h.url}/admin/api/hosts/drain`, {
        serverUrl: h.host.url,
        draining: false,
      }, { Cookie: h.admin });
      assertEquals(undrained.body, { serverUrl: h.host.url, state: "Healthy" });
    });

    await t.step("an unknown host is a 404; a bad body a 400", async () => {
      const unknown = await postJson(`${h.url}/admin/api/hosts/drain`, {
        serverUrl: "http://10.9.9.9:9005",
        draining: true,
      }, auth);
      assertEquals(unknown.status, 404);
      assertEquals(unknown.body, { error: "unknown host" });
      const bad = await postJson(`${h.url}/admin/api/hosts/drain`, {
        serverUrl: h.host.url,
        draining: "yes",
      }, auth);
      assertEquals(bad.status, 400);
      assertEquals(bad.body.problems, [
        'draining: expected boolean, got string "yes"',
      ]);
    });
  } finally {
    await h.stop();
  }
});

Deno.test("sessions: the session map with liveness", async () => {
  const h = await start();
  const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  try {
    const live = sessionRecord({ user: "bob", kind: "desktop" });
    const checkedIn = sessionRecord({ user: "carol" });
    h.parts.sessions.put(live);
    h.parts.sessions.put(checkedIn);
    h.parts.sessions.checkin(checkedIn.sessionUuid, checkedIn.serverUrl);
    let list = await (await h.get("/admin/api/sessions", auth)).json();
    assertEquals(list.length, 2);
    const row = list.find((s: { sessionId: string }) =>
      s.sessionId === live.sessionId
    );
    assertEquals(row, {
      sessionId: live.sessionId,
      sessionUuid: live.sessionUuid,
      user: "bob",
      kind: "desktop",
      workspaceIds: live.workspaceIds,
      serverUrl: live.serverUrl,
      credentials: "user",
      live: true,
      createdAt: new Date(live.createdAt).toISOString(),
      lastLaunchAt: new Date(live.lastLaunchAt).toISOString(),
      lastCheckinAt: null,
    });
    const other = list.find((s: { sessionId: string }) =>
      s.sessionId === checkedIn.sessionId
    );
    assertEquals(
      other.lastCheckinAt,
      new Date(h.parts.clock.now).toISOString(),
    );

    // Silent past staleAfter: listed (until pruned) but not live.
    h.parts.clock.now += 10 * 60_000;
    list = await (await h.get("/admin/api/sessions", auth)).json();
    assertEquals(list.map((s: { live: boolean }) => s.live), [false, false]);
  } finally {
    await h.stop();
  }
});

Deno.test("placements: the decision log and one decision's explanation", async () => {
  const h = await start();
  const auth = { Authorization: `Bearer ${ADMIN_TOKEN}` };
  try {
    // A refused launch (no hosts yet), then a placed one.
    const refused = await postJson(`${h.url}/api/launch`, {
      workspaceId: "desktop",
    }, { Cookie: h.user });
    assertEquals(refused.status, 503);
    addHost(h.parts.registry, h.host.url);
    const launched = await postJson(`${h.url}/api/launch`, {
      workspaceId: "desktop",
    }, { Cookie: h.user });
    assertEquals(launched.status, 200, JSON.stringify(launched.body));

    const list = await (await h.get("/admin/api/placements", auth)).json();
    assertEquals(list.length, 2);
    assertEquals(list.map((d: { outcome: string }) => d.outcome), [
      "new",
      "refused",
    ], "newest first");
    const [placed, failed] = list;
    assertEquals(Object.keys(placed).sort(), [
      "at",
      "id",
      "outcome",
      "serverUrl",
      "sessionId",
      "summary",
      "user",
      "workspaceId",
    ]);
    assertEquals(placed.id, launched.body.decisionId);
    assertEquals(placed.user, "bob");
    assertEquals(placed.workspaceId, "desktop");
    assertEquals(placed.sessionId, launched.body.sessionId);
    assertEquals(placed.serverUrl, h.host.url);
    assertMatch(placed.summary, /^new session on http:\/\/127\.0\.0\.1:\d+/);
    assertEquals(failed.id, refused.body.decisionId);
    assertEquals(failed.summary, "no host is registered");

    const one = await (await h.get(`/admin/api/placements/${placed.id}`, auth))
      .json();
    assertEquals(one.rounds.length, 1);
    assertEquals(one.rounds[0].outcome, "new");
    assertEquals(one.rounds[0].hosts.length, 1);
    assertEquals(one.rounds[0].hosts[0].serverUrl, h.host.url);
    assertEquals(one.rounds[0].hosts[0].verdict, "chosen");
    assertMatch(one.rounds[0].hosts[0].reason, /^least loaded/);
    assertEquals(typeof one.placementMs, "number");

    const missing = await h.get(
      `/admin/api/placements/${crypto.randomUUID()}`,
      auth,
    );
    assertEquals(missing.status, 404);
    assertEquals(await missing.json(), { error: "no such decision" });
  } finally {
    await h.stop();
  }
});

Deno.test("a user signed out everywhere: their cookies are refused, others' are not", async () => {
  const h = await start();
  try {
    const bob2 = await signIn(h.url, "bob", "bob-password");
    const me = async (cookie: string) =>
      await status(await h.get("/api/me", { Cookie: cookie }));
    assertEquals(await me(h.user), 200);
    assertEquals(await me(bob2), 200);

    const bad = await postJson(`${h.url}/admin/api/users/signout`, {
      name: "bob",
    }, { Cookie: h.admin });
    assertEquals(bad.status, 400);
    assertMatch(String(bad.body.error), /user/);
    const unknown = await postJson(`${h.url}/admin/api/users/signout`, {
      user: "mallory",
    }, { Authorization: `Bearer ${ADMIN_TOKEN}` });
    assertEquals(unknown.status, 404);
    assertEquals(unknown.body, {
      error: 'no user "mallory" in gateway.auth.users',
    });

    const before = Date.now();
    const done = await postJson(`${h.url}/admin/api/users/signout`, {
      user: "bob",
    }, { Cookie: h.admin });
    assertEquals(done.status, 200);
    assertEquals(done.body.user, "bob");
    const cutoff = Date.parse(String(done.body.signedOutBefore));
    assert(cutoff >= before && cutoff <= Date.now(), String(cutoff));
    // Both of bob's sign-ins are refused, everywhere.
    assertEquals(await me(h.user), 401);
    assertEquals(await me(bob2), 401);
    const launch = await postJson(`${h.url}/api/launch`, {
      workspaceId: "desktop",
    }, { Cookie: h.user });
    assertEquals(launch.status, 401);
    // The administrator who did it, and other users, are still signed in.
    assertEquals(await me(h.admin), 200);
    // Bob can sign in again.
    await new Promise((resolve) => setTimeout(resolve, 2));
    const again = await signIn(h.url, "bob", "bob-password");
    assertEquals(await me(again), 200);
  } finally {
    await h.stop();
  }
});

Deno.test("/metrics is the Prometheus exposition of the gateway", async () => {
  const h = await start();
  try {
    addHost(h.parts.registry, h.host.url, { activeSessions: 3 });
    h.parts.registry.register({
      serverUrl: "http://10.0.0.9:9005",
      maxSessions: 4,
      instanceType: "t3.small",
      ec2InstanceId: "i-1",
      tags: [],
      capabilities: [],
      version: "0.0.9",
    });
    h.parts.registry.setDraining("http://10.0.0.9:9005", true);
    h.parts.sessions.put(sessionRecord());
    const response = await h.get("/metrics", {
      Authorization: `Bearer ${ADMIN_TOKEN}`,
    });
    assertEquals(response.status, 200);
    assertMatch(
      String(response.headers.get("content-type")),
      /^text\/plain; version=0\.0\.4/,
    );
    const text = await response.text();
    assertMatch(text, /^# TYPE webstream_hosts gauge$/m);
    assertMatch(text, /^webstream_hosts\{state="Healthy"\} 1$/m);
    assertMatch(text, /^webstream_hosts\{state="Draining"\} 1$/m);
    assertMatch(text, /^webstream_hosts\{state="Unreachable"\} 0$/m);
    assertMatch(text, /^webstream_host_sessions 3$/m);
    assertMatch(text, /^webstream_sessions 1$/m);
    assertMatch(text, /^webstream_licence_limit 0$/m);
  } finally {
    await h.stop();
  }
});

Deno.test("sessions: an administrator logs any session off on its host", async () => {
  const h = await start();
  const host = await startPoolHost({ sharedSecret: SECRET });
  try {
    const launched = await host.launch("gw-carol");
    const session = sessionRecord({
      sessionId: "gw-carol",
      sessionUuid: launched.sessionUuid,
      serverUrl: host.url,
      user: "carol",
    });
    h.parts.sessions.put(session);
    const path = `${h.url}/admin/api/sessions/gw-carol/logoff`;
    const asUser = await postJson(path, {}, { Cookie: h.user });
    assertEquals(asUser.status, 401);
    assertEquals(host.pool.liveSessions().length, 1);
    const unknown = await postJson(
      `${h.url}/admin/api/sessions/nope/logoff`,
      {},
      { Authorization: `Bearer ${ADMIN_TOKEN}` },
    );
    assertEquals(unknown.status, 404);
    const ended = await postJson(path, {}, { Cookie: h.admin });
    assertEquals(ended.status, 200);
    assertEquals(host.pool.liveSessions(), [], "ended on its host");
    assertEquals(h.parts.sessions.get("gw-carol"), undefined);
  } finally {
    await host.stop();
    await h.stop();
  }
});
