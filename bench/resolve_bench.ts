/**
 * `/resolveSession` on a gateway with PostgreSQL and with SQLite, against a
 * bare `Deno.serve` answering the same JSON (`baseline_server.ts`), in the
 * same run: two real `webstream -gateway` processes, one on a SQLite file
 * and one on a real PostgreSQL (`tests/support/postgres.ts`), each started on
 * a store seeded with the same 1,000 hosts (probed at a loopback server of
 * their own that answers their `/health`) and 50,000 sessions. Requests name random
 * seeded sessions (`POST /resolveSession?sessionId=…&transport=HTTP`); N
 * concurrent client loops, rounds alternating baseline, SQLite and
 * PostgreSQL, with the server CPU time per request. A gateway resolves from
 * its memory, whatever its store: the comparison shows that a store on a
 * database server costs a resolve nothing.
 *
 * The relay against a direct connection is `proxy_bench.ts`'s.
 *
 * `deno run -A bench/resolve_bench.ts [--quick]`. Every process is stopped
 * by its PID.
 *
 * @module
 */
import { hasPostgres, startPostgres } from "../tests/support/postgres.ts";
import { type BenchRunOptions, ms, ratio } from "./common.ts";
import {
  benchMain,
  benchRun,
  type LoadAmount,
  type LoadTarget,
  runLoad,
  serveBaseline,
  startGatewayProcess,
} from "./gateway_common.ts";
import type { LoadFigures } from "./health_bench.ts";
import {
  farmHosts,
  farmSessionId,
  seedStore,
  type StoreSettings,
} from "./restart_bench.ts";

/** Options for {@linkcode runResolveBench}. */
export interface ResolveBenchOptions extends BenchRunOptions, LoadAmount {
  /** Hosts in each store. */
  hosts: number;
  /** Sessions in each store. */
  sessions: number;
}

/** Everything {@linkcode runResolveBench} measured, by target. */
export interface ResolveResult {
  /** The bare `Deno.serve`. */
  baseline: LoadFigures;
  /** The gateway on SQLite. */
  sqlite: LoadFigures;
  /** The gateway on PostgreSQL; absent without PostgreSQL installed. */
  postgres?: LoadFigures;
  /** Concurrent client loops. */
  concurrency: number;
  /** Sessions in each store. */
  sessions: number;
}

/** Seeds both stores, starts both gateways, loads all three targets. */
export async function runResolveBench(
  options: ResolveBenchOptions,
): Promise<ResolveResult> {
  const { signal } = options;
  const progress = options.progress ?? (() => {});
  const { dir, cleanup } = await benchRun("resolve benchmark cleanup");
  try {
    const baseline = await serveBaseline(cleanup);
    // The hosts' probes go to a server of their own, not the baseline.
    const probes = await serveBaseline(cleanup);
    const hosts = farmHosts(options.hosts, probes.url);
    const stores: [string, StoreSettings][] = [
      ["sqlite", { storePath: `${dir}/gateway.sqlite` }],
    ];
    if (hasPostgres()) {
      const postgres = await startPostgres();
      cleanup.defer(() => postgres.stop());
      stores.push(["postgres", {
        store: { url: await postgres.createDatabase() },
      }]);
    }
    const pick = () =>
      farmSessionId(Math.floor(Math.random() * options.sessions));
    const targets: LoadTarget[] = [{
      name: "baseline",
      pid: baseline.pid,
      next: () => ({
        url:
          `${baseline.url}/resolveSession?sessionId=${pick()}&transport=HTTP`,
        init: { method: "POST" },
      }),
    }];
    for (const [name, settings] of stores) {
      await seedStore(settings, hosts, options.sessions, signal);
      const gateway = await startGatewayProcess({
        dir: `${dir}/${name}`,
        signal,
        interrupted: options.interrupted,
        gateway: {
          ...settings,
          // No heartbeats come (the hosts are simulated): their window is
          // made to outlast the run, as the sessions' is.
          healthCheck: { interval: 10, timeout: 6, heartbeatInterval: 3600 },
          licence: { staleAfter: 3600 },
        },
      });
      cleanup.defer(() => gateway.stop());
      // Resolves answer once the gateway has probed the session's host.
      const first = `${gateway.url}/resolveSession?sessionId=${
        farmSessionId(0)
      }&transport=HTTP`;
      const deadline = Date.now() + 30_000;
      while ((await fetch(first, { method: "POST" })).status !== 200) {
        if (Date.now() > deadline) {
          throw new Error(`the ${name} gateway resolves no seeded session`);
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      progress(`resolve: the ${name} gateway resolves its seeded sessions`);
      targets.push({
        name,
        pid: gateway.pid,
        next: () => ({
          url:
            `${gateway.url}/resolveSession?sessionId=${pick()}&transport=HTTP`,
          init: { method: "POST" },
        }),
      });
    }
    const figures = await runLoad(targets, {
      requests: options.requests,
      rounds: options.rounds,
      warmup: options.warmup,
      concurrency: options.concurrency,
      signal,
      progress,
      label: "/resolveSession",
    });
    return {
      baseline: figures.get("baseline")!,
      sqlite: figures.get("sqlite")!,
      postgres: figures.get("postgres"),
      concurrency: options.concurrency,
      sessions: options.sessions,
    };
  } finally {
    await cleanup.run();
  }
}

/** The figures, as ratios against the bare baseline. */
export function formatResolveBench(r: ResolveResult): string {
  const lines = [
    `(${r.concurrency} concurrent loops; ${r.sessions} sessions in each store)`,
    "target              req/s    ×baseline  p50 / p99           server CPU/request  ×baseline",
  ];
  const rows: [string, LoadFigures | undefined][] = [
    ["bare Deno.serve", r.baseline],
    ["gateway, SQLite", r.sqlite],
    ["gateway, PostgreSQL", r.postgres],
  ];
  for (const [name, f] of rows) {
    if (!f) continue;
    lines.push(
      `${name.padEnd(20)}${f.rps.toFixed(0).padEnd(9)}${
        ratio(f.rps, r.baseline.rps).padEnd(11)
      }${`${ms(f.latency.p50)} / ${ms(f.latency.p99)}`.padEnd(20)}${
        `${f.cpuPerRequestUs.toFixed(0)} µs`.padEnd(20)
      }${ratio(f.cpuPerRequestUs, r.baseline.cpuPerRequestUs)}${
        f.errors ? `  ${f.errors} errors` : ""
      }`,
    );
  }
  if (r.postgres) {
    lines.push(
      `PostgreSQL against SQLite: req/s ${
        ratio(r.postgres.rps, r.sqlite.rps)
      }, server CPU ${
        ratio(r.postgres.cpuPerRequestUs, r.sqlite.cpuPerRequestUs)
      }`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  await benchMain(
    `/resolveSession: gateway on PostgreSQL and on SQLite against a bare Deno.serve (${
      quick ? "quick" : "full"
    } run)`,
    {
      name: "resolve",
      run: async (run) => {
        const result = await runResolveBench({
          hosts: 1000,
          sessions: 50_000,
          requests: quick ? 6_000 : 60_000,
          rounds: quick ? 2 : 4,
          warmup: quick ? 500 : 4_000,
          concurrency: 32,
          ...run,
        });
        return `/resolveSession\n${formatResolveBench(result)}`;
      },
    },
  );
}
