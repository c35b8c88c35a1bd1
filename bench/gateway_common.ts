/**
 * What the gateway benchmarks share: a run's temporary folder and the
 * cleanups that run whatever happened; starting and stopping a real
 * `webstream -gateway` process (its configuration and state store in the
 * run's folder) and seeding its sessions (a farm's sessions, alike in every
 * benchmark); the memory and CPU time of a process (from `/proc`); signing
 * in; timed loops of attempts and request load in alternating rounds (which
 * the `/health` benchmark uses too); and a benchmark's command line.
 *
 * @module
 */
import { stringify } from "yaml";
import { openSqliteStore } from "../mod/gateway/store.ts";
import type { SessionRecord } from "../mod/gateway/types.ts";
import { sessionRecord } from "../tests/support/gateway_parts.ts";
import { freePort } from "../tests/support/ports.ts";
import {
  startWebstream,
  type StartWebstreamOptions,
  type WebstreamProcess,
} from "../tests/support/webstream_process.ts";
import {
  type BenchRunOptions,
  handleInterrupts,
  SECRET,
  stopProcess,
  summarize,
  waitHealthy,
} from "./common.ts";
import { type BaselineServer, startBaselineServer } from "./baseline_server.ts";
import { cpuSeconds } from "./proc_stat.ts";
import type { LoadFigures } from "./health_bench.ts";

/** The shared secret of the benchmark gateways: the benchmark hosts' own. */
export const GATEWAY_SECRET = SECRET;
/** The admin token of the benchmark gateways. */
export const ADMIN_TOKEN = "bench-admin-token-0123456789";

// ---- a run's folder and cleanups ----

/** The steps that undo a benchmark run: newest first, each failure logged. */
export class Cleanup {
  #steps: (() => Promise<unknown>)[] = [];

  /** `label` starts the line that logs a failed step. */
  constructor(readonly label: string) {}

  /** Adds a step, to run before those added so far. */
  defer(step: () => Promise<unknown>): void {
    this.#steps.unshift(step);
  }

  /** Runs every step; one that fails is logged and the rest still run. */
  async run(): Promise<void> {
    for (const step of this.#steps.splice(0)) {
      await step().catch((error) => console.error(`${this.label}:`, error));
    }
  }
}

/** A {@linkcode BaselineServer} for a run, stopped by `cleanup`. */
export async function serveBaseline(cleanup: Cleanup): Promise<BaselineServer> {
  const server = await startBaselineServer();
  cleanup.defer(() => server.stop());
  return server;
}

/**
 * A temporary folder for a benchmark run and its cleanup, whose last step
 * removes the folder.
 */
export async function benchRun(
  label: string,
): Promise<{ dir: string; cleanup: Cleanup }> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-bench-" });
  const cleanup = new Cleanup(label);
  cleanup.defer(() => Deno.remove(dir, { recursive: true }));
  return { dir, cleanup };
}

// ---- the gateway process ----

/** A running `webstream -gateway` started by a benchmark. */
export interface GatewayProcess {
  /** The process. */
  process: WebstreamProcess;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Its PID. */
  pid: number;
  /** Stops it by its PID (the temporary folder is the caller's). */
  stop(): Promise<void>;
}

/** Options for {@linkcode startGatewayProcess}. */
export interface GatewayProcessOptions {
  /** Folder for the configuration file (and, usually, the store). */
  dir: string;
  /** The `gateway` section; `port`, `insecureHttp` and the secret are set. */
  gateway: Record<string, unknown>;
  /** Ends waits early. */
  signal: AbortSignal;
  /** Whether a SIGINT reached the process group (it then stops itself). */
  interrupted: () => boolean;
  /** How to run the process (another `main.ts`, V8 flags, environment). */
  run?: Pick<StartWebstreamOptions, "main" | "denoFlags" | "env">;
}

/**
 * Starts a real gateway on loopback (plain HTTP) and waits for `/health`;
 * makes its folder if it is not there yet.
 */
export async function startGatewayProcess(
  options: GatewayProcessOptions,
): Promise<GatewayProcess> {
  await Deno.mkdir(options.dir, { recursive: true });
  const port = freePort();
  const path = `${options.dir}/gateway.yaml`;
  const gateway = options.gateway;
  await Deno.writeTextFile(
    path,
    stringify({
      gateway: {
        ...gateway,
        backend: {
          ...gateway.backend as Record<string, unknown> | undefined,
          sharedSecret: GATEWAY_SECRET,
        },
        port,
        insecureHttp: true,
        adminToken: ADMIN_TOKEN,
      },
    }),
  );
  const process = startWebstream(["-gateway", "-config", path], options.run);
  const url = `http://127.0.0.1:${port}`;
  const stop = (): Promise<void> => stopProcess(process, options.interrupted());
  try {
    await waitHealthy(process, url, {
      name: "gateway",
      signal: options.signal,
      logTail: true,
    });
    return { process, url, pid: process.pid, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

// ---- the state store ----

/** Writes `records` into the (new) gateway store at `storePath`. */
export function writeSessions(
  storePath: string,
  records: SessionRecord[],
): void {
  const store = openSqliteStore(storePath);
  try {
    store.putSessions(records);
  } finally {
    store.close();
  }
}

/** What {@linkcode farmSession} leaves to its caller. */
export type FarmSessionFields =
  & Pick<SessionRecord, "serverUrl" | "user" | "host">
  & Partial<SessionRecord>;

/**
 * The `i`-th session of a benchmark farm, seen at `now`: every third a
 * desktop, the others apps, on varied ports, some with file upload; started
 * ten minutes ago, launched one ago, checked in five seconds ago.
 */
export function farmSession(
  i: number,
  now: number,
  fields: FarmSessionFields,
): SessionRecord {
  const desktop = i % 3 === 0;
  const record = sessionRecord({
    port: 20010 + (i % 50) * 10,
    kind: desktop ? "desktop" : "app",
    workspaceIds: [desktop ? "desktop" : "notepad"],
    createdAt: now - 600_000,
    lastLaunchAt: now - 60_000,
    lastCheckinAt: now - 5_000,
    ...fields,
  });
  // The test defaults' resources, file upload on every fourth.
  record.resources = { ...record.resources, fileUpload: i % 4 === 0 };
  return record;
}

// ---- /proc ----

/** Resident and peak resident memory of a process, in MB (10⁶ bytes). */
export async function memoryMb(
  pid: number,
): Promise<{ rss: number; peak: number }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = (field: string): number => {
    const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
    if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
    return Number(match[1]);
  };
  return { rss: kb("VmRSS") * 1024 / 1e6, peak: kb("VmHWM") * 1024 / 1e6 };
}

export { cpuSeconds } from "./proc_stat.ts";

// ---- signing in ----

/** Signs in on the gateway; resolves with the `Cookie` header to send. */
export async function signIn(
  gatewayUrl: string,
  user: string,
  password: string,
): Promise<string> {
  const response = await fetch(`${gatewayUrl}/api/signin`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user, password }),
  });
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(`sign-in answered ${response.status}: ${body}`);
  }
  const cookies = response.headers.getSetCookie().map((c) => c.split(";")[0]);
  if (!cookies.length) throw new Error("sign-in set no cookie");
  return cookies.join("; ");
}

// ---- load ----

/** One target of {@linkcode runLoad}. */
export interface LoadTarget {
  /** Its name in the results. */
  name: string;
  /** The server process (for its CPU time). */
  pid: number;
  /** The next request to send. */
  next(): { url: string; init?: RequestInit };
}

/** What {@linkcode timedLoops} measured. */
export interface TimedLoops {
  /** Each attempt's time, ms. */
  latencies: number[];
  /** Attempts that failed. */
  errors: number;
  /** From the first attempt to the last answer, s. */
  seconds: number;
}

/** Options for {@linkcode timedLoops}. */
export interface TimedLoopsOptions {
  /** Ends the loops early. */
  signal: AbortSignal;
  /**
   * Loop `loop`'s next attempt, prepared before its clock starts, or
   * undefined when that loop is done. An attempt resolves with what went
   * wrong, or undefined when it went well.
   */
  next(loop: number): (() => Promise<string | undefined>) | undefined;
  /** Hears what went wrong in each failed attempt (a throw included). */
  onError?: (error: string) => void;
}

/** Runs `loops` concurrent loops of attempts, timing each attempt. */
export async function timedLoops(
  loops: number,
  options: TimedLoopsOptions,
): Promise<TimedLoops> {
  const latencies: number[] = [];
  let errors = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: loops }, async (_, loop) => {
    while (true) {
      options.signal.throwIfAborted();
      const attempt = options.next(loop);
      if (!attempt) return;
      const t0 = performance.now();
      let error: string | undefined;
      try {
        error = await attempt();
      } catch (thrown) {
        error = String(thrown);
      }
      if (error !== undefined) {
        errors++;
        options.onError?.(error);
      }
      latencies.push(performance.now() - t0);
    }
  }));
  return { latencies, errors, seconds: (performance.now() - start) / 1000 };
}

/** One round of {@linkcode runLoad} on a target, with its CPU time. */
type RoundResult = TimedLoops & { cpuSeconds: number };

async function loadRound(
  target: LoadTarget,
  total: number,
  concurrency: number,
  signal: AbortSignal,
): Promise<RoundResult> {
  // Its own client: a pool of keep-alive connections, one per loop.
  const client = Deno.createHttpClient({});
  let issued = 0;
  try {
    const cpuBefore = await cpuSeconds(target.pid);
    const round = await timedLoops(concurrency, {
      signal,
      next: () => {
        if (issued >= total) return undefined;
        issued++;
        const { url, init } = target.next();
        return async () => {
          const response = await fetch(url, { ...init, client });
          await response.arrayBuffer();
          return response.status === 200 ? undefined : `${response.status}`;
        };
      },
    });
    return { ...round, cpuSeconds: await cpuSeconds(target.pid) - cpuBefore };
  } finally {
    client.close();
  }
}

/** How much load {@linkcode runLoad} sends to each target. */
export interface LoadAmount {
  /** Measured requests per target (over all rounds). */
  requests: number;
  /** Alternating rounds per target. */
  rounds: number;
  /** Unmeasured requests per target first. */
  warmup: number;
  /** Concurrent client loops. */
  concurrency: number;
}

/** Options for {@linkcode runLoad}. */
export interface LoadOptions extends LoadAmount {
  /** Ends the run early. */
  signal: AbortSignal;
  /** Progress output. */
  progress: (line: string) => void;
  /** Label for progress lines. */
  label: string;
}

/**
 * Loads every target in alternating rounds (so a burst of noise hits all
 * alike): requests/s, latency, errors and server CPU time per request.
 */
export async function runLoad(
  targets: LoadTarget[],
  options: LoadOptions,
): Promise<Map<string, LoadFigures>> {
  const { concurrency, signal } = options;
  for (const t of targets) {
    await loadRound(t, options.warmup, concurrency, signal);
  }
  const results = new Map<string, RoundResult[]>(
    targets.map((t) => [t.name, []]),
  );
  const perRound = Math.ceil(options.requests / options.rounds);
  for (let round = 1; round <= options.rounds; round++) {
    for (const t of targets) {
      const r = await loadRound(t, perRound, concurrency, signal);
      results.get(t.name)!.push(r);
      options.progress(
        `  ${options.label} ${t.name} round ${round}/${options.rounds}: ${
          (r.latencies.length / r.seconds).toFixed(0)
        } req/s${r.errors ? `, ${r.errors} errors` : ""}`,
      );
    }
  }
  const out = new Map<string, LoadFigures>();
  for (const [name, rounds] of results) {
    const latencies = rounds.flatMap((r) => r.latencies);
    const seconds = rounds.reduce((sum, r) => sum + r.seconds, 0);
    const errors = rounds.reduce((sum, r) => sum + r.errors, 0);
    const cpu = rounds.reduce((sum, r) => sum + r.cpuSeconds, 0);
    if (errors === latencies.length) {
      throw new Error(`every ${options.label} request to the ${name} failed`);
    }
    out.set(name, {
      rps: latencies.length / seconds,
      latency: summarize(latencies),
      errors,
      cpuPerRequestUs: cpu / latencies.length * 1e6,
    });
  }
  return out;
}

/** Runs `fn` on `items` with at most `concurrency` at a time. */
export async function eachLimited<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        await fn(items[i], i);
      }
    }),
  );
}

// ---- the command line ----

/** What {@linkcode benchMain} runs: a benchmark, formatted. */
export interface BenchMainOptions {
  /** Names the benchmark in the line that says it failed. */
  name: string;
  /** Runs it; resolves with the text to print. */
  run(options: Required<BenchRunOptions>): Promise<string>;
}

/**
 * Runs a benchmark from its command line: prints `title` with the machine
 * (Deno's version, CPUs, load), runs it with Ctrl-C as its abort signal and
 * progress on stderr, prints its text; a failure is printed and exits 1
 * (130 when interrupted).
 */
export async function benchMain(
  title: string,
  options: BenchMainOptions,
): Promise<void> {
  const interrupt = handleInterrupts();
  console.log(
    `${title} — deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, load ${
      Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
    }`,
  );
  try {
    const text = await options.run({
      signal: interrupt.signal,
      interrupted: () => interrupt.received !== undefined,
      progress: (line) => console.error(line),
    });
    console.log(`\n${text}`);
  } catch (error) {
    console.error(`the ${options.name} benchmark failed:`, error);
    Deno.exit(interrupt.received ? 130 : 1);
  } finally {
    interrupt.dispose();
  }
}
