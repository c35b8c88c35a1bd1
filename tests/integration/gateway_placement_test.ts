/**
 * Load balancing with a real gateway and real hosts: breadth-first spreads
 * consecutive new sessions across hosts, depth-first fills one host first;
 * a workspace requiring a tag lands only on the host started with that tag;
 * a host drained through the admin API takes no new session (a launch only
 * it could take is refused with 503 naming it) while an existing session on
 * it still reconnects; undrained, it takes launches again.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  AdminClient,
  launchHost,
  signIn,
  startGateway,
  Teardown,
  type TestHost,
  type UserClient,
  writeGatewayConfig,
} from "../support/gateway.ts";

const DESK = { id: "desk", name: "Desktop", kind: "desktop" };
const GPU_DESK = {
  id: "gpu-desk",
  name: "GPU desktop",
  kind: "desktop",
  requiredTags: ["gpu"],
};

Deno.test({
  name: "gateway placement: breadth, tags, drain and undrain",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const users = ["u1", "u2", "u3", "u4", "alice", "bob"];
      const config = await writeGatewayConfig({
        users,
        workspaces: [DESK, GPU_DESK],
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const admin = new AdminClient(gateway.url);
      const gpu = await launchHost(teardown, gateway.url, {
        slots: 3,
        tags: ["gpu"],
      });
      const n1 = await launchHost(teardown, gateway.url, { slots: 2 });
      const n2 = await launchHost(teardown, gateway.url, { slots: 2 });
      const hosts = [gpu, n1, n2];
      await admin.waitForHealthy(hosts);
      const clients = Object.fromEntries(
        await Promise.all(
          users.map(async (u) => [u, await signIn(gateway.url, u)] as const),
        ),
      ) as Record<string, UserClient>;
      const active = new Map<string, number>(
        hosts.map((h) => [h.serverUrl, 0]),
      );
      /** Launches, pings, and waits until the host's heartbeat counts it. */
      const launch = async (user: string, workspace: string) => {
        const launched = await clients[user].launchOk(workspace);
        assertEquals(launched.outcome, "new");
        await clients[user].ping(launched);
        const session = await admin.session(launched.sessionId);
        assert(session);
        const count = active.get(session.serverUrl)! + 1;
        active.set(session.serverUrl, count);
        await admin.waitForActive(session.serverUrl, count);
        return { ...launched, serverUrl: session.serverUrl };
      };

      await t.step(
        "breadth-first spreads new sessions across hosts",
        async () => {
          const placed = [];
          for (const user of ["u1", "u2", "u3"]) {
            placed.push((await launch(user, "desk")).serverUrl);
          }
          assertEquals(
            placed.toSorted(),
            hosts.map((h) => h.serverUrl).toSorted(),
            "one session on each host",
          );
        },
      );

      let aliceSession = "";
      await t.step(
        "a workspace requiring a tag lands on the tagged host only",
        async () => {
          const launched = await launch("alice", "gpu-desk");
          assertEquals(launched.serverUrl, gpu.serverUrl);
          aliceSession = launched.sessionId;
          const decision = await admin.placement(launched.decisionId);
          for (const verdict of decision.rounds[0].hosts) {
            if (verdict.serverUrl === gpu.serverUrl) {
              assertEquals(verdict.verdict, "chosen");
            } else {
              assertEquals(verdict.verdict, "excluded");
              assertEquals(verdict.reason, "lacks tags gpu");
            }
          }
        },
      );

      await t.step("a drained host takes no new session", async () => {
        const drained = await admin.drain(gpu.serverUrl, true);
        assertEquals(drained, { serverUrl: gpu.serverUrl, state: "Draining" });
        const host = await admin.host(gpu.serverUrl);
        assertEquals(host.state, "Draining");
        assert(host.draining);

        const refused = await clients.bob.launch("gpu-desk");
        assertEquals(refused.status, 503, JSON.stringify(refused.body));
        assertMatch(refused.headers.get("retry-after") ?? "", /^\d+$/);
        const message = String(refused.body.error);
        assert(
          message.includes(
            `${gpu.serverUrl}: Draining: drained by an administrator`,
          ),
          message,
        );
        const decision = await admin.placement(String(refused.body.decisionId));
        assertEquals(decision.outcome, "refused");
        assertEquals(decision.rounds[0].outcome, "none");
        const verdict = decision.rounds[0].hosts.find((v) =>
          v.serverUrl === gpu.serverUrl
        );
        assertEquals(verdict?.verdict, "excluded");

        // An untagged desktop goes elsewhere although the drained host has room.
        const elsewhere = await launch("u4", "desk");
        assert(elsewhere.serverUrl !== gpu.serverUrl, elsewhere.serverUrl);
      });

      await t.step(
        "an existing session on a drained host still reconnects",
        async () => {
          const uuid = (await admin.session(aliceSession))?.sessionUuid;
          const again = await clients.alice.launchOk("gpu-desk", aliceSession);
          assertEquals(again.outcome, "reconnect");
          assertEquals(again.sessionId, aliceSession);
          assertEquals(await clients.alice.ping(again), uuid);
          // The desktop relaunched without its id reconnects too.
          const relaunch = await clients.alice.launchOk("gpu-desk");
          assertEquals(relaunch.outcome, "reconnect");
          assertEquals(relaunch.sessionId, aliceSession);
        },
      );

      await t.step("an undrained host takes launches again", async () => {
        const undrained = await admin.drain(gpu.serverUrl, false);
        assertEquals(undrained.state, "Healthy");
        const launched = await launch("bob", "gpu-desk");
        assertEquals(launched.serverUrl, gpu.serverUrl);
      });
    } finally {
      await teardown.run();
    }
  },
});

Deno.test({
  name: "gateway placement: depth-first fills one host before the next",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const teardown = new Teardown();
    try {
      const users = ["u1", "u2", "u3"];
      const config = await writeGatewayConfig({
        users,
        workspaces: [DESK],
        placement: { strategy: "depth" },
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const admin = new AdminClient(gateway.url);
      const hosts: TestHost[] = [];
      for (let i = 0; i < 2; i++) {
        hosts.push(await launchHost(teardown, gateway.url, { slots: 2 }));
      }
      await admin.waitForHealthy(hosts);
      const placed: string[] = [];
      const counts = new Map<string, number>();
      for (const user of users) {
        const client = await signIn(gateway.url, user);
        const launched = await client.launchOk("desk");
        await client.ping(launched);
        const url = (await admin.session(launched.sessionId))!.serverUrl;
        placed.push(url);
        counts.set(url, (counts.get(url) ?? 0) + 1);
        await admin.waitForActive(url, counts.get(url)!);
        if (placed.length === 2) {
          const decision = await admin.placement(launched.decisionId);
          const chosen = decision.rounds[0].hosts.find((v) =>
            v.verdict === "chosen"
          );
          assertMatch(String(chosen?.reason), /depth-first/);
        }
      }
      assertEquals(
        placed[1],
        placed[0],
        "the second session joins the first host",
      );
      assert(placed[2] !== placed[0], "the full host is passed over");
    } finally {
      await teardown.run();
    }
  },
});
