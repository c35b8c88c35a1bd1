/**
 * Session sharing (`session_sharing.txt`) with a real gateway and real
 * hosts: a published app joins the user's session running another app (the
 * host really starts it in that session, as the pool user, under the same
 * streamer); and each reason not to share: incompatible resource
 * requirements, the app not on the session's host, other credentials, a
 * published desktop, an overloaded host (whose user session not shared
 * also keeps the new session off that host: it goes to another host, or is
 * refused with 503 saying why when there is none); a launch naming a session
 * its app cannot run in is refused with 409 before any host is asked; and
 * of several candidate sessions the one on the least-loaded host is chosen,
 * following the load.
 *
 * @module
 */
import { assert, assertEquals, assertNotEquals } from "../support/assert.ts";
import {
  AdminClient,
  type AdminSession,
  type GatewayConfigOptions,
  type Launched,
  launchHost,
  parentPid,
  resolveSession,
  signIn,
  sleepCommand,
  startGateway,
  Teardown,
  type TestGateway,
  type TestHost,
  uidOf,
  type UserClient,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { findStreamer, liveProcesses } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";

const ROOT = Deno.uid() === 0;

/** An app workspace running a unique sleep. */
function app(
  id: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> & { command: { linux: string } } {
  return {
    id,
    name: id,
    kind: "app",
    command: { linux: sleepCommand() },
    ...extra,
  };
}

/** The PID of the streamer of a gateway session (found by its port). */
async function streamerOf(
  gatewayUrl: string,
  sessionId: string,
): Promise<number> {
  const resolved = await resolveSession(gatewayUrl, sessionId);
  assertEquals(resolved.status, 200, resolved.body);
  const port = JSON.parse(resolved.body).Port;
  const streamer = await findStreamer(port);
  assert(streamer, `a streamer serves port ${port}`);
  return streamer.pid;
}

/**
 * Waits for the app process running `command` and checks it was started by
 * the streamer of `sessionId` (and, as root, runs as that session's user).
 */
async function assertAppIn(
  gatewayUrl: string,
  sessionId: string,
  command: string,
): Promise<void> {
  const streamer = await streamerOf(gatewayUrl, sessionId);
  const app = await waitFor(
    async () =>
      (await liveProcesses()).find((p) => p.argv.join(" ") === command),
    { what: `the app ${command}` },
  );
  assertEquals(
    await parentPid(app.pid),
    streamer,
    `${command} was started by the streamer of ${sessionId}`,
  );
  if (ROOT) {
    const uid = await uidOf(app.pid);
    assertEquals(uid, await uidOf(streamer), "the app runs as the pool user");
    assertNotEquals(uid, 0);
  }
}

/** Starts a gateway for one test, torn down with it. */
async function gatewayFor(
  teardown: Teardown,
  options: GatewayConfigOptions,
): Promise<{ gateway: TestGateway; admin: AdminClient }> {
  const config = await writeGatewayConfig(options);
  teardown.defer(() => config.remove());
  const gateway = await startGateway(config);
  teardown.defer(() => gateway.stop());
  return { gateway, admin: new AdminClient(gateway.url) };
}

/** The sharing verdict of `sessionId` in a decision's first round. */
async function verdictOn(
  admin: AdminClient,
  launched: Launched,
  sessionId: string,
): Promise<{ verdict: string; reason: string; score?: number }> {
  const decision = await admin.placement(launched.decisionId);
  const verdict = decision.rounds[0].sessions.find((v) =>
    v.sessionId === sessionId
  );
  assert(verdict, `session ${sessionId} was considered`);
  return verdict;
}

Deno.test({
  name:
    "gateway sharing: an app joins the user's session; not across resources, tags, credentials or desktops",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const appA = app("app-a", { requiredTags: ["plain"] });
      const appB = app("app-b");
      const appCreds = app("app-creds", {
        requiredTags: ["plain"],
        credentials: "admin",
      });
      const appUpload = app("app-upload", {
        requiredTags: ["plain"],
        resources: { fileUpload: true },
      });
      const appGpu = app("app-gpu", { requiredTags: ["gpu"] });
      const { gateway, admin } = await gatewayFor(teardown, {
        users: ["alice"],
        workspaces: [
          appA,
          appB,
          appCreds,
          appUpload,
          appGpu,
          { id: "desk", name: "Desktop", kind: "desktop" },
        ],
      });
      const plain = await launchHost(teardown, gateway.url, {
        slots: 4,
        tags: ["plain"],
      });
      const gpu = await launchHost(teardown, gateway.url, {
        slots: 2,
        tags: ["gpu"],
      });
      await admin.waitForHealthy([plain, gpu]);
      const alice = await signIn(gateway.url, "alice");

      let a!: Launched;
      await t.step("app A starts a new session", async () => {
        a = await alice.launchOk("app-a");
        assertEquals(a.outcome, "new");
        assertEquals(
          (await admin.session(a.sessionId))?.serverUrl,
          plain.serverUrl,
        );
        await alice.ping(a);
        await assertAppIn(gateway.url, a.sessionId, appA.command.linux);
        await admin.waitForActive(plain.serverUrl, 1);
      });

      await t.step("app B shares the session running app A", async () => {
        const uuid = (await admin.session(a.sessionId))!.sessionUuid;
        const b = await alice.launchOk("app-b");
        assertEquals(b.outcome, "share");
        assertEquals(b.sessionId, a.sessionId);
        const decision = await admin.placement(b.decisionId);
        assertEquals(decision.outcome, "share");
        assertEquals(decision.rounds[0].outcome, "share");
        assertEquals(decision.rounds[0].hosts, [], "no host was chosen");
        assertEquals(decision.rounds[0].sessions, [{
          sessionId: a.sessionId,
          serverUrl: plain.serverUrl,
          verdict: "chosen",
          reason: "compatible, on the least-loaded host",
          score: 0.25,
        }]);
        const session = await admin.session(a.sessionId);
        assertEquals(session?.workspaceIds, ["app-a", "app-b"]);
        assertEquals(session?.sessionUuid, uuid);
        // The host was asked into the same session and started B there.
        assert(
          plain.process.logs.some((r) =>
            r.msg === "session reconnected" && r.sessionId === a.sessionId
          ),
        );
        await assertAppIn(gateway.url, a.sessionId, appB.command.linux);
        assertEquals(await alice.ping(b), uuid);
        // Still one session on the host.
        assertEquals(
          (await alice.fetch("/api/sessions").then((r) => r.json())).length,
          1,
        );
      });

      let creds!: Launched;
      await t.step("no sharing under other credentials", async () => {
        creds = await alice.launchOk("app-creds");
        assertEquals(creds.outcome, "new");
        assertNotEquals(creds.sessionId, a.sessionId);
        assertEquals(await verdictOn(admin, creds, a.sessionId), {
          sessionId: a.sessionId,
          serverUrl: plain.serverUrl,
          verdict: "excluded",
          reason: "other credentials (user, the app uses admin)",
        });
        assertEquals(
          (await admin.session(creds.sessionId))?.credentials,
          "admin",
        );
        await assertAppIn(gateway.url, creds.sessionId, appCreds.command.linux);
      });

      let upload!: Launched;
      await t.step(
        "no sharing with incompatible resource requirements",
        async () => {
          upload = await alice.launchOk("app-upload");
          assertEquals(upload.outcome, "new");
          for (const other of [a.sessionId, creds.sessionId]) {
            const verdict = await verdictOn(admin, upload, other);
            assertEquals(verdict.verdict, "excluded");
            assertEquals(
              verdict.reason,
              "incompatible resources: the app needs fileUpload",
            );
          }
          await assertAppIn(
            gateway.url,
            upload.sessionId,
            appUpload.command.linux,
          );
        },
      );

      await t.step(
        "no sharing when the app is not on the session's host",
        async () => {
          const g = await alice.launchOk("app-gpu");
          assertEquals(g.outcome, "new");
          // The upload session offers what the app needs: only its host lacks it.
          for (const other of [a.sessionId, upload.sessionId]) {
            const verdict = await verdictOn(admin, g, other);
            assertEquals(verdict.verdict, "excluded");
            assertEquals(
              verdict.reason,
              "the app is not on its host: lacks tags gpu",
            );
          }
          assertEquals(
            (await admin.session(g.sessionId))?.serverUrl,
            gpu.serverUrl,
          );
          await assertAppIn(gateway.url, g.sessionId, appGpu.command.linux);
        },
      );

      await t.step(
        "a launch naming a session its app cannot run in is refused with 409",
        async () => {
          const logCount = (host: TestHost, msg: string) =>
            host.process.logs.filter((r) =>
              r.msg === msg && r.sessionId === a.sessionId
            ).length;
          const before = await admin.sessions();
          const reconnects = logCount(plain, "session reconnected");
          const allocations = gpu.process.logs.filter((r) =>
            r.msg === "session allocated"
          ).length;
          const refusals: [string, string][] = [
            ["app-gpu", "the app is not on its host: lacks tags gpu"],
            ["app-upload", "incompatible resources: the app needs fileUpload"],
            ["app-creds", "other credentials (user, the app uses admin)"],
            ["desk", "it is not this desktop's session"],
          ];
          for (const [workspace, reason] of refusals) {
            const refused = await alice.launch(workspace, a.sessionId);
            assertEquals(refused.status, 409, JSON.stringify(refused.body));
            assertEquals(
              refused.body.error,
              `${workspace} cannot run in session ${a.sessionId}: ${reason}`,
            );
            const decision = await admin.placement(
              String(refused.body.decisionId),
            );
            assertEquals(decision.outcome, "refused");
            assertEquals(decision.rounds, [], "nothing was placed");
          }
          // An app the session already runs reconnects: the host is asked
          // once, for it and none of the refused launches.
          const ok = await alice.launchOk("app-b", a.sessionId);
          assertEquals(ok.outcome, "reconnect");
          await plain.process.waitForLog(() =>
            logCount(plain, "session reconnected") > reconnects
          );
          assertEquals(logCount(plain, "session reconnected"), reconnects + 1);
          assertEquals(
            gpu.process.logs.filter((r) => r.msg === "session allocated")
              .length,
            allocations,
          );
          // The same sessions, each running the same apps.
          const shape = (list: AdminSession[]) =>
            list.map((s) => ({
              sessionId: s.sessionId,
              sessionUuid: s.sessionUuid,
              serverUrl: s.serverUrl,
              workspaceIds: s.workspaceIds,
            })).sort((x, y) => x.sessionId.localeCompare(y.sessionId));
          assertEquals(shape(await admin.sessions()), shape(before));
          assertEquals(
            (await admin.session(a.sessionId))?.workspaceIds,
            ["app-a", "app-b"],
          );
          const running = (await liveProcesses()).filter((p) =>
            p.argv.join(" ") === appGpu.command.linux
          );
          assertEquals(running.length, 1, "app-gpu runs only where launched");
        },
      );

      let desk!: Launched;
      await t.step("a published desktop never shares", async () => {
        await admin.waitForActive(plain.serverUrl, 3);
        await admin.waitForActive(gpu.serverUrl, 1);
        desk = await alice.launchOk("desk");
        assertEquals(desk.outcome, "new");
        const decision = await admin.placement(desk.decisionId);
        assertEquals(decision.rounds[0].sessions, []);
        assertEquals(decision.rounds[0].outcome, "new");
        const mine = await alice.fetch("/api/sessions").then((r) => r.json());
        assertEquals(mine.length, 5);
        await alice.ping(desk);
      });

      await t.step("and an app never joins a desktop session", async () => {
        const again = await alice.launchOk("app-b");
        assertEquals(again.outcome, "share");
        assertNotEquals(again.sessionId, desk.sessionId);
        assertEquals(await verdictOn(admin, again, desk.sessionId), {
          sessionId: desk.sessionId,
          serverUrl: (await admin.session(desk.sessionId))!.serverUrl,
          verdict: "excluded",
          reason: "a desktop session is not shared with apps",
        });
      });
    } finally {
      await teardown.run();
    }
  },
});

Deno.test({
  name:
    "gateway sharing: not on an overloaded host, nor a new session there instead",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const appB = app("app-b");
      const { gateway, admin } = await gatewayFor(teardown, {
        users: ["bob"],
        workspaces: [app("app-one", { requiredTags: ["one"] }), appB],
        placement: { overload: { sessionRatio: 0.4 } },
      });
      const one = await launchHost(teardown, gateway.url, {
        slots: 2,
        tags: ["one"],
      });
      await admin.waitForHealthy([one]);
      const bob = await signIn(gateway.url, "bob");

      const first = await bob.launchOk("app-one");
      assertEquals(
        (await admin.session(first.sessionId))?.serverUrl,
        one.serverUrl,
      );
      // One session of two slots: 50 %, over the 40 % limit.
      await admin.waitForActive(one.serverUrl, 1);
      const notShared = {
        sessionId: first.sessionId,
        serverUrl: one.serverUrl,
        verdict: "excluded",
        reason: "its host is overloaded: 1/2 sessions ≥ 40%",
      };
      // session_sharing.txt: not shared because the host is overloaded
      // means a new session on a different server.
      const notThere = {
        serverUrl: one.serverUrl,
        verdict: "excluded",
        reason:
          "overloaded: 1/2 sessions ≥ 40%: the user's session there was not shared, so not here either",
      };

      await t.step(
        "alone, the overloaded host is refused with 503 saying why",
        async () => {
          const refused = await bob.launch("app-b");
          assertEquals(refused.status, 503, JSON.stringify(refused.body));
          assertEquals(refused.headers.get("retry-after"), "10");
          assertEquals(
            refused.body.error,
            `no host can take app-b (${one.serverUrl}: ${notThere.reason})`,
          );
          const decision = await admin.placement(
            String(refused.body.decisionId),
          );
          assertEquals(decision.outcome, "refused");
          assertEquals(decision.rounds.length, 1);
          assertEquals(decision.rounds[0].sessions, [notShared]);
          assertEquals(decision.rounds[0].hosts, [notThere]);
          // Nothing was started: still the one session, running app-one.
          const sessions = await admin.sessions();
          assertEquals(sessions.map((s) => s.sessionId), [first.sessionId]);
          assertEquals(sessions[0].workspaceIds, ["app-one"]);
        },
      );

      await t.step(
        "with a host that is not overloaded, the new session goes there",
        async () => {
          const two = await launchHost(teardown, gateway.url, {
            slots: 2,
            tags: ["two"],
          });
          await admin.waitForHealthy([two]);
          const b = await bob.launchOk("app-b");
          assertEquals(b.outcome, "new");
          assertNotEquals(b.sessionId, first.sessionId);
          const decision = await admin.placement(b.decisionId);
          assertEquals(decision.rounds.length, 1);
          assertEquals(decision.rounds[0].sessions, [notShared]);
          const hosts = Object.fromEntries(
            decision.rounds[0].hosts.map((v) => [v.serverUrl, v]),
          );
          assertEquals(hosts[one.serverUrl], notThere);
          assertEquals(hosts[two.serverUrl].verdict, "chosen");
          assertEquals(
            (await admin.session(b.sessionId))?.serverUrl,
            two.serverUrl,
          );
          await assertAppIn(gateway.url, b.sessionId, appB.command.linux);
        },
      );
    } finally {
      await teardown.run();
    }
  },
});

Deno.test({
  name:
    "gateway sharing: of several candidate sessions, the one on the least-loaded host",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const any1 = app("app-any1");
      const any2 = app("app-any2");
      const { gateway, admin } = await gatewayFor(teardown, {
        users: ["carol", "dave", "eve"],
        workspaces: [
          app("app-h1", { requiredTags: ["h1"] }),
          app("app-h2", { requiredTags: ["h2"] }),
          any1,
          any2,
        ],
      });
      const h1 = await launchHost(teardown, gateway.url, {
        slots: 4,
        tags: ["h1"],
      });
      const h2 = await launchHost(teardown, gateway.url, {
        slots: 3,
        tags: ["h2"],
      });
      await admin.waitForHealthy([h1, h2]);
      const [carol, dave, eve] = await Promise.all(
        ["carol", "dave", "eve"].map((u) => signIn(gateway.url, u)),
      );
      const on = async (user: UserClient, id: string, host: string) => {
        const launched = await user.launchOk(id);
        assertEquals(launched.outcome, "new");
        assertEquals(
          (await admin.session(launched.sessionId))?.serverUrl,
          host,
        );
        return launched;
      };

      // Carol has a session on each host; Dave loads the second host.
      const c1 = await on(carol, "app-h1", h1.serverUrl);
      const c2 = await on(carol, "app-h2", h2.serverUrl);
      await on(dave, "app-h2", h2.serverUrl);
      await admin.waitForActive(h1.serverUrl, 1);
      await admin.waitForActive(h2.serverUrl, 2);

      await t.step(
        "the session on the less loaded host is shared",
        async () => {
          const shared = await carol.launchOk("app-any1");
          assertEquals(shared.outcome, "share");
          assertEquals(shared.sessionId, c1.sessionId);
          assertEquals(await verdictOn(admin, shared, c1.sessionId), {
            sessionId: c1.sessionId,
            serverUrl: h1.serverUrl,
            verdict: "chosen",
            reason: "compatible, on the least-loaded host",
            score: 0.25,
          });
          assertEquals(await verdictOn(admin, shared, c2.sessionId), {
            sessionId: c2.sessionId,
            serverUrl: h2.serverUrl,
            verdict: "eligible",
            reason: "compatible",
            score: 0.667,
          });
          await assertAppIn(gateway.url, c1.sessionId, any1.command.linux);
        },
      );

      await t.step("when the load moves, so does the choice", async () => {
        // Other users' sessions make the first host the busier one.
        await on(dave, "app-h1", h1.serverUrl);
        await on(eve, "app-h1", h1.serverUrl);
        await admin.waitForActive(h1.serverUrl, 3);
        const shared = await carol.launchOk("app-any2");
        assertEquals(shared.outcome, "share");
        assertEquals(shared.sessionId, c2.sessionId);
        const verdict = await verdictOn(admin, shared, c1.sessionId);
        assertEquals(verdict.verdict, "eligible");
        assertEquals(verdict.score, 0.75);
        await assertAppIn(gateway.url, c2.sessionId, any2.command.linux);
      });
    } finally {
      await teardown.run();
    }
  },
});
