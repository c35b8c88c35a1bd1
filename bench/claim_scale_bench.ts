/**
 * # Claims at scale on PostgreSQL
 *
 * `deno run -A bench/claim_scale_bench.ts [--quick]` starts a real
 * PostgreSQL cluster (Debian's `postgresql`, as the tests do), stores
 * 500,000 sessions over 10,000 hosts (50 each; 1 % of them silent for longer
 * than `staleAfter`, not forgotten yet, as between two prunes) and times a
 * claim (`claimSession`, claims.ts) followed by its release, against a
 * `SELECT 1` round trip measured in the same run, for three licences: none
 * (0), 600,000 (room) and 495,100 (a hundred left: the sessions not live
 * must be counted to know). Each with the table just written (pages not
 * all-visible, as under constant check-ins) and vacuumed.
 *
 * `before` is the claim statement as it was (schema step 2: every live
 * session counted up to the licence, through the `last_seen` index), run
 * the same way (the claim lock and the statement in one batch); `after` is
 * the store's claim (the session tally of schema step 4 minus the sessions
 * not live). A claim holds the farm-wide lock for its statement, so 1 s ÷
 * its time bounds the farm's launches per second.
 *
 * @module
 */
import type { SessionClaim } from "../mod/gateway/claims.ts";
import { liveSessionSql } from "../mod/gateway/liveness.ts";
import { openPostgresStore } from "../mod/gateway/store_postgres.ts";
import { sessionRecord } from "../tests/support/gateway_parts.ts";
import { claimFor } from "./claim_bench.ts";
import { fine, onPostgres, ratio, summarize } from "./common.ts";

const quick = Deno.args.includes("--quick");
const HOSTS = quick ? 1_000 : 10_000;
const PER_HOST = 50;
const SESSIONS = HOSTS * PER_HOST;
/** One in a hundred sessions is not live. */
const STALE_EVERY = 100;
const SAMPLES = quick ? 30 : 100;
/** Any number: the claim lock (as store_postgres.ts's CLAIM_LOCK). */
const CLAIM_LOCK = 0x636c6169;

/** The claim statement before the session tally (see the module). */
const BEFORE_SQL = `
  WITH expired AS (
    DELETE FROM session_claims WHERE expires_at <= $1::bigint
  ), claims AS (
    SELECT server_url FROM session_claims WHERE expires_at > $1::bigint
  ), counts AS (
    SELECT
      (SELECT count(*) FROM (SELECT 1 FROM sessions
        WHERE ${liveSessionSql("$2::float8")}
        LIMIT $3::bigint) live) + (SELECT count(*) FROM claims) AS farm,
      (SELECT count(*) FROM sessions
        WHERE server_url = $4::text AND ${liveSessionSql("$2::float8")})
        + (SELECT count(*) FROM claims WHERE server_url = $4::text) AS host,
      (SELECT count(*) FROM claims WHERE server_url = $4::text) AS logons
  ), granted AS (
    INSERT INTO session_claims (session_id, gateway_id, server_url, expires_at)
    SELECT $7::text, $8::text, $4::text, $9::bigint FROM counts
    WHERE ($3::bigint = 0 OR farm < $3::bigint)
      AND host < $5::bigint AND logons < $6::bigint
    RETURNING 1
  )
  SELECT farm::int, host::int, logons::int,
    (SELECT count(*) FROM granted)::int AS granted
  FROM counts`;

/** The URL of simulated host `n`. */
function hostUrl(n: number): string {
  return `http://10.3.${n >> 8}.${n & 255}:9005`;
}

if (import.meta.main) {
  await onPostgres(async (cluster) => {
    const url = await cluster.createDatabase();
    // One connection each, as `before` has: the same warm connection.
    const store = await openPostgresStore(url, { maxConnections: 1 });
    const pg = (await import("postgres")).default;
    const sql = pg(url, { max: 1, onnotice: () => {} });
    try {
      // Written by the database from one record: fast, and through the
      // triggers that keep the tally. Live ones are seen an hour ahead, so
      // they stay live however long the bench takes.
      const now = Date.now();
      const template = sessionRecord({ lastCheckinAt: undefined });
      const t0 = performance.now();
      await sql`
        INSERT INTO sessions (session_id, data)
        SELECT 's' || i, ${JSON.stringify(template)}::text::jsonb
          || jsonb_build_object('sessionId', 's' || i,
            'sessionUuid', md5(i::text),
            'serverUrl', 'http://10.3.' || ((i / ${PER_HOST}) >> 8) || '.'
              || ((i / ${PER_HOST}) & 255) || ':9005',
            'lastLaunchAt', CASE WHEN i % ${STALE_EVERY} = 0
              THEN ${now - 3600_000}::float8 ELSE ${now + 3600_000}::float8 END)
        FROM generate_series(0, ${SESSIONS - 1}) AS i`;
      const [{ tally }] = await sql<{ tally: string }[]>`
        SELECT sum(sessions) AS tally FROM session_tally`;
      console.log(
        `${SESSIONS} sessions over ${HOSTS} hosts stored in ${
          ((performance.now() - t0) / 1000).toFixed(1)
        } s (tally ${tally}; ${SESSIONS / STALE_EVERY} not live)`,
      );
      const before = async (claim: SessionClaim) => {
        const [, [row]] = await sql.batch([
          sql`SELECT pg_advisory_xact_lock(${CLAIM_LOCK})`,
          sql.unsafe<{ granted: number }[]>(BEFORE_SQL, [
            claim.now,
            claim.liveSince,
            claim.limits.licence,
            claim.serverUrl,
            claim.limits.hostCapacity,
            claim.limits.logonCap,
            claim.sessionId,
            claim.gatewayId,
            claim.expiresAt,
          ], { prepare: true }),
        ]) as [unknown, { granted: number }[]];
        if (row.granted !== 1) throw new Error("refused before");
      };
      const after = async (claim: SessionClaim) => {
        const outcome = await store.claimSession(claim);
        if (outcome.kind !== "granted") {
          throw new Error(JSON.stringify(outcome));
        }
      };
      const live = SESSIONS - SESSIONS / STALE_EVERY;
      const licences = [0, 600_000, live + 100].filter((l) =>
        l === 0 || l > live
      );
      if (quick) licences.splice(1, 1, 60_000);
      console.log(
        "\n| table | licence | SELECT 1 p50 | before p50 | after p50 | " +
          "before ÷ SELECT 1 | after ÷ SELECT 1 | before ÷ after | " +
          "claims/s bound before → after |",
      );
      console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
      for (const state of ["just written", "vacuumed"]) {
        if (state === "just written") {
          // Every session's check-in time written again: no page is
          // all-visible, as under constant check-ins.
          await sql`UPDATE sessions SET data = data
            || jsonb_build_object('lastCheckinAt', ${now + 3600_000}::float8)
            WHERE session_id NOT LIKE '%00'`;
          await sql`ANALYZE sessions`;
        } else await sql`VACUUM ANALYZE sessions`;
        for (const licence of licences) {
          const samples = { base: [] as number[], before: [], after: [] } as {
            base: number[];
            before: number[];
            after: number[];
          };
          let h = 0;
          for (let i = 0; i < SAMPLES + 3; i++) {
            for (const kind of ["before", "after"] as const) {
              const claim = claimFor(hostUrl(h++ % HOSTS), licence);
              const t = performance.now();
              await (kind === "before" ? before(claim) : after(claim));
              const took = performance.now() - t;
              await store.releaseClaim(claim.sessionId);
              if (i >= 3) samples[kind].push(took);
            }
            const t = performance.now();
            await sql`SELECT 1`;
            if (i >= 3) samples.base.push(performance.now() - t);
          }
          const base = summarize(samples.base).p50;
          const b = summarize(samples.before).p50;
          const a = summarize(samples.after).p50;
          console.log(
            `| ${state} | ${licence} | ${fine(base)} | ${fine(b)} | ${
              fine(a)
            } | ${ratio(b, base)} | ${ratio(a, base)} | ${ratio(b, a)} | ${
              Math.round(1000 / b)
            } → ${Math.round(1000 / a)} |`,
          );
        }
      }
    } finally {
      await store.close();
      await sql.end({ timeout: 5 });
    }
  });
}
