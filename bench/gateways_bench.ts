/**
 * Launches per second with 1, 2 and 3 gateways on one PostgreSQL: three real
 * `webstream -gateway` processes on one real PostgreSQL database
 * (`tests/support/postgres.ts`), and concurrent clients, each a signed-in
 * user, launching new desktop sessions (`POST /api/launch`, a desktop
 * workspace the user has no session of, so every launch places a new
 * session, calls its host and stores the session durably before answering),
 * spread round-robin over the first 1, 2 or 3 gateways. The sign-in cookie
 * comes from the first gateway and is good on all (the cookie secret is in
 * the store).
 *
 * **The hosts are fast loopback hosts** (`fast_host.ts`): they answer the
 * host API for real (shared secret, `/getConnection` in contract, the
 * session list the gateway reconciles with), but log nobody on. A real host
 * takes 0.1 s for a warm launch and seconds for a cold one, and would be all
 * a launch-throughput figure showed; this one is the gateway tier's (placement,
 * the host call, the store) and says nothing about logon times. Every host is
 * registered with every gateway (as hosts that list several gateway URLs do).
 *
 * Rounds alternate 1, 2, 3 gateways on the same database, the idle gateways
 * running, so a burst of noise hits all alike; launches/s is printed as a
 * ratio against the 1-gateway figure of the same run, with p50/p99 of a
 * launch and the CPU time per launch of the gateways and of PostgreSQL (all
 * its processes), from `/proc`. All clients and servers share the machine's
 * cores: on 2 cores the clients, the gateways, PostgreSQL and the hosts
 * compete, so read the ratios with that.
 *
 * `deno run -A bench/gateways_bench.ts [--quick]` (`deno task
 * bench:gateways`). Every process is stopped by its PID.
 *
 * @module
 */
import { hashPassword } from "../mod/gateway/auth/password.ts";
import { startPostgres } from "../tests/support/postgres.ts";
import {
  type BenchRunOptions,
  ms,
  ratio,
  type Stats,
  summarize,
} from "./common.ts";
import { type FastHosts, startFastHosts } from "./fast_host.ts";
import { findProcess, treeCpuSeconds } from "./proc_stat.ts";
import {
  benchMain,
  benchRun,
  cpuSeconds,
  eachLimited,
  GATEWAY_SECRET,
  type GatewayProcess,
  signIn,
  startGatewayProcess,
  type TimedLoops,
  timedLoops,
} from "./gateway_common.ts";

/** Options for {@linkcode runGatewaysBench}. */
export interface GatewaysBenchOptions extends BenchRunOptions {
  /** Gateway counts compared (the first is the baseline). */
  gatewayCounts: number[];
  /** Concurrent clients (one user each). */
  clients: number;
  /** Measured launches per round and gateway count. */
  launches: number;
  /** Alternating rounds. */
  rounds: number;
  /** Unmeasured launches per gateway count first. */
  warmup: number;
  /** Simulated hosts. */
  hosts: number;
}

/** One gateway count's figures. */
export interface GatewaysFigures {
  /** Gateways the launches were spread over. */
  gateways: number;
  /** Launches answered with a new session per second. */
  launchesPerSecond: number;
  /** Launch latency (ms). */
  latency: Stats;
  /** Launches that failed (not a 200 with a new session). */
  errors: number;
  /** CPU time of the gateways used, per launch (ms). */
  cpuMsPerLaunch: number;
  /** CPU time of PostgreSQL (all its processes), per launch (ms). */
  databaseCpuMsPerLaunch: number;
  /** Measured launches. */
  launches: number;
}

/** Everything {@linkcode runGatewaysBench} measured. */
export interface GatewaysResult {
  /** By gateway count, in the order asked. */
  figures: GatewaysFigures[];
  /** Concurrent clients. */
  clients: number;
  /** Simulated hosts. */
  hosts: number;
  /** The first error a launch got, if any. */
  firstError?: string;
}

const PASSWORD = "bench-password";

interface Round extends TimedLoops {
  cpuSeconds: number;
  databaseCpuSeconds: number;
}

/** Runs the clients against `gateways`, round-robin, `total` launches. */
async function launchRound(
  gateways: GatewayProcess[],
  clients: { cookie: string; next: number }[],
  total: number,
  options: {
    signal: AbortSignal;
    onError: (error: string) => void;
    /** PostgreSQL's postmaster. */
    databasePid: number;
  },
): Promise<Round> {
  const http = Deno.createHttpClient({});
  try {
    const cpu = async () => {
      let sum = 0;
      for (const g of gateways) sum += await cpuSeconds(g.pid);
      return sum;
    };
    const cpuBefore = await cpu();
    const databaseBefore = await treeCpuSeconds(options.databasePid);
    // Launch k is client k % clients' and goes to gateway k % gateways:
    // every client does its share, spread over every gateway.
    const launchOf = clients.map((_, c) => c);
    const round = await timedLoops(clients.length, {
      signal: options.signal,
      onError: options.onError,
      next: (c) => {
        const k = launchOf[c];
        if (k >= total) return undefined;
        launchOf[c] += clients.length;
        const client = clients[c];
        const gateway = gateways[k % gateways.length];
        // A desktop this user has no session of: a new session each time.
        const workspaceId = `desktop-${client.next++}`;
        return async () => {
          const response = await fetch(`${gateway.url}/api/launch`, {
            method: "POST",
            headers: {
              "Content-Type": "application/json",
              Cookie: client.cookie,
            },
            body: JSON.stringify({ workspaceId }),
            client: http,
            signal: AbortSignal.timeout(30_000),
          });
          const body = await response.json();
          return response.status === 200 && body.outcome === "new"
            ? undefined
            : `${response.status} ${JSON.stringify(body)}`;
        };
      },
    });
    return {
      ...round,
      cpuSeconds: await cpu() - cpuBefore,
      databaseCpuSeconds: await treeCpuSeconds(options.databasePid) -
        databaseBefore,
    };
  } finally {
    http.close();
  }
}

/** Starts the farm and measures every gateway count. */
export async function runGatewaysBench(
  options: GatewaysBenchOptions,
): Promise<GatewaysResult> {
  const { signal } = options;
  const progress = options.progress ?? (() => {});
  const most = Math.max(...options.gatewayCounts);
  const share = (launches: number) => Math.ceil(launches / options.clients);
  const perClient = options.gatewayCounts.length *
    (share(options.warmup) + options.rounds * share(options.launches));
  const { dir, cleanup } = await benchRun("gateways benchmark cleanup");
  try {
    const postgres = await startPostgres();
    cleanup.defer(() => postgres.stop());
    const url = await postgres.createDatabase();
    const databasePid = await findProcess(`-D ${postgres.socketDir}/data`);
    if (!databasePid) throw new Error("PostgreSQL's server process not found");
    const hosts: FastHosts = await startFastHosts(GATEWAY_SECRET);
    cleanup.defer(() => hosts.stop());

    // A cheap scrypt cost: signing in is not what is measured.
    const hash = await hashPassword(PASSWORD, { N: 1024 });
    const users = Array.from({ length: options.clients }, (_, i) => ({
      name: `user${i}`,
      passwordHash: hash,
    }));
    const workspaces = Array.from({ length: perClient }, (_, i) => ({
      id: `desktop-${i}`,
      name: `Desktop ${i}`,
      kind: "desktop",
    }));
    const gateways: GatewayProcess[] = [];
    for (let i = 0; i < most; i++) {
      const gateway = await startGatewayProcess({
        dir: `${dir}/gateway-${i}`,
        signal,
        interrupted: options.interrupted,
        // `--v8-flags=…` given to the bench apply to the gateways.
        run: {
          denoFlags: Deno.args.filter((a) => a.startsWith("--v8-flags=")),
        },
        gateway: {
          store: { url },
          healthCheck: { interval: 10, timeout: 6, heartbeatInterval: 10 },
          licence: { staleAfter: 3600 },
          // Sessions alone decide; nothing the machine's load does.
          placement: {
            weights: { sessions: 1, cpu: 0, memory: 0 },
            overload: { sessionRatio: 1, cpuUsage: 100, memoryUsage: 100 },
            maxConcurrentLogons: 1000,
          },
          auth: { users },
          workspaces,
        },
      });
      cleanup.defer(() => gateway.stop());
      gateways.push(gateway);
    }
    progress(`gateways: ${most} gateways on one PostgreSQL`);

    // Every host registers with every gateway, and says it is idle.
    const post = async (base: string, path: string, body: unknown) => {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          Authorization: `Bearer ${GATEWAY_SECRET}`,
        },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status !== 200) {
        throw new Error(`${path} answered ${response.status}: ${text}`);
      }
    };
    const maxSessions = 100_000;
    for (const gateway of gateways) {
      await eachLimited(
        Array.from({ length: options.hosts }, (_, n) => hosts.url(n)),
        8,
        async (serverUrl) => {
          await post(gateway.url, "/gateway/register", {
            serverUrl,
            maxSessions,
            instanceType: "c5.2xlarge",
            ec2InstanceId: `i-${
              serverUrl.split("/").at(-1)!.padStart(17, "0")
            }`,
            tags: [],
            capabilities: ["linux"],
            version: "0.1.0",
          });
          await post(gateway.url, "/gateway/heartbeat", {
            serverUrl,
            status: "healthy",
            activeSessions: 0,
            maxSessions,
            instanceType: "c5.2xlarge",
            tags: [],
            cpuUsage: 0,
            memoryUsage: 0,
            timestamp: new Date().toISOString(),
          });
        },
      );
    }
    const clients = [];
    for (const user of users) {
      clients.push({
        cookie: await signIn(gateways[0].url, user.name, PASSWORD),
        next: 0,
      });
    }
    progress(
      `gateways: ${options.hosts} fast hosts registered with each, ${clients.length} users signed in`,
    );

    let firstError: string | undefined;
    const onError = (error: string) => firstError ??= error;
    const roundOptions = { signal, onError, databasePid };
    const sets = options.gatewayCounts.map((n) => gateways.slice(0, n));
    for (const set of sets) {
      await launchRound(set, clients, options.warmup, roundOptions);
    }
    const rounds = new Map<number, Round[]>(
      options.gatewayCounts.map((n) => [n, []]),
    );
    for (let round = 1; round <= options.rounds; round++) {
      for (const set of sets) {
        const r = await launchRound(
          set,
          clients,
          options.launches,
          roundOptions,
        );
        rounds.get(set.length)!.push(r);
        progress(
          `  launches, ${set.length} gateway${
            set.length > 1 ? "s" : ""
          }, round ${round}/${options.rounds}: ${
            (r.latencies.length / r.seconds).toFixed(0)
          } launches/s${r.errors ? `, ${r.errors} errors` : ""}`,
        );
      }
    }
    const figures = options.gatewayCounts.map((n): GatewaysFigures => {
      const all = rounds.get(n)!;
      const latencies = all.flatMap((r) => r.latencies);
      const seconds = all.reduce((sum, r) => sum + r.seconds, 0);
      const errors = all.reduce((sum, r) => sum + r.errors, 0);
      const cpu = all.reduce((sum, r) => sum + r.cpuSeconds, 0);
      const database = all.reduce((sum, r) => sum + r.databaseCpuSeconds, 0);
      return {
        gateways: n,
        launchesPerSecond: (latencies.length - errors) / seconds,
        latency: summarize(latencies),
        errors,
        cpuMsPerLaunch: cpu * 1000 / latencies.length,
        databaseCpuMsPerLaunch: database * 1000 / latencies.length,
        launches: latencies.length,
      };
    });
    return {
      figures,
      clients: options.clients,
      hosts: options.hosts,
      firstError,
    };
  } finally {
    await cleanup.run();
  }
}

/** The figures, as ratios against the first gateway count's. */
export function formatGatewaysBench(result: GatewaysResult): string {
  const base = result.figures[0];
  const lines = [
    `(${result.clients} concurrent clients, ${result.hosts} fast loopback hosts answering the host API: the gateway tier is measured, not logons)`,
    "gateways  launches/s  ×1 gateway  launch p50 / p99     CPU per launch: gateways, PostgreSQL  errors",
  ];
  for (const f of result.figures) {
    lines.push(
      `${String(f.gateways).padEnd(10)}${
        f.launchesPerSecond.toFixed(0).padEnd(12)
      }${ratio(f.launchesPerSecond, base.launchesPerSecond).padEnd(12)}${
        `${ms(f.latency.p50)} / ${ms(f.latency.p99)}`.padEnd(21)
      }${
        `${f.cpuMsPerLaunch.toFixed(2)} ms, ${
          f.databaseCpuMsPerLaunch.toFixed(2)
        } ms`.padEnd(38)
      }${f.errors}`,
    );
  }
  if (result.firstError) lines.push(`first error: ${result.firstError}`);
  return lines.join("\n");
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  await benchMain(
    `launches per second with 1, 2 and 3 gateways on one PostgreSQL (${
      quick ? "quick" : "full"
    } run)`,
    {
      name: "gateways",
      run: async (run) => {
        const result = await runGatewaysBench({
          gatewayCounts: [1, 2, 3],
          clients: quick ? 12 : 24,
          launches: quick ? 120 : 600,
          rounds: quick ? 1 : 3,
          warmup: quick ? 60 : 240,
          hosts: 20,
          ...run,
        });
        return `Launches per second, gateways on one PostgreSQL\n${
          formatGatewaysBench(result)
        }`;
      },
    },
  );
}
