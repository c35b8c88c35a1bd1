/**
 * Three real gateways on one real PostgreSQL, with two real hosts, each
 * registered at a different gateway (issue 14, active/active): every
 * gateway sees the same farm, kept coherent by the store's change notices.
 * A session launched through A resolves the same on B and C; it reconnects
 * through B (`/api/launch` with its id) and its WebSocket through C, to the
 * same `sessionUuid`; the admin API lists the same hosts and sessions on
 * all; a host that registered at A is placed on from B; a session logged
 * off through A is gone on B and C.
 *
 * And degraded mode: with PostgreSQL stopped, a viewer's stream through a
 * gateway keeps flowing, `/resolveSession` and a reconnect of the known
 * session are served from memory, and a new launch gets 503 naming the
 * cause; with PostgreSQL back, launches work again and notices flow again,
 * without restarting any gateway.
 *
 * Needs the Debian package postgresql.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  AdminClient,
  launchHost,
  pingOver,
  resolveSession,
  signIn,
  Teardown,
  type TestGateway,
  UserClient,
} from "../support/gateway.ts";
import {
  type GatewaysOnPostgres,
  ON_POSTGRES,
  startGatewaysOnPostgres,
} from "../support/gateway_farm.ts";
import { waitFor } from "../support/wait.ts";
import {
  nextStreamerMessage,
  sendClient,
  type TestSocket,
} from "../support/ws.ts";

/** A ping over a viewer that is already streaming. */
async function pingAgain(ws: TestSocket): Promise<void> {
  const id = Math.floor(Math.random() * 1e9);
  sendClient(ws, { type: "ping", id });
  const pong = await nextStreamerMessage(ws, "pong");
  assertEquals(pong.id, id);
}

const WORKSPACES = [
  { id: "desk", name: "Desktop", kind: "desktop" },
  // Only the host registered at gateway A carries the tag.
  {
    id: "desk-a",
    name: "Desktop on A's host",
    kind: "desktop",
    requiredTags: ["at-a"],
  },
];

/** A cluster and `count` gateways on it, with this module's workspaces. */
function startGatewaysHere(
  teardown: Teardown,
  count: number,
  licence?: Record<string, unknown>,
): Promise<GatewaysOnPostgres> {
  return startGatewaysOnPostgres(teardown, {
    count,
    users: ["alice", "bob"],
    workspaces: WORKSPACES,
    licence,
  });
}

/** Waits until each gateway has logged a message that `match`es. */
async function loggedByEach(
  gateways: TestGateway[],
  match: (msg: string) => boolean,
  what: string,
): Promise<void> {
  for (const gateway of gateways) {
    await waitFor(
      () => gateway.process.logs.some((r) => match(String(r.msg))),
      { what },
    );
  }
}

/** Waits until `check` holds on every gateway's admin API. */
function onAll<T>(
  gateways: TestGateway[],
  read: (admin: AdminClient) => Promise<T>,
  check: (value: T) => boolean,
  what: string,
): Promise<T[]> {
  return waitFor(async () => {
    const values = await Promise.all(
      gateways.map((g) => read(new AdminClient(g.url))),
    );
    return values.every(check) ? values : undefined;
  }, { what });
}

Deno.test({
  name:
    "three gateways on one PostgreSQL serve the same farm: resolve, reconnect, admin, placement, logoff",
  ...ON_POSTGRES,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const { gateways: [a, b, c] } = await startGatewaysHere(teardown, 3);
      const all = [a, b, c];
      const atA = await launchHost(teardown, a.url, { tags: ["at-a"] });
      const atB = await launchHost(teardown, b.url);
      const urls = [atA.serverUrl, atB.serverUrl].sort();

      await t.step("every gateway knows both hosts, Healthy", async () => {
        for (const gateway of all) {
          await new AdminClient(gateway.url).waitForHealthy([atA, atB]);
        }
        await onAll(
          all,
          (admin) => admin.hosts(),
          (hosts) =>
            JSON.stringify(hosts.map((h) => h.serverUrl).sort()) ===
              JSON.stringify(urls),
          "the same two hosts on every gateway",
        );
      });

      const aliceA = await signIn(a.url, "alice");
      const aliceB = new UserClient(b.url, "alice", aliceA.cookie);
      const aliceC = new UserClient(c.url, "alice", aliceA.cookie);
      const launched = await aliceA.launchOk("desk");
      const sessionUuid = await aliceA.ping(launched);

      await t.step(
        "/resolveSession on B and C answers as on A",
        async () => {
          const onA = await resolveSession(a.url, launched.sessionId);
          assertEquals(onA.status, 200, onA.body);
          assertEquals(JSON.parse(onA.body).SessionId, sessionUuid);
          for (const gateway of [b, c]) {
            // At once: a notice not yet applied is read from the store.
            const answer = await resolveSession(
              gateway.url,
              launched.sessionId,
            );
            assertEquals(answer, onA);
          }
          const unknown = await resolveSession(b.url, crypto.randomUUID());
          assertEquals(unknown.status, 404);
        },
      );

      await t.step(
        "the session reconnects through B, its WebSocket through C: same sessionUuid",
        async () => {
          const again = await aliceB.launchOk("desk", launched.sessionId);
          assertEquals(again.outcome, "reconnect");
          assertEquals(again.sessionId, launched.sessionId);
          const viewer = await aliceC.openRelay(again.sessionId, again.token);
          try {
            assertEquals(await pingOver(viewer), sessionUuid);
          } finally {
            await viewer.close();
          }
        },
      );

      await t.step(
        "the admin API lists the same hosts and sessions on every gateway",
        async () => {
          const sessions = await onAll(
            all,
            (admin) => admin.sessions(),
            (list) =>
              list.length === 1 && list[0].sessionId === launched.sessionId,
            "the one session on every gateway",
          );
          for (const list of sessions) {
            assertEquals(list[0].sessionUuid, sessionUuid);
            assertEquals(list[0].serverUrl, sessions[0][0].serverUrl);
          }
          const hosts = await Promise.all(
            all.map((g) => new AdminClient(g.url).hosts()),
          );
          for (const list of hosts) {
            assertEquals(
              list.map((h) => [h.serverUrl, h.tags, h.maxSessions]).sort(),
              hosts[0].map((h) => [h.serverUrl, h.tags, h.maxSessions])
                .sort(),
            );
          }
        },
      );

      await t.step(
        "a host that registered at A is placed on from B",
        async () => {
          const bobB = await signIn(b.url, "bob");
          const placed = await bobB.launchOk("desk-a");
          assertEquals(placed.outcome, "new");
          const decision = await new AdminClient(b.url).placement(
            placed.decisionId,
          );
          assertEquals(decision.serverUrl, atA.serverUrl);
          await bobB.ping(placed);
        },
      );

      await t.step(
        "a session logged off through A is gone on B and C",
        async () => {
          await aliceA.logoffOk(launched.sessionId);
          await onAll(
            [b, c],
            (admin) => admin.session(launched.sessionId),
            (session) => session === undefined,
            "the session to be gone on B and C",
          );
          const answer = await resolveSession(b.url, launched.sessionId);
          assertEquals(answer.status, 404);
        },
      );
    } finally {
      await teardown.run();
    }
  },
});

Deno.test({
  name:
    "PostgreSQL stopped: streams flow, known sessions resolve and reconnect, new launches get 503; back: all resumes",
  ...ON_POSTGRES,
  async fn(t) {
    const teardown = new Teardown();
    try {
      // Check-ins every second, silent after 10 s: an outage longer than
      // that (over 11 s, below) must not end, on B, the sessions checking
      // in at A. Once the store is back, A's check-ins kept meanwhile reach
      // it at A's next retry (every 5 s), so B's fresh window after reading
      // the store again must be longer than that: 5 s flaked under load.
      const { cluster, gateways: [a, b] } = await startGatewaysHere(
        teardown,
        2,
        { checkinInterval: 1, staleAfter: 10 },
      );
      const host = await launchHost(teardown, a.url, { slots: 3 });
      for (const gateway of [a, b]) {
        await new AdminClient(gateway.url).waitForHealthy([host]);
      }
      const aliceA = await signIn(a.url, "alice");
      const aliceB = new UserClient(b.url, "alice", aliceA.cookie);
      const bobB = await signIn(b.url, "bob");
      const launched = await aliceA.launchOk("desk");
      // A viewer streaming through B.
      const viewer = await aliceB.openRelay(launched.sessionId, launched.token);
      teardown.defer(() => viewer.close());
      const sessionUuid = await pingOver(viewer);
      // B has heard of the host's heartbeats at A through the store.
      await new AdminClient(b.url).waitForHost(
        host.serverUrl,
        (h) => h.lastHeartbeat !== null,
      );

      await cluster.halt();

      await t.step(
        "a new launch gets 503 naming the cause; the gateways noticed by themselves",
        async () => {
          // Both gateways find out without a request: they ask the store.
          await loggedByEach(
            [a, b],
            (msg) =>
              msg.startsWith("the gateway's state store cannot be written"),
            "the gateway to log that its store fails",
          );
          const refused = await bobB.launch("desk");
          assertEquals(refused.status, 503, JSON.stringify(refused.body));
          assertMatch(
            String(refused.body.error),
            /^the gateway's state store cannot be written: .+/,
          );
          assert(refused.headers.get("retry-after"));
        },
      );

      await t.step("the stream through B keeps flowing", async () => {
        await pingAgain(viewer);
      });

      await t.step(
        "the known session resolves and reconnects through B from memory",
        async () => {
          // Past the heartbeat window (10 × 1 s here): B has had no news of
          // the host through the store, yet its own good probes keep it.
          const onB = await new AdminClient(b.url).waitForHost(
            host.serverUrl,
            (h) => Date.now() - Date.parse(h.lastHeartbeat!) > 11_000,
            { timeoutMs: 30_000 },
          );
          assertEquals(onB.state, "Healthy", onB.stateReason);
          const resolved = await resolveSession(b.url, launched.sessionId);
          assertEquals(resolved.status, 200, resolved.body);
          assertEquals(JSON.parse(resolved.body).SessionId, sessionUuid);
          const again = await aliceB.launchOk("desk", launched.sessionId);
          assertEquals(again.outcome, "reconnect");
          assertEquals(await aliceB.ping(again), sessionUuid);
        },
      );

      await cluster.resume();

      await t.step(
        "PostgreSQL back: launches work again and notices flow, no restart",
        async () => {
          // Each listener reconnects by itself and reads the store again.
          await loggedByEach(
            [a, b],
            (msg) => msg === "memory reconciled with the store",
            "the gateway to read its store again",
          );
          const placed = await waitFor(async () => {
            const answer = await bobB.launch("desk");
            return answer.status === 200 ? answer.body : undefined;
          }, { what: "a launch through B to work again", intervalMs: 500 });
          // Launched after A read the store again: A learns it by a notice.
          await waitFor(
            async () =>
              await new AdminClient(a.url).session(String(placed.sessionId)),
            { what: "A to learn the session launched through B" },
          );
          // Alice's session outlived the outage on both gateways.
          for (const gateway of [a, b]) {
            const known = await new AdminClient(gateway.url).session(
              launched.sessionId,
            );
            assert(
              known?.live,
              `${gateway.url} kept alice's session: ${JSON.stringify(known)} ${
                JSON.stringify(
                  gateway.process.logs.filter((r) =>
                    String(r.msg).includes("session") ||
                    String(r.msg).includes("store")
                  ),
                )
              }`,
            );
          }
        },
      );
    } finally {
      await teardown.run();
    }
  },
});
