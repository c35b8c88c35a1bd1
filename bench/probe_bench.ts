/**
 * The health monitor's own cost at 10,000 hosts: the real monitor and host
 * registry (in-memory store, no sessions) in a child process per variant,
 * probing a probe farm (`probe_farm_server.ts`: a listener per host at an
 * address of its own) every 5 s, the default interval. Variants, in one
 * run, ratios against the first:
 *
 * - `at once`: every host's probe started together each interval, each
 *   host's connection kept alive (what the monitor did before
 *   `probe_schedule.ts`; reproduced by probing every host through
 *   `monitor.probe` with no bound, on `fetch`'s pooling client);
 * - `spread, keep-alive`: the monitor's rounds (spread over the interval,
 *   at most `maxConcurrentProbes` in flight) on the pooling client;
 * - `spread, fetch, no keep-alive`: the monitor before `health_probe.ts`
 *   (`fetch` on a client that keeps no idle connection, with
 *   `AbortSignal.any` of its stop and `AbortSignal.timeout`);
 * - `spread, no keep-alive`: the monitor as it is (`probeHealth`: a
 *   connection each, one timer).
 *
 * Read from `/proc/self`: resident memory after the rounds and its peak,
 * the CPU time per probe over the rounds after the first (connections
 * made).
 *
 * `deno run -A bench/probe_bench.ts [--quick]` (`--quick`: 1,000 hosts).
 *
 * @module
 */
import { HostRegistry } from "../mod/gateway/registry.ts";
import { startHealthMonitor } from "../mod/gateway/health_monitor.ts";
import type { Prober } from "../mod/gateway/health_probe.ts";
import { openSqliteStore } from "../mod/gateway/store.ts";
import { createLogger } from "../mod/log/mod.ts";
import type { HealthCheckSettings } from "../mod/config/mod.ts";
import { handleInterrupts, ratio, sleep } from "./common.ts";
import { cpuSeconds, memoryMb } from "./gateway_common.ts";
import {
  HOSTS_PER_CHILD,
  probeFarmAddress,
  startProbeFarm,
} from "./probe_farm_server.ts";

/** How the child probes. */
export type ProbeVariant =
  | "at once"
  | "spread, keep-alive"
  | "spread, fetch, no keep-alive"
  | "spread, no keep-alive";

/** The variants, in the order measured. */
export const PROBE_VARIANTS: ProbeVariant[] = [
  "at once",
  "spread, keep-alive",
  "spread, fetch, no keep-alive",
  "spread, no keep-alive",
];

/** Probes through `fetch` on `client`, as the monitor probed before. */
function fetchProber(client: Deno.HttpClient, timeoutMs: number): Prober {
  const stopping = new AbortController();
  return {
    async probe(serverUrl) {
      try {
        const response = await fetch(`${serverUrl}/health`, {
          client,
          signal: AbortSignal.any([
            stopping.signal,
            AbortSignal.timeout(timeoutMs),
          ]),
        });
        await response.body?.cancel();
        return { kind: "answered", status: response.status };
      } catch (cause) {
        return { kind: "failed", error: (cause as Error).message };
      }
    },
    close: () => stopping.abort(),
  };
}

/** What a child measured. */
export interface ProbeFigures {
  /** The variant. */
  variant: ProbeVariant;
  /** Resident memory at the end, MB. */
  rssMb: number;
  /** Peak resident memory, MB. */
  peakMb: number;
  /** CPU time per probe over the measured rounds, µs. */
  cpuPerProbeUs: number;
  /** Hosts whose last probe failed. */
  failing: number;
  /** Their errors, by count. */
  errors: Record<string, number>;
}

/** One child's settings. */
interface ChildSettings {
  variant: ProbeVariant;
  hosts: number;
  /** The farm's host URLs are `urlOf(n)`: passed as each child's port. */
  ports: number[];
  interval: number;
  rounds: number;
}

/** In the child: probes the farm as `variant` does; returns its figures. */
async function probeFarm(settings: ChildSettings): Promise<ProbeFigures> {
  const { variant, hosts, ports, interval, rounds } = settings;
  const health: HealthCheckSettings = {
    interval,
    timeout: 6,
    failureThreshold: 3,
    heartbeatInterval: 10,
    missedHeartbeats: 3,
    ...variant === "at once" ? { maxConcurrentProbes: 100_000 } : {},
  };
  const store = openSqliteStore(":memory:");
  const registry = new HostRegistry({
    store,
    health,
    logger: createLogger({ sink: () => {} }),
  });
  const urls = Array.from(
    { length: hosts },
    (_, n) =>
      `http://${probeFarmAddress(n)}:${ports[Math.floor(n / HOSTS_PER_CHILD)]}`,
  );
  for (const serverUrl of urls) {
    registry.register({
      serverUrl,
      maxSessions: 50,
      instanceType: "bench",
      ec2InstanceId: "",
      tags: [],
      capabilities: ["linux"],
      version: "0.1.0",
    });
  }
  // `fetch`'s default client keeps idle connections; the monitor keeps none.
  const client = variant === "spread, no keep-alive"
    ? undefined
    : Deno.createHttpClient(
      variant === "spread, fetch, no keep-alive"
        ? { poolMaxIdlePerHost: 0 }
        : {},
    );
  const atOnce = variant === "at once";
  const monitor = startHealthMonitor(registry, {
    health,
    ...client ? { prober: fetchProber(client, health.timeout * 1000) } : {},
    ...atOnce ? { targets: () => Promise.resolve([]) } : {},
  });
  const stopping = new AbortController();
  const firing = atOnce
    ? (async () => {
      while (!stopping.signal.aborted) {
        for (const url of urls) monitor.probe(url);
        await sleep(interval * 1000, stopping.signal).catch(() => {});
      }
    })()
    : Promise.resolve();
  // The first round makes the connections; the rest are measured.
  await sleep(interval * 1000);
  const cpu = await cpuSeconds(Deno.pid);
  await sleep(rounds * interval * 1000);
  const used = await cpuSeconds(Deno.pid) - cpu;
  const memory = await memoryMb(Deno.pid);
  const errors: Record<string, number> = {};
  let failing = 0;
  for (const url of urls) {
    const last = registry.get(url)?.lastProbe;
    if (last?.ok) continue;
    failing++;
    const error = last?.error ?? "not probed";
    errors[error] = (errors[error] ?? 0) + 1;
  }
  stopping.abort();
  await firing;
  await monitor.stop();
  client?.close();
  store.close();
  return {
    variant,
    rssMb: memory.rss,
    peakMb: memory.peak,
    cpuPerProbeUs: used * 1e6 / (hosts * rounds),
    failing,
    errors,
  };
}

/** Runs a child per variant against one probe farm. */
export async function runProbeBench(
  hosts: number,
  signal: AbortSignal,
): Promise<ProbeFigures[]> {
  const farm = await startProbeFarm(hosts);
  try {
    const ports = Array.from(
      { length: Math.ceil(hosts / HOSTS_PER_CHILD) },
      (_, c) => Number(new URL(farm.url(c * HOSTS_PER_CHILD)).port),
    );
    const results: ProbeFigures[] = [];
    for (const variant of PROBE_VARIANTS) {
      signal.throwIfAborted();
      const settings: ChildSettings = {
        variant,
        hosts,
        ports,
        interval: 5,
        rounds: 3,
      };
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--no-prompt",
          new URL(import.meta.url).pathname,
          `--child=${JSON.stringify(settings)}`,
        ],
        stdin: "null",
        stderr: "inherit",
        signal,
      }).output();
      if (!output.success) throw new Error(`the ${variant} child failed`);
      const figures = JSON.parse(new TextDecoder().decode(output.stdout));
      console.error(`probes: ${JSON.stringify(figures)}`);
      results.push(figures);
    }
    return results;
  } finally {
    await farm.stop();
  }
}

/** The figures as a table, ratios against the first variant. */
export function formatProbeBench(results: ProbeFigures[]): string {
  const first = results[0];
  const lines = [
    "variant                       RSS      ×first  peak     ×first  CPU per probe  ×first  hosts failing",
  ];
  for (const r of results) {
    lines.push(
      `${r.variant.padEnd(30)}${`${r.rssMb.toFixed(0)} MB`.padEnd(9)}${
        ratio(r.rssMb, first.rssMb).padEnd(8)
      }${`${r.peakMb.toFixed(0)} MB`.padEnd(9)}${
        ratio(r.peakMb, first.peakMb).padEnd(8)
      }${`${r.cpuPerProbeUs.toFixed(0)} µs`.padEnd(15)}${
        ratio(r.cpuPerProbeUs, first.cpuPerProbeUs).padEnd(8)
      }${r.failing}`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const child = Deno.args.find((a) => a.startsWith("--child="));
  if (child) {
    const figures = await probeFarm(JSON.parse(child.slice(8)));
    console.log(JSON.stringify(figures));
    Deno.exit(0);
  }
  const hosts = Deno.args.includes("--quick") ? 1000 : 10_000;
  const interrupt = handleInterrupts();
  console.log(
    `health probes of ${hosts} hosts every 5 s — deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, load ${
      Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
    }`,
  );
  try {
    const results = await runProbeBench(hosts, interrupt.signal);
    console.log(
      `\nHealth probes (a process each; CPU over 3 intervals after the first)\n${
        formatProbeBench(results)
      }`,
    );
  } catch (error) {
    console.error("the probe benchmark failed:", error);
    Deno.exit(interrupt.received ? 130 : 1);
  } finally {
    interrupt.dispose();
  }
}
