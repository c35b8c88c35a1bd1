/**
 * Health probing divided among three real gateways (`webstream -gateway`)
 * on one real PostgreSQL (issue 14): three scripted hosts register and
 * heartbeat with every gateway and record which gateway probes them
 * (`X-Gateway-Id`). Each host's probes come from one gateway at a time, the
 * one rendezvous hashing over the live gateways names; a host whose
 * `/health` starts failing turns Unreachable on every gateway alike (the
 * admin host list, the `/health` counts), though only one probes it, and
 * Healthy again alike; a gateway killed with SIGKILL has its hosts probed by
 * the others once its lease lapses (a lease is 1.5 probe intervals; the
 * wait is bounded, not timed), and they agree on the hosts' states.
 *
 * Needs the Debian package postgresql.
 *
 * @module
 */
import { rendezvousWinner } from "../../mod/gateway/probe_leases.ts";
import { assert, assertEquals } from "../support/assert.ts";
import {
  AdminClient,
  SHARED_SECRET,
  Teardown,
  type TestGateway,
} from "../support/gateway.ts";
import {
  ON_POSTGRES,
  startGatewaysOnPostgres,
} from "../support/gateway_farm.ts";
import { heartbeatPayload, registerPayload } from "../support/gateway_parts.ts";
import {
  type ScriptedHost,
  startScriptedHost,
} from "../support/scripted_host.ts";
import { waitFor } from "../support/wait.ts";

/** `healthCheck.interval` here, seconds. */
const INTERVAL = 1;

/** POSTs `body` to a gateway's `/gateway/{path}` with the shared secret. */
async function post(url: string, path: string, body: unknown): Promise<void> {
  const response = await fetch(`${url}/gateway/${path}`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${SHARED_SECRET}`,
    },
    body: JSON.stringify(body),
  });
  await response.body?.cancel();
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
}

/** The id a gateway process logged when it started listening. */
function gatewayIdOf(gateway: TestGateway): string {
  const record = gateway.process.logs.find((r) =>
    r.msg === "gateway listening"
  );
  return String(record?.gatewayId);
}

/** The gateways that probed `host` since its `from`-th probe. */
function probersSince(host: ScriptedHost, from: number): Set<string> {
  return new Set(host.probes.slice(from).map((p) => p.gatewayId));
}

/**
 * Waits until each host has had `count` probes since `marks` and the
 * probes since then came from one gateway (a handover settled); returns that
 * gateway per host.
 */
async function settledProbers(
  hosts: ScriptedHost[],
  count: number,
): Promise<string[]> {
  return await waitFor(async () => {
    const marks = hosts.map((h) => h.probes.length);
    await waitFor(
      () => hosts.every((h, i) => h.probes.length >= marks[i] + count),
      { what: `${count} probes of each host`, intervalMs: 100 },
    );
    const probers = hosts.map((h, i) => [...probersSince(h, marks[i])]);
    return probers.every((p) => p.length === 1)
      ? probers.map((p) => p[0])
      : undefined;
  }, { what: "each host probed by one gateway", intervalMs: 0 });
}

/** Each host's state on each gateway, for comparing them. */
async function statesOn(
  gateways: TestGateway[],
  hosts: ScriptedHost[],
): Promise<string[][]> {
  return await Promise.all(gateways.map(async (gateway) => {
    const listed = await new AdminClient(gateway.url).hosts();
    return hosts.map((host) =>
      listed.find((h) => h.serverUrl === host.url)?.state ?? "unknown"
    );
  }));
}

/** `/health`'s host counts on a gateway. */
async function healthCounts(
  gateway: TestGateway,
): Promise<{ total: number; healthy: number }> {
  const response = await fetch(`${gateway.url}/health`);
  return (await response.json()).hosts;
}

Deno.test({
  name:
    "three gateways on one PostgreSQL divide probing: one prober per host, the same states everywhere, takeover after a kill",
  ...ON_POSTGRES,
  async fn(t) {
    const teardown = new Teardown();
    try {
      const { gateways } = await startGatewaysOnPostgres(teardown, {
        count: 3,
        healthCheck: {
          interval: INTERVAL,
          timeout: 2,
          failureThreshold: 2,
          heartbeatInterval: 1,
          missedHeartbeats: 30,
        },
      });
      const ids = gateways.map(gatewayIdOf);
      assertEquals(new Set(ids).size, 3, JSON.stringify(ids));

      const hosts = [0, 1, 2].map(() => startScriptedHost());
      for (const host of hosts) teardown.defer(() => host.stop());
      // Every host registers and heartbeats with every gateway, so each
      // knows it from its host (the caches' sync is another part).
      let live = [...gateways];
      for (const gateway of gateways) {
        for (const host of hosts) {
          await post(gateway.url, "register", registerPayload(host.url));
        }
      }
      const beating = setInterval(() => {
        for (const gateway of live) {
          for (const host of hosts) {
            post(gateway.url, "heartbeat", heartbeatPayload(host.url))
              .catch(() => {});
          }
        }
      }, 500);
      teardown.defer(() => clearInterval(beating));
      await waitFor(
        async () =>
          (await statesOn(gateways, hosts)).flat().every((s) =>
            s === "Healthy"
          ),
        {
          what: "every host Healthy on every gateway",
          intervalMs: 200,
        },
      );

      await t.step(
        "each host is probed by one gateway at a time, the rendezvous winner",
        async () => {
          const probers = await settledProbers(hosts, 3);
          assertEquals(
            probers,
            hosts.map((h) => rendezvousWinner(h.url, ids)),
          );
          // And it stays so.
          assertEquals(await settledProbers(hosts, 3), probers);
        },
      );

      await t.step(
        "a host failing its probes is Unreachable on every gateway alike",
        async () => {
          const [sick] = hosts;
          sick.healthStatus = 503;
          await waitFor(async () => {
            const states = await statesOn(gateways, hosts);
            return states.every((s) =>
              s.join() === "Unreachable,Healthy,Healthy"
            );
          }, { what: "every gateway to see the host Unreachable" });
          for (const gateway of gateways) {
            assertEquals(await healthCounts(gateway), { total: 3, healthy: 2 });
            const host = await new AdminClient(gateway.url).host(sick.url);
            // The prober's result, shared: no other gateway probes it.
            assertEquals(host.lastProbe?.error, "answered 503");
            assert(host.probeFailures >= 2, `${host.probeFailures} failures`);
          }
          const prober = rendezvousWinner(sick.url, ids);
          const mark = sick.probes.length;
          await waitFor(() => sick.probes.length >= mark + 3);
          assertEquals([...probersSince(sick, mark)], [prober]);

          sick.healthStatus = 200;
          await waitFor(
            async () =>
              (await statesOn(gateways, hosts)).flat().every((s) =>
                s === "Healthy"
              ),
            { what: "every gateway to see it Healthy again" },
          );
        },
      );

      await t.step(
        "a killed gateway's hosts are probed by the others after its lease",
        async () => {
          // The gateway probing the most hosts (at least one).
          const probers = await settledProbers(hosts, 2);
          const victim = ids
            .map((id, i) => ({ id, i, n: probers.filter((p) => p === id) }))
            .sort((a, b) => b.n.length - a.n.length)[0];
          const orphans = hosts.filter((_, i) => probers[i] === victim.id);
          assert(orphans.length > 0);
          const status = await gateways[victim.i].process.stop("SIGKILL");
          assertEquals(status.signal, "SIGKILL");
          live = gateways.filter((_, i) => i !== victim.i);
          const remaining = ids.filter((id) => id !== victim.id);
          const marks = orphans.map((h) => h.probes.length);
          // Lapsed within 1.5 intervals, taken at the next round: bounded.
          await waitFor(
            () =>
              orphans.every((h, i) =>
                h.probes.slice(marks[i]).some((p) => p.gatewayId !== victim.id)
              ),
            {
              what: "another gateway to probe the killed one's hosts",
              timeoutMs: (1.5 + 2) * INTERVAL * 1000 + 5000,
              intervalMs: 100,
            },
          );
          assertEquals(
            await settledProbers(hosts, 3),
            hosts.map((h) => rendezvousWinner(h.url, remaining)),
          );
          // The two left agree, also on a host failing now.
          hosts[1].healthStatus = 503;
          await waitFor(
            async () =>
              (await statesOn(live, hosts)).every((s) =>
                s.join() === "Healthy,Unreachable,Healthy"
              ),
            { what: "both gateways left to see the host Unreachable" },
          );
        },
      );
    } finally {
      await teardown.run();
    }
  },
});
