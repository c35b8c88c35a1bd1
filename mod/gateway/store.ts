/**
 * Where the gateway keeps what must survive a restart: registered hosts, the
 * session map, revoked sign-ins and a few settings (such as the generated
 * cookie secret). The interface is what the rest of the gateway sees; this
 * release implements it with SQLite (`node:sqlite`) in one local file. A
 * store shared by several gateways can implement the same interface.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import {
  type ClaimOutcome,
  claimVerdict,
  type SessionClaim,
} from "./claims.ts";
import { liveSessionSql } from "./liveness.ts";
import type { ProbeRound, ProbeShare } from "./probe_leases.ts";
import type { HostRecord, SessionRecord } from "./types.ts";

/**
 * A revoked sign-in: one cookie (signed out), or every cookie of a user
 * issued before a time (signed out everywhere). Kept until `expiresAt`, when
 * the cookies it covers have expired anyway.
 */
export type Revocation =
  | { kind: "signin"; id: string; expiresAt: number }
  | { kind: "user"; user: string; before: number; expiresAt: number };

/** A sign-in as a cookie names it, to check against the revocations. */
export interface SignInRef {
  /** The cookie's sign-in id. */
  id: string;
  /** Who signed in. */
  user: string;
  /** When (ms since the epoch). */
  issuedAt: number;
}

/**
 * Persistent gateway state as the gateway's modules see it: they keep their
 * state in memory, read the store once when they start and write through
 * it. The SQLite store's calls are synchronous and durable on return (they
 * throw when the write fails); in front of a database server
 * ({@linkcode AsyncGatewayStore}) the `GuardedStore` (store_guard.ts) writes
 * behind.
 * Only a new session (its claim and its record) and a revocation check wait
 * for the store.
 */
export interface GatewayStore {
  /** Every stored host. */
  loadHosts(): HostRecord[];
  /** Inserts or replaces a host. */
  putHost(host: HostRecord): void;
  /** Inserts or replaces many hosts in one transaction. */
  putHosts(hosts: HostRecord[]): void;
  /** Forgets a host. */
  deleteHost(serverUrl: string): void;
  /**
   * The stored host `serverUrl`, as the store has it now (another gateway
   * on the same store may have written it).
   */
  findHost(serverUrl: string): Promise<HostRecord | undefined>;
  /**
   * Every stored session at once (a copy: for tools and tests; a gateway
   * reads them with {@linkcode GatewayStore.eachSession}).
   */
  loadSessions(): SessionRecord[];
  /**
   * Hands every stored session to `each`, one at a time as it is read (in
   * batches from a database server). The store keeps none of them, so a
   * gateway loading 500,000 sessions holds each once: where `each` puts it.
   */
  eachSession(each: (session: SessionRecord) => void): void;
  /** Inserts or replaces a session. */
  putSession(session: SessionRecord): void;
  /** Inserts or replaces many sessions in one transaction. */
  putSessions(sessions: SessionRecord[]): void;
  /**
   * Stores a session the gateway just created. Unlike {@linkcode putSession}
   * it is durable on return or throws, in every implementation: a new
   * session nobody could find after a restart must not be handed out. Its
   * claim ({@linkcode claimSession}, same id) is released in the same
   * transaction, so it never counts twice nor not at all.
   */
  insertSession(session: SessionRecord): Promise<void>;
  /**
   * Takes a claim for a new session if the farm-wide limits leave room
   * (claims.ts): under one lock, counts the live sessions and unexpired
   * claims of every gateway on the store, farm-wide and on the host, and
   * records the claim or says which limit refused it. One round trip.
   */
  claimSession(claim: SessionClaim): Promise<ClaimOutcome>;
  /** Releases the claim of `sessionId` (its logon failed); none: nothing. */
  releaseClaim(sessionId: string): Promise<void>;
  /**
   * The stored session with the host's internal id `sessionUuid`, as the
   * store has it now (another gateway on the same store may have placed
   * it).
   */
  findSessionByUuid(sessionUuid: string): Promise<SessionRecord | undefined>;
  /**
   * The stored session `sessionId`, as the store has it now (another
   * gateway on the same store may have placed it a moment ago).
   */
  findSession(sessionId: string): Promise<SessionRecord | undefined>;
  /** Forgets a session. */
  deleteSession(sessionId: string): void;
  /** Records a revocation (a user's keeps the latest cutoff). */
  putRevocation(revocation: Revocation): void;
  /** True when a revocation covers `signIn`. */
  isRevoked(signIn: SignInRef): Promise<boolean>;
  /** Forgets revocations that expired before `now`. */
  pruneRevocations(now: number): void;
  /** Every stored revocation. */
  loadRevocations(): Revocation[];
  /** Every stored setting, by key. */
  loadSettings(): Record<string, string>;
  /** A stored setting. */
  getSetting(key: string): string | undefined;
  /** Stores a setting. */
  putSetting(key: string, value: string): void;
  /**
   * Stores `value` under `key` unless a value is there already; resolves
   * with the value stored. The first writer wins, so gateways that start
   * together on one store agree (on the cookie secret, say).
   */
  settingOnce(key: string, value: string): Promise<string>;
  /**
   * One round of health probing divided among the gateways on the store
   * (`probe_leases.ts`): records the gateway as live, takes or renews its
   * leases, stores its probe results and returns the hosts it probes now
   * with the results others stored. A store of one gateway (SQLite) gives
   * it every host and no one else's results.
   */
  shareProbes(round: ProbeRound): Promise<ProbeShare>;
  /**
   * A gateway that stops gives up its probe leases and its liveness, so the
   * others take its hosts at their next round.
   */
  leaveProbing(gatewayId: string): Promise<void>;
  /** Closes the store. */
  close(): void;
}

/**
 * The same operations, each resolving once durable (or rejecting): the shape
 * of a store on a database server, such as PostgreSQL.
 */
export type AsyncGatewayStore = {
  [K in keyof GatewayStore]: (
    ...args: Parameters<GatewayStore[K]>
  ) => Promise<Awaited<ReturnType<GatewayStore[K]>>>;
};

/** Every operation of a store, to adapt one (checked complete below). */
const OPERATIONS = [
  "loadHosts",
  "putHost",
  "putHosts",
  "deleteHost",
  "findHost",
  "loadSessions",
  "eachSession",
  "putSession",
  "putSessions",
  "insertSession",
  "claimSession",
  "releaseClaim",
  "findSessionByUuid",
  "findSession",
  "deleteSession",
  "putRevocation",
  "isRevoked",
  "pruneRevocations",
  "loadRevocations",
  "loadSettings",
  "getSetting",
  "putSetting",
  "settingOnce",
  "shareProbes",
  "leaveProbing",
  "close",
] as const satisfies readonly (keyof GatewayStore)[];
// A store operation missing from OPERATIONS fails to compile here.
const _complete: Record<keyof GatewayStore, true> = Object.fromEntries(
  OPERATIONS.map((name) => [name, true]),
) as Record<(typeof OPERATIONS)[number], true>;

/** A synchronous store (SQLite) seen through {@linkcode AsyncGatewayStore}. */
export function asyncStore(store: GatewayStore): AsyncGatewayStore {
  return Object.fromEntries(
    OPERATIONS.map((name) => [
      name,
      // A throw becomes a rejection, as from a database server.
      (...args: unknown[]) =>
        new Promise((resolve) =>
          resolve((store[name] as (...a: unknown[]) => unknown)(...args))
        ),
    ]),
  ) as AsyncGatewayStore;
}

/**
 * The schema, one step per version: a file at version N gets steps N+1… in
 * one transaction. Steps are never edited once released, only added.
 */
const MIGRATIONS: readonly string[] = [
  // 1: hosts, sessions, settings.
  `CREATE TABLE IF NOT EXISTS hosts (
     server_url TEXT PRIMARY KEY,
     data TEXT NOT NULL
   );
   CREATE TABLE IF NOT EXISTS sessions (
     session_id TEXT PRIMARY KEY,
     data TEXT NOT NULL
   );
   CREATE TABLE IF NOT EXISTS settings (
     key TEXT PRIMARY KEY,
     value TEXT NOT NULL
   );`,
  // 2: revoked sign-ins (sign-out) and users signed out everywhere.
  `CREATE TABLE revoked_signins (
     id TEXT PRIMARY KEY,
     expires_at INTEGER NOT NULL
   );
   CREATE TABLE revoked_users (
     user_name TEXT PRIMARY KEY,
     issued_before INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  // 3: claims for new sessions (farm-wide limits); each session's host and
  // when it was last seen (liveness.ts), indexed for the claims' counts.
  `CREATE TABLE session_claims (
     session_id TEXT PRIMARY KEY,
     gateway_id TEXT NOT NULL,
     server_url TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   );
   CREATE INDEX session_claims_server_url ON session_claims (server_url);
   ALTER TABLE sessions ADD COLUMN server_url TEXT
     GENERATED ALWAYS AS (json_extract(data, '$.serverUrl')) VIRTUAL;
   ALTER TABLE sessions ADD COLUMN last_seen REAL
     GENERATED ALWAYS AS (max(
       coalesce(json_extract(data, '$.lastCheckinAt'), 0),
       json_extract(data, '$.lastLaunchAt'))) VIRTUAL;
   CREATE INDEX sessions_last_seen ON sessions (last_seen);
   CREATE INDEX sessions_server_url_last_seen
     ON sessions (server_url, last_seen);`,
];

/** The schema version this release writes. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * The store holds the cookie-signing secret: only this user may read it.
 * SQLite gives its `-wal` and `-shm` files the database file's mode.
 */
function makePrivate(path: string): void {
  for (const file of [path, `${path}-wal`, `${path}-shm`]) {
    try {
      Deno.chmodSync(file, 0o600);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
      if (file === path) {
        Deno.writeFileSync(path, new Uint8Array(), { mode: 0o600 });
      }
    }
  }
}

function userVersion(db: DatabaseSync): number {
  const row = db.prepare("PRAGMA user_version").get() as {
    user_version: number;
  };
  return Number(row.user_version);
}

function refuseNewer(path: string, version: number): void {
  if (version > SCHEMA_VERSION) {
    throw new Error(
      `${path} was written by a newer webstream (schema ${version})`,
    );
  }
}

/** Brings the file up to {@linkcode SCHEMA_VERSION} in one transaction. */
function migrate(path: string, db: DatabaseSync): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    // Read again under the lock: another gateway on the same file may have
    // migrated it meanwhile.
    const version = userVersion(db);
    refuseNewer(path, version);
    for (const step of MIGRATIONS.slice(version)) db.exec(step);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * Opens (creating if needed) a SQLite store at `path`; `:memory:` keeps
 * everything in memory, for a gateway that may forget on restart.
 */
export function openSqliteStore(path: string): GatewayStore {
  if (path !== ":memory:") makePrivate(path);
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA busy_timeout = 5000;");
    refuseNewer(path, userVersion(db));
    // Only now: a file from a newer webstream is left exactly as it was.
    db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
    if (userVersion(db) < SCHEMA_VERSION) migrate(path, db);
  } catch (error) {
    db.close();
    throw error;
  }
  const statements = {
    hosts: db.prepare("SELECT data FROM hosts"),
    putHost: db.prepare(
      "INSERT INTO hosts (server_url, data) VALUES (?, ?) " +
        "ON CONFLICT(server_url) DO UPDATE SET data = excluded.data",
    ),
    deleteHost: db.prepare("DELETE FROM hosts WHERE server_url = ?"),
    host: db.prepare("SELECT data FROM hosts WHERE server_url = ?"),
    sessions: db.prepare("SELECT data FROM sessions"),
    putSession: db.prepare(
      "INSERT INTO sessions (session_id, data) VALUES (?, ?) " +
        "ON CONFLICT(session_id) DO UPDATE SET data = excluded.data",
    ),
    deleteSession: db.prepare("DELETE FROM sessions WHERE session_id = ?"),
    session: db.prepare("SELECT data FROM sessions WHERE session_id = ?"),
    sessionByUuid: db.prepare(
      "SELECT data FROM sessions WHERE json_extract(data, '$.sessionUuid') = ?",
    ),
    getSetting: db.prepare("SELECT value FROM settings WHERE key = ?"),
    putSetting: db.prepare(
      "INSERT INTO settings (key, value) VALUES (?, ?) " +
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ),
    addSetting: db.prepare(
      "INSERT INTO settings (key, value) VALUES (?, ?) " +
        "ON CONFLICT(key) DO NOTHING",
    ),
    revokeSignIn: db.prepare(
      "INSERT INTO revoked_signins (id, expires_at) VALUES (?, ?) " +
        "ON CONFLICT(id) DO UPDATE SET " +
        "expires_at = max(expires_at, excluded.expires_at)",
    ),
    revokeUser: db.prepare(
      "INSERT INTO revoked_users (user_name, issued_before, expires_at) " +
        "VALUES (?, ?, ?) ON CONFLICT(user_name) DO UPDATE SET " +
        "issued_before = max(issued_before, excluded.issued_before), " +
        "expires_at = max(expires_at, excluded.expires_at)",
    ),
    isRevoked: db.prepare(
      "SELECT 1 FROM revoked_signins WHERE id = ? " +
        "UNION ALL SELECT 1 FROM revoked_users " +
        "WHERE user_name = ? AND issued_before > ? LIMIT 1",
    ),
    pruneSignIns: db.prepare(
      "DELETE FROM revoked_signins WHERE expires_at < ?",
    ),
    pruneUsers: db.prepare("DELETE FROM revoked_users WHERE expires_at < ?"),
    signIns: db.prepare("SELECT id, expires_at FROM revoked_signins"),
    users: db.prepare(
      "SELECT user_name, issued_before, expires_at FROM revoked_users",
    ),
    settings: db.prepare("SELECT key, value FROM settings"),
    dropExpiredClaims: db.prepare(
      "DELETE FROM session_claims WHERE expires_at <= ?",
    ),
    // Expired claims are dropped first: every claim left counts.
    claimCounts: db.prepare(
      `SELECT
         (SELECT count(*) FROM (SELECT 1 FROM sessions
           WHERE ${liveSessionSql("$since")} LIMIT $licence)) AS farm_sessions,
         (SELECT count(*) FROM session_claims) AS claims,
         (SELECT count(*) FROM sessions
           WHERE server_url = $url
             AND ${liveSessionSql("$since")}) AS host_sessions,
         (SELECT count(*) FROM session_claims
           WHERE server_url = $url) AS host_claims`,
    ),
    addClaim: db.prepare(
      "INSERT INTO session_claims " +
        "(session_id, gateway_id, server_url, expires_at) VALUES (?, ?, ?, ?)",
    ),
    deleteClaim: db.prepare("DELETE FROM session_claims WHERE session_id = ?"),
  } satisfies Record<string, StatementSync>;

  // IMMEDIATE takes the write lock at once: another gateway on the same
  // file waits (busy_timeout) instead of counting beside this one.
  const transaction = <T>(work: () => T, mode = ""): T => {
    db.exec(`BEGIN ${mode}`);
    try {
      const result = work();
      db.exec("COMMIT");
      return result;
    } catch (error) {
      // A full disk may have rolled it back already: its error is the one.
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
  };
  const all = <T>(statement: StatementSync): T[] =>
    statement.all().map((row) => JSON.parse(String(row.data)) as T);
  // Row by row: a row's text is garbage once parsed, never all at once.
  const eachSession = (each: (session: SessionRecord) => void): void => {
    for (const row of statements.sessions.iterate()) {
      each(JSON.parse(String(row.data)) as SessionRecord);
    }
  };

  return {
    loadHosts: () => all<HostRecord>(statements.hosts),
    putHost(host) {
      statements.putHost.run(host.serverUrl, JSON.stringify(host));
    },
    putHosts(hosts) {
      transaction(() => {
        for (const host of hosts) {
          statements.putHost.run(host.serverUrl, JSON.stringify(host));
        }
      });
    },
    deleteHost(serverUrl) {
      statements.deleteHost.run(serverUrl);
    },
    loadSessions() {
      const sessions: SessionRecord[] = [];
      eachSession((session) => sessions.push(session));
      return sessions;
    },
    eachSession,
    putSession(session) {
      statements.putSession.run(session.sessionId, JSON.stringify(session));
    },
    putSessions(sessions) {
      transaction(() => {
        for (const session of sessions) {
          statements.putSession.run(session.sessionId, JSON.stringify(session));
        }
      });
    },
    // Written before the promise is made: durable on return, as always.
    insertSession(session) {
      return settled(() =>
        transaction(() => {
          statements.putSession.run(session.sessionId, JSON.stringify(session));
          statements.deleteClaim.run(session.sessionId);
        })
      );
    },
    claimSession(claim) {
      return settled(() =>
        transaction(() => {
          statements.dropExpiredClaims.run(claim.now);
          const row = statements.claimCounts.get({
            since: claim.liveSince,
            licence: claim.limits.licence,
            url: claim.serverUrl,
          }) as Record<string, number>;
          const outcome = claimVerdict(claim, {
            farm: Number(row.farm_sessions) + Number(row.claims),
            host: Number(row.host_sessions) + Number(row.host_claims),
            logons: Number(row.host_claims),
          });
          if (outcome.kind === "granted") {
            statements.addClaim.run(
              claim.sessionId,
              claim.gatewayId,
              claim.serverUrl,
              claim.expiresAt,
            );
          }
          return outcome;
        }, "IMMEDIATE")
      );
    },
    releaseClaim(sessionId) {
      return settled(() => {
        statements.deleteClaim.run(sessionId);
      });
    },
    deleteSession(sessionId) {
      statements.deleteSession.run(sessionId);
    },
    findSessionByUuid: (sessionUuid) =>
      settled(() =>
        oneRow<SessionRecord>(statements.sessionByUuid, sessionUuid)
      ),
    findHost: (serverUrl) =>
      settled(() => oneRow<HostRecord>(statements.host, serverUrl)),
    findSession: (sessionId) =>
      settled(() => oneRow<SessionRecord>(statements.session, sessionId)),
    putRevocation(revocation) {
      if (revocation.kind === "signin") {
        statements.revokeSignIn.run(revocation.id, revocation.expiresAt);
      } else {
        statements.revokeUser.run(
          revocation.user,
          revocation.before,
          revocation.expiresAt,
        );
      }
    },
    isRevoked(signIn) {
      return settled(() =>
        statements.isRevoked.get(
          signIn.id,
          signIn.user,
          signIn.issuedAt,
        ) !== undefined
      );
    },
    pruneRevocations(now) {
      transaction(() => {
        statements.pruneSignIns.run(now);
        statements.pruneUsers.run(now);
      });
    },
    loadRevocations() {
      const signIns = statements.signIns.all().map((row): Revocation => ({
        kind: "signin",
        id: String(row.id),
        expiresAt: Number(row.expires_at),
      }));
      const users = statements.users.all().map((row): Revocation => ({
        kind: "user",
        user: String(row.user_name),
        before: Number(row.issued_before),
        expiresAt: Number(row.expires_at),
      }));
      return [...signIns, ...users];
    },
    loadSettings() {
      return Object.fromEntries(
        statements.settings.all().map((row) => [
          String(row.key),
          String(row.value),
        ]),
      );
    },
    getSetting(key) {
      const row = statements.getSetting.get(key) as
        | { value: string }
        | undefined;
      return row?.value;
    },
    putSetting(key, value) {
      statements.putSetting.run(key, value);
    },
    settingOnce(key, value) {
      statements.addSetting.run(key, value);
      const row = statements.getSetting.get(key) as { value: string };
      return Promise.resolve(row.value);
    },
    // One gateway per file: it probes every host itself.
    shareProbes: (round) =>
      Promise.resolve({ now: Date.now(), held: [...round.hosts], results: [] }),
    leaveProbing: () => Promise.resolve(),
    close() {
      db.close();
    },
  };
}

/** The record a statement finds by its key, or undefined. */
function oneRow<T>(statement: StatementSync, key: string): T | undefined {
  const row = statement.get(key) as { data: string } | undefined;
  return row ? JSON.parse(row.data) as T : undefined;
}

/** `fn()`'s result as a promise: resolved with it, or rejected with what it threw. */
function settled<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}
