/**
 * A real gateway (`webstream -gateway`) on a real PostgreSQL store
 * (`gateway.store.url`, a cluster the test starts) with a real host: sign
 * in, launch, stop the gateway by its PID and start it again (the host
 * frozen, with no probe of it in the store, until the gateway waits for its
 * first probe); the session resolves with the same streamer session as
 * soon as the gateway answers `/health`, the cookie still works
 * (its secret came from the database), the host is known without
 * registering again, and the state is in PostgreSQL, not in a SQLite file.
 *
 * @module
 */
import { openPostgresStore } from "../../mod/gateway/store_postgres.ts";
import { exists } from "../support/fs.ts";
import { assert, assertEquals } from "../support/assert.ts";
import {
  AdminClient,
  launchHost,
  pingOver,
  resolveSession,
  signIn,
  startGatewayWithHostFrozen,
  Teardown,
  type TestGateway,
} from "../support/gateway.ts";
import {
  ON_POSTGRES,
  startGatewaysOnPostgres,
} from "../support/gateway_farm.ts";

Deno.test({
  name: "a gateway on PostgreSQL: a session survives a gateway restart",
  ...ON_POSTGRES,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const { storeUrl, gateways: [first] } = await startGatewaysOnPostgres(
        teardown,
        {
          count: 1,
          // Rounds 10 s apart: the first gateway stops before it shares a
          // probe of the host (a round shares what it probed since the last).
          healthCheck: { interval: 10 },
          users: ["alice"],
          workspaces: [{ id: "desk", name: "Desktop", kind: "desktop" }],
        },
      );
      const config = first.config;
      let gateway: TestGateway = first;
      const admin = new AdminClient(gateway.url);
      const host = await launchHost(teardown, gateway.url, { slots: 2 });
      await admin.waitForHealthy([host]);
      const alice = await signIn(gateway.url, "alice");
      const launched = await alice.launchOk("desk");
      const viewer = await alice.openRelay(launched.sessionId, launched.token);
      teardown.defer(() => viewer.close());
      const sessionUuid = await pingOver(viewer);
      const registeredAt = (await admin.host(host.serverUrl)).registeredAt;

      await t.step("the state is in PostgreSQL, not in a file", async () => {
        assert(!await exists(config.storePath), "no SQLite file was made");
        const store = await openPostgresStore(storeUrl);
        try {
          const sessions = await store.loadSessions();
          assertEquals(sessions.map((s) => s.sessionUuid), [sessionUuid]);
          assert(await store.getSetting("cookieSecret"), "the cookie secret");
        } finally {
          await store.close();
        }
      });

      await t.step("restarted, the gateway still knows it all", async () => {
        assertEquals((await gateway.stop()).code, 0);
        await viewer.closed;
        // No probe of the host in the store (the first gateway stopped
        // before its next round shared one), and the host frozen until the
        // gateway waits for its probe: it resolves the session as soon as
        // it answers /health.
        const restart = await startGatewayWithHostFrozen(config, host);
        teardown.defer(() => restart.gateway.stop());
        // Before the host is stopped, whatever fails here.
        teardown.defer(restart.thaw);
        gateway = restart.gateway;
        const resolved = await resolveSession(gateway.url, launched.sessionId);
        restart.thaw();
        assertEquals(resolved.status, 200, resolved.body);
        assertEquals(JSON.parse(resolved.body).SessionId, sessionUuid);
        assertEquals(
          (await admin.host(host.serverUrl)).registeredAt,
          registeredAt,
        );
        const me = await (await alice.fetch("/api/me")).json();
        assertEquals(me.user, "alice");
        const again = await alice.launchOk("desk", launched.sessionId);
        assertEquals(again.outcome, "reconnect");
        assertEquals(await alice.ping(again), sessionUuid);
      });
    } finally {
      await teardown.run();
    }
  },
});
