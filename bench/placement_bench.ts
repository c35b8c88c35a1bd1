/**
 * Placement decisions at scale, in-process: a real {@linkcode HostRegistry}
 * with 1,000 hosts (registered, heartbeating with varied load; some drained,
 * some unreachable after failed probes, some with logons in flight) and a real
 * {@linkcode SessionMap} of 50,000 sessions over 10,000 users (most with a
 * few sessions, a heavy few with a couple of dozen), both on in-memory
 * SQLite stores (files in a temporary folder, as the gateway keeps them).
 * Each decision picks a random user and a random workspace
 * from a mix — apps that can share one of the user's sessions, desktops that
 * never share (a full scan of the hosts), tag- and capability-restricted
 * workspaces — under breadth-first or depth-first settings.
 *
 * Four series are timed, one sample per decision:
 *
 * - *decision*: what the launcher times as its placement time — the user's
 *   live sessions and {@linkcode place} on the registry's index;
 * - *full scan*: the same decisions as before the index, on every host's
 *   view (`registry.list()`), the reference path;
 * - *place() alone*: the indexed decisions on inputs built beforehand;
 * - *baseline*: the least work any placement must do — one `Map` lookup of
 *   the user's sessions and one scan of 1,000 hosts for the least loaded.
 *
 * The target (p99 under 1 ms) is absolute; the full scan and the baseline
 * are references measured in the same run.
 *
 * Run alone (`deno run -A bench/placement_bench.ts [--quick]
 * [--v8-flags=<flags>]`: V8 flags for the children), it measures
 * 1,000 hosts with 50,000 sessions and 10,000 hosts with 500,000 sessions,
 * each in a child process of its own so that resident memory is that farm's
 * alone, and prints placement p99 and memory as ratios: indexed against the
 * full scan, and 10,000 hosts against 1,000.
 *
 * @module
 */
import {
  healthCheckSchema,
  placementSchema,
  type PlacementSettings,
  type Workspace,
  workspaceSchema,
} from "../mod/config/mod.ts";
import { createLogger } from "../mod/log/mod.ts";
import { place, type PlacementDecision } from "../mod/gateway/placement.ts";
import { HostRegistry } from "../mod/gateway/registry.ts";
import { SessionMap } from "../mod/gateway/sessions.ts";
import { type GatewayStore, openSqliteStore } from "../mod/gateway/store.ts";
import { fine, ms, ratio, type Stats, summarize } from "./common.ts";
import { seeded } from "../tests/support/seeded.ts";

/** Options for {@linkcode runPlacementBench}. */
export interface PlacementBenchOptions {
  /** Registered hosts. Default 1,000. */
  hosts?: number;
  /** Sessions in the session map. Default 50,000. */
  sessions?: number;
  /** Users the sessions belong to. Default 10,000. */
  users?: number;
  /** Measured decisions per series. */
  decisions: number;
  /** Unmeasured decisions first. */
  warmup: number;
  /** Ends the run early (Ctrl-C). */
  signal: AbortSignal;
  /** Progress output. */
  progress?: (line: string) => void;
  /** Where the stores go (kept); default a temporary folder, deleted. */
  dir?: string;
}

/** Everything {@linkcode runPlacementBench} measured. */
export interface PlacementResult {
  /** Hosts, by state. */
  hosts: Record<string, number>;
  /** Sessions in the map. */
  sessions: number;
  /** Users. */
  users: number;
  /** ofUser + place() on registry.index(), per decision (ms). */
  decision: Stats;
  /** ofUser + place() on registry.list(): the full scan (ms). */
  fullScan: Stats;
  /** place() alone on prebuilt inputs (ms). */
  placeOnly: Stats;
  /** Map lookup + one scan over the hosts (ms). */
  baseline: Stats;
  /** Decisions by outcome (`share`, `new`, `none`). */
  outcomes: Record<string, number>;
  /**
   * Resident memory (bytes) after the indexed decisions (after a full GC when
   * run with `--expose-gc`), before the full scan; and the peak until then.
   */
  memory: { rss: number; peakRss: number };
}

const REGIONS = ["eu", "us", "ap"];

/** The published workspaces the decisions choose from. */
export function benchWorkspaces(): Workspace[] {
  return [
    {
      id: "notepad",
      name: "Notepad",
      kind: "app",
      command: { linux: "gedit", windows: "notepad.exe" },
    },
    {
      id: "office",
      name: "Office",
      kind: "app",
      command: { linux: "libreoffice" },
      requiredTags: ["office"],
    },
    {
      id: "cad",
      name: "CAD",
      kind: "app",
      command: { linux: "freecad" },
      requiredTags: ["gpu"],
      resources: { clipboard: true, fileUpload: true },
    },
    {
      id: "word",
      name: "Word",
      kind: "app",
      command: { windows: "winword.exe" },
      requiredCapabilities: ["windows"],
    },
    {
      id: "finance",
      name: "Finance",
      kind: "app",
      command: { linux: "finance-app", windows: "finance.exe" },
      credentials: "finance",
    },
    { id: "desktop", name: "Desktop", kind: "desktop" },
    {
      id: "gpu-desktop",
      name: "GPU desktop",
      kind: "desktop",
      requiredTags: ["gpu", "eu"],
    },
  ].map((w) => workspaceSchema.parse(w));
}

/** The simulated farm: a registry, a session map, their users. */
export interface Population {
  /** The hosts. */
  registry: HostRegistry;
  /** The sessions. */
  sessions: SessionMap;
  /** User names, index = user number. */
  users: string[];
  /** Closes the stores and deletes their files. */
  close(): void;
}

/** Builds 1,000 hosts and 50,000 sessions (by default) in memory. */
export async function buildPopulation(options: {
  hosts: number;
  sessions: number;
  users: number;
  workspaces: Workspace[];
  /** Where the stores go (kept); default a temporary folder, deleted. */
  dir?: string;
}): Promise<Population> {
  const random = seeded(42);
  const logger = createLogger({ level: "error", sink: () => {} });
  const dir = options.dir ?? Deno.makeTempDirSync({ prefix: "placement-" });
  const hostStore = openSqliteStore(`${dir}/hosts.db`);
  const sessionStore: GatewayStore = openSqliteStore(`${dir}/sessions.db`);
  // The registry's clock stands still: in a live farm heartbeats keep the
  // hosts fresh, here building 500,000 sessions would outlast their window.
  const builtAt = Date.now();
  const registry = new HostRegistry({
    store: hostStore,
    health: healthCheckSchema.parse({ interval: 10 }),
    logger,
    now: () => builtAt,
  });
  const urls: string[] = [];
  for (let n = 0; n < options.hosts; n++) {
    const windows = random() < 0.2;
    const tags = [REGIONS[n % REGIONS.length]];
    if (random() < 0.6) tags.push("office");
    if (random() < 0.08) tags.push("gpu");
    const serverUrl = `http://10.${(n >> 8) & 255}.${n & 255}.1:8443`;
    const maxSessions = 40 + Math.floor(random() * 80);
    registry.register({
      serverUrl,
      maxSessions,
      instanceType: windows ? "m5.2xlarge" : "c5.2xlarge",
      ec2InstanceId: `i-${n.toString(16).padStart(17, "0")}`,
      tags,
      capabilities: windows ? ["windows", "clipboard"] : ["linux", "clipboard"],
      version: "0.1.0",
    });
    registry.heartbeat({
      serverUrl,
      status: "healthy",
      activeSessions: Math.floor(random() * maxSessions * 1.05),
      maxSessions,
      instanceType: windows ? "m5.2xlarge" : "c5.2xlarge",
      tags,
      cpuUsage: Math.round(random() * 95),
      memoryUsage: Math.round(random() * 95),
      timestamp: new Date().toISOString(),
    });
    const r = random();
    if (r < 0.03) {
      for (let i = 0; i < 3; i++) {
        registry.recordProbe(serverUrl, {
          at: Date.now(),
          ok: false,
          latencyMs: 6000,
          error: "no answer within 6 s",
        });
      }
    } else if (r < 0.05) {
      registry.setDraining(serverUrl, true);
    } else {
      registry.recordProbe(serverUrl, {
        at: Date.now(),
        ok: true,
        latencyMs: 2,
      });
    }
    for (let i = Math.floor(random() * 3); i > 0; i--) {
      registry.beginLogon(serverUrl);
    }
    urls.push(serverUrl);
  }

  // Most users have a few sessions; one in twenty has a couple of dozen.
  const users = Array.from({ length: options.users }, (_, i) => `user${i}`);
  const heavy = Math.max(1, Math.floor(options.users / 20));
  const base = Math.floor(options.sessions * 0.8);
  const apps = options.workspaces.filter((w) => w.kind === "app");
  const desktops = options.workspaces.filter((w) => w.kind === "desktop");
  const now = Date.now();
  // Added one by one, as launches add them (a restart loads them instead:
  // see restartFigures).
  const sessions = new SessionMap({
    store: sessionStore,
    staleAfter: 3600,
    logger,
  });
  for (let i = 0; i < options.sessions; i++) {
    const user = i < base
      ? users[i % options.users]
      : users[Math.floor(random() * heavy)];
    const desktop = random() < 0.3;
    const workspace = desktop
      ? desktops[Math.floor(random() * desktops.length)]
      : apps[Math.floor(random() * apps.length)];
    // Awaited, as a launch awaits it: not 500,000 adds in flight at once.
    await sessions.add({
      sessionId: crypto.randomUUID(),
      sessionUuid: crypto.randomUUID(),
      user,
      credentials: workspace.credentials,
      serverUrl: urls[Math.floor(random() * urls.length)],
      host: "10.0.0.1",
      port: 20010 + (i % 100) * 10,
      path: "/stream",
      kind: workspace.kind,
      workspaceIds: [workspace.id],
      resources: {
        ...workspace.resources,
        fileUpload: workspace.resources.fileUpload || random() < 0.3,
      },
      createdAt: now - 60_000,
      lastLaunchAt: now - 30_000,
      lastCheckinAt: now - 5_000,
    });
  }
  return {
    registry,
    sessions,
    users,
    close() {
      hostStore.close();
      sessionStore.close();
      if (!options.dir) Deno.removeSync(dir, { recursive: true });
    },
  };
}

interface Draw {
  user: string;
  workspace: Workspace;
  settings: PlacementSettings;
}

/** Times every placement series on the simulated farm. */
export async function runPlacementBench(
  options: PlacementBenchOptions,
): Promise<PlacementResult> {
  const progress = options.progress ?? (() => {});
  const { signal } = options;
  const hostCount = options.hosts ?? 1000;
  const sessionCount = options.sessions ?? 50_000;
  const userCount = options.users ?? 10_000;
  const workspaces = benchWorkspaces();
  const started = performance.now();
  const population = await buildPopulation({
    hosts: hostCount,
    sessions: sessionCount,
    users: userCount,
    workspaces,
    dir: options.dir,
  });
  try {
    const { registry, sessions, users } = population;
    const hostStates: Record<string, number> = {};
    for (const h of registry.list()) {
      hostStates[h.state] = (hostStates[h.state] ?? 0) + 1;
    }
    progress(
      `placement: ${hostCount} hosts and ${sessions.size} sessions built in ${
        ((performance.now() - started) / 1000).toFixed(1)
      } s`,
    );
    const breadth = placementSchema.parse({});
    const depth = placementSchema.parse({ strategy: "depth" });
    const random = seeded(7);
    const draws = (n: number): Draw[] =>
      Array.from({ length: n }, () => ({
        user: users[Math.floor(random() * users.length)],
        workspace: workspaces[Math.floor(random() * workspaces.length)],
        settings: random() < 0.75 ? breadth : depth,
      }));

    const outcomes: Record<string, number> = { share: 0, new: 0, none: 0 };
    const decide = (d: Draw): PlacementDecision =>
      place({
        workspace: d.workspace,
        sessions: sessions.ofUser(d.user),
        hosts: registry.index(),
        settings: d.settings,
        exclude: new Set(),
      });
    const decideByScan = (d: Draw): PlacementDecision =>
      place({
        workspace: d.workspace,
        sessions: sessions.ofUser(d.user),
        hosts: registry.list(),
        settings: d.settings,
        exclude: new Set(),
      });

    // The baseline: the user's sessions from a Map, one scan of the hosts.
    // (Counts only: the baseline must not swell the memory measured.)
    const byUser = new Map<string, number>();
    for (const s of sessions.all()) {
      byUser.set(s.user, (byUser.get(s.user) ?? 0) + 1);
    }
    const flat = registry.list().map((h) => ({
      url: h.serverUrl,
      healthy: h.state === "Healthy",
      active: h.heartbeat?.activeSessions ?? 0,
      max: h.heartbeat?.maxSessions ?? h.registration.maxSessions,
    }));
    let sink = 0;
    const baselineOnce = (d: Draw): void => {
      const own = byUser.get(d.user);
      let best = -1;
      let bestScore = Infinity;
      for (let i = 0; i < flat.length; i++) {
        const h = flat[i];
        if (!h.healthy || h.active >= h.max) continue;
        const score = h.active / h.max;
        if (score < bestScore) {
          bestScore = score;
          best = i;
        }
      }
      sink += best + (own ?? 0);
    };

    // Warm the paths up so the JIT has compiled them before timing.
    for (const d of draws(options.warmup)) {
      decide(d);
      baselineOnce(d);
    }

    const work = draws(options.decisions);
    // Collect what building the farm left behind, so that collecting it
    // does not land in the samples (with `--expose-gc`).
    (globalThis as { gc?: () => void }).gc?.();
    const decision: number[] = [];
    const fullScan: number[] = [];
    const placeOnly: number[] = [];
    const baseline: number[] = [];
    const index = registry.index();
    const owned = work.map((d) => sessions.ofUser(d.user));
    // Interleave the series in chunks so noise hits all alike. The full scan
    // comes after, on its own: its garbage (a verdict per host per decision)
    // would bring GC pauses into the others and swell the heap measured.
    const chunk = 500;
    for (let from = 0; from < work.length; from += chunk) {
      signal.throwIfAborted();
      const to = Math.min(work.length, from + chunk);
      for (let i = from; i < to; i++) {
        const t0 = performance.now();
        const result = decide(work[i]);
        decision.push(performance.now() - t0);
        outcomes[result.outcome]++;
      }
      for (let i = from; i < to; i++) {
        const d = work[i];
        const t0 = performance.now();
        place({
          workspace: d.workspace,
          sessions: owned[i],
          hosts: index,
          settings: d.settings,
          exclude: new Set(),
        });
        placeOnly.push(performance.now() - t0);
      }
      for (let i = from; i < to; i++) {
        const t0 = performance.now();
        baselineOnce(work[i]);
        baseline.push(performance.now() - t0);
      }
      // Let Ctrl-C and timers in between chunks.
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    (globalThis as { gc?: () => void }).gc?.();
    const memory = residentBytes();
    for (const d of draws(options.warmup)) decideByScan(d);
    for (let from = 0; from < work.length; from += chunk) {
      signal.throwIfAborted();
      const to = Math.min(work.length, from + chunk);
      for (let i = from; i < to; i++) {
        const t0 = performance.now();
        decideByScan(work[i]);
        fullScan.push(performance.now() - t0);
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
    if (sink === -1) console.log(""); // keeps the baseline from being elided
    return {
      hosts: hostStates,
      sessions: sessions.size,
      users: userCount,
      decision: summarize(decision),
      fullScan: summarize(fullScan),
      placeOnly: summarize(placeOnly),
      baseline: summarize(baseline),
      outcomes,
      memory,
    };
  } finally {
    population.close();
  }
}

/** Host state counts for printing. */
export function describeHosts(states: Record<string, number>): string {
  return Object.entries(states).map(([s, n]) => `${n} ${s}`).join(", ");
}

/** One farm size measured in a process of its own. */
export interface FarmFigures {
  /** Hosts in the farm. */
  hosts: number;
  /** The placement series. */
  result: PlacementResult;
  /** A gateway restarting on the same store: loading its sessions. */
  restart?: RestartFigures;
}

/** Memory of a fresh process that loads the farm's sessions from its store. */
export interface RestartFigures {
  /** Sessions loaded. */
  sessions: number;
  /** Loading time (ms). */
  loadMs: number;
  /** Resident memory after loading and a full GC (bytes). */
  rss: number;
  /** Peak resident memory while loading (bytes). */
  peakRss: number;
}

function residentBytes(): { rss: number; peakRss: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  const kib = (field: string) =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kib("VmRSS"), peakRss: kib("VmHWM") };
}

async function child<T>(mode: string, spec: unknown): Promise<T> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // `--v8-flags=…` given to the bench apply to its children too.
      [
        "--v8-flags=--expose-gc",
        ...Deno.args.filter((a) => a.startsWith("--v8-flags=")).map((a) =>
          a.slice("--v8-flags=".length)
        ),
      ].join(","),
      import.meta.filename!,
      mode,
      JSON.stringify(spec),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) {
    throw new Error(`${mode} ${JSON.stringify(spec)} failed`);
  }
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines.at(-1)!) as T;
}

/**
 * Measures one farm size in a child process (50 sessions per host), then a
 * gateway restarting on its store in another.
 */
export async function measureFarm(
  hosts: number,
  options: { decisions: number; warmup: number },
): Promise<FarmFigures> {
  const dir = await Deno.makeTempDir({ prefix: "placement-" });
  try {
    const farm = await child<FarmFigures>("--farm", { hosts, dir, ...options });
    const restart = await child<RestartFigures>("--restart", { dir });
    return { ...farm, restart };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function restartChild(spec: string): Promise<void> {
  const { dir } = JSON.parse(spec) as { dir: string };
  const store = openSqliteStore(`${dir}/sessions.db`);
  const started = performance.now();
  const sessions = new SessionMap({
    store,
    staleAfter: 3600,
    logger: createLogger({ level: "error", sink: () => {} }),
  });
  await sessions.load(store);
  const loadMs = performance.now() - started;
  (globalThis as { gc?: () => void }).gc?.();
  const figures: RestartFigures = {
    sessions: sessions.size,
    loadMs,
    ...residentBytes(),
  };
  store.close();
  console.log(JSON.stringify(figures));
}

async function farmChild(spec: string): Promise<void> {
  const { hosts, decisions, warmup, dir } = JSON.parse(spec) as {
    hosts: number;
    decisions: number;
    warmup: number;
    dir: string;
  };
  const result = await runPlacementBench({
    hosts,
    sessions: hosts * 50,
    users: hosts * 10,
    decisions,
    warmup,
    dir,
    signal: new AbortController().signal,
    progress: (line) => console.error(line),
  });
  const figures: FarmFigures = { hosts, result };
  console.log(JSON.stringify(figures));
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1e6)} MB`;
}

/** The comparison the issue asks for: 1,000 and 10,000 hosts, as ratios. */
export function formatFarms(small: FarmFigures, large: FarmFigures): string {
  const lines = [
    "hosts   sessions  indexed p50 / p99      full scan p50 / p99    indexed/full p99  baseline p99  RSS (peak) before the full scan",
  ];
  for (const f of [small, large]) {
    const r = f.result;
    lines.push(
      `${String(f.hosts).padEnd(8)}${String(r.sessions).padEnd(10)}${
        `${fine(r.decision.p50)} / ${fine(r.decision.p99)}`.padEnd(23)
      }${`${fine(r.fullScan.p50)} / ${fine(r.fullScan.p99)}`.padEnd(23)}${
        ratio(r.decision.p99, r.fullScan.p99).padEnd(18)
      }${fine(r.baseline.p99).padEnd(14)}${mb(f.result.memory.rss)} (${
        mb(f.result.memory.peakRss)
      })`,
    );
  }
  for (const f of [small, large]) {
    if (!f.restart) continue;
    lines.push(
      `restart with ${f.restart.sessions} sessions in the store: loaded in ${
        ms(f.restart.loadMs)
      }, RSS ${mb(f.restart.rss)} (peak ${mb(f.restart.peakRss)})`,
    );
  }
  lines.push(
    `${large.hosts} hosts against ${small.hosts}: indexed p99 ${
      ratio(large.result.decision.p99, small.result.decision.p99)
    }, full scan p99 ${
      ratio(large.result.fullScan.p99, small.result.fullScan.p99)
    }, RSS ${ratio(large.result.memory.rss, small.result.memory.rss)}, peak ${
      ratio(large.result.memory.peakRss, small.result.memory.peakRss)
    }`,
  );
  return lines.join("\n");
}

if (import.meta.main) {
  const farm = Deno.args.indexOf("--farm");
  const restart = Deno.args.indexOf("--restart");
  if (farm >= 0) await farmChild(Deno.args[farm + 1]);
  else if (restart >= 0) await restartChild(Deno.args[restart + 1]);
  else {
    const quick = Deno.args.includes("--quick");
    const options = quick
      ? { decisions: 1000, warmup: 300 }
      : { decisions: 10_000, warmup: 2000 };
    const small = await measureFarm(1000, options);
    const large = await measureFarm(10_000, options);
    console.log(
      `\nPlacement at scale (50 sessions per host; child process per farm)\n${
        formatFarms(small, large)
      }`,
    );
  }
}
