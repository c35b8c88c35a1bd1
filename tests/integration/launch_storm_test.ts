/**
 * A launch storm over three real gateways (`webstream -gateway`) on one real
 * PostgreSQL store with two real hosts (`webstream -backend`, three pool
 * slots each): 24 users, each launching a desktop through one of the
 * gateways, all at once, each trying again on a 503 as a user would, until
 * they are in or refused with 429. The licence (5) and each host's capacity
 * (3) and logon cap (2) hold across the gateways: at most 5 sessions in the
 * store and on the hosts, at most 3 on either host, never more than 2
 * claims (logons in flight) on a host; every refusal is a 429 naming the
 * licence or a 503 naming a full host or its logons in progress. Once the
 * sessions are logged off, new launches on every gateway get in again.
 *
 * Without the claims each gateway counts only its own sessions, and the
 * farm ends with 6 (both hosts full) against a licence of 5.
 *
 * The hosts register and heartbeat with the first gateway; the other two
 * know them from the store (started after them) and by their own health
 * probes, so their heartbeat window is made long.
 *
 * Needs the Debian package postgresql.
 *
 * @module
 */
import postgres from "postgres";
import { listHostSessions } from "../../mod/gateway/host_sessions.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  AdminClient,
  launchHost,
  SHARED_SECRET,
  signIn,
  Teardown,
  type UserClient,
} from "../support/gateway.ts";
import {
  ON_POSTGRES,
  startGateways,
  startTestStore,
  writeGatewayConfigs,
} from "../support/gateway_farm.ts";
import { waitFor } from "../support/wait.ts";

const LICENCE = 5;
const SLOTS = 3;
const LOGON_CAP = 2;
const USERS = Array.from(
  { length: 24 },
  (_, i) => `u${String(i + 1).padStart(2, "0")}`,
);
const DESK = { id: "desk", name: "Desktop", kind: "desktop" };

/** How one user's launch ended, with the refusals met on the way. */
interface Attempt {
  user: string;
  gateway: number;
  sessionId?: string;
  refusals: { status: number; error: string }[];
}

/** Launches until in (200) or refused by the licence (429); 503s retried. */
async function launchUntilDone(
  client: UserClient,
  gateway: number,
): Promise<Attempt> {
  const attempt: Attempt = { user: client.user, gateway, refusals: [] };
  for (let n = 0; n < 60; n++) {
    const answer = await client.launch(DESK.id);
    if (answer.status === 200) {
      attempt.sessionId = String(answer.body.sessionId);
      return attempt;
    }
    attempt.refusals.push({
      status: answer.status,
      error: String(answer.body.error),
    });
    if (answer.status !== 503) return attempt;
    await new Promise((r) => setTimeout(r, 200 + Math.random() * 300));
  }
  return attempt;
}

Deno.test({
  name:
    "a launch storm over three gateways on one PostgreSQL never exceeds the licence, a host's capacity or its logon cap",
  ...ON_POSTGRES,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const { storeUrl } = await startTestStore(teardown);
      const db = postgres(storeUrl, { max: 2, onnotice: () => {} });
      teardown.defer(() => db.end({ timeout: 5 }));

      const configs = await writeGatewayConfigs(teardown, storeUrl, {
        count: 3,
        users: USERS,
        workspaces: [DESK],
        licence: { maxConcurrentSessions: LICENCE, staleAfter: 600 },
        placement: { maxConcurrentLogons: LOGON_CAP },
        // Only the first gateway hears heartbeats (see the module).
        healthCheck: { heartbeatInterval: 10, missedHeartbeats: 60 },
      });
      const gateways = await startGateways(teardown, configs.slice(0, 1));
      const first = gateways[0];
      const hosts = await Promise.all(
        [0, 1].map(() => launchHost(teardown, first.url, { slots: SLOTS })),
      );
      await new AdminClient(first.url).waitForHealthy(hosts);
      await waitFor(async () => {
        const [row] = await db`SELECT count(*)::int AS n FROM hosts`;
        return row.n === hosts.length;
      }, { what: "both hosts in the store" });
      for (const config of configs.slice(1)) {
        gateways.push(...await startGateways(teardown, [config]));
      }
      for (const gateway of gateways.slice(1)) {
        await new AdminClient(gateway.url).waitForHealthy(hosts);
      }
      const clients = await Promise.all(
        USERS.map((user, i) => signIn(gateways[i % 3].url, user)),
      );

      // Claims (logons in flight) per host, sampled through the storm.
      let storming = true;
      let mostClaims = 0;
      const sampling = (async () => {
        while (storming) {
          const rows = await db<{ n: number }[]>`
            SELECT count(*)::int AS n FROM session_claims
            GROUP BY server_url`;
          for (const row of rows) mostClaims = Math.max(mostClaims, row.n);
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      const attempts = await Promise.all(
        clients.map((client, i) => launchUntilDone(client, i % 3)),
      );
      storming = false;
      await sampling;
      const granted = attempts.filter((a) => a.sessionId);

      await t.step("granted launches fit the licence", () => {
        assert(
          granted.length <= LICENCE,
          `${granted.length} sessions granted, licence ${LICENCE}`,
        );
        // Everyone tried until in or refused: the licence is used up.
        assertEquals(granted.length, LICENCE);
        // Which gateway wins the licence's slots is the race's; that all
        // three raced for them is not.
        assertEquals(
          new Set(
            attempts.filter((a) => a.sessionId || a.refusals.length)
              .map((a) => a.gateway),
          ).size,
          3,
          "every gateway placed or refused launches in the storm",
        );
      });

      await t.step("every refusal is a 429 or 503 naming the limit", () => {
        const refusals = attempts.flatMap((a) => a.refusals);
        assert(refusals.length > 0);
        for (const refusal of refusals) {
          if (refusal.status === 429) {
            assertEquals(
              refusal.error,
              `the licence allows ${LICENCE} concurrent sessions and all are in use; try again later`,
            );
          } else {
            assertEquals(refusal.status, 503, refusal.error);
            assertMatch(refusal.error, /full|logons in progress/);
          }
        }
        for (const attempt of attempts.filter((a) => !a.sessionId)) {
          assertEquals(attempt.refusals.at(-1)?.status, 429, attempt.user);
        }
      });

      await t.step(
        "the hosts and the store hold no more than allowed",
        async () => {
          let onHosts = 0;
          for (const host of hosts) {
            const sessions = await listHostSessions(host.serverUrl, {
              sharedSecret: SHARED_SECRET,
            });
            assert(
              sessions.length <= SLOTS,
              `${host.serverUrl} has ${sessions.length} sessions`,
            );
            onHosts += sessions.length;
          }
          assertEquals(onHosts, granted.length);
          const stored = await db<{ url: string; n: number }[]>`
          SELECT data->>'serverUrl' AS url, count(*)::int AS n
          FROM sessions GROUP BY 1`;
          for (const row of stored) assert(row.n <= SLOTS, row.url);
          assertEquals(
            stored.reduce((sum, row) => sum + row.n, 0),
            granted.length,
          );
          assert(
            mostClaims <= LOGON_CAP,
            `${mostClaims} claims on one host at once, cap ${LOGON_CAP}`,
          );
          const [left] =
            await db`SELECT count(*)::int AS n FROM session_claims`;
          assertEquals(left.n, 0, "every claim was released");
        },
      );

      await t.step(
        "after the sessions end, launches get in again",
        async () => {
          for (const attempt of granted) {
            const client = clients[USERS.indexOf(attempt.user)];
            await client.logoffOk(attempt.sessionId!);
          }
          await waitFor(async () => {
            const [row] = await db`SELECT count(*)::int AS n FROM sessions`;
            return row.n === 0;
          }, { what: "the ended sessions to leave the store" });
          // One refused user per gateway launches again.
          const again = [0, 1, 2].map((g) =>
            attempts.find((a) => !a.sessionId && a.gateway === g)!
          );
          const results = await Promise.all(
            again.map((a) =>
              launchUntilDone(clients[USERS.indexOf(a.user)], a.gateway)
            ),
          );
          for (const result of results) {
            assert(result.sessionId, JSON.stringify(result));
          }
        },
      );
    } finally {
      await teardown.run();
    }
  },
});
