/**
 * The gateway's state store on PostgreSQL (`gateway.store.url`), through the
 * npm `postgres` client: the same records as the SQLite store, one JSON
 * document per host and session, so several gateways can share one
 * database. A multi-host connection string (`postgres://a:5432,b:5432/db`)
 * reaches whichever server takes writes (`target_session_attrs=read-write`
 * unless the string says otherwise), so an HA PostgreSQL can stand behind
 * it. The schema is versioned like the SQLite one and brought up to date by
 * {@linkcode migratePostgres} (`webstream store migrate`), under an advisory
 * lock so gateways starting together migrate it once.
 *
 * @module
 */
import postgres from "postgres";
import { type ClaimOutcome, claimVerdict } from "./claims.ts";
import { liveSessionSql, staleSessionSql } from "./liveness.ts";
import {
  type LeaseRow,
  planLeases,
  type ProbeRound,
  type ProbeShare,
  type SharedProbe,
} from "./probe_leases.ts";
import type { Revocation } from "./store.ts";
import {
  CHANGE_CHANNEL,
  parseStoreChange,
  type SharedStore,
  type StoreChangeError,
  type StoreChanges,
} from "./store_changes.ts";
import type { HostRecord, SessionRecord } from "./types.ts";

/** A connection to a store database. */
type Sql = postgres.Sql;

/**
 * The schema, one step per version: a database at version N gets steps N+1…
 * in one transaction. Steps are never edited once released, only added.
 * Times are milliseconds since the epoch, as in the records.
 */
const MIGRATIONS: readonly string[] = [
  // 1: hosts, sessions, settings, revoked sign-ins and users.
  `CREATE TABLE hosts (
     server_url TEXT PRIMARY KEY,
     data JSONB NOT NULL
   );
   CREATE TABLE sessions (
     session_id TEXT PRIMARY KEY,
     data JSONB NOT NULL
   );
   CREATE TABLE settings (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );
   CREATE TABLE revoked_signins (
     id TEXT PRIMARY KEY,
     expires_at BIGINT NOT NULL
   );
   CREATE TABLE revoked_users (
     user_name TEXT PRIMARY KEY,
     issued_before BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );`,
  // 2: claims for new sessions (farm-wide limits); each session's host and
  // when it was last seen (liveness.ts), indexed for the claims' counts.
  `CREATE TABLE session_claims (
     session_id TEXT PRIMARY KEY,
     gateway_id TEXT NOT NULL,
     server_url TEXT NOT NULL,
     expires_at BIGINT NOT NULL
   );
   CREATE INDEX session_claims_server_url ON session_claims (server_url);
   ALTER TABLE sessions
     ADD COLUMN server_url TEXT
       GENERATED ALWAYS AS (data->>'serverUrl') STORED,
     ADD COLUMN last_seen DOUBLE PRECISION
       GENERATED ALWAYS AS (greatest(
         coalesce((data->>'lastCheckinAt')::float8, 0),
         (data->>'lastLaunchAt')::float8)) STORED;
   CREATE INDEX sessions_last_seen ON sessions (last_seen);
   CREATE INDEX sessions_server_url_last_seen
     ON sessions (server_url, last_seen);`,
  // 3: health probing divided among gateways (probe_leases.ts): the live
  // gateways, who probes which host, and the latest probe of each host.
  `CREATE TABLE probe_gateways (
     id TEXT PRIMARY KEY,
     seen_at BIGINT NOT NULL
   );
   CREATE TABLE probe_leases (
     server_url TEXT PRIMARY KEY,
     holder TEXT,
     expires_at BIGINT NOT NULL
   );
   CREATE TABLE probe_results (
     server_url TEXT PRIMARY KEY,
     failures INTEGER NOT NULL,
     last_probe JSONB NOT NULL,
     updated_at BIGINT NOT NULL
   );
   CREATE INDEX probe_results_updated ON probe_results (updated_at);`,
  // 4: change notices (store_changes.ts) on CHANGE_CHANNEL. The writing
  // gateway names itself in the setting webstream.gateway_id. A check-in
  // write (only lastCheckinAt changed) is told per statement, in batches
  // of 100, not per row.
  `CREATE FUNCTION webstream_notice(kind text, key text, op text,
       extra jsonb, row_data jsonb) RETURNS void AS $$
   DECLARE
     notice jsonb := jsonb_build_object('kind', kind, 'key', key, 'op', op,
       'origin', coalesce(current_setting('webstream.gateway_id', true), ''))
       || extra;
     whole text := (notice || jsonb_build_object('row', row_data))::text;
   BEGIN
     -- PostgreSQL refuses payloads of 8000 bytes or more.
     IF row_data IS NOT NULL AND octet_length(whole) < 7900 THEN
       PERFORM pg_notify('${CHANGE_CHANNEL}', whole);
     ELSE
       PERFORM pg_notify('${CHANGE_CHANNEL}', notice::text);
     END IF;
   END $$ LANGUAGE plpgsql;

   CREATE FUNCTION webstream_host_changed() RETURNS trigger AS $$
   BEGIN
     IF TG_OP = 'DELETE' THEN
       PERFORM webstream_notice('host', OLD.server_url, 'delete', '{}', NULL);
     ELSE
       PERFORM webstream_notice('host', NEW.server_url, 'put', '{}', NEW.data);
     END IF;
     RETURN NULL;
   END $$ LANGUAGE plpgsql;
   CREATE TRIGGER hosts_added_or_deleted AFTER INSERT OR DELETE ON hosts
     FOR EACH ROW EXECUTE FUNCTION webstream_host_changed();
   CREATE TRIGGER hosts_updated AFTER UPDATE ON hosts
     FOR EACH ROW WHEN (OLD.data IS DISTINCT FROM NEW.data)
     EXECUTE FUNCTION webstream_host_changed();

   CREATE FUNCTION webstream_session_changed() RETURNS trigger AS $$
   BEGIN
     IF TG_OP = 'DELETE' THEN
       PERFORM webstream_notice('session', OLD.session_id, 'delete', '{}',
         NULL);
     ELSE
       PERFORM webstream_notice('session', NEW.session_id, 'put',
         jsonb_build_object('uuid', NEW.data->>'sessionUuid'), NEW.data);
     END IF;
     RETURN NULL;
   END $$ LANGUAGE plpgsql;
   CREATE TRIGGER sessions_added_or_deleted AFTER INSERT OR DELETE ON sessions
     FOR EACH ROW EXECUTE FUNCTION webstream_session_changed();
   CREATE TRIGGER sessions_updated AFTER UPDATE ON sessions
     FOR EACH ROW WHEN ((OLD.data - 'lastCheckinAt') IS DISTINCT FROM
       (NEW.data - 'lastCheckinAt'))
     EXECUTE FUNCTION webstream_session_changed();

   CREATE FUNCTION webstream_checkins_written() RETURNS trigger AS $$
   DECLARE
     batch jsonb;
   BEGIN
     FOR batch IN
       SELECT jsonb_agg(jsonb_build_array(c.session_id, c.at))
       FROM (SELECT n.session_id, (n.data->>'lastCheckinAt')::float8 AS at,
               (row_number() OVER () - 1) / 100 AS chunk
             FROM new_rows n JOIN old_rows o USING (session_id)
             WHERE (o.data - 'lastCheckinAt') = (n.data - 'lastCheckinAt')
               AND n.data->'lastCheckinAt' IS NOT NULL
               AND n.data->'lastCheckinAt' IS DISTINCT FROM
                 o.data->'lastCheckinAt') c
       GROUP BY c.chunk
     LOOP
       PERFORM pg_notify('${CHANGE_CHANNEL}', jsonb_build_object(
         'kind', 'checkins',
         'origin', coalesce(current_setting('webstream.gateway_id', true), ''),
         'checkins', batch)::text);
     END LOOP;
     RETURN NULL;
   -- Transition tables have no statistics: a nested loop over thousands of
   -- rows each would take minutes; a hash join takes milliseconds.
   END $$ LANGUAGE plpgsql SET enable_nestloop = off;
   CREATE TRIGGER sessions_checked_in AFTER UPDATE ON sessions
     REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
     FOR EACH STATEMENT EXECUTE FUNCTION webstream_checkins_written();

   CREATE FUNCTION webstream_revocation_changed() RETURNS trigger AS $$
   BEGIN
     IF TG_TABLE_NAME = 'revoked_signins' THEN
       PERFORM webstream_notice('revocation', 'signin:' || NEW.id, 'put',
         '{}', jsonb_build_object('kind', 'signin', 'id', NEW.id,
           'expiresAt', NEW.expires_at));
     ELSE
       PERFORM webstream_notice('revocation', 'user:' || NEW.user_name, 'put',
         '{}', jsonb_build_object('kind', 'user', 'user', NEW.user_name,
           'before', NEW.issued_before, 'expiresAt', NEW.expires_at));
     END IF;
     RETURN NULL;
   END $$ LANGUAGE plpgsql;
   CREATE TRIGGER revoked_signins_changed
     AFTER INSERT OR UPDATE ON revoked_signins
     FOR EACH ROW EXECUTE FUNCTION webstream_revocation_changed();
   CREATE TRIGGER revoked_users_changed
     AFTER INSERT OR UPDATE ON revoked_users
     FOR EACH ROW EXECUTE FUNCTION webstream_revocation_changed();`,
  // 5: how many sessions are stored, kept by triggers in the writing
  // transaction, so a claim counts the live ones as that tally minus the
  // few not live (claimSql) instead of every live one. In slots by
  // connection (one row per statement, so no deadlocks), so writers on
  // different connections seldom wait for one another.
  `CREATE TABLE session_tally (
     slot INTEGER PRIMARY KEY,
     sessions BIGINT NOT NULL
   );
   CREATE FUNCTION session_tally_change() RETURNS trigger
   LANGUAGE plpgsql AS $$
   DECLARE
     delta BIGINT;
   BEGIN
     SELECT count(*) INTO delta FROM changed;
     IF TG_OP = 'DELETE' THEN delta := -delta; END IF;
     IF delta <> 0 THEN
       INSERT INTO session_tally (slot, sessions)
       VALUES (pg_backend_pid() % 16, delta)
       ON CONFLICT (slot) DO UPDATE
         SET sessions = session_tally.sessions + excluded.sessions;
     END IF;
     RETURN NULL;
   END $$;
   CREATE FUNCTION session_tally_truncate() RETURNS trigger
   LANGUAGE plpgsql AS $$
   BEGIN
     DELETE FROM session_tally;
     RETURN NULL;
   END $$;
   CREATE TRIGGER sessions_tally_insert AFTER INSERT ON sessions
     REFERENCING NEW TABLE AS changed
     FOR EACH STATEMENT EXECUTE FUNCTION session_tally_change();
   CREATE TRIGGER sessions_tally_delete AFTER DELETE ON sessions
     REFERENCING OLD TABLE AS changed
     FOR EACH STATEMENT EXECUTE FUNCTION session_tally_change();
   CREATE TRIGGER sessions_tally_truncate AFTER TRUNCATE ON sessions
     FOR EACH STATEMENT EXECUTE FUNCTION session_tally_truncate();
   -- The triggers hold writers off until this commits: the tally starts
   -- exact.
   INSERT INTO session_tally (slot, sessions)
   SELECT 0, count(*) FROM sessions;`,
];

/** The PostgreSQL schema version this release writes. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** Any number: the advisory lock that serializes migrations. */
const MIGRATION_LOCK = 0x77656273; // "webs"

/** Any number: the advisory lock that serializes claims farm-wide. */
const CLAIM_LOCK = 0x636c6169; // "clai"

/** A session is live (liveness.ts), with the cut-off as $2. */
const LIVE = liveSessionSql("$2::float8");

/** A session is not live, with the cut-off as $2. */
const STALE = staleSessionSql("$2::float8");

/**
 * A claim's counts and, if they leave room, its insert, in one statement
 * (run after the claim lock, so its snapshot sees every claim before it).
 * The DELETE of expired claims does not change what the other parts see:
 * they skip expired claims themselves. The insert's condition is
 * `claimVerdict` (claims.ts) granting; the verdict is computed again from
 * the counts returned, to name the limit.
 *
 * With a licence (`licensed`), the live sessions farm-wide are the stored
 * ones (the tally, schema step 4) minus those not live, counted through the
 * `last_seen` index only as far as the licence needs: none when every
 * stored session and claim fit, else up to the first that makes room. So
 * `farm` is exact (up to the licence, plus the claims) when refused, and a
 * bound under the licence when granted; the cost is the few sessions not
 * live, not the many live. Without one, no session is counted farm-wide.
 *
 * $1 now, $2 live since, $3 licence (0: none), $4 server URL, $5 host
 * capacity, $6 logon cap, $7 session id, $8 gateway id, $9 expires at.
 */
function claimSql(licensed: boolean): string {
  const live = licensed
    ? `(SELECT stored - (SELECT count(*) FROM (SELECT 1 FROM sessions
        WHERE ${STALE}
        LIMIT greatest(stored + claimed - $3::bigint + 1, 0)) stale)
      FROM tally)`
    : "0";
  return `
  WITH expired AS (
    DELETE FROM session_claims WHERE expires_at <= $1::bigint
  ), claims AS (
    SELECT server_url FROM session_claims WHERE expires_at > $1::bigint
  ), tally AS (
    SELECT ${
    licensed ? "(SELECT coalesce(sum(sessions), 0) FROM session_tally)" : "0"
  } AS stored, (SELECT count(*) FROM claims) AS claimed
  ), counts AS (
    SELECT
      least(${live}, $3::bigint) + (SELECT claimed FROM tally) AS farm,
      (SELECT count(*) FROM sessions
        WHERE server_url = $4::text AND ${LIVE})
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
}

/** {@linkcode claimSql} with a licence, and without. */
const CLAIM_SQL = { licensed: claimSql(true), free: claimSql(false) };

/** A store URL that cannot be used, or a database that cannot be. */
export class StoreUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StoreUrlError";
  }
}

/** Options for {@linkcode openPostgresStore} and {@linkcode migratePostgres}. */
export interface PostgresOptions {
  /** Seconds to wait for a server to accept a connection. Default 10. */
  connectTimeout?: number;
  /** Connections kept at most. Default 4. */
  maxConnections?: number;
  /**
   * The gateway's id, named in the change notices of its writes (see
   * store_changes.ts). Default a fresh UUID.
   */
  gatewayId?: string;
}

/**
 * A PostgreSQL store: an `AsyncGatewayStore` with change notices
 * ({@linkcode SharedStore}), plus the one-shot copy.
 */
export interface PostgresStore extends SharedStore {
  /**
   * Copies another store's contents in one transaction, refusing a database
   * that already holds hosts, sessions or settings (copied once, never over
   * a live farm).
   */
  importContents(contents: StoreContents): Promise<void>;
}

/** Everything a store holds, as copied by `webstream store migrate --from`. */
export interface StoreContents {
  /** Registered hosts. */
  hosts: HostRecord[];
  /** The session map. */
  sessions: SessionRecord[];
  /** Revoked sign-ins. */
  revocations: Revocation[];
  /** Settings by key (the cookie secret among them). */
  settings: Record<string, string>;
}

/** The server names of a connection string, for messages (no password). */
export function describeUrl(url: string): string {
  const rest = url.slice(url.indexOf("://") + 3);
  const authority = rest.split(/[/?]/, 1)[0];
  const hosts = authority.slice(authority.lastIndexOf("@") + 1);
  const database = rest.slice(authority.length).match(/^\/([^?]*)/)?.[1];
  return `${hosts || "localhost"}/${database || "(default database)"}`;
}

function connect(url: string, options: PostgresOptions): Sql {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new StoreUrlError(
      `gateway.store.url must start with postgres:// (got ${
        JSON.stringify(url.split("://")[0] + "://…")
      })`,
    );
  }
  const query = url.includes("?") ? url.slice(url.indexOf("?")) : "";
  const named = new URLSearchParams(query).has("target_session_attrs");
  return postgres(url, {
    max: options.maxConnections ?? 4,
    connect_timeout: options.connectTimeout ?? 10,
    // Writes go to a primary among the hosts listed.
    ...(named ? {} : { target_session_attrs: "read-write" }),
    onnotice: () => {},
    connection: {
      application_name: "webstream-gateway",
      // Read by the change triggers (migration step 2).
      ...(options.gatewayId
        ? { "webstream.gateway_id": options.gatewayId }
        : {}),
    },
  });
}

/** Says which server could not be used and why, for the operator. */
function explain(url: string, error: unknown): Error {
  if (error instanceof StoreUrlError) return error;
  const e = error as { code?: string; message?: string };
  const cause = [e?.code, e?.message].filter(Boolean).join(": ") ||
    String(error);
  return new StoreUrlError(
    `PostgreSQL at ${describeUrl(url)} cannot be used: ${cause}`,
  );
}

async function schemaVersion(sql: Sql): Promise<number> {
  const [row] = await sql<{ table: string | null }[]>`
    SELECT to_regclass('webstream_schema')::text AS table`;
  if (!row.table) return 0;
  const [version] = await sql<{ version: number }[]>`
    SELECT version FROM webstream_schema`;
  return version?.version ?? 0;
}

function refuseNewer(url: string, version: number): void {
  if (version > POSTGRES_SCHEMA_VERSION) {
    throw new StoreUrlError(
      `PostgreSQL at ${describeUrl(url)} was written by a newer webstream ` +
        `(schema ${version}, this release knows ${POSTGRES_SCHEMA_VERSION})`,
    );
  }
}

/** What {@linkcode migratePostgres} did. */
export interface MigrationResult {
  /** The version found. */
  from: number;
  /** The version now. */
  to: number;
}

async function migrateWith(sql: Sql, url: string): Promise<MigrationResult> {
  return await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS webstream_schema (
      version INTEGER NOT NULL)`;
    // Read under the lock: another gateway may have migrated meanwhile.
    const from = await schemaVersion(tx as unknown as Sql);
    refuseNewer(url, from);
    for (const step of MIGRATIONS.slice(from)) await tx.unsafe(step);
    await tx`DELETE FROM webstream_schema`;
    await tx`INSERT INTO webstream_schema (version)
      VALUES (${POSTGRES_SCHEMA_VERSION})`;
    return { from, to: POSTGRES_SCHEMA_VERSION };
  });
}

/**
 * Creates or upgrades the schema at `url` (idempotent).
 *
 * @throws {StoreUrlError} naming the server and the cause: a URL that is not
 * `postgres://`, a server that cannot be reached or refuses, a schema newer
 * than this release.
 */
export async function migratePostgres(
  url: string,
  options: PostgresOptions = {},
): Promise<MigrationResult> {
  const sql = connect(url, options);
  try {
    return await migrateWith(sql, url);
  } catch (error) {
    throw explain(url, error);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/**
 * Opens the store at `url`, migrating its schema first.
 *
 * @throws {StoreUrlError} as {@linkcode migratePostgres}.
 */
export async function openPostgresStore(
  url: string,
  options: PostgresOptions = {},
): Promise<PostgresStore> {
  const gatewayId = options.gatewayId ?? crypto.randomUUID();
  const sql = connect(url, { ...options, gatewayId });
  try {
    await migrateWith(sql, url);
  } catch (error) {
    await sql.end({ timeout: 5 });
    throw explain(url, error);
  }
  return postgresStore(sql, changeFeed(sql, gatewayId));
}

/** What {@linkcode CLAIM_SQL} answers. */
interface ClaimRow {
  farm: number;
  host: number;
  logons: number;
  /** 1 when the claim was inserted. */
  granted: number;
}

/** Sessions read per batch by {@linkcode eachSession}. */
const SESSION_BATCH = 1000;

/**
 * Hands every stored session to `each`, read through a cursor a batch at a
 * time: a batch's rows are garbage once handed over, never all at once.
 */
async function eachSession(
  sql: Sql,
  each: (session: SessionRecord) => void,
): Promise<void> {
  const cursor = sql<{ data: SessionRecord }[]>`SELECT data FROM sessions`
    .cursor(SESSION_BATCH);
  for await (const rows of cursor) {
    for (const row of rows) each(row.data);
  }
}

/** The store's change notices, through `sql.listen` (it reconnects). */
function changeFeed(sql: Sql, origin: string): StoreChanges {
  return {
    origin,
    async listen(handlers) {
      let connects = 0;
      const subscription = await sql.listen(
        CHANGE_CHANNEL,
        (payload) => {
          let notice;
          try {
            notice = parseStoreChange(payload);
          } catch (error) {
            handlers.invalid(error as StoreChangeError);
            return;
          }
          if (notice.origin !== origin) handlers.change(notice);
        },
        // Called on every (re)connect of the listening connection.
        () => handlers.connected(connects++ > 0),
      );
      return { stop: () => subscription.unlisten() };
    },
  };
}

function postgresStore(sql: Sql, changes: StoreChanges): PostgresStore {
  const putHosts = async (db: Sql, hosts: HostRecord[]) => {
    if (!hosts.length) return;
    const keys = hosts.map((h) => h.serverUrl);
    const data = hosts.map((h) => JSON.stringify(h));
    await db`INSERT INTO hosts (server_url, data)
      SELECT k, d::jsonb FROM unnest(${keys}::text[], ${data}::text[]) AS r(k, d)
      ON CONFLICT (server_url) DO UPDATE SET data = excluded.data`;
  };
  const putSessions = async (db: Sql, sessions: SessionRecord[]) => {
    if (!sessions.length) return;
    const keys = sessions.map((s) => s.sessionId);
    const data = sessions.map((s) => JSON.stringify(s));
    await db`INSERT INTO sessions (session_id, data)
      SELECT k, d::jsonb FROM unnest(${keys}::text[], ${data}::text[]) AS r(k, d)
      ON CONFLICT (session_id) DO UPDATE SET data = excluded.data`;
  };
  const putRevocation = async (db: Sql, revocation: Revocation) => {
    if (revocation.kind === "signin") {
      await db`INSERT INTO revoked_signins (id, expires_at)
        VALUES (${revocation.id}, ${revocation.expiresAt})
        ON CONFLICT (id) DO UPDATE SET expires_at =
          greatest(revoked_signins.expires_at, excluded.expires_at)`;
    } else {
      await db`INSERT INTO revoked_users (user_name, issued_before, expires_at)
        VALUES (${revocation.user}, ${revocation.before},
          ${revocation.expiresAt})
        ON CONFLICT (user_name) DO UPDATE SET
          issued_before = greatest(revoked_users.issued_before,
            excluded.issued_before),
          expires_at = greatest(revoked_users.expires_at, excluded.expires_at)`;
    }
  };
  const putSetting = async (db: Sql, key: string, value: string) => {
    await db`INSERT INTO settings (key, value) VALUES (${key}, ${value})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value`;
  };
  const loadSettings = async (db: Sql) =>
    Object.fromEntries(
      (await db<{ key: string; value: string }[]>`
        SELECT key, value FROM settings`).map((r) => [r.key, r.value]),
    );

  return {
    changes,
    loadHosts: async () =>
      (await sql<{ data: HostRecord }[]>`SELECT data FROM hosts`)
        .map((row) => row.data),
    putHost: (host) => putHosts(sql, [host]),
    async findHost(serverUrl) {
      const [row] = await sql<{ data: HostRecord }[]>`
        SELECT data FROM hosts WHERE server_url = ${serverUrl}`;
      return row?.data;
    },
    putHosts: (hosts) => putHosts(sql, hosts),
    async deleteHost(serverUrl) {
      // Its probe lease and result go with it.
      await sql`
        WITH lease AS (
          DELETE FROM probe_leases WHERE server_url = ${serverUrl}),
        result AS (
          DELETE FROM probe_results WHERE server_url = ${serverUrl})
        DELETE FROM hosts WHERE server_url = ${serverUrl}`;
    },
    async loadSessions() {
      const sessions: SessionRecord[] = [];
      await eachSession(sql, (session) => sessions.push(session));
      return sessions;
    },
    eachSession: (each) => eachSession(sql, each),
    putSession: (session) => putSessions(sql, [session]),
    async findSessionByUuid(sessionUuid) {
      const [row] = await sql<{ data: SessionRecord }[]>`
        SELECT data FROM sessions WHERE data->>'sessionUuid' = ${sessionUuid}
        LIMIT 1`;
      return row?.data;
    },
    async findSession(sessionId) {
      const [row] = await sql<{ data: SessionRecord }[]>`
        SELECT data FROM sessions WHERE session_id = ${sessionId}`;
      return row?.data;
    },
    putSessions: (sessions) => putSessions(sql, sessions),
    // Every write here is committed (synchronous_commit as the server sets
    // it) before the promise resolves. The claim goes in the same statement.
    async insertSession(session) {
      await sql`
        WITH released AS (
          DELETE FROM session_claims WHERE session_id = ${session.sessionId})
        INSERT INTO sessions (session_id, data)
        VALUES (${session.sessionId}, ${JSON.stringify(session)}::text::jsonb)
        ON CONFLICT (session_id) DO UPDATE SET data = excluded.data`;
    },
    async claimSession(claim) {
      // One round trip: the lock and the claim before a single Sync, one
      // implicit transaction; the lock is held until it commits.
      const [, [row]] = await sql.batch([
        sql`SELECT pg_advisory_xact_lock(${CLAIM_LOCK})`,
        sql.unsafe<ClaimRow[]>(
          claim.limits.licence > 0 ? CLAIM_SQL.licensed : CLAIM_SQL.free,
          [
            claim.now,
            claim.liveSince,
            claim.limits.licence,
            claim.serverUrl,
            claim.limits.hostCapacity,
            claim.limits.logonCap,
            claim.sessionId,
            claim.gatewayId,
            claim.expiresAt,
          ],
          { prepare: true },
        ),
      ]) as [unknown, ClaimRow[]];
      const outcome: ClaimOutcome = claimVerdict(claim, row);
      if ((outcome.kind === "granted") !== (row.granted === 1)) {
        throw new Error(
          `the claim's insert and its verdict disagree: ${JSON.stringify(row)}`,
        );
      }
      return outcome;
    },
    async releaseClaim(sessionId) {
      await sql`DELETE FROM session_claims WHERE session_id = ${sessionId}`;
    },
    async deleteSession(sessionId) {
      await sql`DELETE FROM sessions WHERE session_id = ${sessionId}`;
    },
    putRevocation: (revocation) => putRevocation(sql, revocation),
    async isRevoked(signIn) {
      const rows = await sql`
        SELECT 1 FROM revoked_signins WHERE id = ${signIn.id}
        UNION ALL SELECT 1 FROM revoked_users
          WHERE user_name = ${signIn.user}
            AND issued_before > ${signIn.issuedAt}
        LIMIT 1`;
      return rows.length > 0;
    },
    async pruneRevocations(now) {
      await sql.begin(async (tx) => {
        await tx`DELETE FROM revoked_signins WHERE expires_at < ${now}`;
        await tx`DELETE FROM revoked_users WHERE expires_at < ${now}`;
      });
    },
    async loadRevocations() {
      const signIns = await sql<{ id: string; expires_at: string }[]>`
        SELECT id, expires_at FROM revoked_signins`;
      const users = await sql<
        { user_name: string; issued_before: string; expires_at: string }[]
      >`SELECT user_name, issued_before, expires_at FROM revoked_users`;
      return [
        ...signIns.map((row): Revocation => ({
          kind: "signin",
          id: row.id,
          expiresAt: Number(row.expires_at),
        })),
        ...users.map((row): Revocation => ({
          kind: "user",
          user: row.user_name,
          before: Number(row.issued_before),
          expiresAt: Number(row.expires_at),
        })),
      ];
    },
    loadSettings: () => loadSettings(sql),
    async getSetting(key) {
      const [row] = await sql<{ value: string }[]>`
        SELECT value FROM settings WHERE key = ${key}`;
      return row?.value;
    },
    putSetting: (key, value) => putSetting(sql, key, value),
    async settingOnce(key, value) {
      // One statement: two gateways starting at once get the same row.
      const [row] = await sql<{ value: string }[]>`
        WITH added AS (
          INSERT INTO settings (key, value) VALUES (${key}, ${value})
          ON CONFLICT (key) DO NOTHING RETURNING value)
        SELECT value FROM added
        UNION ALL SELECT value FROM settings WHERE key = ${key}
        LIMIT 1`;
      return row.value;
    },
    async shareProbes(round) {
      try {
        return await shareProbes(sql, round);
      } catch (error) {
        // Two gateways handing a lease over in one instant may deadlock;
        // the database aborts one, which tries once more.
        if ((error as { code?: string }).code !== DEADLOCK) throw error;
        return await shareProbes(sql, round);
      }
    },
    async leaveProbing(gatewayId) {
      await sql`
        WITH gone AS (DELETE FROM probe_gateways WHERE id = ${gatewayId})
        DELETE FROM probe_leases WHERE holder = ${gatewayId}`;
    },
    async close() {
      await sql.end({ timeout: 5 });
    },
    async importContents(contents) {
      await sql.begin(async (txn) => {
        const tx = txn as unknown as Sql;
        const [held] = await tx<{ n: number }[]>`
          SELECT (SELECT count(*) FROM hosts) + (SELECT count(*) FROM sessions)
            + (SELECT count(*) FROM settings) AS n`;
        if (Number(held.n) > 0) {
          throw new StoreUrlError(
            "the PostgreSQL store already holds hosts, sessions or settings; " +
              "a SQLite store is copied only into an empty one",
          );
        }
        await putHosts(tx, contents.hosts);
        await putSessions(tx, contents.sessions);
        for (const revocation of contents.revocations) {
          await putRevocation(tx, revocation);
        }
        for (const [key, value] of Object.entries(contents.settings)) {
          await putSetting(tx, key, value);
        }
      });
    },
  };
}

/** PostgreSQL's `deadlock_detected`. */
const DEADLOCK = "40P01";

/** Dead gateways' rows are dropped a day after they were last seen. */
const FORGET_GATEWAY_MS = 24 * 3600_000;

/**
 * A lease's effective end: a lease lasts as long as its holder stays live
 * (seen within a lease), so a gateway's own round renews every lease it
 * holds by the one row that marks it live, and a lease's row is written
 * only when it changes hands. `expires_at` is the floor (a take, a mark).
 * (The round's read says the same with a join.)
 */
function leaseEnd(sql: Sql, leaseMs: number) {
  return sql`greatest(l.expires_at, coalesce((SELECT seen_at
    FROM probe_gateways g WHERE g.id = l.holder), 0) + ${leaseMs}::bigint)`;
}

/**
 * A round of divided probing in at most two statements: (1) the gateway
 * marked live (which renews its leases, {@linkcode leaseEnd}), its
 * results stored (a newer probe wins), and the live gateways, the leases and
 * the results since `since` read; (2) only if something changes hands: its
 * claims ({@linkcode planLeases}) but those on leases it holds already,
 * checked and written, and its leases on hosts it no longer knows given up.
 * Times are the database's clock, so gateways' clocks need not agree.
 */
async function shareProbes(sql: Sql, round: ProbeRound): Promise<ProbeShare> {
  const { gatewayId: self, leaseMs, hosts } = round;
  const [state] = await sql<{
    now: string;
    live: string[] | null;
    leases: [string, string | null, number][] | null;
    results: SharedProbe[] | null;
  }[]>`
    WITH clock AS (
      SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now),
    seen AS (
      INSERT INTO probe_gateways (id, seen_at) SELECT ${self}, now FROM clock
      ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at),
    forgotten AS (
      DELETE FROM probe_gateways
      WHERE seen_at < (SELECT now FROM clock) - ${FORGET_GATEWAY_MS}),
    put AS (
      INSERT INTO probe_results (server_url, failures, last_probe, updated_at)
      SELECT u, f, p::jsonb, (SELECT now FROM clock)
      FROM unnest(${round.results.map((r) => r.serverUrl)}::text[],
        ${round.results.map((r) => r.failures)}::int[],
        ${round.results.map((r) => JSON.stringify(r.lastProbe))}::text[])
        AS r(u, f, p)
      ON CONFLICT (server_url) DO UPDATE SET failures = excluded.failures,
        last_probe = excluded.last_probe, updated_at = excluded.updated_at
      WHERE (probe_results.last_probe->>'at')::bigint <
        (excluded.last_probe->>'at')::bigint)
    SELECT clock.now,
      (SELECT json_agg(id) FROM probe_gateways
        WHERE seen_at > clock.now - ${leaseMs}) AS live,
      (SELECT json_agg(json_build_array(l.server_url, l.holder,
          CASE WHEN l.holder = ${self} THEN clock.now + ${leaseMs}
            ELSE greatest(l.expires_at, coalesce(g.seen_at, 0) + ${leaseMs})
            END))
        FROM probe_leases l LEFT JOIN probe_gateways g ON g.id = l.holder)
        AS leases,
      (SELECT json_agg(json_build_object('serverUrl', server_url,
          'failures', failures, 'lastProbe', last_probe))
        FROM probe_results WHERE updated_at > ${round.since}) AS results
    FROM clock`;
  const now = Number(state.now);
  const known = new Set(hosts);
  const leases = (state.leases ?? []).map(
    ([serverUrl, holder, expiresAt]): LeaseRow => ({
      serverUrl,
      holder,
      expiresAt: Number(expiresAt),
    }),
  );
  const mine = new Set(
    leases.filter((row) => row.holder === self).map((row) => row.serverUrl),
  );
  // Its own leases are renewed already: only changes of hands are written.
  const claims = planLeases({
    self,
    now,
    leaseMs,
    live: state.live ?? [],
    hosts,
    leases: leases.filter((row) => known.has(row.serverUrl)),
  }).filter((claim) => !mine.has(claim.serverUrl));
  // A lease on a host it no longer knows would last as long as it lives.
  const unknown = [...mine].filter((url) => !known.has(url));
  const changed = claims.length || unknown.length
    ? await sql<{ server_url: string }[]>`
    WITH clock AS (
      SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now),
    plan AS (
      SELECT * FROM unnest(${claims.map((c) => c.serverUrl)}::text[],
        ${claims.map((c) => c.kind)}::text[]) AS p(url, kind)),
    dropped AS (
      UPDATE probe_leases l SET holder = NULL, expires_at = clock.now
      FROM clock
      WHERE l.server_url = ANY(${unknown}::text[]) AND l.holder = ${self}),
    renewed AS (
      UPDATE probe_leases l SET holder = ${self},
        expires_at = clock.now + ${leaseMs}
      FROM plan p, clock
      WHERE l.server_url = p.url AND (p.kind = 'take'
        OR (p.kind = 'keep' AND (l.holder = ${self}
          OR ${leaseEnd(sql, leaseMs)}
            <= clock.now))
        OR (p.kind = 'late'
          AND ${leaseEnd(sql, leaseMs)}
            <= clock.now - ${leaseMs}))
      RETURNING l.server_url),
    added AS (
      INSERT INTO probe_leases (server_url, holder, expires_at)
      SELECT p.url, CASE WHEN p.kind = 'mark' THEN NULL ELSE ${self} END,
        CASE WHEN p.kind = 'mark' THEN clock.now ELSE clock.now + ${leaseMs} END
      FROM plan p, clock
      WHERE p.kind <> 'late'
        AND NOT EXISTS (SELECT 1 FROM probe_leases l WHERE l.server_url = p.url)
      ON CONFLICT (server_url) DO NOTHING
      RETURNING server_url, holder)
    SELECT server_url FROM renewed
    UNION ALL SELECT server_url FROM added WHERE holder IS NOT NULL`
    : [];
  return {
    now,
    held: [
      ...[...mine].filter((url) => known.has(url)),
      ...changed.map((row) => row.server_url),
    ],
    // Read for every host (no 10,000-entry array to match each row
    // against); only those it knows are returned.
    results: (state.results ?? []).filter((r) => known.has(r.serverUrl))
      .map((r) => ({
        serverUrl: r.serverUrl,
        failures: Number(r.failures),
        lastProbe: r.lastProbe,
      })),
  };
}
