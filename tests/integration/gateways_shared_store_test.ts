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
import { signIn, Teardown, UserClient } from "../support/gateway.ts";
import {
  ON_POSTGRES,
  startGatewaysOnPostgres,
} from "../support/gateway_farm.ts";
import { waitFor } from "../support/wait.ts";

Deno.test({
  name:
    "two gateways on one PostgreSQL: a sign-in on one is valid on the other, and so is its sign-out",
  ...ON_POSTGRES,
  async fn() {
    const teardown = new Teardown();
    try {
      // Started together: the first to store a cookie secret wins for both.
      const { gateways: [a, b] } = await startGatewaysOnPostgres(teardown, {
        count: 2,
        users: ["alice"],
      });

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
