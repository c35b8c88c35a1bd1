/**
 * Two real gateways (`webstream -gateway`) on one real PostgreSQL store,
 * started at the same moment (issue 14, active/active): they agree on one
 * cookie secret, so a sign-in on one is valid on the other; a sign-out on
 * one is refused on the other too, once written behind (the revocation is
 * in the shared store, which each gateway asks).
 *
 * Needs the Debian package postgresql.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import {
  signIn,
  startGateway,
  Teardown,
  UserClient,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { hasPostgres, startPostgres } from "../support/postgres.ts";
import { waitFor } from "../support/wait.ts";

Deno.test({
  name:
    "two gateways on one PostgreSQL: a sign-in on one is valid on the other, and so is its sign-out",
  ignore: !hasPostgres(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const teardown = new Teardown();
    try {
      const cluster = await startPostgres();
      teardown.defer(() => cluster.stop());
      const storeUrl = await cluster.createDatabase();
      const configs = await Promise.all(
        [0, 1].map(() => writeGatewayConfig({ users: ["alice"], storeUrl })),
      );
      for (const config of configs) teardown.defer(() => config.remove());
      // Started together: the first to store a cookie secret wins for both.
      const [a, b] = await Promise.all(configs.map((c) => startGateway(c)));
      teardown.defer(() => a.stop());
      teardown.defer(() => b.stop());

      const onA = await signIn(a.url, "alice");
      const onB = new UserClient(b.url, "alice", onA.cookie);
      const me = await onB.fetch("/api/me");
      assertEquals(me.status, 200, await me.clone().text());
      assertEquals((await me.json()).user, "alice");

      const out = await onA.fetch("/api/signout", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: "{}",
      });
      await out.body?.cancel();
      assertEquals(out.status, 204);
      // Written behind the answer (in order, within milliseconds).
      await waitFor(async () => {
        const after = await onB.fetch("/api/me");
        await after.body?.cancel();
        return after.status === 401;
      }, { what: "B to refuse the cookie signed out on A" });
    } finally {
      await teardown.run();
    }
  },
});
