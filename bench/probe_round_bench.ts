/**
 * # Probe sharing rounds on PostgreSQL
 *
 * `deno run -A bench/probe_round_bench.ts [--quick] [--hosts=N]` starts a real
 * PostgreSQL cluster (Debian's `postgresql`, as the tests do) and plays the
 * rounds of health probing divided among gateways (`probe_sharing.ts`,
 * `shareProbes` in `store_postgres.ts`) for 1,000 and 10,000 hosts with 1
 * and 3 gateways on one store, every host answering its probes. Each
 * simulated gateway probes the hosts it holds once per interval and hands
 * its next round what `ProbeSharing` would share (`resultsToShare`).
 *
 * Printed per case, over the measured intervals (one round of every
 * gateway each): a round's time (p50, p99) as a ratio of a `SELECT 1` round
 * trip measured in the same run and as a share of the probe interval (the
 * default, 5 s), the results sent and received per round, and PostgreSQL's
 * CPU time per interval (the server and its connection processes, from
 * `/proc`) as a share of one core.
 *
 * @module
 */
import { leaseMsOf, type SharedProbe } from "../mod/gateway/probe_leases.ts";
import { resultsToShare } from "../mod/gateway/probe_sharing.ts";
import {
  openPostgresStore,
  type PostgresStore,
} from "../mod/gateway/store_postgres.ts";
import { ms, onPostgres, ratio, summarize } from "./common.ts";
import { findProcess, treeCpuSeconds } from "./proc_stat.ts";

const quick = Deno.args.includes("--quick");
/** `--hosts=N`: that many hosts only. */
const onlyHosts = Number(
  Deno.args.find((a) => a.startsWith("--hosts="))?.slice(8) ?? 0,
);
/** `gateway.healthCheck.interval`'s default (s), for the shares printed. */
const DEFAULT_INTERVAL_S = 5;
/**
 * The interval the rounds run at, in real time (the store's clock decides
 * which results a round reads back): the shortest allowed, as rows per
 * round do not depend on it.
 */
const INTERVAL_S = 1;
const LEASE_MS = leaseMsOf({ interval: INTERVAL_S });
const WARMUP = 3;
const MEASURED = quick ? 4 : 30;

/** The URL of simulated host `n`. */
function hostUrl(n: number): string {
  return `http://10.2.${n >> 8}.${n & 255}:9005`;
}

/** One simulated gateway: its store, what it holds and what it shared. */
interface SimGateway {
  id: string;
  store: PostgresStore;
  held: string[];
  since: number;
  /** Each held host's latest probe (this gateway's). */
  probes: Map<string, SharedProbe>;
  /** What the last round shared, per host. */
  shared: Map<string, SharedProbe>;
}

/** Probes every held host (all answer), as the health monitor would. */
function probeHeld(gateway: SimGateway, at: number): void {
  for (const url of gateway.held) {
    gateway.probes.set(url, {
      serverUrl: url,
      failures: 0,
      lastProbe: { at, ok: true, latencyMs: 2 + (at % 7) },
    });
  }
}

/** One round of `gateway`; its time (ms) and the rows each way. */
async function round(
  gateway: SimGateway,
  hosts: string[],
  policy: Policy,
): Promise<{ ms: number; sent: number; received: number }> {
  const results = POLICIES[policy](
    gateway.held.flatMap((url) => gateway.probes.get(url) ?? []),
    gateway.shared,
    { intervalMs: INTERVAL_S * 1000 },
  );
  const t = performance.now();
  const share = await gateway.store.shareProbes({
    gatewayId: gateway.id,
    leaseMs: LEASE_MS,
    hosts,
    results,
    since: gateway.since,
  });
  const took = performance.now() - t;
  for (const r of results) gateway.shared.set(r.serverUrl, r);
  gateway.since = Math.max(0, share.now - LEASE_MS);
  gateway.held = share.held;
  return { ms: took, sent: results.length, received: share.results.length };
}

/** Which results a round shares: before and after resultsToShare. */
const POLICIES = {
  "every new probe": (latest, shared) =>
    latest.filter((r) =>
      shared.get(r.serverUrl)?.lastProbe.at !== r.lastProbe.at
    ),
  "changed or due (resultsToShare)": resultsToShare,
} satisfies Record<string, typeof resultsToShare>;
type Policy = keyof typeof POLICIES;

/** What one case measured. */
interface CaseResult {
  hosts: number;
  gateways: number;
  rounds: number[];
  sent: number;
  received: number;
  /** PostgreSQL's CPU seconds per interval. */
  databaseCpu: number;
}

async function runCase(
  url: string,
  databasePid: number,
  options: { hosts: number; gateways: number; policy: Policy },
): Promise<CaseResult> {
  const hosts = Array.from({ length: options.hosts }, (_, i) => hostUrl(i));
  const gateways: SimGateway[] = [];
  for (let i = 0; i < options.gateways; i++) {
    gateways.push({
      id: crypto.randomUUID(),
      store: await openPostgresStore(url, { maxConnections: 2 }),
      held: [],
      since: 0,
      probes: new Map(),
      shared: new Map(),
    });
  }
  try {
    const result: CaseResult = {
      hosts: options.hosts,
      gateways: options.gateways,
      rounds: [],
      sent: 0,
      received: 0,
      databaseCpu: 0,
    };
    let cpuBefore = 0;
    for (let interval = 0; interval < WARMUP + MEASURED; interval++) {
      const started = performance.now();
      if (interval === WARMUP) cpuBefore = await treeCpuSeconds(databasePid);
      for (const gateway of gateways) {
        const r = await round(gateway, hosts, options.policy);
        probeHeld(gateway, Date.now());
        if (interval < WARMUP) continue;
        result.rounds.push(r.ms);
        result.sent += r.sent;
        result.received += r.received;
      }
      const left = INTERVAL_S * 1000 - (performance.now() - started);
      if (left > 0) await new Promise((r) => setTimeout(r, left));
    }
    result.databaseCpu = (await treeCpuSeconds(databasePid) - cpuBefore) /
      MEASURED;
    const rounds = MEASURED * gateways.length;
    result.sent /= rounds;
    result.received /= rounds;
    return result;
  } finally {
    for (const gateway of gateways) {
      await gateway.store.leaveProbing(gateway.id);
      await gateway.store.close();
    }
  }
}

if (import.meta.main) {
  await onPostgres(async (cluster) => {
    const databasePid = await findProcess(`-D ${cluster.socketDir}/data`);
    if (!databasePid) throw new Error("PostgreSQL's server process not found");
    const pg = (await import("postgres")).default;
    const baseSql = pg(cluster.url, { max: 1, onnotice: () => {} });
    const base: number[] = [];
    for (let i = 0; i < 205; i++) {
      const t = performance.now();
      await baseSql`SELECT 1`;
      if (i >= 5) base.push(performance.now() - t);
    }
    await baseSql.end({ timeout: 5 });
    const baseline = summarize(base).p50;
    const intervalMs = DEFAULT_INTERVAL_S * 1000;
    console.log(
      `\nProbe sharing rounds every ${INTERVAL_S} s (lease ${LEASE_MS} ms), ` +
        `${MEASURED} measured intervals after ${WARMUP}; shares of the ` +
        `default ${DEFAULT_INTERVAL_S} s interval; ` +
        `baseline SELECT 1 p50 ${ms(baseline)}`,
    );
    console.log(
      "| results shared | hosts | gateways | round p50 | p50 ÷ SELECT 1 | " +
        "round p99 | p99 ÷ interval | sent / round | received / round | " +
        "PostgreSQL CPU / interval | ÷ one core |",
    );
    console.log(
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    );
    const policies = Object.keys(POLICIES) as Policy[];
    const sizes = onlyHosts ? [onlyHosts] : quick ? [1_000] : [1_000, 10_000];
    for (const hosts of sizes) {
      for (const gateways of [1, 3]) {
        for (const policy of policies) {
          const url = await cluster.createDatabase();
          const r = await runCase(url, databasePid, {
            hosts,
            gateways,
            policy,
          });
          const s = summarize(r.rounds);
          const cpuMs = r.databaseCpu * 1000;
          console.log(
            `| ${policy} | ${hosts} | ${gateways} | ${ms(s.p50)} | ${
              ratio(s.p50, baseline)
            } | ${ms(s.p99)} | ${(100 * s.p99 / intervalMs).toFixed(1)} % | ${
              Math.round(r.sent)
            } | ${Math.round(r.received)} | ${ms(cpuMs)} | ${
              (100 * cpuMs / intervalMs).toFixed(1)
            } % |`,
          );
        }
      }
    }
  });
}
