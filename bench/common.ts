/**
 * What the session host benchmarks share: latency statistics, Ctrl-C
 * handling that still runs every cleanup, timed requests, and starting and
 * stopping a real `webstream -backend` process (its pool users removed, its
 * temporary folder deleted, whatever happened), and a real PostgreSQL for
 * the store benchmarks.
 *
 * @module
 */
import { writeTestConfig } from "../tests/support/config.ts";
import { poolUserProcesses, poolUsers } from "../tests/support/pool_users.ts";
import {
  hasPostgres,
  startPostgres,
  type TestPostgres,
} from "../tests/support/postgres.ts";
import {
  startWebstream,
  type WebstreamProcess,
} from "../tests/support/webstream_process.ts";

// ---- statistics and formatting ----

/** Latency figures of one series, in milliseconds. */
export interface Stats {
  /** Number of samples. */
  count: number;
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** Slowest sample. */
  max: number;
  /** Fastest sample. */
  min: number;
}

/** Nearest-rank percentiles of `samples` (milliseconds). */
export function summarize(samples: number[]): Stats {
  if (!samples.length) throw new Error("no samples to summarize");
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
  return {
    count: sorted.length,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1],
    min: sorted[0],
  };
}

/** A duration in milliseconds, with precision that suits its size. */
export function ms(value: number): string {
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

/** A duration in milliseconds, in µs below 0.1 ms. */
export function fine(value: number): string {
  return Math.abs(value) < 0.1 ? `${(value * 1000).toFixed(1)} µs` : ms(value);
}

/** `×8.0`: how many times the baseline. */
export function ratio(value: number, baseline: number): string {
  if (!(baseline > 0)) return "×n/a";
  const r = value / baseline;
  return `×${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}`;
}

// ---- interruption ----

/** Aborted at the first SIGINT or SIGTERM; a second one exits at once. */
export interface Interrupt {
  /** The signal every benchmark loop watches. */
  signal: AbortSignal;
  /** Which signal arrived, if any. */
  received?: Deno.Signal;
  /** Removes the signal listeners. */
  dispose(): void;
}

/**
 * Turns SIGINT/SIGTERM into an abort so that `finally` blocks stop the host
 * and remove its pool users (by default Deno would just exit).
 */
export function handleInterrupts(): Interrupt {
  const controller = new AbortController();
  const interrupt: Interrupt = { signal: controller.signal, dispose };
  const listeners = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const listener = (): void => {
      if (controller.signal.aborted) {
        console.error("\nsecond interrupt: exiting without cleaning up");
        Deno.exit(130);
      }
      console.error("\ninterrupted: stopping and cleaning up…");
      interrupt.received = name;
      controller.abort(new Error(`interrupted (${name})`));
    };
    Deno.addSignalListener(name, listener);
    return [name, listener] as const;
  });
  function dispose(): void {
    for (const [name, listener] of listeners) {
      Deno.removeSignalListener(name, listener);
    }
  }
  return interrupt;
}

/** Sleeps `milliseconds`; rejects when `signal` aborts. */
export function sleep(
  milliseconds: number,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, milliseconds);
    function onAbort(): void {
      clearTimeout(timer);
      reject(signal!.reason);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Polls `check` until it returns a truthy value. The deadline only bounds a
 * hang; an abort ends the wait at once.
 */
export async function until<T>(
  check: () => T | Promise<T>,
  options: { what: string; signal: AbortSignal; timeoutMs?: number },
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let lastError: unknown;
  while (Date.now() < deadline) {
    options.signal.throwIfAborted();
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      lastError = error;
    }
    await sleep(20, options.signal);
  }
  throw new Error(
    `timed out waiting for ${options.what}${
      lastError ? ` (last error: ${lastError})` : ""
    }`,
  );
}

// ---- requests ----

/** One timed HTTP exchange. */
export interface Timed<T> {
  /** Milliseconds from sending to having read the whole body. */
  elapsed: number;
  /** HTTP status. */
  status: number;
  /** The parsed JSON body. */
  body: T;
}

/**
 * `GET url` on a fresh connection (its own HTTP client), timed until the
 * whole JSON body is read. Host and baseline samples are taken the same way.
 */
export async function timedGet<T = Record<string, unknown>>(
  url: string,
  headers: Record<string, string> = {},
): Promise<Timed<T>> {
  const client = Deno.createHttpClient({});
  try {
    const start = performance.now();
    const response = await fetch(url, { headers, client });
    const body = await response.json() as T;
    return {
      elapsed: performance.now() - start,
      status: response.status,
      body,
    };
  } finally {
    client.close();
  }
}

/** What every benchmark run is given, besides its own options. */
export interface BenchRunOptions {
  /** Ends the run early (Ctrl-C). */
  signal: AbortSignal;
  /** Whether the run was interrupted (see `startHost`). */
  interrupted: () => boolean;
  /** Progress output. */
  progress?: (line: string) => void;
}

/** A random id for `X-Session-ID`. */
export function sessionId(kind: string, n: number): string {
  return `bench-${kind}-${n}-${crypto.randomUUID().slice(0, 8)}`;
}

// ---- the session host ----

/** The shared secret the benchmark hosts require on `/getConnection`. */
export const SECRET = "bench-shared-secret";

/** A running `webstream -backend` started by a benchmark. */
export interface BenchHost {
  /** The process. */
  process: WebstreamProcess;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The pool account prefix (unique to this run). */
  prefix: string;
  /** Slot states as the host's debug log reports them. */
  slots: SlotTracker;
  /** Stops the host by its PID and removes everything it left behind. */
  stop(): Promise<void>;
}

/** Options for {@linkcode startHost}. */
export interface HostOptions {
  /** `serverMaxSessionCount`. */
  slots: number;
  /** `warmSessionCount`. */
  warm: number;
  /** `reconnectGracePeriod`, seconds. */
  grace: number;
  /** Ends waits early. */
  signal: AbortSignal;
  /** Whether a SIGINT reached the process group (the host then stops itself). */
  interrupted: () => boolean;
  /** Extra `gateway.backend` settings (a `gatewayUrl` to register with). */
  backend?: Record<string, unknown>;
}

/** A pool account prefix `wb` + three letters (tests use `wt…`). */
function benchPrefix(): string {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  let name = "wb";
  for (let i = 0; i < 3; i++) name += letters[Math.floor(Math.random() * 26)];
  return name;
}

/**
 * Follows the `slot state` debug records of a host, so a benchmark knows
 * which slots are ready (logged on, streamer handshake done) — `/health`
 * only tells "available", which includes free and warming slots.
 */
export class SlotTracker {
  readonly #process: WebstreamProcess;
  readonly #states: string[];
  #read = 0;

  constructor(process: WebstreamProcess, slots: number) {
    this.#process = process;
    this.#states = Array.from({ length: slots }, () => "free");
  }

  /** Every slot's state, 1-based slot `n` at index `n - 1`. */
  states(): readonly string[] {
    const logs = this.#process.logs;
    for (; this.#read < logs.length; this.#read++) {
      const record = logs[this.#read];
      if (record.msg !== "slot state") continue;
      this.#states[Number(record.slot) - 1] = String(record.to);
    }
    return this.#states;
  }

  /** How many slots are in `state`. */
  count(state: string): number {
    return this.states().filter((s) => s === state).length;
  }
}

/** Starts a real `webstream -backend` on loopback and waits for `/health`. */
export async function startHost(options: HostOptions): Promise<BenchHost> {
  const prefix = benchPrefix();
  const cfg = await writeTestConfig({
    slots: options.slots,
    backend: { sharedSecret: SECRET, ...options.backend },
    settings: {
      serverSessionUsername: prefix,
      warmSessionCount: options.warm,
      reconnectGracePeriod: options.grace,
      provisioningTimeout: 30,
    },
  });
  let process: WebstreamProcess | undefined;
  const stop = async (): Promise<void> => {
    try {
      if (process) await stopProcess(process, options.interrupted(), "host");
    } finally {
      try {
        await sweepPoolUsers(prefix);
      } finally {
        await cfg.remove().catch(() => {});
      }
    }
  };
  try {
    // Debug level: the pool's "slot state" records tell when a slot is ready.
    process = startWebstream(["-backend", "-config", cfg.path], {
      env: { WEBSTREAM_LOG_LEVEL: "debug" },
    });
    const url = `http://127.0.0.1:${cfg.httpPort}`;
    await waitHealthy(process, url, { name: "host", signal: options.signal });
    return {
      process,
      url,
      prefix,
      slots: new SlotTracker(process, options.slots),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * Waits until the webstream process at `url` says it is healthy; rejects at
 * once if it exits first (with its last log records if `logTail`).
 */
export async function waitHealthy(
  process: WebstreamProcess,
  url: string,
  options: { name: string; signal: AbortSignal; logTail?: boolean },
): Promise<void> {
  const exited = process.status.then((s) => {
    const tail = options.logTail
      ? `: ${process.logs.slice(-3).map((r) => JSON.stringify(r)).join(" ")}`
      : "";
    throw new Error(`the ${options.name} exited early (code ${s.code})${tail}`);
  });
  exited.catch(() => {});
  await Promise.race([
    exited,
    until(async () => {
      const response = await fetch(`${url}/health`);
      const body = await response.json();
      return body.status === "healthy";
    }, { what: `the ${options.name}'s /health`, signal: options.signal }),
  ]);
}

/**
 * Stops a webstream process (the `name` in messages) by its PID: SIGTERM,
 * then SIGKILL if it hangs. After a Ctrl-C it got the SIGINT too and is
 * shutting down on its own; a second signal would kill it half-way, so then
 * it is only waited for.
 */
export async function stopProcess(
  process: WebstreamProcess,
  interrupted: boolean,
  name = "process",
): Promise<void> {
  let exited = false;
  process.status.then(() => exited = true, () => exited = true);
  if (interrupted) await sleep(300);
  const selfStopping = process.logs.some((r) => r.msg === "shutting down");
  if (!exited && !selfStopping) {
    try {
      Deno.kill(process.pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
  const cancel = new AbortController();
  const timeout = sleep(30_000, cancel.signal).then(
    () => "timeout" as const,
    () => "cancelled" as const,
  );
  const outcome = await Promise.race([process.status, timeout]);
  cancel.abort();
  if (outcome === "timeout") {
    console.error(`${name} ${process.pid} did not stop in 30 s; killing it`);
    try {
      Deno.kill(process.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    await process.status;
  }
}

/**
 * Removes pool users of `prefix` that a host left behind (it removes them
 * itself on a clean stop): their processes are ended by PID, then `userdel`.
 */
async function sweepPoolUsers(prefix: string): Promise<void> {
  if (Deno.uid() !== 0) return;
  const users = await poolUsers(prefix);
  if (!users.length) return;
  console.error(
    `removing leftover pool users: ${users.map((u) => u.name).join(", ")}`,
  );
  for (const p of await poolUserProcesses(users)) {
    try {
      Deno.kill(p.pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
  for (const user of users) {
    await new Deno.Command("userdel", {
      args: ["--remove", user.name],
      stdout: "null",
      stderr: "null",
    }).output();
  }
}

// ---- PostgreSQL ----

/**
 * Runs `run` on a fresh real PostgreSQL cluster, stopped afterwards by its
 * PID; where Debian's `postgresql` is not installed, says the benchmark is
 * skipped instead.
 */
export async function onPostgres(
  run: (cluster: TestPostgres) => Promise<void>,
): Promise<void> {
  if (!hasPostgres()) {
    console.log("PostgreSQL is not installed (Debian: postgresql): skipped");
    return;
  }
  const cluster = await startPostgres();
  try {
    await run(cluster);
  } finally {
    await cluster.stop();
  }
}
