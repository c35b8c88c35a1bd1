/**
 * A gateway restarting on a big store: a real `webstream -gateway` process
 * started on a store already holding 10,000 hosts and 500,000 sessions (50 a
 * host, seeded with the real store modules before it starts), on SQLite and
 * on a real PostgreSQL (`tests/support/postgres.ts`), against the same
 * gateway started on an empty store of the same kind (the baseline: what the
 * process costs before it holds any farm).
 *
 * Measured from `/proc/<pid>/status`: the peak resident memory (`VmHWM`)
 * once the gateway listens with everything loaded, and the resident memory
 * (`VmRSS`) some seconds later; how long from the process start to its
 * `/health` answering (loading the store). The hosts' `serverUrl`s point at
 * a probe farm (`probe_farm_server.ts`): a loopback listener per host, each
 * at an address of its own, answering the gateway's health probes as a
 * farm's hosts would. Sessions stay live through the run (`licence.staleAfter` an
 * hour).
 *
 * `deno run -A bench/restart_bench.ts [--quick] [--sqlite|--postgres]
 * [--before=<dir>] [--env=NAME=VALUE]… [--v8-flags=<flags>]…
 * [--steady=<seconds>]` (`--quick`: 1,000 hosts and 50,000 sessions;
 * `--steady`: how long memory and CPU are watched after the first 10 s,
 * default 20). On the seeded store it starts, in turn: the webstream
 * tree in `<dir>` (`git archive <commit> | tar -x -C <dir>`: the "before"
 * of a change, in the same run), this tree's, and this tree's with each
 * `--env` variable and each `--v8-flags` given; ratios are against the first. Also measured: the CPU
 * time the gateway spends in the seconds after it listens (its health
 * probes, mostly). The target from the issue: resident memory under 500 MB
 * at 10,000 hosts.
 *
 * @module
 */
import type { HostRecord, SessionRecord } from "../mod/gateway/types.ts";
import { openSqliteStore } from "../mod/gateway/store.ts";
import { openPostgresStore } from "../mod/gateway/store_postgres.ts";
import { hasPostgres, startPostgres } from "../tests/support/postgres.ts";
import { startProbeFarm } from "./probe_farm_server.ts";
import { handleInterrupts, ms, ratio, sleep } from "./common.ts";
import {
  benchRun,
  type Cleanup,
  cpuSeconds,
  farmSession,
  type GatewayProcessOptions,
  memoryMb,
  startGatewayProcess,
} from "./gateway_common.ts";

/** The issue's target: resident memory at 10,000 hosts, MB. */
export const RESTART_TARGET_MB = 500;

/** Sessions written per store call while seeding. */
const SEED_BATCH = 5000;

/** Which store a gateway restarts on. */
export type StoreKind = "sqlite" | "postgres";

/** One gateway start, as measured. */
export interface StartFigures {
  /** Hosts in the store. */
  hosts: number;
  /** Sessions the gateway said it loaded. */
  sessions: number;
  /** Process start → `/health` answering, ms. */
  startMs: number;
  /** Peak resident memory once listening, MB. */
  peakMb: number;
  /** Resident memory some seconds after listening, MB. */
  rssMb: number;
  /** Peak resident memory at that time, MB. */
  laterPeakMb: number;
  /** CPU seconds the gateway used from listening to the second reading. */
  settleCpuSeconds: number;
  /**
   * CPU seconds over the steady window after that (whole probe intervals:
   * a round of probes each, wherever it starts).
   */
  steadyCpuSeconds: number;
  /** Resident memory at the end of the steady window, MB. */
  steadyRssMb: number;
  /** Peak resident memory by then, MB. */
  steadyPeakMb: number;
}

/**
 * A way to run the gateway on the seeded store: this tree's, another copy
 * of webstream (`--before`), or with V8 flags (`--v8-flags`).
 */
export interface Variant {
  /** Its row's name. */
  label: string;
  /** How to run it (default this tree's `main.ts`, no flags). */
  run?: GatewayProcessOptions["run"];
}

/** A store kind's restart against its empty-store baseline. */
export interface RestartResult {
  /** The store. */
  kind: StoreKind;
  /** Seconds to seed the store. */
  seedSeconds: number;
  /** The gateway on the empty store. */
  empty: StartFigures;
  /** The gateway restarting on the seeded store, by variant (in order). */
  loaded: { variant: string; figures: StartFigures }[];
}

/** Options for {@linkcode runRestartBench}. */
export interface RestartBenchOptions {
  /** Hosts in the store. */
  hosts: number;
  /** Sessions per host. */
  sessionsPerHost: number;
  /** Store kinds to measure. */
  kinds: StoreKind[];
  /** Seconds after listening before the second reading. */
  settleSeconds: number;
  /** Seconds after the second reading before the third (whole intervals). */
  steadySeconds: number;
  /**
   * The gateways started on the seeded store; the first is the baseline of
   * the ratios (the "before" when there is one).
   */
  variants: Variant[];
  /** Ends the run early. */
  signal: AbortSignal;
  /** Whether a SIGINT reached the process group. */
  interrupted: () => boolean;
  /** Progress output. */
  progress: (line: string) => void;
}

/**
 * The host records of a farm of `count` hosts probed at `probeBase` (host
 * `n` at `<probeBase>/h/<n>`), or each at `urlOf(n)`.
 */
export function farmHosts(
  count: number,
  probeBase: string | ((n: number) => string),
): HostRecord[] {
  const now = Date.now();
  const urlOf = typeof probeBase === "string"
    ? (n: number) => `${probeBase}/h/${n}`
    : probeBase;
  return Array.from({ length: count }, (_, n) => {
    const serverUrl = urlOf(n);
    const tags = [["eu", "us", "ap"][n % 3], ...(n % 4 ? ["office"] : [])];
    const maxSessions = 60 + (n % 5) * 10;
    return {
      serverUrl,
      registration: {
        serverUrl,
        maxSessions,
        instanceType: "c5.2xlarge",
        ec2InstanceId: `i-${n.toString(16).padStart(17, "0")}`,
        tags,
        capabilities: ["linux", "clipboard"],
        version: "0.1.0",
      },
      registeredAt: now - 3_600_000,
      heartbeat: {
        serverUrl,
        status: "healthy",
        activeSessions: 50,
        maxSessions,
        instanceType: "c5.2xlarge",
        tags,
        cpuUsage: (n * 37) % 90,
        memoryUsage: (n * 53) % 90,
        timestamp: new Date(now - 5000).toISOString(),
        receivedAt: now - 5000,
      },
      draining: n % 50 === 7,
      unregistered: false,
    };
  });
}

/** The id of the farm's session `i` (a UUID, as the gateway makes them). */
export function farmSessionId(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, "0")}`;
}

/**
 * Session `i` of the farm: the shape launches leave in the store, on host
 * `i % hosts`.
 */
function farmSessionOn(i: number, hosts: HostRecord[], now: number) {
  const host = hosts[i % hosts.length];
  return farmSession(i, now, {
    sessionId: farmSessionId(i),
    user: `user${(i * 7919) % (hosts.length * 10)}`,
    serverUrl: host.serverUrl,
    // The streamer's address is its host's, shared by its sessions.
    host: `10.${(i % hosts.length) >> 8 & 255}.${i % hosts.length & 255}.1`,
  });
}

/** Where {@linkcode seedFarm} writes: a store's batch writes. */
interface SeedTarget {
  putHosts(hosts: HostRecord[]): Promise<void> | void;
  putSessions(sessions: SessionRecord[]): Promise<void> | void;
}

/** Writes the farm in batches, so the seeding never holds it all. */
async function seedFarm(
  put: SeedTarget,
  hosts: HostRecord[],
  sessions: number,
  signal: AbortSignal,
): Promise<void> {
  await put.putHosts(hosts);
  const now = Date.now();
  for (let from = 0; from < sessions; from += SEED_BATCH) {
    signal.throwIfAborted();
    const to = Math.min(sessions, from + SEED_BATCH);
    const batch: SessionRecord[] = [];
    for (let i = from; i < to; i++) batch.push(farmSessionOn(i, hosts, now));
    await put.putSessions(batch);
  }
}

/**
 * The `gateway` settings of a store: `storePath` (SQLite) or `store.url`
 * (PostgreSQL).
 */
export type StoreSettings =
  | { storePath: string }
  | { store: { url: string } };

/**
 * Seeds the store `settings` name with `hosts` and `sessions` sessions
 * spread over them (see {@linkcode farmSessionId}), with the real store
 * modules.
 */
export async function seedStore(
  settings: StoreSettings,
  hosts: HostRecord[],
  sessions: number,
  signal: AbortSignal,
): Promise<void> {
  if ("storePath" in settings) {
    const store = openSqliteStore(settings.storePath);
    try {
      await seedFarm(store, hosts, sessions, signal);
    } finally {
      store.close();
    }
  } else {
    const store = await openPostgresStore(settings.store.url);
    try {
      await seedFarm(store, hosts, sessions, signal);
    } finally {
      await store.close();
    }
  }
}

/** Starts a gateway on the store, measures it, stops it. */
async function measureStart(
  label: string,
  dir: string,
  store: StoreSettings,
  options: RestartBenchOptions & { run?: Variant["run"] },
): Promise<StartFigures> {
  const started = performance.now();
  const gateway = await startGatewayProcess({
    dir,
    signal: options.signal,
    interrupted: options.interrupted,
    run: options.run,
    gateway: {
      ...store,
      healthCheck: { interval: 10, timeout: 6, heartbeatInterval: 10 },
      licence: { staleAfter: 3600 },
    },
  });
  try {
    const startMs = performance.now() - started;
    const listening = gateway.process.logs.find((r) =>
      r.msg === "gateway listening"
    );
    const first = await memoryMb(gateway.pid);
    const cpu = await cpuSeconds(gateway.pid);
    await sleep(options.settleSeconds * 1000, options.signal);
    const later = await memoryMb(gateway.pid);
    const settled = await cpuSeconds(gateway.pid);
    const settleCpuSeconds = settled - cpu;
    await sleep(options.steadySeconds * 1000, options.signal);
    const steady = await memoryMb(gateway.pid);
    const steadyCpuSeconds = await cpuSeconds(gateway.pid) - settled;
    const figures: StartFigures = {
      hosts: Number(listening?.hosts ?? 0),
      sessions: Number(listening?.sessions ?? 0),
      startMs,
      peakMb: first.peak,
      rssMb: later.rss,
      laterPeakMb: later.peak,
      settleCpuSeconds,
      steadyCpuSeconds,
      steadyRssMb: steady.rss,
      steadyPeakMb: steady.peak,
    };
    options.progress(
      `restart: ${label}: ${figures.hosts} hosts, ${figures.sessions} sessions, up in ${
        ms(startMs)
      }, peak ${first.peak.toFixed(0)} MB, RSS ${
        later.rss.toFixed(0)
      } MB after ${options.settleSeconds} s (peak ${
        later.peak.toFixed(0)
      } MB, ${settleCpuSeconds.toFixed(2)} CPU s); RSS ${
        steady.rss.toFixed(0)
      } MB (peak ${steady.peak.toFixed(0)} MB) and ${
        steadyCpuSeconds.toFixed(2)
      } CPU s in the ${options.steadySeconds} s after`,
    );
    return figures;
  } finally {
    await gateway.stop();
  }
}

/** One store kind: the empty-store baseline, seeding, the restart. */
async function measureKind(
  kind: StoreKind,
  probeBase: (n: number) => string,
  options: RestartBenchOptions,
  run: { dir: string; cleanup: Cleanup },
): Promise<RestartResult> {
  const hosts = farmHosts(options.hosts, probeBase);
  const sessions = options.hosts * options.sessionsPerHost;
  const postgres = kind === "postgres" ? await startPostgres() : undefined;
  if (postgres) run.cleanup.defer(() => postgres.stop());
  const emptyStore = postgres
    ? { store: { url: await postgres.createDatabase() } }
    : { storePath: `${run.dir}/empty.sqlite` };
  const loadedStore = postgres
    ? { store: { url: await postgres.createDatabase() } }
    : { storePath: `${run.dir}/farm.sqlite` };
  const t0 = performance.now();
  await seedStore(loadedStore, hosts, sessions, options.signal);
  const seedSeconds = (performance.now() - t0) / 1000;
  options.progress(
    `restart: ${kind}: ${options.hosts} hosts and ${sessions} sessions seeded in ${
      seedSeconds.toFixed(1)
    } s`,
  );
  const empty = await measureStart(
    `${kind}, empty store`,
    run.dir,
    emptyStore,
    options,
  );
  const loaded: RestartResult["loaded"] = [];
  for (const variant of options.variants) {
    const figures = await measureStart(
      `${kind}, seeded store, ${variant.label}`,
      run.dir,
      loadedStore,
      { ...options, run: variant.run },
    );
    if (figures.sessions !== sessions) {
      throw new Error(
        `the gateway (${variant.label}) loaded ${figures.sessions} sessions, not ${sessions}`,
      );
    }
    loaded.push({ variant: variant.label, figures });
  }
  return { kind, seedSeconds, empty, loaded };
}

/** Measures every store kind asked for. */
export async function runRestartBench(
  options: RestartBenchOptions,
): Promise<RestartResult[]> {
  const run = await benchRun("restart benchmark cleanup");
  try {
    // Each host at an address of its own, as in a farm.
    const probes = await startProbeFarm(options.hosts);
    run.cleanup.defer(() => probes.stop());
    const results: RestartResult[] = [];
    for (const kind of options.kinds) {
      results.push(await measureKind(kind, probes.url, options, run));
    }
    return results;
  } finally {
    await run.cleanup.run();
  }
}

/**
 * The figures as a table: each variant on the seeded store, with ratios
 * against the first (peak and later resident memory, CPU while settling)
 * and its peak against the empty-store gateway.
 */
export function formatRestartBench(
  results: RestartResult[],
  options: Pick<RestartBenchOptions, "settleSeconds" | "steadySeconds">,
): string {
  const settle = options.settleSeconds;
  const end = settle + options.steadySeconds;
  const lines = [
    `store     variant                  up in    peak listening  ×empty  ×first  ${
      `RSS ${settle} s later (peak)`.padEnd(23)
    }×first  ${`RSS ${end} s later (peak)`.padEnd(23)}×first  ${
      `CPU ${settle}–${end} s`.padEnd(13)
    }×first  target < 500 MB (peak)`,
  ];
  for (const r of results) {
    const first = r.loaded[0]?.figures;
    if (!first) continue;
    lines.push(
      `${r.kind}: ${first.hosts} hosts, ${first.sessions} sessions; empty store: peak ${
        r.empty.peakMb.toFixed(0)
      } MB`,
    );
    for (const { variant, figures: f } of r.loaded) {
      lines.push(
        `${r.kind.padEnd(10)}${variant.slice(0, 24).padEnd(25)}${
          ms(f.startMs).padEnd(9)
        }${`${f.peakMb.toFixed(0)} MB`.padEnd(16)}${
          ratio(f.peakMb, r.empty.peakMb).padEnd(8)
        }${ratio(f.peakMb, first.peakMb).padEnd(8)}${
          `${f.rssMb.toFixed(0)} MB (${f.laterPeakMb.toFixed(0)} MB)`.padEnd(23)
        }${ratio(f.rssMb, first.rssMb).padEnd(8)}${
          `${f.steadyRssMb.toFixed(0)} MB (${f.steadyPeakMb.toFixed(0)} MB)`
            .padEnd(23)
        }${ratio(f.steadyRssMb, first.steadyRssMb).padEnd(8)}${
          `${f.steadyCpuSeconds.toFixed(2)} s`.padEnd(13)
        }${ratio(f.steadyCpuSeconds, first.steadyCpuSeconds).padEnd(8)}${
          f.steadyPeakMb < RESTART_TARGET_MB ? "met" : "MISSED"
        }`,
      );
    }
  }
  return lines.join("\n");
}

/** The variants the command line asks for (see the module). */
export function variantsOf(args: readonly string[]): Variant[] {
  const variants: Variant[] = [];
  const before = args.find((a) => a.startsWith("--before="));
  if (before) {
    const dir = before.slice("--before=".length).replace(/\/$/, "");
    variants.push({ label: "before", run: { main: `${dir}/main.ts` } });
  }
  variants.push({ label: "this tree" });
  for (const arg of args.filter((a) => a.startsWith("--env="))) {
    const [name, ...value] = arg.slice("--env=".length).split("=");
    variants.push({
      label: `${name}=${value.join("=")}`,
      run: { env: { [name]: value.join("=") } },
    });
  }
  for (const arg of args.filter((a) => a.startsWith("--v8-flags="))) {
    variants.push({
      label: arg.slice("--v8-flags=".length),
      run: { denoFlags: [arg] },
    });
  }
  return variants;
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const kinds: StoreKind[] = Deno.args.includes("--sqlite")
    ? ["sqlite"]
    : Deno.args.includes("--postgres")
    ? ["postgres"]
    : hasPostgres()
    ? ["sqlite", "postgres"]
    : ["sqlite"];
  const interrupt = handleInterrupts();
  const progress = (line: string) => console.error(line);
  console.log(
    `gateway restart on a big store — deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, load ${
      Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
    }`,
  );
  try {
    const watch = {
      settleSeconds: 10,
      // Two of its probe intervals (10 s), or `--steady=<seconds>`.
      steadySeconds: Number(
        Deno.args.find((a) => a.startsWith("--steady="))?.slice(9) ?? 20,
      ),
    };
    const results = await runRestartBench({
      hosts: quick ? 1000 : 10_000,
      sessionsPerHost: 50,
      kinds,
      ...watch,
      variants: variantsOf(Deno.args),
      signal: interrupt.signal,
      interrupted: () => interrupt.received !== undefined,
      progress,
    });
    console.log(
      `\nGateway restart (real process; peak = VmHWM once all is loaded)\n${
        formatRestartBench(results, watch)
      }`,
    );
  } catch (error) {
    console.error("the restart benchmark failed:", error);
    Deno.exit(interrupt.received ? 130 : 1);
  } finally {
    interrupt.dispose();
  }
}
