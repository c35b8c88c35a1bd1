/**
 * A session host with several gateways (`gateway.backend.gatewayUrl` as a
 * list), real processes on loopback: the first gateway is down, so the host
 * registers and heartbeats with the next one, which sees it healthy; a
 * launch through that gateway reaches the host. No Xvfb session is needed
 * beyond the host's own pool (current-user accounts when not root).
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import {
  AdminClient,
  launchHost,
  startGateway,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { freePort } from "../support/ports.ts";

Deno.test({
  name: "a host with two gateways registers with the one that answers",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const teardown = new Teardown();
    try {
      const config = await writeGatewayConfig({ users: ["alice"] });
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
    } finally {
      await teardown.run();
    }
  },
});
