/**
 * # Session host benchmarks
 *
 * `deno task bench` (or `deno run -A bench/mod.ts`) runs, in turn:
 *
 * 1. **`/getConnection`** ({@link ./get_connection_bench.ts}) on a real
 *    `webstream -backend` process with real pool users (as root), real Xvfb
 *    sessions and real streamers:
 *    - *warm*: a session is ready (logged on, streamer handshake done), so the
 *      launch binds it and has its streamer arm a one-time token;
 *    - *cold*: no session is warm, so the launch starts Xvfb and the streamer
 *      and completes the control handshake first;
 *    - for both, *stream open*: from the answer to the streamer's `hello` on
 *      `ws://host:port/stream?token=…`, and *ready to stream*, the sum.
 *    Every sample is taken with the pool at rest (the previous session
 *    recycled; for warm, one session ready) on a fresh connection.
 * 2. **`/health` under load** ({@link ./health_bench.ts}): 32 concurrent
 *    client loops for a fixed number of requests; requests/s, p50, p99 and
 *    the CPU time the server process spent per request (read from
 *    `/proc/<pid>/stat`). The load generator shares the machine with the
 *    server, so on a small machine requests/s and latency may be bounded by
 *    the client for both sides alike (ratio near ×1); the CPU-per-request
 *    ratio then shows what the host's handler costs over a bare one.
 *
 * Every figure has a **baseline** measured in the same run, the same way: a
 * bare `Deno.serve` child process ({@link ./baseline_server.ts}) answering
 * `/health`- and `/getConnection`-like JSON of the same size at once. Machines
 * are shared and noisy, so read the **ratios** (host ÷ baseline, `×8.0` means
 * eight times the baseline's latency; for throughput, below `×1` means fewer
 * requests per second than the baseline): they cancel out most of the
 * machine's speed and load. The baseline pays the same process start-up,
 * loopback and HTTP costs, so the ratio is what the host adds — routing,
 * validation, the pool, the streamer round trip.
 *
 * Targets from the issue are absolute and judged on the p50: warm
 * `/getConnection` under 20 ms, cold under 1.5 s. A missed target is
 * reported, never an error: the run exits 0 when it measured everything, 1
 * when a benchmark could not run, 130 when interrupted. Ctrl-C stops the
 * hosts by PID, removes their pool users and temporary folders.
 *
 * Options: `--quick` runs a few iterations only (a smoke run); the default
 * sizes the run to about two minutes on 2 cores.
 *
 * @module
 */
import { type BaselineServer, startBaselineServer } from "./baseline_server.ts";
import { handleInterrupts, ms, ratio, type Stats } from "./common.ts";
import {
  type GetConnectionResult,
  type LaunchFigures,
  runGetConnectionBench,
} from "./get_connection_bench.ts";
import { type HealthResult, runHealthBench } from "./health_bench.ts";

/** Iteration counts of a run. */
export interface BenchSizes {
  /** Baseline `/getConnection` samples. */
  baselineSamples: number;
  /** Warm `/getConnection` samples. */
  warmSamples: number;
  /** Cold `/getConnection` samples. */
  coldSamples: number;
  /** Measured `/health` requests per target. */
  healthRequests: number;
  /** Alternating `/health` rounds. */
  healthRounds: number;
  /** Unmeasured `/health` requests per target. */
  healthWarmup: number;
  /** Concurrent `/health` client loops. */
  concurrency: number;
}

/** The default (full) run: about two minutes on 2 cores. */
export const FULL: BenchSizes = {
  baselineSamples: 100,
  warmSamples: 100,
  coldSamples: 60,
  healthRequests: 40_000,
  healthRounds: 4,
  healthWarmup: 2_000,
  concurrency: 32,
};

/** `--quick`: a smoke run. */
export const QUICK: BenchSizes = {
  baselineSamples: 10,
  warmSamples: 5,
  coldSamples: 3,
  healthRequests: 2_000,
  healthRounds: 2,
  healthWarmup: 200,
  concurrency: 32,
};

/** Target p50s from the issue, ms. */
const TARGETS = { warm: 20, cold: 1500 };

function verdict(p50: number, target: number): string {
  return p50 < target ? "met" : "MISSED";
}

function line(label: string, s: Stats, baseline?: Stats): string {
  const vs = baseline
    ? ` (baseline ${ms(baseline.p50)}, ${ratio(s.p50, baseline.p50)})`
    : "";
  return `${label} p50 ${ms(s.p50)}${vs}, p90 ${ms(s.p90)}, max ${
    ms(s.max)
  } [n=${s.count}]`;
}

function printGetConnection(r: GetConnectionResult): void {
  console.log("\n/getConnection (each sample on a fresh connection)");
  console.log(line("  baseline /getConnection-like", r.baseline));
  const kinds: [string, LaunchFigures, number][] = [
    ["warm", r.warm, TARGETS.warm],
    ["cold", r.cold, TARGETS.cold],
  ];
  for (const [kind, f, target] of kinds) {
    console.log(
      `${line(`  ${kind} /getConnection`, f.allocation, r.baseline)} — ` +
        `target < ${ms(target)}: ${verdict(f.allocation.p50, target)}`,
    );
    console.log(line(`  ${kind} stream open (token → hello)`, f.streamOpen));
    console.log(
      line(`  ${kind} ready to stream (request → hello)`, f.readyToStream),
    );
  }
}

function printHealth(r: HealthResult): void {
  console.log(
    `\n/health under load (${r.concurrency} concurrent loops, ${r.requests} requests per target)`,
  );
  for (
    const [name, f] of [["host", r.host], ["baseline", r.baseline]] as const
  ) {
    console.log(
      `  ${name.padEnd(8)} ${f.rps.toFixed(0)} req/s, p50 ${
        ms(f.latency.p50)
      }, p99 ${ms(f.latency.p99)}, max ${ms(f.latency.max)}, server CPU ${
        f.cpuPerRequestUs.toFixed(0)
      } µs/request${f.errors ? `, ${f.errors} errors` : ""}`,
    );
  }
  console.log(
    `  host/baseline: throughput ${ratio(r.host.rps, r.baseline.rps)}, p50 ${
      ratio(r.host.latency.p50, r.baseline.latency.p50)
    }, p99 ${ratio(r.host.latency.p99, r.baseline.latency.p99)}, server CPU ${
      ratio(r.host.cpuPerRequestUs, r.baseline.cpuPerRequestUs)
    }`,
  );
}

function printSummary(
  gc: GetConnectionResult | undefined,
  health: HealthResult | undefined,
  failures: string[],
): void {
  const rows: string[][] = [[
    "measure",
    "host",
    "baseline",
    "host/baseline",
    "target",
    "verdict",
  ]];
  if (gc) {
    const b = gc.baseline.p50;
    rows.push(
      [
        "warm /getConnection p50",
        ms(gc.warm.allocation.p50),
        ms(b),
        ratio(gc.warm.allocation.p50, b),
        `< ${ms(TARGETS.warm)}`,
        verdict(gc.warm.allocation.p50, TARGETS.warm),
      ],
      [
        "warm ready to stream p50",
        ms(gc.warm.readyToStream.p50),
        "",
        "",
        "",
        "",
      ],
      [
        "cold /getConnection p50",
        ms(gc.cold.allocation.p50),
        ms(b),
        ratio(gc.cold.allocation.p50, b),
        `< ${ms(TARGETS.cold)}`,
        verdict(gc.cold.allocation.p50, TARGETS.cold),
      ],
      [
        "cold ready to stream p50",
        ms(gc.cold.readyToStream.p50),
        "",
        "",
        "",
        "",
      ],
    );
  }
  if (health) {
    rows.push(
      [
        "/health req/s under load",
        health.host.rps.toFixed(0),
        health.baseline.rps.toFixed(0),
        ratio(health.host.rps, health.baseline.rps),
        "",
        "",
      ],
      [
        "/health p50 under load",
        ms(health.host.latency.p50),
        ms(health.baseline.latency.p50),
        ratio(health.host.latency.p50, health.baseline.latency.p50),
        "",
        "",
      ],
      [
        "/health p99 under load",
        ms(health.host.latency.p99),
        ms(health.baseline.latency.p99),
        ratio(health.host.latency.p99, health.baseline.latency.p99),
        "",
        "",
      ],
      [
        "/health server CPU/request",
        `${health.host.cpuPerRequestUs.toFixed(0)} µs`,
        `${health.baseline.cpuPerRequestUs.toFixed(0)} µs`,
        ratio(health.host.cpuPerRequestUs, health.baseline.cpuPerRequestUs),
        "",
        "",
      ],
    );
  }
  for (const failure of failures) {
    rows.push([failure, "", "", "", "", "FAILED TO RUN"]);
  }
  const widths = rows[0].map((_, i) =>
    Math.max(...rows.map((r) => r[i].length))
  );
  const format = (r: string[]): string =>
    r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  console.log("\nSummary");
  console.log(format(rows[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows.slice(1)) console.log(format(r));
}

/** Runs every benchmark; resolves with the exit code. */
export async function runBenchmarks(args: string[]): Promise<number> {
  const quick = args.includes("--quick");
  const unknown = args.filter((a) => a !== "--quick");
  if (unknown.length) {
    console.error(
      `unknown arguments: ${unknown.join(" ")}\nusage: bench/mod.ts [--quick]`,
    );
    return 2;
  }
  const sizes = quick ? QUICK : FULL;
  const interrupt = handleInterrupts();
  const interrupted = (): boolean => interrupt.received !== undefined;
  const progress = (text: string): void => console.error(text);
  const started = performance.now();
  console.log(
    `session host benchmarks (${
      quick ? "quick" : "full"
    } run) — deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs, load ${
      Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
    }, ${
      Deno.uid() === 0
        ? "root (real pool users)"
        : "not root (current-user pool)"
    }`,
  );

  let baseline: BaselineServer | undefined;
  let gc: GetConnectionResult | undefined;
  let health: HealthResult | undefined;
  const failures: string[] = [];
  try {
    baseline = await startBaselineServer();
    const common = {
      baseline,
      signal: interrupt.signal,
      interrupted,
      progress,
    };
    try {
      gc = await runGetConnectionBench({ ...common, ...sizes });
      printGetConnection(gc);
    } catch (error) {
      if (interrupted()) throw error;
      console.error("the /getConnection benchmark failed:", error);
      failures.push("/getConnection");
    }
    try {
      health = await runHealthBench({
        ...common,
        requests: sizes.healthRequests,
        rounds: sizes.healthRounds,
        warmup: sizes.healthWarmup,
        concurrency: sizes.concurrency,
      });
      printHealth(health);
    } catch (error) {
      if (interrupted()) throw error;
      console.error("the /health benchmark failed:", error);
      failures.push("/health under load");
    }
    printSummary(gc, health, failures);
    console.log(
      `\nfinished in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
    return failures.length ? 1 : 0;
  } catch (error) {
    if (interrupted()) {
      console.error("benchmarks interrupted; everything started was stopped");
      return 130;
    }
    console.error("benchmarks failed:", error);
    return 1;
  } finally {
    await baseline?.stop();
    interrupt.dispose();
  }
}

if (import.meta.main) Deno.exit(await runBenchmarks(Deno.args));
