/**
 * The whole launch flow with a real `webstream -gateway` and three real
 * `webstream -backend` hosts on loopback: the hosts register, a user signs
 * in, launches a desktop and pings its streamer through the gateway's
 * `/ws/:sessionId` relay; relaunching with the session id reconnects to the
 * same host and pool session; the browser-facing token is good once; a
 * second launch of the same desktop reconnects, and two launches of it sent
 * at once make one session; the admin placements API
 * explains every launch; a host stopped with SIGTERM leaves the gateway.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertNotEquals,
  assertRejects,
} from "../support/assert.ts";
import {
  AdminClient,
  type Launched,
  launchHost,
  signIn,
  sleepCommand,
  startGateway,
  Teardown,
  type TestHost,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { poolUsers } from "../support/pool_users.ts";
import { waitFor } from "../support/wait.ts";
import { openSocket } from "../support/ws.ts";

const ROOT = Deno.uid() === 0;

Deno.test({
  name: "gateway launch: register, sign in, launch, relay, reconnect, explain",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const config = await writeGatewayConfig({
        users: ["alice", "bob"],
        workspaces: [
          { id: "desk", name: "Desktop", kind: "desktop" },
          {
            id: "red-notes",
            name: "Notes",
            kind: "app",
            command: { linux: sleepCommand() },
            requiredTags: ["red"],
            users: ["bob"],
          },
        ],
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const admin = new AdminClient(gateway.url);
      const hosts: TestHost[] = [];
      for (const tag of ["blue", "green", "red"]) {
        hosts.push(
          await launchHost(teardown, gateway.url, { slots: 2, tags: [tag] }),
        );
      }
      const hostOf = (serverUrl: string): TestHost =>
        hosts.find((h) => h.serverUrl === serverUrl)!;

      await t.step(
        "several hosts register and are probed Healthy",
        async () => {
          await admin.waitForHealthy(hosts);
          // A registered host is Healthy at once; its first probe follows.
          for (const host of hosts) {
            await admin.waitForHost(
              host.serverUrl,
              (h) => h.lastProbe?.ok === true,
              { what: "a good probe" },
            );
          }
          const listed = await admin.hosts();
          assertEquals(listed.length, 3);
          for (const [i, tag] of ["blue", "green", "red"].entries()) {
            const host = listed.find((h) =>
              h.serverUrl === hosts[i].serverUrl
            )!;
            assertEquals(host.tags, [tag]);
            assertEquals(host.maxSessions, 2);
            assert(
              host.capabilities.includes("xvfb"),
              host.capabilities.join(),
            );
            assertMatch(host.version, /^\d+\.\d+\.\d+/);
            assert(host.lastProbe?.ok, JSON.stringify(host.lastProbe));
            // The host logs it once the gateway's answer is in.
            await waitFor(
              () =>
                hosts[i].process.logs.some((r) =>
                  r.msg === "registered with gateway"
                ),
              { what: "the host's registered log line" },
            );
          }
          // Heartbeats arrive, not only the registration.
          await admin.waitForHost(
            hosts[0].serverUrl,
            (h) => h.lastHeartbeat !== null,
          );
        },
      );

      const bad = await fetch(`${gateway.url}/api/signin`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ user: "alice", password: "wrong" }),
      });
      const alice = await signIn(gateway.url, "alice");
      const bob = await signIn(gateway.url, "bob");

      await t.step(
        "a user signs in and the cookie identifies her",
        async () => {
          assertEquals(bad.status, 401);
          assertEquals(bad.headers.getSetCookie(), []);
          await bad.body?.cancel();
          const me = await (await alice.fetch("/api/me")).json();
          assertEquals(me, { user: "alice", groups: [], admin: false });
          const workspaces = await (await alice.fetch("/api/workspaces"))
            .json();
          assertEquals(workspaces, [
            { id: "desk", name: "Desktop", kind: "desktop" },
          ]);
          const anonymous = await fetch(`${gateway.url}/api/launch`, {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ workspaceId: "desk" }),
          });
          assertEquals(anonymous.status, 401);
          await anonymous.body?.cancel();
        },
      );

      let first!: Launched;
      let sessionUuid = "";
      let home!: TestHost;
      await t.step(
        "a launched desktop answers a ping through the gateway's relay",
        async () => {
          const answer = await alice.launch("desk");
          assertEquals(answer.status, 200, JSON.stringify(answer.body));
          assertEquals(answer.headers.get("cache-control"), "no-store");
          first = answer.body as unknown as Launched;
          assertEquals(first.outcome, "new");
          assertEquals(first.websocketPath, `/ws/${first.sessionId}`);
          const session = await admin.session(first.sessionId);
          assert(session, "the gateway records the session");
          assertEquals(session.user, "alice");
          assertEquals(session.kind, "desktop");
          assertEquals(session.workspaceIds, ["desk"]);
          home = hostOf(session.serverUrl);
          assert(home, `placed on a registered host: ${session.serverUrl}`);
          assert(home.slotOf(first.sessionId), "the host allocated a slot");
          sessionUuid = session.sessionUuid;
          assertEquals(await alice.ping(first), sessionUuid);
        },
      );

      await t.step("the relay needs the user's own cookie", async () => {
        const url = `${
          gateway.url.replace("http", "ws")
        }/ws/${first.sessionId}`;
        await assertRejects(() => openSocket(url));
        const relaunch = await alice.launchOk("desk", first.sessionId);
        // Bob is signed in, but it is not his session.
        await assertRejects(() =>
          bob.openRelay(first.sessionId, relaunch.token)
        );
        // The token Bob could not use still works for Alice.
        assertEquals(await alice.ping(relaunch), sessionUuid);
      });

      await t.step(
        "the browser-facing token is good for one connection",
        async () => {
          const again = await alice.openRelay(first.sessionId, first.token);
          await assertRejects(() => again.nextJson(), Error, /socket closed/);
          const closed = await again.closed;
          assertEquals(closed.code, 1011, closed.reason);
        },
      );

      await t.step(
        "relaunching with the session id reconnects to the same host and session",
        async () => {
          const before = home.process.logs.filter((r) =>
            r.msg === "session reconnected" && r.sessionId === first.sessionId
          ).length;
          const again = await alice.launchOk("desk", first.sessionId);
          assertEquals(again.outcome, "reconnect");
          assertEquals(again.sessionId, first.sessionId);
          assertNotEquals(again.token, first.token);
          const session = await admin.session(first.sessionId);
          assertEquals(session?.serverUrl, home.serverUrl);
          assertEquals(session?.sessionUuid, sessionUuid);
          await home.process.waitForLog(() =>
            home.process.logs.filter((r) =>
              r.msg === "session reconnected" &&
              r.sessionId === first.sessionId
            ).length > before
          );
          assertEquals(await alice.ping(again), sessionUuid);
        },
      );

      await t.step(
        "a second launch of the same desktop reconnects to it",
        async () => {
          const again = await alice.launchOk("desk");
          assertEquals(again.outcome, "reconnect");
          assertEquals(again.sessionId, first.sessionId);
          assertEquals(await alice.ping(again), sessionUuid);
          const mine = await (await alice.fetch("/api/sessions")).json();
          assertEquals(mine.length, 1);
          assertEquals(mine[0].sessionId, first.sessionId);
          // Someone else cannot reconnect to it.
          const stolen = await bob.launch("desk", first.sessionId);
          assertEquals(stolen.status, 404);
        },
      );

      let redLaunch!: Launched;
      await t.step(
        "an app with a required tag lands on the tagged host",
        async () => {
          redLaunch = await bob.launchOk("red-notes");
          assertEquals(redLaunch.outcome, "new");
          const session = await admin.session(redLaunch.sessionId);
          assertEquals(session?.serverUrl, hosts[2].serverUrl);
          assertEquals(session?.kind, "app");
          await bob.ping(redLaunch);
        },
      );

      await t.step(
        "the admin placements API explains each launch",
        async () => {
          const unauthorised = await fetch(
            `${gateway.url}/admin/api/placements`,
          );
          assertEquals(unauthorised.status, 401);
          await unauthorised.body?.cancel();
          const list = await admin.placements();
          const mine = list.filter((d) =>
            d.user === "alice"
          );
          // Newest first: the launches of the desktop after the first one reconnected.
          assertEquals(mine.at(-1)?.id, first.decisionId);
          assertEquals(
            mine.map((d) => d.outcome),
            [...mine.slice(0, -1).map(() => "reconnect"), "new"],
          );

          const decision = await admin.placement(first.decisionId);
          assertEquals(decision.outcome, "new");
          assertEquals(decision.sessionId, first.sessionId);
          assertEquals(decision.serverUrl, home.serverUrl);
          assertEquals(decision.rounds.length, 1);
          const round = decision.rounds[0];
          assertEquals(round.outcome, "new");
          assertEquals(round.sessions, [], "a desktop is never shared");
          assertEquals(
            round.hosts.map((v) => v.serverUrl).sort(),
            hosts.map((h) => h.serverUrl).sort(),
            "every host was considered",
          );
          for (const verdict of round.hosts) {
            if (verdict.serverUrl === home.serverUrl) {
              assertEquals(verdict.verdict, "chosen");
              assertMatch(verdict.reason, /least loaded/);
            } else {
              assertEquals(verdict.verdict, "eligible");
              assertMatch(verdict.reason, /^load score /);
            }
            assertEquals(verdict.score, 0);
          }

          const reconnect = await admin.placement(String(mine[0].id));
          assertEquals(reconnect.rounds, []);
          assertEquals(
            reconnect.summary,
            `reconnects session ${first.sessionId} on ${home.serverUrl}`,
          );

          const red = await admin.placement(redLaunch.decisionId);
          assertEquals(red.outcome, "new");
          const verdicts = red.rounds[0].hosts;
          for (const verdict of verdicts) {
            if (verdict.serverUrl === hosts[2].serverUrl) {
              assertEquals(verdict.verdict, "chosen");
            } else {
              assertEquals(verdict.verdict, "excluded");
              assertEquals(verdict.reason, "lacks tags red");
            }
          }
          assertEquals(red.rounds[0].sessions, []);
          assertEquals(
            red.summary,
            `new session on ${hosts[2].serverUrl} (breadth-first)`,
          );
        },
      );

      await t.step(
        "two launches of one desktop at once make one session",
        async () => {
          const allocations = () =>
            hosts.flatMap((h) => h.process.logs).filter((r) =>
              r.msg === "session allocated"
            ).length;
          const before = allocations();
          // Bob double-clicks: both requests are in flight together.
          const answers = await Promise.all([
            bob.launch("desk"),
            bob.launch("desk"),
          ]);
          for (const answer of answers) {
            assertEquals(answer.status, 200, JSON.stringify(answer.body));
          }
          const [one, two] = answers.map((a) => a.body as unknown as Launched);
          assertEquals(one.sessionId, two.sessionId);
          assertEquals([one.outcome, two.outcome].sort(), ["new", "reconnect"]);
          assertNotEquals(one.token, two.token);
          // Bob's sessions: his app (red-notes) and one desktop.
          const mine: { sessionId: string; kind: string }[] =
            await (await bob.fetch("/api/sessions")).json();
          assertEquals(
            mine.filter((s) => s.kind === "desktop").map((s) => s.sessionId),
            [one.sessionId],
          );
          assertEquals(mine.length, 2);
          const session = await admin.session(one.sessionId);
          assert(session);
          const host = hostOf(session.serverUrl);
          // The host started one session and was asked back into it once.
          await host.process.waitForLog((r) =>
            r.msg === "session reconnected" && r.sessionId === one.sessionId
          );
          assert(host.slotOf(one.sessionId));
          assertEquals(allocations(), before + 1);
          const later = one.outcome === "reconnect" ? one : two;
          assertEquals(await bob.ping(later), session.sessionUuid);
        },
      );

      await t.step(
        "a host stopped with SIGTERM unregisters and its sessions go",
        async () => {
          const status = await home.stop();
          assertEquals(status.code, 0);
          const host = await admin.host(home.serverUrl);
          assertEquals(host.state, "Unregistered");
          assertEquals(await admin.session(first.sessionId), undefined);
          const again = await alice.launch("desk", first.sessionId);
          assertEquals(again.status, 404);
          if (ROOT) {
            await waitFor(
              async () => !(await poolUsers(home.config.username)).length,
              { what: "the host's pool users to be removed" },
            );
          }
        },
      );
    } finally {
      await teardown.run();
    }
  },
});
