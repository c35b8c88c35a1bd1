/**
 * A real `webstream -gateway` whose state store fills its disk (a small
 * tmpfs, as root, filled by a filler file), with a real `webstream -backend`
 * behind it: a new launch is refused with 503 naming the cause before its
 * host is called (its claim for the farm-wide limits cannot be written; the
 * host's `GET /sessions` and `/health` show no slot held), and so is the
 * next; reconnects to the live session, the relay,
 * `/resolveSession` and sign-out keep working from memory; with the filler
 * deleted, the gateway finds its store working again by itself and launches
 * work again; it logs one line when the store starts failing and one when it
 * works again.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { canMount, withSmallDisk } from "../support/full_disk.ts";
import {
  AdminClient,
  launchHost,
  resolveSession,
  SHARED_SECRET,
  signIn,
  startGateway,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { waitFor } from "../support/wait.ts";

const CAUSE =
  "the gateway's state store cannot be written: database or disk is full";

Deno.test({
  name:
    "gateway store on a full disk: reconnects and resolves go on, new launches 503, no slot held, recovery",
  ignore: !canMount(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    await withSmallDisk(async (disk) => {
      const teardown = new Teardown();
      try {
        const config = await writeGatewayConfig({
          users: ["alice", "bob"],
          workspaces: [{ id: "desk", name: "Desktop", kind: "desktop" }],
          storePath: `${disk.dir}/gateway.sqlite`,
          // Check-in times are written in rounds of this interval: long, so
          // the first write after the disk fills is the refused launch's.
          licence: { checkinInterval: 120, staleAfter: 600 },
        });
        teardown.defer(() => config.remove());
        const gateway = await startGateway(config);
        teardown.defer(() => gateway.stop());
        const admin = new AdminClient(gateway.url);
        const host = await launchHost(teardown, gateway.url, { slots: 3 });
        await admin.waitForHealthy([host]);

        const hostSessions = async () => {
          const response = await fetch(`${host.serverUrl}/sessions`, {
            headers: { Authorization: `Bearer ${SHARED_SECRET}` },
          });
          assertEquals(response.status, 200);
          return (await response.json()).sessions as {
            sessionUuid: string;
            sessionId: string;
          }[];
        };
        const hostActive = async () => {
          const response = await fetch(`${host.serverUrl}/health`);
          return (await response.json()).sessions.active as number;
        };
        const allocations = () =>
          host.process.logs.filter((r) => r.msg === "session allocated")
            .length;
        const storeLines = () =>
          gateway.process.logs.filter((r) => /state store/.test(String(r.msg)))
            .map((r) => `${r.level}: ${r.msg}`);

        const alice = await signIn(gateway.url, "alice");
        const bob = await signIn(gateway.url, "bob");
        const first = await alice.launchOk("desk");
        const sessionUuid = await alice.ping(first);
        assertEquals((await hostSessions()).map((s) => s.sessionUuid), [
          sessionUuid,
        ]);

        await disk.fill();

        await t.step(
          "a new launch: 503 naming the cause, before its host is called",
          async () => {
            const before = allocations();
            const refused = await bob.launch("desk");
            assertEquals(refused.status, 503, JSON.stringify(refused.body));
            assertEquals(refused.body.error, CAUSE);
            assertEquals(refused.headers.get("retry-after"), "10");
            // Its claim (farm-wide limits) could not be written: the host
            // was never asked. (A session a host started that the store
            // then cannot take is logged off there: tests/gateway/launch_test.ts.)
            assertEquals(allocations(), before);
            assertEquals((await hostSessions()).map((s) => s.sessionUuid), [
              sessionUuid,
            ]);
            assertEquals(await hostActive(), 1);
            const [listed] = await admin.hosts();
            assertEquals(listed.logonsInFlight, 0);
            assertEquals(
              (await admin.sessions()).map((s) => s.sessionId),
              [first.sessionId],
            );
          },
        );

        await t.step(
          "the next new launch is refused before any host is called",
          async () => {
            const before = allocations();
            const refused = await bob.launch("desk");
            assertEquals(refused.status, 503);
            assertEquals(refused.body.error, CAUSE);
            assertEquals(allocations(), before);
            assertEquals(await hostActive(), 1);
          },
        );

        await t.step(
          "reconnects, the relay, the resolver and sign-out work from memory",
          async () => {
            const again = await alice.launchOk("desk", first.sessionId);
            assertEquals(again.outcome, "reconnect");
            assertEquals(await alice.ping(again), sessionUuid);
            // The desktop launched without its id finds the same session.
            const relaunch = await alice.launchOk("desk");
            assertEquals(relaunch.sessionId, first.sessionId);
            const resolved = await resolveSession(
              gateway.url,
              first.sessionId,
            );
            assertEquals(resolved.status, 200, resolved.body);
            assertEquals(JSON.parse(resolved.body).SessionId, sessionUuid);
            // A sign-out cannot reach the disk, yet the cookie is refused.
            const other = await signIn(gateway.url, "alice");
            const out = await other.fetch("/api/signout", {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: "{}",
            });
            assertEquals(out.status, 204);
            const me = await other.fetch("/api/me");
            assertEquals(me.status, 401);
            await me.body?.cancel();
            assertEquals(await hostActive(), 1);
          },
        );

        await t.step(
          "with room again, launches work; one log line per change of state",
          async () => {
            assertEquals(storeLines(), [
              "error: the gateway's state store cannot be written; new sessions " +
              "are refused, reconnects and resolves are served from memory until it can",
            ]);
            await disk.free();
            // The gateway finds out by itself (it retries while failing).
            await waitFor(() => storeLines().length === 2, {
              what: "the gateway to find its store working again",
            });
            const launched = await bob.launchOk("desk");
            assertEquals(launched.outcome, "new");
            await bob.ping(launched);
            assertEquals(await hostActive(), 2);
            assertEquals(storeLines(), [
              "error: the gateway's state store cannot be written; new sessions " +
              "are refused, reconnects and resolves are served from memory until it can",
              "info: the gateway's state store works again",
            ]);
            const failing = gateway.process.logs.find((r) =>
              /cannot be written/.test(String(r.msg))
            );
            assertEquals(failing?.cause, "database or disk is full");
          },
        );
      } finally {
        await teardown.run();
      }
    });
  },
});
