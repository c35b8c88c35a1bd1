/**
 * The Launcher with a real HostRegistry and SessionMap on an in-memory store
 * and scripted hosts on loopback, for what a real host rarely does: the
 * first host failing (503, garbage) so the second is tried, a 4xx that no
 * other host would fix, every host failing; the licence limit (429 for a new
 * session, while reconnects, desktop relaunches and shared launches still
 * work); desktop relaunches; reconnects to another user's session; a host
 * that lost a session and started a new one under the same id; the
 * decision log with its rounds, its cap and its compaction of rounds over
 * many hosts. Also: one user's launches run one at a time (a double-clicked
 * desktop gives one session) while other users' run alongside; the licence
 * limit counts sessions still starting; a launch naming a session must pass
 * the sharing rules there (409, no host call); host calls time out after
 * `placement.hostTimeout`; a new session counts on its host until the next
 * heartbeat. Two launchers on one store file (two gateways) hold the
 * licence and a host's capacity across them: a host full across the farm
 * makes the launch go to the next host. With the state store on a real full disk (a small tmpfs, as
 * root): a new session the host started but the store could not take is a
 * 503 naming the cause that holds no logon nor placement on its host, the
 * next is refused before any host call, reconnects and shared launches still
 * work, and launches work again once the disk has room.
 */
import type { Identity } from "../../mod/gateway/types.ts";
import { HostRegistry } from "../../mod/gateway/registry.ts";
import { SessionMap } from "../../mod/gateway/sessions.ts";
import { asyncStore, openSqliteStore } from "../../mod/gateway/store.ts";
import { GuardedStore } from "../../mod/gateway/store_guard.ts";
import { canMount, withSmallDisk } from "../support/full_disk.ts";
import {
  FULL_SCAN_HOSTS,
  KEPT_VERDICTS,
  Launcher,
  LaunchError,
  type LaunchResult,
  mayLaunch,
} from "../../mod/gateway/launch.ts";
import { workspaceSchema } from "../../mod/config/mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../support/assert.ts";
import {
  addHost,
  gatewayConfig,
  type GatewayParts,
  gatewayParts,
  type GatewayPartsOptions,
  quietLogger,
} from "../support/gateway_parts.ts";
import {
  type ScriptedHost,
  startScriptedHost,
} from "../support/scripted_host.ts";
import { withTempDir } from "../support/fs.ts";
import { waitFor } from "../support/wait.ts";

const alice: Identity = { user: "alice", groups: [], admin: false };
const bob: Identity = { user: "bob", groups: [], admin: false };

const WORKSPACES = [
  { id: "desktop", name: "Desktop", kind: "desktop" },
  { id: "desktop-2", name: "Second desktop", kind: "desktop" },
  {
    id: "terminal",
    name: "Terminal",
    kind: "app",
    command: { linux: "xterm" },
  },
  { id: "editor", name: "Editor", kind: "app", command: { linux: "gedit" } },
  {
    id: "gpu-app",
    name: "GPU app",
    kind: "app",
    command: { linux: "glxgears" },
    requiredTags: ["gpu"],
  },
  {
    id: "service-tool",
    name: "Service tool",
    kind: "app",
    command: { linux: "xclock" },
    credentials: "service",
  },
];

/** A host script that answers normally after `ms`. */
function slowly(ms: number): () => Promise<undefined> {
  return () =>
    new Promise((resolve) => setTimeout(() => resolve(undefined), ms));
}

/** An identity for user `name`. */
function user(name: string): Identity {
  return { user: name, groups: [], admin: false };
}

interface Harness {
  parts: GatewayParts;
  /** The less loaded host (chosen first). */
  a: ScriptedHost;
  /** The busier host. */
  b: ScriptedHost;
  stop(): Promise<void>;
}

/** Two scripted hosts: `a` idle, `b` half full, so breadth-first picks `a`. */
function start(
  gateway: Record<string, unknown> = {},
  options: GatewayPartsOptions = {},
): Harness {
  const parts = gatewayParts(
    gatewayConfig({ workspaces: WORKSPACES, ...gateway }),
    options,
  );
  const a = startScriptedHost();
  const b = startScriptedHost();
  addHost(parts.registry, a.url, { activeSessions: 0, cpuUsage: 1 });
  addHost(parts.registry, b.url, { activeSessions: 5, cpuUsage: 50 });
  return {
    parts,
    a,
    b,
    async stop() {
      await a.stop();
      await b.stop();
      parts.close();
    },
  };
}

Deno.test("the first host failing with 503 makes the launch go to the second", async () => {
  const h = start();
  try {
    h.a.script = () =>
      Response.json({ error: "no free session" }, { status: 503 });
    const result = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    assertEquals(result.outcome, "new");
    assertEquals(h.a.requests.length, 1);
    assertEquals(h.b.requests.length, 1);
    const session = h.parts.sessions.get(result.sessionId)!;
    assertEquals(session.serverUrl, h.b.url);
    assertEquals(session.sessionUuid, h.b.uuidOf(result.sessionId));
    assertEquals(
      h.b.requests[0].headers.get("x-session-id"),
      result.sessionId,
    );

    const decision = h.parts.launcher.decision(result.decisionId)!;
    assertEquals(decision.outcome, "new");
    assertEquals(decision.serverUrl, h.b.url);
    assertEquals(decision.rounds.map((r) => r.serverUrl), [h.a.url, h.b.url]);
    const excluded = decision.rounds[1].hosts.find((v) =>
      v.serverUrl === h.a.url
    )!;
    assertEquals(excluded.verdict, "excluded");
    assertEquals(excluded.reason, "failed to start a session for this launch");
    // Logons in flight were counted down again.
    assertEquals(h.parts.registry.get(h.a.url)!.logonsInFlight, 0);
    assertEquals(h.parts.registry.get(h.b.url)!.logonsInFlight, 0);
  } finally {
    await h.stop();
  }
});

Deno.test("a host answering garbage is skipped like a failing one", async () => {
  const h = start();
  try {
    h.a.script = () => Response.json({ hello: "world" });
    const result = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
    });
    assertEquals(h.parts.sessions.get(result.sessionId)!.serverUrl, h.b.url);
    assertEquals(h.parts.sessions.size, 1, "nothing recorded for the first");
  } finally {
    await h.stop();
  }
});

Deno.test("a host refusing with a 4xx is not retried on another host", async () => {
  const h = start();
  try {
    h.a.script = () => Response.json({ error: "bad policy" }, { status: 400 });
    // The host's error becomes a launch error the API can answer (503).
    const error = await assertRejects(
      () => h.parts.launcher.launch({ identity: alice, workspaceId: "editor" }),
      LaunchError,
      /answered 400: bad policy$/,
    ) as LaunchError;
    assertEquals(error.status, 503);
    assertEquals(h.a.requests.length, 1);
    assertEquals(h.b.requests.length, 0);
    assertEquals(h.parts.sessions.size, 0);
    const [decision] = h.parts.launcher.decisions();
    assertEquals(decision.id, error.decisionId);
    assertEquals(decision.outcome, "refused");
    // The log says why it was refused, the rounds where it was headed.
    assertMatch(decision.summary, /answered 400: bad policy$/);
    assertEquals(decision.rounds[0].serverUrl, h.a.url);
  } finally {
    await h.stop();
  }
});

Deno.test("when every attempt fails the launch is a 503 naming the last failure", async () => {
  const h = start();
  try {
    const busy = () => Response.json({ error: "pool full" }, { status: 503 });
    h.a.script = busy;
    h.b.script = busy;
    const error = await assertRejects(
      () => h.parts.launcher.launch({ identity: bob, workspaceId: "terminal" }),
      LaunchError,
      /^no host could start the session \(.* answered 503: pool full\)$/,
    ) as LaunchError;
    assertEquals(error.status, 503);
    assert(error.decisionId);
    assertEquals(h.parts.launcher.decision(error.decisionId)!.rounds.length, 2);
    assertEquals([h.a.requests.length, h.b.requests.length], [1, 1]);
  } finally {
    await h.stop();
  }
});

Deno.test("no host able to take a workspace is a 503 with the reasons", async () => {
  const h = start();
  try {
    const error = await assertRejects(
      () => h.parts.launcher.launch({ identity: bob, workspaceId: "gpu-app" }),
      LaunchError,
    ) as LaunchError;
    assertEquals(error.status, 503);
    assertMatch(error.message, /^no host can take gpu-app \(/);
    assertMatch(error.message, /: lacks tags gpu/);
    assertEquals(h.a.requests.length + h.b.requests.length, 0);
  } finally {
    await h.stop();
  }
});

Deno.test("the licence limit refuses new sessions but not reconnects or shared launches", async (t) => {
  const h = start({ licence: { maxConcurrentSessions: 1 } });
  try {
    const first = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    assertEquals(first.outcome, "new");

    await t.step("a new session is refused with 429", async () => {
      const error = await assertRejects(
        () =>
          h.parts.launcher.launch({ identity: bob, workspaceId: "terminal" }),
        LaunchError,
      ) as LaunchError;
      assertEquals(error.status, 429);
      assertEquals(
        error.message,
        "the licence allows 1 concurrent sessions and all are in use; try again later",
      );
      assertEquals(h.parts.sessions.size, 1);
      const decision = h.parts.launcher.decision(error.decisionId!)!;
      assertEquals(decision.outcome, "refused");
      assertEquals(decision.summary, error.message);
    });

    await t.step("a reconnect is allowed", async () => {
      const again = await h.parts.launcher.launch({
        identity: alice,
        workspaceId: "terminal",
        sessionId: first.sessionId,
      });
      assertEquals(again.outcome, "reconnect");
      assertEquals(again.sessionId, first.sessionId);
    });

    await t.step("a shared launch is allowed", async () => {
      const shared = await h.parts.launcher.launch({
        identity: alice,
        workspaceId: "editor",
      });
      assertEquals(shared.outcome, "share");
      assertEquals(shared.sessionId, first.sessionId);
      assertEquals(
        h.parts.sessions.get(first.sessionId)!.workspaceIds,
        ["terminal", "editor"],
      );
    });

    await t.step("a desktop (a new session) is refused", async () => {
      const error = await assertRejects(
        () =>
          h.parts.launcher.launch({ identity: alice, workspaceId: "desktop" }),
        LaunchError,
      ) as LaunchError;
      assertEquals(error.status, 429);
    });

    await t.step(
      "once the session has ended, a new one is allowed",
      async () => {
        h.parts.clock.now += 10 * 60_000;
        // The hosts kept heartbeating meanwhile.
        addHost(h.parts.registry, h.a.url);
        addHost(h.parts.registry, h.b.url, { activeSessions: 5 });
        const result = await h.parts.launcher.launch({
          identity: bob,
          workspaceId: "terminal",
        });
        assertEquals(result.outcome, "new");
      },
    );
  } finally {
    await h.stop();
  }
});

Deno.test("at the licence limit a desktop relaunch still reconnects", async () => {
  const h = start({ licence: { maxConcurrentSessions: 1 } });
  try {
    const first = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
    });
    const again = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
    });
    assertEquals(again.outcome, "reconnect");
    assertEquals(again.sessionId, first.sessionId);
  } finally {
    await h.stop();
  }
});

Deno.test("a desktop relaunch reconnects the same session; apps do not join it", async () => {
  const h = start();
  try {
    const first = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
      width: 1024,
      height: 768,
    });
    const again = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
      width: 1600,
      height: 900,
    });
    assertEquals(first.outcome, "new");
    assertEquals(again.outcome, "reconnect");
    assertEquals(again.sessionId, first.sessionId);
    assertEquals(h.a.requests.length, 2);
    const [one, two] = h.a.requests;
    assertEquals(one.headers.get("x-session-id"), first.sessionId);
    assertEquals(two.headers.get("x-session-id"), first.sessionId);
    assertEquals(two.url.search, "?width=1600&height=900");
    assert(again.token !== first.token, "a fresh token each time");
    assertEquals(h.parts.sessions.size, 1);

    // Another user gets a desktop of their own.
    const other = await h.parts.launcher.launch({
      identity: bob,
      workspaceId: "desktop",
    });
    assertEquals(other.outcome, "new");
    assert(other.sessionId !== first.sessionId);

    // An app is never started in a desktop session.
    const app = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    assertEquals(app.outcome, "new");
    assert(app.sessionId !== first.sessionId);
  } finally {
    await h.stop();
  }
});

Deno.test("a desktop whose host unregistered is placed anew", async () => {
  const h = start();
  try {
    const first = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
    });
    h.parts.registry.unregister(h.a.url);
    const again = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
    });
    assertEquals(again.outcome, "new");
    assert(again.sessionId !== first.sessionId);
    assertEquals(h.parts.sessions.get(first.sessionId), undefined);
    assertEquals(h.parts.sessions.get(again.sessionId)!.serverUrl, h.b.url);
  } finally {
    await h.stop();
  }
});

Deno.test("reconnecting to another user's (or an unknown) session is a 404", async () => {
  const h = start();
  try {
    const mine = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    const requests = h.a.requests.length;
    for (const sessionId of [mine.sessionId, crypto.randomUUID()]) {
      const error = await assertRejects(
        () =>
          h.parts.launcher.launch({
            identity: bob,
            workspaceId: "terminal",
            sessionId,
          }),
        LaunchError,
      ) as LaunchError;
      assertEquals(error.status, 404);
      assertEquals(error.message, `no session "${sessionId}" of bob`);
    }
    assertEquals(h.a.requests.length, requests, "no host was called");
    assertEquals(h.parts.sessions.get(mine.sessionId)!.user, "alice");
  } finally {
    await h.stop();
  }
});

Deno.test("a reconnect whose host does not answer is a 503 and keeps the session", async () => {
  const h = start();
  try {
    const mine = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    h.a.script = () => Response.json({ error: "restarting" }, { status: 503 });
    const error = await assertRejects(
      () =>
        h.parts.launcher.launch({
          identity: alice,
          workspaceId: "terminal",
          sessionId: mine.sessionId,
        }),
      LaunchError,
    ) as LaunchError;
    assertEquals(error.status, 503);
    assertMatch(error.message, /^the session's host did not answer: /);
    assert(h.parts.sessions.get(mine.sessionId));
    assertEquals(h.b.requests.length, 0);
  } finally {
    await h.stop();
  }
});

Deno.test("a shared launch starts the app with its command; a reconnect sends it again", async () => {
  const h = start();
  try {
    const first = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    await h.parts.launcher.launch({ identity: alice, workspaceId: "editor" });
    await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
      sessionId: first.sessionId,
    });
    const commands = h.a.requests.map((r) => r.headers.get("x-app-command"));
    // The host starts it only if it does not run (it may have closed).
    assertEquals(commands, ["xterm", "gedit", "xterm"]);
    const ids = h.a.requests.map((r) => r.headers.get("x-app-id"));
    assertEquals(ids, ["terminal", "editor", "terminal"]);
  } finally {
    await h.stop();
  }
});

Deno.test("a host answering with a different sessionUuid replaces the record", async () => {
  const h = start();
  try {
    const first = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    const before = h.parts.sessions.get(first.sessionId)!;
    h.parts.sessions.put({ ...before, createdAt: 1_000 });
    // The host lost the pool session: it starts a new one under the same id.
    h.a.forget(first.sessionId);
    const shared = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "editor",
    });
    assertEquals(shared.outcome, "share");
    assertEquals(shared.sessionId, first.sessionId);
    const after = h.parts.sessions.get(first.sessionId)!;
    const uuid = h.a.uuidOf(first.sessionId)!;
    assert(uuid !== before.sessionUuid);
    assertEquals(after.sessionUuid, uuid);
    assertEquals(after.workspaceIds, ["editor"], "only the app just started");
    assert(after.createdAt > 1_000, "a new session's creation time");
    assertEquals(h.parts.sessions.getByUuid(before.sessionUuid), undefined);
    assertEquals(
      h.parts.sessions.getByUuid(uuid)?.sessionId,
      first.sessionId,
    );
    assertEquals(
      h.parts.store.loadSessions().map((s) => s.sessionUuid),
      [uuid],
    );
  } finally {
    await h.stop();
  }
});

Deno.test("the decision log keeps rounds, newest first, and is capped", async () => {
  const h = start({}, { decisionLogSize: 3 });
  try {
    const ok = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    const ids = [ok.decisionId];
    for (let i = 0; i < 4; i++) {
      const error = await assertRejects(
        () =>
          h.parts.launcher.launch({ identity: bob, workspaceId: "gpu-app" }),
        LaunchError,
      ) as LaunchError;
      ids.push(error.decisionId!);
    }
    const log = h.parts.launcher.decisions();
    assertEquals(log.map((d) => d.id), ids.slice(2).reverse());
    assertEquals(h.parts.launcher.decision(ids[0]), undefined);
    assertEquals(h.parts.launcher.decision(ids[1]), undefined);
    for (const d of log) {
      assertEquals(d.outcome, "refused");
      assertEquals(d.user, "bob");
      assertEquals(d.workspaceId, "gpu-app");
      assertEquals(d.rounds.length, 1);
      assertEquals(d.rounds[0].hosts.length, 2);
      assert(d.rounds[0].hosts.every((v) => v.verdict === "excluded"));
      assert(!Number.isNaN(Date.parse(d.at)));
    }
    // Every launch reached the metrics, including the forgotten ones.
    const text = (await h.parts.metrics.render()).body;
    assertMatch(text, /^webstream_launches_total\{outcome="new"\} 1$/m);
    assertMatch(text, /^webstream_launches_total\{outcome="refused"\} 4$/m);
    // Requests refused before placement leave no decision.
    await assertRejects(
      () => h.parts.launcher.launch({ identity: bob, workspaceId: "nope" }),
      LaunchError,
    );
    assertEquals(h.parts.launcher.decisions().length, 3);
    assertEquals(h.parts.launcher.decisions()[0].id, ids[4]);
  } finally {
    await h.stop();
  }
});

Deno.test("mayLaunch: no users and no groups is everyone; otherwise either matches", () => {
  const open = workspaceSchema.parse({ id: "a", name: "A", kind: "desktop" });
  const eng = workspaceSchema.parse({
    id: "b",
    name: "B",
    kind: "desktop",
    users: ["carol"],
    groups: ["eng"],
  });
  assert(mayLaunch(alice, open));
  assert(!mayLaunch(alice, eng));
  assert(mayLaunch({ ...alice, groups: ["ops", "eng"] }, eng));
  assert(mayLaunch({ user: "carol", groups: [], admin: false }, eng));
});

Deno.test("concurrent launches of one desktop by one user give one session", async () => {
  const h = start();
  try {
    // A slow host: the second launch arrives while the first is starting.
    h.a.script = slowly(150);
    const results = await Promise.all([
      h.parts.launcher.launch({ identity: alice, workspaceId: "desktop" }),
      h.parts.launcher.launch({ identity: alice, workspaceId: "desktop" }),
    ]);
    assertEquals(results.map((r) => r.outcome), ["new", "reconnect"]);
    assertEquals(results[1].sessionId, results[0].sessionId);
    assertEquals(h.parts.sessions.size, 1);
    assertEquals(
      h.a.requests.map((r) => r.headers.get("x-session-id")),
      [results[0].sessionId, results[0].sessionId],
    );
    assertEquals(h.b.requests.length, 0);
  } finally {
    await h.stop();
  }
});

Deno.test("one user's launches wait for each other, other users' do not", async () => {
  const h = start();
  try {
    let inFlight = 0;
    let most = 0;
    h.a.script = async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 150));
      inFlight--;
      return undefined;
    };
    // A launch that fails does not hold up the user's next one.
    const [failed, ...launched] = await Promise.allSettled([
      h.parts.launcher.launch({ identity: alice, workspaceId: "gpu-app" }),
      h.parts.launcher.launch({ identity: alice, workspaceId: "terminal" }),
      h.parts.launcher.launch({ identity: bob, workspaceId: "terminal" }),
    ]);
    assertEquals(failed.status, "rejected");
    assertEquals(launched.map((r) => r.status), ["fulfilled", "fulfilled"]);
    assertEquals(most, 2, "alice's and bob's launches ran side by side");
  } finally {
    await h.stop();
  }
});

Deno.test("the licence limit holds under concurrent launches", async () => {
  const h = start({ licence: { maxConcurrentSessions: 2 } });
  try {
    h.a.script = slowly(150);
    h.b.script = slowly(150);
    const results = await Promise.allSettled(
      ["u1", "u2", "u3", "u4", "u5"].map((name) =>
        h.parts.launcher.launch({
          identity: user(name),
          workspaceId: "desktop",
        })
      ),
    );
    const placed = results.filter((r) => r.status === "fulfilled");
    const refused = results.flatMap((r) =>
      r.status === "rejected" ? [r.reason as LaunchError] : []
    );
    assertEquals(placed.length, 2);
    assertEquals(refused.length, 3);
    for (const error of refused) {
      assert(error instanceof LaunchError, String(error));
      assertEquals(error.status, 429);
    }
    assertEquals(h.parts.sessions.size, 2);
    assertEquals(h.a.requests.length + h.b.requests.length, 2);
  } finally {
    await h.stop();
  }
});

Deno.test("gateways on one store: the licence and a host's capacity hold across them", async () => {
  await withTempDir(async (dir) => {
    const storePath = `${dir}/gateway.sqlite`;
    const config = gatewayConfig({
      workspaces: WORKSPACES,
      licence: { maxConcurrentSessions: 2 },
    });
    // Two gateways, each knowing both hosts; the first host takes one
    // session (its own limit), the second many.
    const gateways = [1, 2].map(() => gatewayParts(config, { storePath }));
    const small = startScriptedHost();
    const big = startScriptedHost();
    try {
      for (const g of gateways) {
        addHost(g.registry, small.url, { maxSessions: 1 }, { maxSessions: 1 });
        addHost(g.registry, big.url, { activeSessions: 5 });
      }
      const [one, two] = gateways.map((g) => g.launcher);
      const first = await one.launch({
        identity: alice,
        workspaceId: "desktop",
      });
      assertEquals(first.outcome, "new");
      assertEquals(small.requests.length, 1, "the emptier host first");

      // The second gateway sees the small host empty in its memory; the
      // claim finds it full across the farm, and the launch goes on to the
      // big one.
      const second = await two.launch({
        identity: bob,
        workspaceId: "desktop",
      });
      assertEquals(small.requests.length, 1);
      assertEquals(big.requests.length, 1);
      const rounds = two.decision(second.decisionId)!.rounds;
      assertEquals(rounds.map((r) => r.serverUrl), [small.url, big.url]);

      // Two sessions on the farm: the licence is used up on both gateways,
      // though each has one session in its memory.
      for (const [launcher, name] of [[one, "carol"], [two, "dave"]] as const) {
        const error = await assertRejects(
          () =>
            launcher.launch({ identity: user(name), workspaceId: "desktop" }),
          LaunchError,
        ) as LaunchError;
        assertEquals(error.status, 429);
        assertEquals(
          error.message,
          "the licence allows 2 concurrent sessions and all are in use; try again later",
        );
      }
      assertEquals(small.requests.length + big.requests.length, 2);

      // A session ended: a launch works again, on either gateway.
      gateways[0].sessions.delete(first.sessionId, "logged off");
      const third = await two.launch({
        identity: user("erin"),
        workspaceId: "desktop",
      });
      assertEquals(third.outcome, "new");
    } finally {
      await small.stop();
      await big.stop();
      for (const g of gateways) g.close();
    }
  });
});

Deno.test("a launch naming a session must fit in it (409), without calling the host", async (t) => {
  const h = start();
  try {
    const app = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    });
    const desktop = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
    });
    const calls = h.a.requests.length + h.b.requests.length;
    const refuse = async (
      workspaceId: string,
      sessionId: string,
      reason: string,
    ) => {
      const error = await assertRejects(
        () =>
          h.parts.launcher.launch({ identity: alice, workspaceId, sessionId }),
        LaunchError,
      ) as LaunchError;
      assertEquals(error.status, 409);
      assertEquals(
        error.message,
        `${workspaceId} cannot run in session ${sessionId}: ${reason}`,
      );
      assert(error.decisionId, "the refusal is in the decision log");
      assertEquals(
        h.parts.launcher.decision(error.decisionId)?.outcome,
        "refused",
      );
    };

    await t.step("an app the session's host does not have", async () => {
      await refuse(
        "gpu-app",
        app.sessionId,
        "the app is not on its host: lacks tags gpu",
      );
    });
    await t.step("an app with other credentials", async () => {
      await refuse(
        "service-tool",
        app.sessionId,
        "other credentials (user, the app uses service)",
      );
    });
    await t.step("an app in a desktop session", async () => {
      await refuse(
        "editor",
        desktop.sessionId,
        "a desktop session is not shared with apps",
      );
    });
    await t.step("a desktop with an app session's id", async () => {
      await refuse(
        "desktop",
        app.sessionId,
        "it is not this desktop's session",
      );
    });
    await t.step("a desktop with another desktop's session id", async () => {
      await refuse(
        "desktop-2",
        desktop.sessionId,
        "it is not this desktop's session",
      );
    });
    await t.step("an app on a host now overloaded", async () => {
      addHost(h.parts.registry, h.a.url, { activeSessions: 9 });
      await refuse(
        "editor",
        app.sessionId,
        "its host is overloaded: 9/10 sessions ≥ 90%",
      );
      addHost(h.parts.registry, h.a.url);
    });
    assertEquals(h.a.requests.length + h.b.requests.length, calls);
    assertEquals(h.parts.sessions.get(app.sessionId)!.workspaceIds, [
      "terminal",
    ]);

    await t.step("what fits is launched there", async () => {
      const own = await h.parts.launcher.launch({
        identity: alice,
        workspaceId: "desktop",
        sessionId: desktop.sessionId,
      });
      assertEquals(own.outcome, "reconnect");
      const editor = await h.parts.launcher.launch({
        identity: alice,
        workspaceId: "editor",
        sessionId: app.sessionId,
      });
      assertEquals(editor.outcome, "reconnect");
      assertEquals(editor.sessionId, app.sessionId);
      assertEquals(h.parts.sessions.get(app.sessionId)!.workspaceIds, [
        "terminal",
        "editor",
      ]);
      assertEquals(h.a.requests.at(-1)!.headers.get("x-app-command"), "gedit");
    });
  } finally {
    await h.stop();
  }
});

Deno.test("host calls give up after placement.hostTimeout", async () => {
  const h = start({ placement: { hostTimeout: 0.5 } });
  try {
    // Host a never answers; the launch moves on to b.
    h.a.script = (_request, host) => host.hang();
    const started = performance.now();
    let result: LaunchResult | undefined;
    const launch = h.parts.launcher.launch({
      identity: alice,
      workspaceId: "terminal",
    }).then((r) => result = r);
    // A deadline on a hang only: the 30 s default would blow it.
    await waitFor(() => result, {
      timeoutMs: 15_000,
      what: "the launch to give up on the silent host",
    });
    await launch;
    assert(performance.now() - started >= 450, "not before hostTimeout");
    assertEquals(result!.outcome, "new");
    assertEquals(h.parts.sessions.get(result!.sessionId)!.serverUrl, h.b.url);
    assertEquals(h.a.requests.length, 1);
  } finally {
    await h.stop();
  }
});

Deno.test("a new session counts on its host until the host's next heartbeat", async () => {
  const h = start();
  try {
    await h.parts.launcher.launch({ identity: alice, workspaceId: "terminal" });
    assertEquals(h.parts.registry.get(h.a.url)!.placedSinceHeartbeat, 1);
    // Sharing and reconnecting start no session.
    await h.parts.launcher.launch({ identity: alice, workspaceId: "editor" });
    assertEquals(h.parts.registry.get(h.a.url)!.placedSinceHeartbeat, 1);
    await h.parts.launcher.launch({ identity: bob, workspaceId: "desktop" });
    assertEquals(h.parts.registry.get(h.a.url)!.placedSinceHeartbeat, 2);
    assertEquals(h.parts.registry.get(h.b.url)!.placedSinceHeartbeat, 0);
    addHost(h.parts.registry, h.a.url, { activeSessions: 2, cpuUsage: 1 });
    assertEquals(h.parts.registry.get(h.a.url)!.placedSinceHeartbeat, 0);
  } finally {
    await h.stop();
  }
});

Deno.test("the decision log compacts a round over many hosts, counting the rest", async () => {
  const h = start();
  try {
    // a (idle) is chosen; b and 40 more are eligible; 30 drained and 20 full
    // hosts are excluded: 92 verdicts in all.
    const fake = (n: number) => `http://10.255.0.${n}:9005`;
    for (let n = 1; n <= 90; n++) {
      const full = n > 70;
      addHost(h.parts.registry, fake(n), {
        activeSessions: full ? 10 : 5,
        cpuUsage: 60,
      });
      if (n > 40 && !full) h.parts.registry.setDraining(fake(n), true);
    }
    const result = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
    });
    assertEquals(h.parts.sessions.get(result.sessionId)!.serverUrl, h.a.url);
    const [round] = h.parts.launcher.decision(result.decisionId)!.rounds;
    const kept = (verdict: string) =>
      round.hosts.filter((v) => v.verdict === verdict);
    assertEquals(kept("chosen").map((v) => v.serverUrl), [h.a.url]);
    assertEquals(kept("eligible").length, KEPT_VERDICTS);
    assertEquals(kept("excluded").length, KEPT_VERDICTS);
    // The least loaded candidates are the ones kept.
    assert(kept("eligible").some((v) => v.serverUrl === h.b.url));
    assertEquals(round.omitted, {
      "eligible, not chosen": 41 - KEPT_VERDICTS,
      "Draining: drained by an administrator": 30 - KEPT_VERDICTS,
      "full: 10/10 sessions": 20,
    });
    const total = round.hosts.length +
      Object.values(round.omitted!).reduce((a, b) => a + b, 0);
    assertEquals(total, 92);

    // A small round is kept whole.
    const small = start();
    try {
      const one = await small.parts.launcher.launch({
        identity: alice,
        workspaceId: "desktop",
      });
      const [whole] = small.parts.launcher.decision(one.decisionId)!.rounds;
      assertEquals(whole.hosts.length, 2);
      assertEquals(whole.omitted, undefined);
    } finally {
      await small.stop();
    }
  } finally {
    await h.stop();
  }
});

Deno.test({
  name:
    "a full store disk: new sessions 503 with the cause and hold nothing; the rest goes on",
  ignore: !canMount(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withSmallDisk(async (disk) => {
      const config = gatewayConfig({ workspaces: WORKSPACES });
      const store = await GuardedStore.open(
        asyncStore(openSqliteStore(`${disk.dir}/gateway.sqlite`)),
        { logger: quietLogger, retryIntervalMs: 3_600_000 },
      );
      const registry = new HostRegistry({
        store,
        health: config.gateway.healthCheck,
        logger: quietLogger,
      });
      const sessions = new SessionMap({
        store,
        staleAfter: config.gateway.licence.staleAfter,
        logger: quietLogger,
      });
      const launcher = new Launcher({
        config,
        registry,
        sessions,
        logger: quietLogger,
        storeState: () => store.check(),
        claims: store,
        gatewayId: "gateway-under-test",
      });
      const host = startScriptedHost();
      try {
        addHost(registry, host.url);
        const desk = await launcher.launch({
          identity: alice,
          workspaceId: "desktop",
        });
        const term = await launcher.launch({
          identity: alice,
          workspaceId: "terminal",
        });
        const placed = registry.get(host.url)!.placedSinceHeartbeat;
        const cause =
          "the gateway's state store cannot be written: database or disk is full";

        // The claim is taken, the host starts it, and meanwhile the disk
        // fills: the store cannot take the session.
        let calls = host.requests.length;
        host.script = async () => {
          host.script = undefined;
          await disk.fill();
          return undefined;
        };
        const first = await assertRejects(
          () => launcher.launch({ identity: bob, workspaceId: "desktop" }),
          LaunchError,
        ) as LaunchError;
        assertEquals(first.status, 503);
        assertEquals(first.message, cause);
        assertEquals(host.requests.length, calls + 1);
        assertEquals(sessions.size, 2);
        const view = registry.get(host.url)!;
        assertEquals(view.logonsInFlight, 0);
        assertEquals(view.placedSinceHeartbeat, placed);
        assertEquals(launcher.decision(first.decisionId!)?.outcome, "refused");

        // Now known to fail: refused before any host call.
        calls = host.requests.length;
        const second = await assertRejects(
          () => launcher.launch({ identity: bob, workspaceId: "terminal" }),
          LaunchError,
        ) as LaunchError;
        assertEquals([second.status, second.message], [503, cause]);
        assertEquals(host.requests.length, calls);

        // Reconnects, desktop relaunches and shares need no new session.
        const again = await launcher.launch({
          identity: alice,
          workspaceId: "desktop",
          sessionId: desk.sessionId,
        });
        assertEquals(again.outcome, "reconnect");
        const relaunch = await launcher.launch({
          identity: alice,
          workspaceId: "desktop",
        });
        assertEquals(relaunch.sessionId, desk.sessionId);
        const shared = await launcher.launch({
          identity: alice,
          workspaceId: "editor",
        });
        assertEquals(shared.outcome, "share");
        assertEquals(shared.sessionId, term.sessionId);

        await disk.free();
        assertEquals(await store.retry(), { kind: "working" });
        const later = await launcher.launch({
          identity: bob,
          workspaceId: "desktop",
        });
        assertEquals(later.outcome, "new");
        // What was served from memory reached the disk too.
        await store.flush();
        const check = openSqliteStore(`${disk.dir}/gateway.sqlite`);
        try {
          const stored = check.loadSessions();
          assertEquals(stored.length, 3);
          assertEquals(
            stored.find((s) => s.sessionId === term.sessionId)?.workspaceIds,
            ["terminal", "editor"],
          );
        } finally {
          check.close();
        }
      } finally {
        await host.stop();
        await store.close();
      }
    });
  },
});

Deno.test("a large farm is placed through the registry's index", async () => {
  const h = start();
  try {
    // Busier than a and b, so the real hosts rank first; a fails with 503.
    const fake = (n: number) => `http://10.254.${n >> 8}.${n & 255}:9005`;
    for (let n = 0; n < FULL_SCAN_HOSTS + 48; n++) {
      addHost(h.parts.registry, fake(n), { activeSessions: 8, cpuUsage: 60 });
    }
    h.a.script = () =>
      Response.json({ error: "no free session" }, { status: 503 });
    const result = await h.parts.launcher.launch({
      identity: alice,
      workspaceId: "desktop",
    });
    assertEquals(h.parts.sessions.get(result.sessionId)!.serverUrl, h.b.url);
    const { rounds } = h.parts.launcher.decision(result.decisionId)!;
    assertEquals(rounds.map((r) => r.serverUrl), [h.a.url, h.b.url]);
    const size = h.parts.registry.size;
    for (const round of rounds) {
      // A few hosts explained one by one, the rest counted.
      assert(round.hosts.length < 3 * KEPT_VERDICTS, `${round.hosts.length}`);
      const counted = Object.values(round.omitted!).reduce((a, b) => a + b);
      assertEquals(round.hosts.length + counted, size);
      assert(round.omitted!["not looked at: ranked after the chosen host"] > 0);
    }
    assertEquals(
      rounds[1].hosts.find((v) => v.serverUrl === h.a.url)?.reason,
      "failed to start a session for this launch",
    );

    // Nothing fits: the refusal names the counted reason.
    const error = await assertRejects(
      () =>
        h.parts.launcher.launch({ identity: alice, workspaceId: "gpu-app" }),
      LaunchError,
      new RegExp(`${size} hosts: lacks tags gpu`),
    ) as LaunchError;
    assertEquals(error.status, 503);
  } finally {
    await h.stop();
  }
});
