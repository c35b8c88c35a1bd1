/**
 * The gateway at scale: a real `webstream -gateway` process with 1,000
 * simulated hosts and 50,000 sessions.
 *
 * - **Sessions**: written into the gateway's SQLite store (the real store
 *   module, the real record shape) *before* the gateway starts — 50,000 real
 *   launches would take hours. A restarted gateway gives the sessions it
 *   loads a fresh check-in window; `licence.staleAfter` is raised to an hour
 *   so they stay live through the run without 3,300 check-ins a second.
 * - **Hosts**: registered through the real `POST /gateway/register`, then
 *   one heartbeat each and, through the run, heartbeats at the configured
 *   10 s interval (100 a second); 2 % are drained through the admin API. Their
 *   `serverUrl`s are `http://127.0.0.1:PORT/h/N` on one small loopback
 *   server (a second `baseline_server.ts` process) that answers the
 *   gateway's `GET …/health` probes — every 10 s per host — except for 2 %
 *   that point at a closed port and become Unreachable.
 *
 * Measured: how long the seeding, the gateway's start (loading the store)
 * and the registrations take; the gateway's resident memory (`VmRSS`, and the
 * peak `VmHWM`, from `/proc/<pid>/status`) once everything is registered and
 * again after the load; and `POST /resolveSession?sessionId=<random seeded
 * id>&transport=HTTP` throughput under N concurrent client loops, against
 * the bare baseline server answering the same JSON, in alternating rounds,
 * with the server CPU time per request.
 *
 * @module
 */
import type { BaselineServer } from "./baseline_server.ts";
import { type BenchRunOptions, sleep } from "./common.ts";
import {
  ADMIN_TOKEN,
  benchRun,
  eachLimited,
  farmSession,
  GATEWAY_SECRET,
  type LoadAmount,
  memoryMb,
  runLoad,
  serveBaseline,
  startGatewayProcess,
  writeSessions,
} from "./gateway_common.ts";
import type { LoadFigures } from "./health_bench.ts";
import { benchWorkspaces } from "./placement_bench.ts";
import type { SessionRecord } from "../mod/gateway/types.ts";
import type { HeartbeatPayload, RegisterPayload } from "../mod/contract/mod.ts";
import { freePort } from "../tests/support/ports.ts";

/** Options for {@linkcode runGatewayBench} (the load: `/resolveSession`). */
export interface GatewayBenchOptions extends BenchRunOptions, LoadAmount {
  /** Simulated hosts. */
  hosts: number;
  /** Seeded sessions. */
  sessions: number;
  /** Users the sessions belong to. */
  users: number;
  /** The bare baseline server (its `/resolveSession`). */
  baseline: BaselineServer;
}

/** Everything {@linkcode runGatewayBench} measured. */
export interface GatewayResult {
  /** Simulated hosts registered. */
  hosts: number;
  /** Sessions seeded (and loaded by the gateway). */
  sessions: number;
  /** Seconds to write the sessions into the store. */
  seedSeconds: number;
  /** Seconds from starting the gateway to its `/health` answering. */
  startSeconds: number;
  /** Registrations per second (concurrent). */
  registrationsPerSecond: number;
  /** Hosts healthy at the end, by the gateway's `/health`. */
  healthyHosts: number;
  /** Memory with everything registered, before the load (MB). */
  memoryIdle: { rss: number; peak: number };
  /** Memory after the load (MB). */
  memoryAfterLoad: { rss: number; peak: number };
  /** `/resolveSession` on the gateway. */
  gateway: LoadFigures;
  /** The same JSON from the bare baseline server. */
  baseline: LoadFigures;
  /** Concurrent client loops. */
  concurrency: number;
  /** Measured requests per target. */
  requests: number;
}

const HEARTBEAT_SECONDS = 10;

/** Seeds, starts, registers and loads a real gateway. */
export async function runGatewayBench(
  options: GatewayBenchOptions,
): Promise<GatewayResult> {
  const { signal } = options;
  const progress = options.progress ?? (() => {});
  const { dir, cleanup } = await benchRun("gateway benchmark cleanup");
  try {
    const hostsServer = await serveBaseline(cleanup);
    const closedPort = freePort();
    const registrations: RegisterPayload[] = [];
    for (let n = 0; n < options.hosts; n++) {
      // One in fifty answers nothing: its probes fail.
      const base = n % 50 === 49
        ? `http://127.0.0.1:${closedPort}`
        : hostsServer.url;
      registrations.push({
        serverUrl: `${base}/h/${n}`,
        maxSessions: 60 + (n % 5) * 10,
        instanceType: "c5.2xlarge",
        ec2InstanceId: `i-${n.toString(16).padStart(17, "0")}`,
        tags: [["eu", "us", "ap"][n % 3], ...(n % 4 ? ["office"] : [])],
        capabilities: ["linux", "clipboard"],
        version: "0.1.0",
      });
    }

    // The sessions, straight into the store the gateway will load.
    const storePath = `${dir}/gateway.sqlite`;
    const seedStart = performance.now();
    const ids = seedSessions(storePath, registrations, options);
    const seedSeconds = (performance.now() - seedStart) / 1000;
    progress(
      `gateway: ${ids.length} sessions seeded in ${seedSeconds.toFixed(1)} s`,
    );

    const startAt = performance.now();
    const gateway = await startGatewayProcess({
      dir,
      signal,
      interrupted: options.interrupted,
      gateway: {
        storePath,
        healthCheck: {
          interval: 10,
          timeout: 6,
          heartbeatInterval: HEARTBEAT_SECONDS,
          missedHeartbeats: 3,
        },
        licence: { staleAfter: 3600 },
        workspaces: benchWorkspaces(),
      },
    });
    cleanup.defer(() => gateway.stop());
    const startSeconds = (performance.now() - startAt) / 1000;
    const loaded = gateway.process.logs.find((r) =>
      r.msg === "gateway listening"
    );
    if (loaded?.sessions !== ids.length) {
      throw new Error(
        `the gateway loaded ${loaded?.sessions} sessions, not ${ids.length}`,
      );
    }
    progress(`gateway: started in ${startSeconds.toFixed(1)} s`);

    // Registration through the real API.
    const auth = {
      "Content-Type": "application/json",
      Authorization: `Bearer ${GATEWAY_SECRET}`,
    };
    const client = Deno.createHttpClient({});
    cleanup.defer(() => Promise.resolve(client.close()));
    const post = async (path: string, body: unknown, headers = auth) => {
      signal.throwIfAborted();
      const response = await fetch(`${gateway.url}${path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
        client,
      });
      const text = await response.text();
      if (response.status !== 200) {
        throw new Error(`${path} answered ${response.status}: ${text}`);
      }
    };
    const registerStart = performance.now();
    await eachLimited(registrations, 16, (r) => post("/gateway/register", r));
    const registrationsPerSecond = registrations.length /
      ((performance.now() - registerStart) / 1000);
    progress(
      `gateway: ${registrations.length} hosts registered (${
        registrationsPerSecond.toFixed(0)
      }/s)`,
    );
    await eachLimited(
      registrations,
      16,
      (r, n) => post("/gateway/heartbeat", heartbeat(r, n)),
    );
    await eachLimited(
      registrations.filter((_, n) => n % 50 === 7),
      4,
      (r) =>
        post("/admin/api/hosts/drain", {
          serverUrl: r.serverUrl,
          draining: true,
        }, {
          "Content-Type": "application/json",
          Authorization: `Bearer ${ADMIN_TOKEN}`,
        }),
    );

    // Heartbeats at the configured interval for the rest of the run.
    const beating = new AbortController();
    const beats = (async () => {
      let n = 0;
      const gap = HEARTBEAT_SECONDS * 1000 / registrations.length;
      while (!beating.signal.aborted) {
        const r = registrations[n % registrations.length];
        await post("/gateway/heartbeat", heartbeat(r, n)).catch(() => {});
        n++;
        await sleep(gap, beating.signal).catch(() => {});
      }
    })();
    cleanup.defer(async () => {
      beating.abort();
      await beats;
    });

    // Let the registration probes finish and the process settle.
    await sleep(2000, signal);
    const memoryIdle = await memoryMb(gateway.pid);
    progress(
      `gateway: RSS ${
        memoryIdle.rss.toFixed(0)
      } MB with ${options.hosts} hosts and ${ids.length} sessions`,
    );

    // The resolver answers a seeded session.
    const probe = await fetch(
      `${gateway.url}/resolveSession?sessionId=${ids[0]}&transport=HTTP`,
      { method: "POST" },
    );
    const resolved = await probe.json();
    if (probe.status !== 200 || typeof resolved.SessionId !== "string") {
      throw new Error(
        `/resolveSession answered ${probe.status}: ${JSON.stringify(resolved)}`,
      );
    }

    const pick = () => ids[Math.floor(Math.random() * ids.length)];
    const figures = await runLoad([
      {
        name: "baseline",
        pid: options.baseline.pid,
        next: () => ({
          url:
            `${options.baseline.url}/resolveSession?sessionId=${pick()}&transport=HTTP`,
          init: { method: "POST" },
        }),
      },
      {
        name: "gateway",
        pid: gateway.pid,
        next: () => ({
          url:
            `${gateway.url}/resolveSession?sessionId=${pick()}&transport=HTTP`,
          init: { method: "POST" },
        }),
      },
    ], {
      requests: options.requests,
      rounds: options.rounds,
      warmup: options.warmup,
      concurrency: options.concurrency,
      signal,
      progress,
      label: "/resolveSession",
    });
    const memoryAfterLoad = await memoryMb(gateway.pid);
    const health = await (await fetch(`${gateway.url}/health`)).json();
    return {
      hosts: registrations.length,
      sessions: ids.length,
      seedSeconds,
      startSeconds,
      registrationsPerSecond,
      healthyHosts: Number(health.hosts?.healthy ?? 0),
      memoryIdle,
      memoryAfterLoad,
      gateway: figures.get("gateway")!,
      baseline: figures.get("baseline")!,
      concurrency: options.concurrency,
      requests: Math.ceil(options.requests / options.rounds) * options.rounds,
    };
  } finally {
    await cleanup.run();
  }
}

/** Writes the sessions into a new store; resolves with their ids. */
function seedSessions(
  storePath: string,
  hosts: RegisterPayload[],
  options: { sessions: number; users: number },
): string[] {
  const now = Date.now();
  const records: SessionRecord[] = [];
  for (let i = 0; i < options.sessions; i++) {
    records.push(farmSession(i, now, {
      user: `user${(i * 7919) % options.users}`,
      serverUrl: hosts[i % hosts.length].serverUrl,
      host: "127.0.0.1",
    }));
  }
  writeSessions(storePath, records);
  return records.map((r) => r.sessionId);
}

/** A heartbeat of simulated host `n` with varied load. */
function heartbeat(r: RegisterPayload, n: number): HeartbeatPayload {
  return {
    serverUrl: r.serverUrl,
    status: "healthy",
    activeSessions: (n * 13) % r.maxSessions,
    maxSessions: r.maxSessions,
    instanceType: r.instanceType,
    tags: r.tags,
    cpuUsage: (n * 37) % 90,
    memoryUsage: (n * 53) % 90,
    timestamp: new Date().toISOString(),
  };
}
