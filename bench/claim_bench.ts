/**
 * # Farm-wide claims on PostgreSQL
 *
 * `deno run -A bench/claim_bench.ts [--quick]` starts a real PostgreSQL
 * cluster (Debian's `postgresql`, as the tests do), opens the gateway's store
 * on it and times `claimSession` (the claim a new session takes before its
 * logon, claims.ts) followed by `releaseClaim`, each against a one-round-trip
 * baseline on the same connection pool (`SELECT 1`):
 *
 * 1. through a loopback relay that delays every chunk by 20 ms each way, so
 *    time counts round trips: a claim that takes one shows ×1 of the
 *    baseline (its lock and its statement go as one batch), two would show
 *    ×2;
 * 2. directly, on a store holding 1,000 hosts' sessions (50 each, half of
 *    them live) and a licence limit of 40,000: what the counting costs, with
 *    the table just written (pages not all-visible, as under constant
 *    check-ins) and vacuumed (the `last_seen` index alone answers).
 *
 * @module
 */
import { claimLifetimeMs, type SessionClaim } from "../mod/gateway/claims.ts";
import { liveSince } from "../mod/gateway/liveness.ts";
import {
  openPostgresStore,
  type PostgresStore,
} from "../mod/gateway/store_postgres.ts";
import { sessionRecord } from "../tests/support/gateway_parts.ts";
import { freePort } from "../tests/support/ports.ts";
import { fine, ms, onPostgres, ratio, summarize } from "./common.ts";

const quick = Deno.args.includes("--quick");
const DELAY_MS = 20;
const STALE_MS = 45_000;

/** A loopback relay to `port` that holds every chunk `delayMs` each way. */
function delayingRelay(port: number, delayMs: number): {
  port: number;
  close(): void;
} {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
  const conns = new Set<Deno.Conn>();
  const pipe = async (from: Deno.Conn, to: Deno.Conn) => {
    const writer = to.writable.getWriter();
    let last = Promise.resolve();
    try {
      for await (const chunk of from.readable) {
        const due = performance.now() + delayMs;
        last = last.then(async () => {
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          await writer.write(chunk);
        });
      }
    } catch {
      // Closed.
    }
    await last.catch(() => {});
    await writer.close().catch(() => {});
  };
  (async () => {
    for await (const client of listener) {
      const server = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.add(client).add(server);
      void pipe(client, server);
      void pipe(server, client);
    }
  })().catch(() => {});
  return {
    port: listener.addr.port,
    close() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    },
  };
}

/** The URL of simulated host `n`. */
function hostUrl(n: number): string {
  return `http://10.1.${n >> 8}.${n & 255}:9005`;
}

/**
 * A claim for a new session on `serverUrl` under `licence`, taken now, with
 * room on the host (what the claim benches time).
 */
export function claimFor(serverUrl: string, licence: number): SessionClaim {
  const now = Date.now();
  return {
    sessionId: crypto.randomUUID(),
    gatewayId: "bench",
    serverUrl,
    now,
    expiresAt: now + claimLifetimeMs(45_000),
    liveSince: liveSince(now, STALE_MS),
    limits: { licence, hostCapacity: 1_000, logonCap: 1_000 },
  };
}

/** Times `n` claims (each released) and `n` baselines, interleaved. */
async function measure(
  store: PostgresStore,
  baseline: () => Promise<unknown>,
  options: { n: number; serverUrl: () => string; licence: number },
): Promise<{ claim: number[]; release: number[]; base: number[] }> {
  const out = { claim: [] as number[], release: [] as number[], base: [] };
  for (let i = 0; i < options.n + 5; i++) {
    const claim = claimFor(options.serverUrl(), options.licence);
    let t = performance.now();
    const outcome = await store.claimSession(claim);
    const claimed = performance.now() - t;
    if (outcome.kind !== "granted") throw new Error(JSON.stringify(outcome));
    t = performance.now();
    await store.releaseClaim(claim.sessionId);
    const released = performance.now() - t;
    t = performance.now();
    await baseline();
    const base = performance.now() - t;
    if (i < 5) continue; // warm-up: connections, prepared statements
    out.claim.push(claimed);
    out.release.push(released);
    (out.base as number[]).push(base);
  }
  return out as { claim: number[]; release: number[]; base: number[] };
}

function report(
  title: string,
  samples: { claim: number[]; release: number[]; base: number[] },
  show: (value: number) => string,
): void {
  const base = summarize(samples.base);
  const claim = summarize(samples.claim);
  const release = summarize(samples.release);
  console.log(`\n${title} (${claim.count} samples)`);
  console.log("| what | p50 | p99 | p50 ÷ baseline |");
  console.log("| --- | --- | --- | --- |");
  console.log(
    `| baseline SELECT 1 | ${show(base.p50)} | ${show(base.p99)} | ×1 |`,
  );
  console.log(
    `| claimSession | ${show(claim.p50)} | ${show(claim.p99)} | ${
      ratio(claim.p50, base.p50)
    } |`,
  );
  console.log(
    `| releaseClaim | ${show(release.p50)} | ${show(release.p99)} | ${
      ratio(release.p50, base.p50)
    } |`,
  );
}

if (import.meta.main) {
  await onPostgres(async (cluster) => {
    const url = await cluster.createDatabase();
    const relay = delayingRelay(cluster.port, DELAY_MS);
    const delayed = await openPostgresStore(
      url.replace(`:${cluster.port}/`, `:${relay.port}/`),
    );
    const pg = (await import("postgres")).default;
    const delayedSql = pg(url.replace(`:${cluster.port}/`, `:${relay.port}/`), {
      max: 1,
      onnotice: () => {},
    });
    try {
      report(
        `Through a relay adding ${DELAY_MS} ms each way (one round trip ≈ ${
          2 * DELAY_MS
        } ms)`,
        await measure(delayed, () => delayedSql`SELECT 1`, {
          n: quick ? 10 : 30,
          serverUrl: () => "http://h1.test:9005",
          licence: 10,
        }),
        ms,
      );
    } finally {
      await delayed.close();
      await delayedSql.end({ timeout: 5 });
      relay.close();
    }

    const store = await openPostgresStore(url);
    const sql = pg(url, { max: 1, onnotice: () => {} });
    try {
      const hosts = quick ? 100 : 1_000;
      const now = Date.now();
      for (let h = 0; h < hosts; h++) {
        await store.putSessions(
          Array.from({ length: 50 }, (_, i) =>
            sessionRecord({
              sessionId: `h${h}-s${i}`,
              sessionUuid: crypto.randomUUID(),
              serverUrl: hostUrl(h),
              // Half live, half silent for longer than staleAfter.
              lastLaunchAt: i % 2 ? now : now - 10 * STALE_MS,
              lastCheckinAt: undefined,
            })),
        );
      }
      // Just written (as under constant check-ins: pages not all-visible),
      // then vacuumed (the index alone answers the counts).
      for (const state of ["just written", "vacuumed"]) {
        await (state === "vacuumed"
          ? sql`VACUUM ANALYZE sessions`
          : sql`ANALYZE sessions`);
        let h = 0;
        report(
          `Directly, ${hosts * 50} sessions in the store (${
            hosts * 25
          } live, ${state}), licence 40,000`,
          await measure(store, () => sql`SELECT 1`, {
            n: quick ? 50 : 200,
            serverUrl: () => hostUrl(h++ % hosts),
            licence: 40_000,
          }),
          fine,
        );
      }
    } finally {
      await store.close();
      await sql.end({ timeout: 5 });
    }
  });
}
