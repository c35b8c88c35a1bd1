/**
 * Host health as a real gateway judges real hosts: a host whose `/health`
 * takes 5 s, with `healthCheck.timeout` 6, stays Healthy probe after probe
 * and still gets launches; a host killed with SIGKILL (so it cannot
 * unregister) becomes Unreachable after `failureThreshold` failed probes and
 * gets no launches (they go to the other hosts; one only it could take is
 * refused with 503 naming it); a new host process on the same advertised URL
 * makes it Healthy again and it takes launches again.
 *
 * The slow host is a real `webstream -backend` behind a delaying proxy of
 * this test. A host binds its advertised URL's port, so the proxy cannot sit
 * on another port of the same address; instead the host advertises
 * `127.0.0.2` (loopback too) and listens on `127.0.0.1` (`listenAddress`),
 * and the proxy listens on `127.0.0.2` with the same ports: it holds
 * `/health` for 5 s and passes everything else straight through (HTTP on the
 * host's port, raw TCP on its streamer ports, so the gateway's relay works).
 *
 * @module
 */
import { stringify } from "yaml";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  AdminClient,
  launchHost,
  removeHostConfig,
  signIn,
  startGateway,
  startHost,
  Teardown,
  type TestHost,
  type UserClient,
  writeGatewayConfig,
  writeHostConfig,
} from "../support/gateway.ts";
import { waitFor } from "../support/wait.ts";

const SLOW_HEALTH_MS = 5000;
const PROXY_ADDRESS = "127.0.0.2";

/** The delaying proxy in front of the slow host. */
interface SlowProxy {
  /** `/health` requests answered, with how long each took. */
  healthAnswers: number[];
  /** Stops listening and closes every forwarded connection. */
  stop(): Promise<void>;
}

/**
 * Listens on {@linkcode PROXY_ADDRESS} on `httpPort` (HTTP, `/health` held
 * for {@linkcode SLOW_HEALTH_MS}) and on `tcpPorts` (raw TCP), forwarding to
 * the same ports on 127.0.0.1.
 */
function startSlowProxy(httpPort: number, tcpPorts: number[]): SlowProxy {
  const healthAnswers: number[] = [];
  const stopping = new AbortController();
  const server = Deno.serve({
    hostname: PROXY_ADDRESS,
    port: httpPort,
    signal: stopping.signal,
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    const started = performance.now();
    if (url.pathname === "/health") {
      await new Promise((r) => setTimeout(r, SLOW_HEALTH_MS));
    }
    const upstream = await fetch(
      `http://127.0.0.1:${httpPort}${url.pathname}${url.search}`,
      { method: request.method, headers: request.headers },
    );
    const body = await upstream.arrayBuffer();
    if (url.pathname === "/health") {
      healthAnswers.push(performance.now() - started);
    }
    return new Response(body, {
      status: upstream.status,
      headers: upstream.headers,
    });
  });
  const listeners = tcpPorts.map((port) =>
    Deno.listen({ hostname: PROXY_ADDRESS, port })
  );
  const connections = new Set<Deno.Conn>();
  const accepting = listeners.map(async (listener) => {
    const port = (listener.addr as Deno.NetAddr).port;
    for await (const client of listener) {
      connections.add(client);
      (async () => {
        let target: Deno.Conn | undefined;
        try {
          target = await Deno.connect({ hostname: "127.0.0.1", port });
          connections.add(target);
          await Promise.allSettled([
            client.readable.pipeTo(target.writable),
            target.readable.pipeTo(client.writable),
          ]);
        } catch {
          // A side went away: close both below.
        } finally {
          for (const conn of [client, target]) {
            if (!conn) continue;
            connections.delete(conn);
            try {
              conn.close();
            } catch {
              // Closed already.
            }
          }
        }
      })();
    }
  });
  return {
    healthAnswers,
    async stop() {
      stopping.abort();
      for (const listener of listeners) listener.close();
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      await server.finished;
      await Promise.allSettled(accepting);
    },
  };
}

Deno.test({
  name:
    "gateway health: slow but in time stays Healthy; killed goes Unreachable; back again",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const users = ["v1", "v2", "w", "x"];
      const config = await writeGatewayConfig({
        users,
        healthCheck: { interval: 1, timeout: 6, failureThreshold: 2 },
        workspaces: [
          { id: "desk", name: "Desktop", kind: "desktop" },
          {
            id: "slow-desk",
            name: "Slow",
            kind: "desktop",
            requiredTags: ["slow"],
          },
          { id: "k-desk", name: "K", kind: "desktop", requiredTags: ["k"] },
        ],
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const admin = new AdminClient(gateway.url);
      const client: Record<string, UserClient> = {};
      for (const user of users) client[user] = await signIn(gateway.url, user);

      // The slow host: advertised on 127.0.0.2 (the proxy), listening on
      // 127.0.0.1 with the same ports.
      const slowConfig = await writeHostConfig(gateway.url, {
        slots: 1,
        settings: { listenAddress: "127.0.0.1" },
      });
      teardown.defer(() => removeHostConfig(slowConfig));
      const backend = (slowConfig.raw.gateway as Record<string, unknown>)
        .backend as Record<string, unknown>;
      backend.advertisedUrl = `http://${PROXY_ADDRESS}:${slowConfig.httpPort}`;
      await Deno.writeTextFile(slowConfig.path, stringify(slowConfig.raw));
      const proxy = startSlowProxy(slowConfig.httpPort, [slowConfig.base + 10]);
      teardown.defer(() => proxy.stop());
      const slow = startHost(slowConfig, ["slow"]);
      teardown.defer(() => slow.stop());
      const other = await launchHost(teardown, gateway.url, { slots: 2 });
      let killable = await launchHost(teardown, gateway.url, {
        slots: 1,
        tags: ["k"],
      });
      const kUrl = killable.serverUrl;
      assertEquals(
        slow.serverUrl,
        `http://${PROXY_ADDRESS}:${slow.config.httpPort}`,
      );
      await admin.waitForHealthy([slow, other, killable]);

      await t.step(
        "a host answering /health in 5 s, within the 6 s timeout, stays Healthy",
        async () => {
          const seen = proxy.healthAnswers.length;
          const states = new Set<string>();
          // Two more probes answered, each held 5 s: several probe intervals.
          await waitFor(async () => {
            const host = await admin.host(slow.serverUrl);
            states.add(`${host.state}/${host.probeFailures}`);
            return proxy.healthAnswers.length >= seen + 2;
          }, { what: "two slow probes", intervalMs: 200 });
          assertEquals([...states], ["Healthy/0"]);
          const host = await admin.host(slow.serverUrl);
          assertEquals(host.state, "Healthy");
          assert(host.lastProbe?.ok, JSON.stringify(host.lastProbe));
          assert(
            host.lastProbe.latencyMs >= SLOW_HEALTH_MS,
            `the probe waited for the answer (${host.lastProbe.latencyMs} ms)`,
          );
          for (const took of proxy.healthAnswers) {
            assert(took >= SLOW_HEALTH_MS, `held ${took} ms`);
          }
          // And it takes launches, relayed through the proxy to its streamer.
          const launched = await client.w.launchOk("slow-desk");
          assertEquals(
            (await admin.session(launched.sessionId))?.serverUrl,
            slow.serverUrl,
          );
          await client.w.ping(launched);
        },
      );

      await t.step(
        "a killed host becomes Unreachable after failureThreshold probes",
        async () => {
          const status = await killable.kill();
          assertEquals(status.signal, "SIGKILL");
          const seen: [string, number][] = [];
          const host = await admin.waitForHost(kUrl, (h) => {
            seen.push([h.state, h.probeFailures]);
            return h.state !== "Healthy";
          }, { what: "the killed host to leave Healthy" });
          // Healthy up to the threshold, Unreachable from it on.
          for (const [state, failures] of seen) {
            assertEquals(state, failures >= 2 ? "Unreachable" : "Healthy");
          }
          assertEquals(host.state, "Unreachable");
          assertMatch(host.stateReason, /^\d+ health probes failed in a row/);
          assert(host.probeFailures >= 2, `${host.probeFailures} failures`);
          assertEquals(host.lastProbe?.ok, false);
        },
      );

      await t.step("an Unreachable host gets no launches", async () => {
        for (const user of ["v1", "v2"]) {
          const launched = await client[user].launchOk("desk");
          const session = await admin.session(launched.sessionId);
          assert(session?.serverUrl !== kUrl, "placed on the killed host");
          await client[user].ping(launched);
        }
        const refused = await client.x.launch("k-desk");
        assertEquals(refused.status, 503, JSON.stringify(refused.body));
        const message = String(refused.body.error);
        assert(
          message.includes(`${kUrl}: Unreachable: `),
          `the refusal names the host: ${message}`,
        );
        const decision = await admin.placement(String(refused.body.decisionId));
        assertEquals(decision.outcome, "refused");
      });

      await t.step(
        "a host back on the same URL is Healthy and takes launches",
        async () => {
          const back: TestHost = startHost(killable.config, ["k"]);
          teardown.defer(() => back.stop());
          killable = back;
          await admin.waitForHost(kUrl, (h) => h.state === "Healthy", {
            what: "the host back to Healthy",
          });
          const launched = await client.x.launchOk("k-desk");
          assertEquals(
            (await admin.session(launched.sessionId))?.serverUrl,
            kUrl,
          );
          await client.x.ping(launched);
          const host = await admin.host(kUrl);
          assertEquals(host.probeFailures, 0);
        },
      );
    } finally {
      await teardown.run();
    }
  },
});
