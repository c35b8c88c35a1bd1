/**
 * Issue 12's session truth, with real processes: a real `webstream
 * -gateway` and a real `webstream -backend` (real Xvfb sessions, real pool
 * users as root). The gateway's `licence.staleAfter` is ten minutes here, so
 * nothing the test sees can come from a session going quiet: only the
 * host's own word ends a session at the gateway.
 *
 * - A session whose display dies (its Xvfb killed by PID) ends at the
 *   gateway at once: the host says so (`POST /gateway/sessionEnded`), and
 *   the resolver answers 404.
 * - A host killed with SIGKILL whose session's display died meanwhile comes
 *   back without it; the gateway, reconciling with the host's own list on
 *   its registration, forgets the session.
 *
 * Needs the Debian packages xvfb and x11-utils.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import {
  AdminClient,
  launchHost,
  resolveSession,
  signIn,
  startGateway,
  startHost,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { findStreamer, liveProcesses } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";

const OPTIONS = {
  sanitizeOps: false,
  sanitizeResources: false,
  ignore: Deno.build.os !== "linux",
};

/** The PID of the Xvfb serving the session `sessionId` resolves to. */
async function sessionXvfb(
  gatewayUrl: string,
  sessionId: string,
): Promise<number> {
  const resolved = await resolveSession(gatewayUrl, sessionId);
  assertEquals(resolved.status, 200, resolved.body);
  const streamer = await findStreamer(JSON.parse(resolved.body).Port);
  assert(streamer, "the session's streamer runs");
  const environ = (await Deno.readTextFile(`/proc/${streamer.pid}/environ`))
    .split("\0");
  const auth = environ.find((e) => e.startsWith("XAUTHORITY="))!
    .slice("XAUTHORITY=".length);
  // Its own X server: the one started with the session's cookie file.
  const xvfb = (await liveProcesses()).find(({ argv }) =>
    argv[0]?.endsWith("Xvfb") && argv[argv.indexOf("-auth") + 1] === auth
  );
  assert(xvfb, `the Xvfb of ${sessionId}`);
  return xvfb.pid;
}

Deno.test(
  "the gateway never points at a session its host no longer has",
  OPTIONS,
  async (t) => {
    const teardown = new Teardown();
    try {
      const config = await writeGatewayConfig({
        users: ["alice", "bob"],
        workspaces: [{ id: "desk", name: "Desktop", kind: "desktop" }],
        licence: { checkinInterval: 1, staleAfter: 600 },
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const admin = new AdminClient(gateway.url);
      const host = await launchHost(teardown, gateway.url, { slots: 2 });
      await admin.waitForHealthy([host]);

      await t.step(
        "a session whose display dies ends at the gateway at once",
        async () => {
          const alice = await signIn(gateway.url, "alice");
          const launched = await alice.launchOk("desk");
          const xvfb = await sessionXvfb(gateway.url, launched.sessionId);
          Deno.kill(xvfb, "SIGKILL");
          await waitFor(
            async () =>
              (await resolveSession(gateway.url, launched.sessionId)).status ===
                404,
            { what: "the resolver to answer 404" },
          );
          assertEquals(await admin.session(launched.sessionId), undefined);
          assert(
            gateway.process.logs.some((r) =>
              r.msg === "session ended" && r.sessionId === launched.sessionId &&
              /^ended on its host/.test(String(r.reason))
            ),
            "ended by the host's report",
          );
          assertEquals(await (await alice.fetch("/api/sessions")).json(), []);
        },
      );

      await t.step(
        "a host that comes back without a session: the gateway forgets it",
        async () => {
          const bob = await signIn(gateway.url, "bob");
          const launched = await bob.launchOk("desk");
          const xvfb = await sessionXvfb(gateway.url, launched.sessionId);
          const killed = await host.kill();
          assertEquals(killed.signal, "SIGKILL");
          // The display dies while its host is away.
          Deno.kill(xvfb, "SIGKILL");
          assert(await admin.session(launched.sessionId), "still known");
          const again = startHost(host.config);
          teardown.defer(() => again.stop());
          await admin.waitForHealthy([again]);
          await waitFor(
            async () => (await admin.session(launched.sessionId)) === undefined,
            { what: "the gateway to forget the session its host lost" },
          );
          assertEquals(
            (await resolveSession(gateway.url, launched.sessionId)).status,
            404,
          );
          // A new launch still works on the host that came back, once its
          // pool has started (a starting pool refuses launches with 503).
          await waitFor(async () => {
            const answer = await fetch(`${again.serverUrl}/health`)
              .catch(() => undefined);
            const body = await answer?.json().catch(() => undefined);
            return body?.status === "healthy";
          }, { what: "the host's pool to be started" });
          // The gateway's probes during the pool's start were answered 503
          // (Unreachable after three): its next probe finds it back.
          const readyAt = Date.now();
          await admin.waitForHost(
            again.serverUrl,
            (h) =>
              h.state === "Healthy" && h.lastProbe?.ok === true &&
              h.lastProbe.at >= readyAt,
            { what: "a probe after the pool started to find the host Healthy" },
          );
          const fresh = await bob.launchOk("desk");
          assertEquals(
            (await resolveSession(gateway.url, fresh.sessionId)).status,
            200,
          );
        },
      );
    } finally {
      await teardown.run();
    }
  },
);
