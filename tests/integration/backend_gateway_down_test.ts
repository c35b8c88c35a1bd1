/**
 * A real `webstream -backend` process whose gateway is not there yet: the
 * host serves `/health` and real sessions regardless, registers once a fake
 * gateway comes up on the configured port, keeps serving when that gateway
 * goes away, registers again after a new gateway (which never heard of it)
 * answers a heartbeat 404, and unregisters and exits 0 on SIGTERM.
 *
 * @module
 */
import { assert, assertEquals, assertGreater } from "../support/assert.ts";
import { writeTestConfig } from "../support/config.ts";
import { type FakeGateway, startFakeGateway } from "../support/fake_gateway.ts";
import { poolUsers } from "../support/pool_users.ts";
import {
  connectionOf,
  getConnection,
  pingStreamer,
} from "../support/host_client.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "../support/wait.ts";
import { startWebstream } from "../support/webstream_process.ts";

const ROOT = Deno.uid() === 0;
const SECRET = "s3cret-for-gateway-down-tests";

async function health(port: number): Promise<Record<string, unknown>> {
  const response = await fetch(`http://127.0.0.1:${port}/health`);
  assertEquals(response.status, 200);
  return await response.json();
}

/** `/getConnection` for `sessionId`, as the gateway would ask; must be 200. */
async function connectionFor(
  port: number,
  sessionId: string,
): Promise<Record<string, unknown>> {
  return await connectionOf(
    await getConnection(port, sessionId, { secret: SECRET }),
  );
}

Deno.test({
  name:
    "backend: serves with its gateway down, registers when it comes up, again after it comes back",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const gatewayPort = freePort();
    const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    const cfg = await writeTestConfig({
      slots: 2,
      backend: {
        gatewayUrl,
        sharedSecret: SECRET,
        heartbeatInterval: 1,
        registrationRetryInterval: 1,
        registrationMaxAttempts: 30,
      },
    });
    const port = cfg.httpPort;
    const serverUrl = `http://127.0.0.1:${port}`;
    const host = startWebstream(["-backend", "-config", cfg.path]);
    let exited = false;
    host.status.then(() => exited = true);
    let gateway: FakeGateway | undefined;
    let first: Record<string, unknown> = {};
    try {
      await t.step(
        "serves /health and a real session while the gateway is down",
        async () => {
          await waitFor(async () => {
            const h = await health(port);
            return h.status === "healthy" &&
              (h.sessions as { available: number }).available === 2;
          }, { what: "a healthy pool" });
          // The host is trying, and failing, to register.
          await host.waitForLog((r) =>
            r.msg === "registration failed" && Number(r.attempt) >= 1
          );
          first = await connectionFor(port, "down-a");
          assertEquals(first.sessionId, "down-a");
          await pingStreamer(first);
          assert(
            !host.logs.some((r) => r.msg === "registered with gateway"),
            "registered with nothing listening",
          );
        },
      );

      await t.step("registers once the gateway comes up", async () => {
        gateway = startFakeGateway({ port: gatewayPort, secret: SECRET });
        const g = gateway;
        const register = await waitFor(() => g.of("register")[0], {
          what: "register",
        });
        assertEquals(register.headers.get("authorization"), `Bearer ${SECRET}`);
        assertEquals(register.body.serverUrl, serverUrl);
        assertEquals(register.body.maxSessions, 2);
        // Heartbeats follow, with the live session count.
        const beat = await waitFor(() => g.of("heartbeat")[0], {
          what: "a heartbeat",
        });
        assertEquals(beat.body.activeSessions, 1);
        assertEquals(g.of("register").length, 1);
        const gaveUp = host.logs.some((r) =>
          r.msg === "gave up registering with the gateway"
        );
        assert(!gaveUp, "gave up before the gateway came up");
      });

      await t.step(
        "keeps serving /health and sessions after the gateway goes away",
        async () => {
          await gateway!.stop();
          const downAt = host.logs.length;
          // Heartbeats now fail (the first one is logged at warn level).
          await waitFor(
            () =>
              host.logs.slice(downAt).some((r) => r.msg === "heartbeat failed"),
            { what: "a failed heartbeat" },
          );
          const h = await health(port);
          assertEquals((h.sessions as { active: number }).active, 1);
          // The existing session reconnects and a new one starts.
          const again = await connectionFor(port, "down-a");
          assertEquals(again.sessionUuid, first.sessionUuid);
          await pingStreamer(again);
          const second = await connectionFor(port, "down-b");
          assert(second.sessionUuid !== first.sessionUuid);
          await pingStreamer(second);
          assert(!exited, "the host exited without its gateway");
        },
      );

      await t.step(
        "a new gateway answers a heartbeat 404 and the host registers again",
        async () => {
          gateway = startFakeGateway({ port: gatewayPort, secret: SECRET });
          const g = gateway;
          const register = await waitFor(() => g.of("register")[0], {
            what: "re-registration",
          });
          // The new gateway first heard of the host through a heartbeat.
          assertEquals(g.requests[0].kind, "heartbeat");
          assertGreater(register.at, g.requests[0].at);
          assertEquals(register.body.serverUrl, serverUrl);
          await host.waitForLog((r) =>
            r.msg === "gateway does not know this host; registering again"
          );
          const beat = await waitFor(
            () => g.of("heartbeat").find((h) => h.at > register.at),
            { what: "a heartbeat after re-registering" },
          );
          assertEquals(beat.body.activeSessions, 2);
        },
      );
    } finally {
      const status = await host.stop("SIGTERM");
      await gateway?.stop();
      await cfg.remove();
      await t.step("SIGTERM unregisters and exits 0", async () => {
        assertEquals(status.code, 0);
        const unregister = gateway?.of("unregister") ?? [];
        assertEquals(unregister.length, 1);
        assertEquals(unregister[0].body, { serverUrl });
        assertEquals(
          unregister[0].headers.get("authorization"),
          `Bearer ${SECRET}`,
        );
        if (ROOT) assertEquals(await poolUsers(cfg.username), []);
      });
    }
  },
});
