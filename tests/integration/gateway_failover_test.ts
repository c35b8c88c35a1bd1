/**
 * A session host with several gateways (`gateway.backend.gatewayUrl` as a
 * list), real processes on loopback: the first gateway is down, so the host
 * registers and heartbeats with the next one, which sees it healthy; a
 * launch through that gateway reaches the host, and the session's streamer
 * checks its licence in with that gateway too (it gets the same list).
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import {
  AdminClient,
  launchHost,
  signIn,
  startGateway,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "../support/wait.ts";

Deno.test({
  name: "a host with two gateways registers with the one that answers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const teardown = new Teardown();
    try {
      const config = await writeGatewayConfig({
        users: ["alice"],
        workspaces: [{ id: "desk", name: "Desktop", kind: "desktop" }],
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const down = `http://127.0.0.1:${freePort()}`;
      const host = await launchHost(teardown, gateway.url, {
        slots: 1,
        backend: { gatewayUrl: [down, gateway.url] },
      });
      const admin = new AdminClient(gateway.url);
      await admin.waitForHealthy([host]);
      const hosts = await admin.hosts();
      assertEquals(hosts.map((h) => h.serverUrl), [host.serverUrl]);

      const alice = await signIn(gateway.url, "alice");
      const launched = await alice.launchOk("desk");
      await alice.ping(launched);
      // Only a check-in sets it; the first gateway of the list is down.
      const session = await waitFor(async () => {
        const session = await admin.session(launched.sessionId);
        return session?.lastCheckinAt ? session : undefined;
      }, { what: "the streamer's licence check-in", intervalMs: 200 });
      assertEquals(session.serverUrl, host.serverUrl);
    } finally {
      await teardown.run();
    }
  },
});
