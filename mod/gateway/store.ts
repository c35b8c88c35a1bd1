/**
 * Where the gateway keeps what must survive a restart: registered hosts, the
 * session map and a few settings (such as the generated cookie secret). The
 * interface is what the rest of the gateway sees; this release implements it
 * with SQLite (`node:sqlite`) in one local file. A store shared by several
 * gateways can implement the same interface.
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { HostRecord, SessionRecord } from "./types.ts";

/** Persistent gateway state. Calls are synchronous and durable on return. */
export interface GatewayStore {
  /** Every stored host. */
  loadHosts(): HostRecord[];
  /** Inserts or replaces a host. */
  putHost(host: HostRecord): void;
  /** Inserts or replaces many hosts in one transaction. */
  putHosts(hosts: HostRecord[]): void;
  /** Forgets a host. */
  deleteHost(serverUrl: string): void;
  /** Every stored session. */
  loadSessions(): SessionRecord[];
  /** Inserts or replaces a session. */
  putSession(session: SessionRecord): void;
  /** Inserts or replaces many sessions in one transaction. */
  putSessions(sessions: SessionRecord[]): void;
  /** Forgets a session. */
  deleteSession(sessionId: string): void;
  /** A stored setting. */
  getSetting(key: string): string | undefined;
  /** Stores a setting. */
  putSetting(key: string, value: string): void;
  /** Closes the store. */
  close(): void;
}

const SCHEMA_VERSION = 1;

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

/**
 * Opens (creating if needed) a SQLite store at `path`; `:memory:` keeps
 * everything in memory, for a gateway that may forget on restart.
 */
export function openSqliteStore(path: string): GatewayStore {
  if (path !== ":memory:") makePrivate(path);
  const db = new DatabaseSync(path);
  db.exec("PRAGMA busy_timeout = 5000;");
  const version = Number(
    (db.prepare("PRAGMA user_version").get() as { user_version: number })
      .user_version,
  );
  if (version > SCHEMA_VERSION) {
    db.close();
    throw new Error(
      `${path} was written by a newer webstream (schema ${version})`,
    );
  }
  // Only now: a file from a newer webstream is left exactly as it was.
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
  db.exec(`
    CREATE TABLE IF NOT EXISTS hosts (
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
    );
    PRAGMA user_version = ${SCHEMA_VERSION};
  `);
  const statements = {
    hosts: db.prepare("SELECT data FROM hosts"),
    putHost: db.prepare(
      "INSERT INTO hosts (server_url, data) VALUES (?, ?) " +
        "ON CONFLICT(server_url) DO UPDATE SET data = excluded.data",
    ),
    deleteHost: db.prepare("DELETE FROM hosts WHERE server_url = ?"),
    sessions: db.prepare("SELECT data FROM sessions"),
    putSession: db.prepare(
      "INSERT INTO sessions (session_id, data) VALUES (?, ?) " +
        "ON CONFLICT(session_id) DO UPDATE SET data = excluded.data",
    ),
    deleteSession: db.prepare("DELETE FROM sessions WHERE session_id = ?"),
    getSetting: db.prepare("SELECT value FROM settings WHERE key = ?"),
    putSetting: db.prepare(
      "INSERT INTO settings (key, value) VALUES (?, ?) " +
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ),
  } satisfies Record<string, StatementSync>;

  const transaction = (work: () => void): void => {
    db.exec("BEGIN");
    try {
      work();
      db.exec("COMMIT");
    } catch (error) {
      db.exec("ROLLBACK");
      throw error;
    }
  };
  const all = <T>(statement: StatementSync): T[] =>
    statement.all().map((row) => JSON.parse(String(row.data)) as T);

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
    loadSessions: () => all<SessionRecord>(statements.sessions),
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
    deleteSession(sessionId) {
      statements.deleteSession.run(sessionId);
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
    close() {
      db.close();
    },
  };
}
