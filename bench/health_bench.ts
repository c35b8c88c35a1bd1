/**
 * `/health` under load: a fixed number of requests spread over N concurrent
 * client loops in this process (each loop waits for its answer before the
 * next request), against a real `webstream -backend` with a warm pool and
 * against the bare baseline server. Rounds alternate between the two so a
 * burst of noise on the shared machine hits both alike. Besides requests/s
 * and latency it reports the server process's CPU time per request, which
 * stays meaningful when the client in this process is what saturates.
 *
 * @module
 */
import type { BaselineServer } from "./baseline_server.ts";
import {
  type BenchRunOptions,
  startHost,
  type Stats,
  until,
} from "./common.ts";
import { type LoadAmount, runLoad } from "./gateway_common.ts";

/** Options for {@linkcode runHealthBench}. */
export interface HealthBenchOptions extends BenchRunOptions, LoadAmount {
  /** The baseline server. */
  baseline: BaselineServer;
}

/** Throughput and latency of one target. */
export interface LoadFigures {
  /** Answers per second over the measured rounds. */
  rps: number;
  /** Per-request latency. */
  latency: Stats;
  /** Requests that failed or were not answered 200. */
  errors: number;
  /** CPU time the server process spent per request, µs (from /proc). */
  cpuPerRequestUs: number;
}

/** Everything {@linkcode runHealthBench} measured. */
export interface HealthResult {
  /** Concurrent client loops. */
  concurrency: number;
  /** Measured requests per target. */
  requests: number;
  /** The session host. */
  host: LoadFigures;
  /** The baseline server. */
  baseline: LoadFigures;
}

/** Loads the host's and the baseline's `/health`. */
export async function runHealthBench(
  options: HealthBenchOptions,
): Promise<HealthResult> {
  const { signal, concurrency } = options;
  const progress = options.progress ?? (() => {});
  const host = await startHost({
    slots: 2,
    warm: 1,
    grace: 30,
    signal,
    interrupted: options.interrupted,
  });
  try {
    // A warm pool, as a serving host has: wait for its session to be ready.
    await until(() => host.slots.count("ready") === 1, {
      what: "the warm session",
      signal,
    });
    const figures = await runLoad([
      {
        name: "baseline",
        pid: options.baseline.pid,
        next: () => ({ url: `${options.baseline.url}/health` }),
      },
      {
        name: "host",
        pid: host.process.pid,
        next: () => ({ url: `${host.url}/health` }),
      },
    ], {
      requests: options.requests,
      rounds: options.rounds,
      warmup: options.warmup,
      concurrency,
      signal,
      progress,
      label: "/health",
    });
    return {
      concurrency,
      requests: Math.ceil(options.requests / options.rounds) * options.rounds,
      host: figures.get("host")!,
      baseline: figures.get("baseline")!,
    };
  } finally {
    await host.stop();
  }
}
