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
import { startHost, type Stats, summarize, until } from "./common.ts";

/** Options for {@linkcode runHealthBench}. */
export interface HealthBenchOptions {
  /** Measured requests per target (over all rounds). */
  requests: number;
  /** Concurrent client loops. */
  concurrency: number;
  /** Alternating rounds per target. */
  rounds: number;
  /** Unmeasured requests per target first. */
  warmup: number;
  /** The baseline server. */
  baseline: BaselineServer;
  /** Ends the run early (Ctrl-C). */
  signal: AbortSignal;
  /** Whether the run was interrupted (see `startHost`). */
  interrupted: () => boolean;
  /** Progress output. */
  progress?: (line: string) => void;
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

interface RoundResult {
  latencies: number[];
  errors: number;
  seconds: number;
  cpuSeconds: number;
}

let clockTicks: number | undefined;

/** User + system CPU seconds of process `pid` so far. */
async function cpuSeconds(pid: number): Promise<number> {
  if (clockTicks === undefined) {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"] })
      .output();
    clockTicks = Number(new TextDecoder().decode(out.stdout).trim()) || 100;
  }
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name: state is the first, utime the 12th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

async function runRound(
  url: string,
  pid: number,
  total: number,
  concurrency: number,
  signal: AbortSignal,
): Promise<RoundResult> {
  // Its own client: a pool of keep-alive connections, one per loop.
  const client = Deno.createHttpClient({});
  const latencies: number[] = [];
  let issued = 0;
  let errors = 0;
  try {
    const cpuBefore = await cpuSeconds(pid);
    const start = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (issued < total) {
        signal.throwIfAborted();
        issued++;
        const t0 = performance.now();
        try {
          const response = await fetch(url, { client });
          await response.arrayBuffer();
          if (response.status !== 200) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t0);
      }
    }));
    const seconds = (performance.now() - start) / 1000;
    return {
      latencies,
      errors,
      seconds,
      cpuSeconds: await cpuSeconds(pid) - cpuBefore,
    };
  } finally {
    client.close();
  }
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
    const targets = [
      {
        name: "baseline",
        url: `${options.baseline.url}/health`,
        pid: options.baseline.pid,
      },
      { name: "host", url: `${host.url}/health`, pid: host.process.pid },
    ];
    for (const t of targets) {
      await runRound(t.url, t.pid, options.warmup, concurrency, signal);
    }
    const results = new Map<string, RoundResult[]>(
      targets.map((t) => [t.name, []]),
    );
    const perRound = Math.ceil(options.requests / options.rounds);
    for (let round = 1; round <= options.rounds; round++) {
      for (const t of targets) {
        const r = await runRound(t.url, t.pid, perRound, concurrency, signal);
        results.get(t.name)!.push(r);
        progress(
          `  /health ${t.name} round ${round}/${options.rounds}: ${
            (r.latencies.length / r.seconds).toFixed(0)
          } req/s`,
        );
      }
    }
    const figures = (name: string): LoadFigures => {
      const rounds = results.get(name)!;
      const latencies = rounds.flatMap((r) => r.latencies);
      const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
      const errors = rounds.reduce((sum, r) => sum + r.errors, 0);
      const cpu = rounds.reduce((sum, r) => sum + r.cpuSeconds, 0);
      if (errors === latencies.length) {
        throw new Error(`every /health request to the ${name} failed`);
      }
      return {
        rps: latencies.length / seconds,
        latency: summarize(latencies),
        errors,
        cpuPerRequestUs: cpu / latencies.length * 1e6,
      };
    };
    return {
      concurrency,
      requests: perRound * options.rounds,
      host: figures("host"),
      baseline: figures("baseline"),
    };
  } finally {
    await host.stop();
  }
}
