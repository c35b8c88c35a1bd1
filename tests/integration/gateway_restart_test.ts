/**
 * A real gateway restarted (stopped by its PID, started again on the same
 * state store) with a live session on a real host: `/resolveSession` still
 * resolves it with the contract's fields, the host is known without
 * registering again, the user's cookie still works and the session
 * reconnects. And licences: with `licence.maxConcurrentSessions` 1 a second
 * new session is refused with 429 and a clear message; the real streamer's
 * check-ins keep a session live, carrying the licence proof the host put in
 * its environment (not on its command line), while check-ins, metrics and
 * activity posted with a wrong proof are refused with 403 (no proof: 400;
 * not JSON: 415); once the host recycles the session the gateway forgets it
 * at once, on the host's word. The restarted gateway serves once it has
 * heard from the restored host (its first probe, waited for): the session
 * resolves at once, even with the host frozen until the gateway waits.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
} from "../support/assert.ts";
import {
  AdminClient,
  type AdminSession,
  launchHost,
  pingOver,
  resolveSession,
  SHARED_SECRET,
  signIn,
  startGateway,
  startGatewayWithHostFrozen,
  Teardown,
  type TestGateway,
  writeGatewayConfig,
} from "../support/gateway.ts";
import {
  LICENCE_PROOF_ENV,
  licenceProof,
} from "../../mod/contract/licence_proof.ts";
import { findStreamer } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";
import type { TestSocket } from "../support/ws.ts";

/** `POST path` on the gateway with a JSON body; status and JSON answer. */
async function postJson(
  gatewayUrl: string,
  path: string,
  body: unknown,
): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${gatewayUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

/** Waits until the session's `lastCheckinAt` is later than `after` (ms). */
function checkinAfter(
  admin: AdminClient,
  sessionId: string,
  after: number,
): Promise<AdminSession> {
  return waitFor(async () => {
    const session = await admin.session(sessionId);
    return session?.lastCheckinAt && Date.parse(session.lastCheckinAt) > after
      ? session
      : undefined;
  }, { what: "a licence check-in", intervalMs: 100 });
}

Deno.test({
  name:
    "gateway restart: sessions resolve and reconnect, hosts stay known; licence limit",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const config = await writeGatewayConfig({
        users: ["alice", "bob"],
        workspaces: [{ id: "desk", name: "Desktop", kind: "desktop" }],
        licence: {
          maxConcurrentSessions: 1,
          checkinInterval: 1,
          staleAfter: 10,
        },
      });
      teardown.defer(() => config.remove());
      let gateway: TestGateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const admin = new AdminClient(gateway.url);
      const host = await launchHost(teardown, gateway.url, { slots: 2 });
      await admin.waitForHealthy([host]);
      const alice = await signIn(gateway.url, "alice");
      const bob = await signIn(gateway.url, "bob");

      const launched = await alice.launchOk("desk");
      let viewer: TestSocket | undefined = await alice.openRelay(
        launched.sessionId,
        launched.token,
      );
      teardown.defer(() => viewer?.close());
      const sessionUuid = await pingOver(viewer);
      const port = host.config.base + 10 * host.slotOf(launched.sessionId)!;

      await t.step("the streamer checks its licence in", async () => {
        const first = await checkinAfter(admin, launched.sessionId, 0);
        await checkinAfter(
          admin,
          launched.sessionId,
          Date.parse(first.lastCheckinAt!),
        );
      });

      await t.step(
        "beyond licence.maxConcurrentSessions a new session is refused with 429",
        async () => {
          const refused = await bob.launch("desk");
          assertEquals(refused.status, 429, JSON.stringify(refused.body));
          assertEquals(
            refused.body.error,
            "the licence allows 1 concurrent sessions and all are in use; try again later",
          );
          assertMatch(refused.headers.get("retry-after") ?? "", /^\d+$/);
          const decision = await admin.placement(
            String(refused.body.decisionId),
          );
          assertEquals(decision.outcome, "refused");
          // The session in use is unaffected.
          assertEquals((await admin.sessions()).length, 1);
        },
      );

      const registeredAt = (await admin.host(host.serverUrl)).registeredAt;
      const registrations = () =>
        host.process.logs.filter((r) => r.msg === "registered with gateway")
          .length;
      assertEquals(registrations(), 1);
      let restartedAt = 0;

      await t.step(
        "the gateway stops by its PID and starts again",
        async () => {
          const status = await gateway.stop();
          assertEquals(status.code, 0);
          await viewer!.closed;
          viewer = undefined;
          // Down long enough for the host's heartbeats to fail.
          const failures = () =>
            host.process.logs.filter((r) => r.msg === "heartbeat failed")
              .length;
          const before = failures();
          await waitFor(() => failures() > before, {
            what: "a failed heartbeat",
          });
          restartedAt = Date.now();
          // The host frozen until the gateway waits for its first probe:
          // the session resolves as soon as the gateway answers /health.
          const restart = await startGatewayWithHostFrozen(config, host);
          gateway = restart.gateway;
          // Before the host is stopped, whatever fails here.
          teardown.defer(restart.thaw);
          const resolved = await resolveSession(
            gateway.url,
            launched.sessionId,
          );
          restart.thaw();
          assertEquals(resolved.status, 200, resolved.body);
          assertEquals(JSON.parse(resolved.body).SessionId, sessionUuid);
        },
      );

      await t.step("the host is known without registering again", async () => {
        const known = await admin.host(host.serverUrl);
        assertEquals(known.registeredAt, registeredAt);
        // Restored from the store, it is trusted once heard from: the
        // gateway served after its first probe answered.
        assertEquals(known.state, "Healthy");
        assert(known.lastProbe?.ok, "probed before the gateway served");
        assertGreater(known.lastProbe.at, restartedAt);
        await host.process.waitForLog((r) =>
          r.msg === "heartbeats reach the gateway again"
        );
        await admin.waitForHost(
          host.serverUrl,
          (h) => Date.parse(h.lastHeartbeat ?? "") > restartedAt,
        );
        assertEquals(registrations(), 1);
        assert(
          !host.process.logs.some((r) =>
            r.msg === "gateway does not know this host; registering again"
          ),
        );
      });

      await t.step(
        "/resolveSession still resolves the session, with the contract's fields",
        async () => {
          const http = await resolveSession(gateway.url, launched.sessionId);
          assertEquals(http.status, 200, http.body);
          assertEquals(JSON.parse(http.body), {
            SessionId: sessionUuid,
            TransportProtocol: "HTTP",
            DcvServerEndpoint: "127.0.0.1",
            Port: port,
            WebUrlPath: "/stream",
          });
          const quic = await resolveSession(
            gateway.url,
            launched.sessionId,
            "QUIC",
          );
          assertEquals(JSON.parse(quic.body).TransportProtocol, "QUIC");
          assertEquals(
            await resolveSession(gateway.url, crypto.randomUUID()),
            { status: 404, body: "Session id not found" },
          );
          assertEquals(
            await resolveSession(gateway.url, launched.sessionId, "TCP"),
            { status: 400, body: "Invalid transport parameter: TCP" },
          );
        },
      );

      await t.step(
        "the user's cookie still works and the session reconnects",
        async () => {
          const me = await (await alice.fetch("/api/me")).json();
          assertEquals(me.user, "alice");
          const again = await alice.launchOk("desk", launched.sessionId);
          assertEquals(again.outcome, "reconnect");
          assertEquals(
            (await admin.session(launched.sessionId))?.sessionUuid,
            sessionUuid,
          );
          assertEquals(await alice.ping(again), sessionUuid);
          // Check-ins reach the restarted gateway, and it still counts the licence.
          await checkinAfter(admin, launched.sessionId, restartedAt);
          assertEquals((await bob.launch("desk")).status, 429);
        },
      );
    } finally {
      await teardown.run();
    }
  },
});

Deno.test({
  name:
    "gateway licence: check-ins keep a session live; a recycled session's stop and it goes",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const staleAfter = 3;
      const config = await writeGatewayConfig({
        users: ["alice"],
        workspaces: [{ id: "desk", name: "Desktop", kind: "desktop" }],
        licence: { checkinInterval: 1, staleAfter },
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const admin = new AdminClient(gateway.url);
      const host = await launchHost(teardown, gateway.url, {
        slots: 1,
        settings: { reconnectGracePeriod: 2 },
      });
      await admin.waitForHealthy([host]);
      const alice = await signIn(gateway.url, "alice");
      const launched = await alice.launchOk("desk");
      const viewer = await alice.openRelay(launched.sessionId, launched.token);
      teardown.defer(() => viewer.close());
      await pingOver(viewer);

      await t.step(
        "the streamer's check-ins keep the session live past staleAfter",
        async () => {
          const launchedAt = Date.parse(
            (await admin.session(launched.sessionId))!.lastLaunchAt,
          );
          const seen = new Set<string>();
          await waitFor(async () => {
            const session = await admin.session(launched.sessionId);
            assert(session, "the session is still known");
            assert(session.live, "the session is still live");
            if (session.lastCheckinAt) seen.add(session.lastCheckinAt);
            return Date.now() - launchedAt > (staleAfter + 2) * 1000;
          }, { what: "time past staleAfter", intervalMs: 200 });
          assertGreater(seen.size, 1, "lastCheckinAt advanced");
          assert(
            host.process.logs.some((r) =>
              r.msg === "session allocated" &&
              r.sessionId === launched.sessionId
            ),
          );
        },
      );

      await t.step(
        "the streamer's proof comes from its environment; a wrong proof is refused",
        async () => {
          const { sessionUuid } = (await admin.session(launched.sessionId))!;
          const proof = await licenceProof(SHARED_SECRET, sessionUuid);
          const resolved = await resolveSession(
            gateway.url,
            launched.sessionId,
          );
          assertEquals(resolved.status, 200, resolved.body);
          const streamer = await findStreamer(JSON.parse(resolved.body).Port);
          assert(streamer, "the session's streamer runs");
          const environ = await Deno.readTextFile(
            `/proc/${streamer.pid}/environ`,
          );
          assert(
            environ.split("\0").includes(`${LICENCE_PROOF_ENV}=${proof}`),
            "the host gave the streamer its session's proof",
          );
          assert(!streamer.argv.join(" ").includes(proof), "never in argv");

          const claim = { sessionUuid, serverUrl: host.serverUrl };
          // Another session's proof, and a made-up one.
          const others = [
            await licenceProof(SHARED_SECRET, crypto.randomUUID()),
            await licenceProof("another-secret", sessionUuid),
            "0".repeat(64),
          ];
          for (const wrong of others) {
            assertEquals(
              await postJson(gateway.url, "/gateway/licence/checkin", {
                ...claim,
                proof: wrong,
              }),
              { status: 403, body: { error: "invalid licence proof" } },
            );
          }
          const forged = { ...claim, proof: others[0] };
          assertEquals(
            (await postJson(gateway.url, "/gateway/metrics", {
              ...forged,
              fps: 30,
            })).status,
            403,
          );
          assertEquals(
            (await postJson(gateway.url, "/gateway/activity", {
              ...forged,
              event: "upload",
            })).status,
            403,
          );
          const missing = await postJson(
            gateway.url,
            "/gateway/licence/checkin",
            claim,
          );
          assertEquals(missing.status, 400, JSON.stringify(missing.body));
          const notJson = await fetch(
            `${gateway.url}/gateway/licence/checkin`,
            {
              method: "POST",
              headers: { "Content-Type": "text/plain" },
              body: JSON.stringify({ ...claim, proof }),
            },
          );
          assertEquals(notJson.status, 415);
          await notJson.body?.cancel();

          // The real streamer's check-ins go on being accepted.
          const session = await checkinAfter(
            admin,
            launched.sessionId,
            Date.now(),
          );
          assert(session.live);
          assertEquals(session.sessionUuid, sessionUuid);
        },
      );

      await t.step(
        "once the host recycles the session, the gateway forgets it at once",
        async () => {
          await viewer.close();
          await host.process.waitForLog((r) =>
            r.msg === "recycling session" &&
            r.sessionId === launched.sessionId &&
            /grace period/.test(String(r.reason))
          );
          await waitFor(
            async () => !(await admin.session(launched.sessionId)),
            { what: "the session to leave the gateway", intervalMs: 100 },
          );
          const ended = await gateway.process.waitForLog((r) =>
            r.msg === "session ended" && r.sessionId === launched.sessionId
          );
          // The host said so (before, it went after staleAfter without
          // check-ins).
          assertMatch(
            String(ended.reason),
            /^ended on its host: no viewer within the reconnect grace period/,
          );
          assertEquals(
            (await resolveSession(gateway.url, launched.sessionId)).status,
            404,
          );
          const mine = await (await alice.fetch("/api/sessions")).json();
          assertEquals(mine, []);
        },
      );
    } finally {
      await teardown.run();
    }
  },
});
