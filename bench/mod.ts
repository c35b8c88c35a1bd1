/**
 * # Session host and gateway benchmarks
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
 * Then the gateway's, at the issue's scale of 1,000 hosts and 50,000
 * sessions:
 *
 * 3. **Placement** ({@link ./placement_bench.ts}), in-process: a real host
 *    registry (1,000 hosts with varied tags and load, some drained or
 *    unreachable) and session map (50,000 sessions of 10,000 users); random
 *    launches of sharable apps, desktops and tag-restricted workspaces.
 *    p50/p99/max of a decision as the launcher times it at scale (the
 *    user's sessions, `place()` on the registry's index), of the full scan
 *    it replaced, of `place()` alone, and of a trivial baseline (a `Map`
 *    lookup and one scan of 1,000 hosts). `deno run -A
 *    bench/placement_bench.ts` compares 1,000 and 10,000 hosts, with memory.
 * 4. **Gateway at scale** ({@link ./gateway_bench.ts}): a real
 *    `webstream -gateway` process whose SQLite store is seeded with 50,000
 *    sessions before it starts, with 1,000 simulated hosts registered (and
 *    heartbeating) through `POST /gateway/register` and probed by the
 *    gateway on one loopback server; `POST /resolveSession` throughput
 *    against the bare baseline answering the same JSON (32 loops,
 *    alternating rounds, server CPU per request), and the gateway's resident
 *    memory (`VmRSS`/`VmHWM`).
 * 5. **WebSocket proxy** ({@link ./proxy_bench.ts}): the gateway's
 *    `/ws/:sessionId` relaying to a loopback echo server (a seeded session
 *    points at it) against connecting to the echo server directly, and
 *    against the least a relay can do in Deno (a bare `Deno.serve` relay):
 *    throughput with 64 KiB messages echoed, throughput of streamer-like
 *    frames answered with pointer moves and ACKs, and round trips; then the
 *    ping round trip of a real streamer (real host, real desktop launch
 *    through the gateway) through the gateway and directly. Also by itself:
 *    `deno run -A bench/proxy_bench.ts [--quick] [--shared] [--echo-mib=<n>]`.
 *
 * 6. **Cold desktop** ({@link ./desktop_bench.ts}): cold desktop launches
 *    with the default desktop shell (openbox + lxpanel) against bare
 *    sessions (`X-Workspace-Shell: none`), alternating on one host:
 *    `/getConnection` → first frame, → desktop shown (the first frame once
 *    a window manager and a panel are up), and memory per session.
 *    (`bench/desktop_shell_bench.ts`, run by itself, compares the shell
 *    candidates on a bare Xvfb.)
 * 7. **Click → first frame** ({@link ./launch_bench.ts}): headless
 *    Chromium signs in on a real gateway's portal and clicks an app tile;
 *    the page's own marks split click → first frame drawn into phases, for
 *    the first launch right after sign-in and a later one (warm pool), and
 *    a cold one; the same warm launch without a browser is the floor.
 *
 * Every figure has a **baseline** measured in the same run, the same way: a
 * bare `Deno.serve` child process ({@link ./baseline_server.ts}) answering
 * `/health`- and `/getConnection`-like JSON of the same size at once. Machines
 * are shared and noisy, so read the **ratios** (host ÷ baseline, `×8.0` means
 * eight times the baseline's latency; for throughput, below `×1` means fewer
 * requests per second than the baseline): they cancel out most of the
 * machine's speed and load. The baseline pays the same process start-up,
 * loopback and HTTP costs, so the ratio is what the host adds — routing,
 * validation, the pool, the streamer round trip. For the gateway the same
 * baseline server answers `/resolveSession`-like JSON; placement is compared
 * with a trivial in-process scan, and the proxy with a direct connection and
 * a bare relay. Memory has no baseline (the figure is absolute).
 *
 * Targets from the issue: warm `/getConnection` under 20 ms, cold under
 * 1.5 s (absolute, on the p50); placement p99 under 1 ms (absolute);
 * `/resolveSession` throughput at least half the bare baseline's; gateway
 * memory under 300 MB (the peak, absolute); proxied WebSocket throughput at
 * least 70 % of a direct connection's and an added p50 round trip under
 * 1 ms (both against the direct connection measured in the same run). A
 * missed target is reported, never an error: the run exits 0 when it
 * measured everything, 1 when a benchmark could not run, 130 when
 * interrupted. Ctrl-C stops the hosts and gateways by PID, removes their
 * pool users and temporary folders.
 *
 * Options: `--quick` runs a few iterations only (a smoke run, but at the
 * full 1,000 hosts and 50,000 sessions; about 15 s); the default sizes the
 * run to two to three minutes on 2 cores.
 *
 * @module
 */
import { type BaselineServer, startBaselineServer } from "./baseline_server.ts";
import { fine, handleInterrupts, ms, ratio, type Stats } from "./common.ts";
import {
  type GetConnectionResult,
  type LaunchFigures,
  runGetConnectionBench,
} from "./get_connection_bench.ts";
import { type HealthResult, runHealthBench } from "./health_bench.ts";
import { type GatewayResult, runGatewayBench } from "./gateway_bench.ts";
import {
  describeHosts,
  type PlacementResult,
  runPlacementBench,
} from "./placement_bench.ts";
import {
  formatProxyBench,
  pinsRelays,
  PROXY_TARGETS,
  type ProxyResult,
  runProxyBench,
} from "./proxy_bench.ts";
import { formatDesktopBench, runDesktopBench } from "./desktop_bench.ts";
import { formatLaunchBench, runLaunchBench } from "./launch_bench.ts";

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
  /** Measured placement decisions per series. */
  placementDecisions: number;
  /** Unmeasured placement decisions first. */
  placementWarmup: number;
  /** Simulated hosts registered with the gateway. */
  gatewayHosts: number;
  /** Sessions seeded into the gateway's store. */
  gatewaySessions: number;
  /** Users those sessions belong to. */
  gatewayUsers: number;
  /** Measured `/resolveSession` requests per target. */
  resolveRequests: number;
  /** Alternating `/resolveSession` rounds. */
  resolveRounds: number;
  /** Unmeasured `/resolveSession` requests per target. */
  resolveWarmup: number;
  /** Alternating WebSocket rounds (direct, bare relay, gateway). */
  proxyRounds: number;
  /** Bytes echoed per WebSocket round and path. */
  proxyBytes: number;
  /** Echo round trips per WebSocket round and path. */
  proxyPings: number;
  /** Rounds of real streamer pings (through the gateway, direct). */
  streamerRounds: number;
  /** Streamer pings per round and path. */
  streamerPings: number;
  /** Cold desktop launches of each kind (shell, bare). */
  desktopSamples: number;
  /** Click → first frame samples of each case. */
  launchSamples: number;
}

/** The default (full) run: two to three minutes on 2 cores. */
export const FULL: BenchSizes = {
  baselineSamples: 100,
  warmSamples: 100,
  coldSamples: 60,
  healthRequests: 40_000,
  healthRounds: 4,
  healthWarmup: 2_000,
  concurrency: 32,
  placementDecisions: 20_000,
  placementWarmup: 2_000,
  gatewayHosts: 1000,
  gatewaySessions: 50_000,
  gatewayUsers: 10_000,
  resolveRequests: 100_000,
  resolveRounds: 4,
  resolveWarmup: 4_000,
  proxyRounds: 4,
  proxyBytes: 256 * 1024 * 1024,
  proxyPings: 1000,
  streamerRounds: 4,
  streamerPings: 250,
  desktopSamples: 8,
  launchSamples: 6,
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
  placementDecisions: 2_000,
  placementWarmup: 500,
  gatewayHosts: 1000,
  gatewaySessions: 50_000,
  gatewayUsers: 10_000,
  resolveRequests: 4_000,
  resolveRounds: 2,
  resolveWarmup: 500,
  proxyRounds: 2,
  proxyBytes: 32 * 1024 * 1024,
  proxyPings: 100,
  streamerRounds: 1,
  streamerPings: 50,
  desktopSamples: 2,
  launchSamples: 2,
};

/** Target p50s from the issue, ms. */
const TARGETS = { warm: 20, cold: 1500 };

/** The gateway's targets from the issue. */
const GATEWAY_TARGETS = {
  /** Placement decision p99, ms. */
  placementP99: 1,
  /** `/resolveSession` throughput, at least this × the bare baseline's. */
  resolveRatio: 0.5,
  /** Peak resident memory, MB. */
  memoryMb: 300,
  ...PROXY_TARGETS,
};

function atLeast(value: number, target: number): string {
  return value >= target ? "met" : "MISSED";
}

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
  const kinds: [
    "warm" | "cold",
    LaunchFigures | undefined,
    number,
  ][] = [
    ["warm", r.warm, TARGETS.warm],
    ["cold", r.cold, TARGETS.cold],
  ];
  for (const [kind, f, target] of kinds) {
    if (!f) {
      console.log(`  ${kind} launches failed: ${r.errors[kind]}`);
      continue;
    }
    console.log(
      `${line(`  ${kind} /getConnection`, f.allocation, r.baseline)} — ` +
        `target < ${ms(target)}: ${verdict(f.allocation.p50, target)}`,
    );
    console.log(line(`  ${kind} stream open (token → hello)`, f.streamOpen));
    console.log(
      line(`  ${kind} ready to stream (request → hello)`, f.readyToStream),
    );
    if (f.recycled) {
      console.log(
        `  ${kind}: ${f.recycled} launches retried (the session was recycled before the viewer connected)`,
      );
    }
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

/** Like `ms`, with microseconds below 0.1 ms (placement, loopback trips). */
function printPlacement(r: PlacementResult): void {
  console.log(
    `\nPlacement (in-process; ${
      describeHosts(r.hosts)
    } hosts, ${r.sessions} sessions of ${r.users} users; ${
      Object.entries(r.outcomes).map(([o, n]) => `${n} ${o}`).join(", ")
    })`,
  );
  const row = (label: string, s: Stats): string =>
    `  ${label.padEnd(40)} p50 ${fine(s.p50)}, p99 ${fine(s.p99)}, max ${
      fine(s.max)
    } [n=${s.count}]`;
  console.log(
    `${
      row("decision (sessions + index + place())", r.decision)
    } — target p99 < ${ms(GATEWAY_TARGETS.placementP99)}: ${
      verdict(r.decision.p99, GATEWAY_TARGETS.placementP99)
    }`,
  );
  console.log(row("full scan (as before the index)", r.fullScan));
  console.log(row("place() alone", r.placeOnly));
  console.log(row("baseline (Map lookup + one host scan)", r.baseline));
  console.log(
    `  decision/baseline: p50 ${ratio(r.decision.p50, r.baseline.p50)}, p99 ${
      ratio(r.decision.p99, r.baseline.p99)
    }`,
  );
}

function printGateway(r: GatewayResult): void {
  console.log(
    `\nGateway (real process; ${r.hosts} hosts registered, ${r.healthyHosts} healthy at the end; ${r.sessions} sessions seeded)`,
  );
  console.log(
    `  setup: seeding ${
      r.seedSeconds.toFixed(1)
    } s, start (loading the store) ${r.startSeconds.toFixed(1)} s, ${
      r.registrationsPerSecond.toFixed(0)
    } registrations/s`,
  );
  console.log(
    `  memory: RSS ${r.memoryIdle.rss.toFixed(0)} MB registered and idle, ${
      r.memoryAfterLoad.rss.toFixed(0)
    } MB after the load, peak ${
      r.memoryAfterLoad.peak.toFixed(0)
    } MB — target < ${GATEWAY_TARGETS.memoryMb} MB: ${
      verdict(r.memoryAfterLoad.peak, GATEWAY_TARGETS.memoryMb)
    }`,
  );
  console.log(
    `  /resolveSession under load (${r.concurrency} concurrent loops, ${r.requests} requests per target)`,
  );
  for (
    const [name, f] of [["gateway", r.gateway], [
      "baseline",
      r.baseline,
    ]] as const
  ) {
    console.log(
      `    ${name.padEnd(8)} ${f.rps.toFixed(0)} req/s, p50 ${
        ms(f.latency.p50)
      }, p99 ${ms(f.latency.p99)}, server CPU ${
        f.cpuPerRequestUs.toFixed(0)
      } µs/request${f.errors ? `, ${f.errors} errors` : ""}`,
    );
  }
  const throughput = r.gateway.rps / r.baseline.rps;
  console.log(
    `    gateway/baseline: throughput ${
      ratio(r.gateway.rps, r.baseline.rps)
    } — target ≥ ×${GATEWAY_TARGETS.resolveRatio.toFixed(2)}: ${
      atLeast(throughput, GATEWAY_TARGETS.resolveRatio)
    }; server CPU ${
      ratio(r.gateway.cpuPerRequestUs, r.baseline.cpuPerRequestUs)
    }`,
  );
}

function printProxy(r: ProxyResult): void {
  console.log(`\n${formatProxyBench(r)}`);
}

/** A whole number. */
function whole(value: number): string {
  return value.toFixed(0);
}

/** Whole microseconds. */
function micros(value: number): string {
  return `${value.toFixed(0)} µs`;
}

/**
 * A summary row: `value` and `baseline` shown with `format`, their ratio,
 * then the target and verdict if there are any.
 */
function compared(
  measure: string,
  value: number,
  baseline: number,
  format: (value: number) => string,
  target = "",
  judged = "",
): string[] {
  return [
    measure,
    format(value),
    format(baseline),
    ratio(value, baseline),
    target,
    judged,
  ];
}

/** A summary row with no baseline: `shown`, then any target and verdict. */
function alone(
  measure: string,
  shown: string,
  target = "",
  judged = "",
): string[] {
  return [measure, shown, "", "", target, judged];
}

/** What the gateway benchmarks measured, for the summary. */
interface GatewayFigures {
  placement?: PlacementResult;
  gateway?: GatewayResult;
  proxy?: ProxyResult;
}

function gatewayRows(g: GatewayFigures): string[][] {
  const rows: string[][] = [];
  const t = GATEWAY_TARGETS;
  if (g.placement) {
    const p = g.placement;
    rows.push(
      compared(
        "placement decision p99",
        p.decision.p99,
        p.baseline.p99,
        fine,
        `< ${ms(t.placementP99)}`,
        verdict(p.decision.p99, t.placementP99),
      ),
      compared(
        "placement decision p50",
        p.decision.p50,
        p.baseline.p50,
        fine,
      ),
      alone("place() alone p99", fine(p.placeOnly.p99)),
    );
  }
  if (g.gateway) {
    const r = g.gateway;
    rows.push(
      compared(
        "/resolveSession req/s under load",
        r.gateway.rps,
        r.baseline.rps,
        whole,
        `≥ ×${t.resolveRatio.toFixed(2)}`,
        atLeast(r.gateway.rps / r.baseline.rps, t.resolveRatio),
      ),
      compared(
        "/resolveSession p99 under load",
        r.gateway.latency.p99,
        r.baseline.latency.p99,
        ms,
      ),
      compared(
        "/resolveSession server CPU/request",
        r.gateway.cpuPerRequestUs,
        r.baseline.cpuPerRequestUs,
        micros,
      ),
      alone(
        "gateway memory (peak RSS)",
        `${r.memoryAfterLoad.peak.toFixed(0)} MB`,
        `< ${t.memoryMb} MB`,
        verdict(r.memoryAfterLoad.peak, t.memoryMb),
      ),
    );
  }
  if (g.proxy) {
    const r = g.proxy;
    const added = r.echo.proxy.p50 - r.echo.direct.p50;
    rows.push(
      compared(
        "WebSocket proxy echo MB/s (vs direct)",
        r.throughput.proxy,
        r.throughput.direct,
        whole,
        `≥ ×${t.proxyRatio.toFixed(2)}`,
        atLeast(r.throughput.proxy / r.throughput.direct, t.proxyRatio),
      ),
      compared(
        "WebSocket proxy stream MB/s, loopback (vs direct)",
        r.stream.proxy,
        r.stream.direct,
        whole,
        `≥ ×${t.proxyRatio.toFixed(2)}`,
        atLeast(r.stream.proxy / r.stream.direct, t.proxyRatio),
      ),
      compared(
        `WebSocket proxy stream MB/s, ${r.lanRttMs} ms round trip (vs direct)`,
        r.lanStream.proxy,
        r.lanStream.direct,
        whole,
        `≥ ×${t.proxyRatio.toFixed(2)}`,
        atLeast(r.lanStream.proxy / r.lanStream.direct, t.proxyRatio),
      ),
      compared(
        "WebSocket proxy MB/s (vs bare relay)",
        r.throughput.proxy,
        r.throughput.bareRelay,
        whole,
      ),
      [
        "WebSocket added p50 round trip (echo)",
        `+${fine(added)}`,
        fine(r.echo.direct.p50),
        ratio(r.echo.proxy.p50, r.echo.direct.p50),
        `< ${ms(t.addedP50)}`,
        verdict(added, t.addedP50),
      ],
    );
    if (r.streamer) {
      const s = r.streamer;
      const streamerAdded = s.proxy.p50 - s.direct.p50;
      rows.push([
        "streamer added p50 ping",
        `+${fine(streamerAdded)}`,
        fine(s.direct.p50),
        ratio(s.proxy.p50, s.direct.p50),
        `< ${ms(t.addedP50)}`,
        verdict(streamerAdded, t.addedP50),
      ]);
    }
  }
  return rows;
}

function printSummary(
  gc: GetConnectionResult | undefined,
  health: HealthResult | undefined,
  gateway: GatewayFigures,
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
    for (const kind of ["warm", "cold"] as const) {
      const f = gc[kind];
      if (!f) {
        rows.push(alone(`${kind} /getConnection`, "", "", "FAILED TO RUN"));
        continue;
      }
      rows.push(
        compared(
          `${kind} /getConnection p50`,
          f.allocation.p50,
          b,
          ms,
          `< ${ms(TARGETS[kind])}`,
          verdict(f.allocation.p50, TARGETS[kind]),
        ),
        alone(`${kind} ready to stream p50`, ms(f.readyToStream.p50)),
      );
    }
  }
  if (health) {
    rows.push(
      compared(
        "/health req/s under load",
        health.host.rps,
        health.baseline.rps,
        whole,
      ),
      compared(
        "/health p50 under load",
        health.host.latency.p50,
        health.baseline.latency.p50,
        ms,
      ),
      compared(
        "/health p99 under load",
        health.host.latency.p99,
        health.baseline.latency.p99,
        ms,
      ),
      compared(
        "/health server CPU/request",
        health.host.cpuPerRequestUs,
        health.baseline.cpuPerRequestUs,
        micros,
      ),
    );
  }
  // The gateway's part, under its own header row.
  const gatewayPart = gatewayRows(gateway);
  const gatewayHeader = [
    "Gateway",
    "gateway",
    "baseline",
    "gateway/baseline",
    "target",
    "verdict",
  ];
  const all = [...rows, ...(gatewayPart.length ? [gatewayHeader] : [])];
  all.push(...gatewayPart);
  for (const failure of failures) {
    all.push(alone(failure, "", "", "FAILED TO RUN"));
  }
  const widths = all[0].map((_, i) => Math.max(...all.map((r) => r[i].length)));
  const format = (r: string[]): string =>
    r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  const rule = widths.map((w) => "-".repeat(w)).join("  ");
  console.log("\nSummary");
  console.log(format(all[0]));
  console.log(rule);
  for (const r of all.slice(1)) {
    if (r === gatewayHeader) {
      console.log("");
      console.log(format(r));
      console.log(rule);
    } else console.log(format(r));
  }
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
    `session host and gateway benchmarks (${
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
      if (!gc.warm || !gc.cold) failures.push("/getConnection");
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
    const gateway: GatewayFigures = {};
    try {
      gateway.placement = await runPlacementBench({
        hosts: sizes.gatewayHosts,
        sessions: sizes.gatewaySessions,
        users: sizes.gatewayUsers,
        decisions: sizes.placementDecisions,
        warmup: sizes.placementWarmup,
        signal: interrupt.signal,
        progress,
      });
      printPlacement(gateway.placement);
    } catch (error) {
      if (interrupted()) throw error;
      console.error("the placement benchmark failed:", error);
      failures.push("placement");
    }
    try {
      gateway.gateway = await runGatewayBench({
        ...common,
        hosts: sizes.gatewayHosts,
        sessions: sizes.gatewaySessions,
        users: sizes.gatewayUsers,
        requests: sizes.resolveRequests,
        rounds: sizes.resolveRounds,
        warmup: sizes.resolveWarmup,
        concurrency: sizes.concurrency,
      });
      printGateway(gateway.gateway);
    } catch (error) {
      if (interrupted()) throw error;
      console.error("the gateway benchmark failed:", error);
      failures.push("gateway at scale");
    }
    try {
      gateway.proxy = await runProxyBench({
        signal: interrupt.signal,
        interrupted,
        progress,
        rounds: sizes.proxyRounds,
        throughputBytes: sizes.proxyBytes,
        pings: sizes.proxyPings,
        streamerRounds: sizes.streamerRounds,
        streamerPings: sizes.streamerPings,
        pinned: pinsRelays(Deno.args),
      });
      printProxy(gateway.proxy);
      if (gateway.proxy.streamerError) failures.push("streamer ping (proxy)");
    } catch (error) {
      if (interrupted()) throw error;
      console.error("the WebSocket proxy benchmark failed:", error);
      failures.push("WebSocket proxy");
    }
    try {
      const desktop = await runDesktopBench({
        samples: sizes.desktopSamples,
        signal: interrupt.signal,
        interrupted,
        progress,
      });
      console.log(
        `\nCold desktop: the default shell against a bare session\n${
          formatDesktopBench(desktop)
        }`,
      );
    } catch (error) {
      if (interrupted()) throw error;
      console.error("the desktop benchmark failed:", error);
      failures.push("cold desktop");
    }
    try {
      const launch = await runLaunchBench({
        samples: sizes.launchSamples,
        signal: interrupt.signal,
        interrupted,
        progress,
      });
      console.log(
        `\nClick → first frame in Chromium (portal, app tile)\n${
          formatLaunchBench(launch)
        }`,
      );
    } catch (error) {
      if (interrupted()) throw error;
      console.error("the click → first frame benchmark failed:", error);
      failures.push("click → first frame");
    }
    printSummary(gc, health, gateway, failures);
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
