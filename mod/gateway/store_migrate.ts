/**
 * `webstream store migrate`: creates or upgrades the PostgreSQL schema at
 * `gateway.store.url` (idempotent; gateways also do it when they start), and
 * with `-from-sqlite PATH` copies an existing SQLite store into it once, so
 * a farm moving from one gateway's file to PostgreSQL keeps its hosts,
 * sessions, sign-outs and cookie secret (its users stay signed in).
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import { openSqliteStore } from "./store.ts";
import {
  describeUrl,
  migratePostgres,
  openPostgresStore,
  type PostgresOptions,
  type StoreContents,
  StoreUrlError,
} from "./store_postgres.ts";

/** Options for {@linkcode migrateStore}. */
export interface MigrateStoreOptions extends PostgresOptions {
  /** A SQLite store to copy into the (empty) PostgreSQL store. */
  fromSqlite?: string;
}

/** What the command did, or why it could not, and its exit code. */
export interface MigrateStoreResult {
  /** 0 when done. */
  code: number;
  /** What to print (standard output when 0, standard error otherwise). */
  message: string;
}

/** Reads a SQLite store that must exist (never creates one). */
function readSqlite(path: string): StoreContents {
  try {
    if (!Deno.statSync(path).isFile) throw new Error("not a file");
  } catch (error) {
    throw new StoreUrlError(
      `-from-sqlite ${path}: no SQLite store there (${
        error instanceof Error ? error.message : error
      })`,
    );
  }
  const store = openSqliteStore(path);
  try {
    return {
      hosts: store.loadHosts(),
      sessions: store.loadSessions(),
      revocations: store.loadRevocations(),
      settings: store.loadSettings(),
    };
  } finally {
    store.close();
  }
}

/** Runs `webstream store migrate` (see the module). */
export async function migrateStore(
  config: Config,
  options: MigrateStoreOptions = {},
): Promise<MigrateStoreResult> {
  const url = config.gateway.store?.url;
  if (!url) {
    return {
      code: 1,
      message: "webstream store migrate: gateway.store.url is not set " +
        "(a postgres:// connection string, in the configuration file or " +
        "WEBSTREAM_STORE_URL)",
    };
  }
  try {
    // Read first: a missing file fails before the database is touched.
    const contents = options.fromSqlite === undefined
      ? undefined
      : readSqlite(options.fromSqlite);
    const { from, to } = await migratePostgres(url, options);
    const lines = [
      from === to
        ? `${describeUrl(url)}: schema ${to}, up to date`
        : `${describeUrl(url)}: schema ${from} → ${to}`,
    ];
    if (contents) {
      const store = await openPostgresStore(url, options);
      try {
        await store.importContents(contents);
      } finally {
        await store.close();
      }
      lines.push(
        `copied ${options.fromSqlite}: ${contents.hosts.length} hosts, ` +
          `${contents.sessions.length} sessions, ` +
          `${contents.revocations.length} revocations, ` +
          `${Object.keys(contents.settings).length} settings`,
      );
    }
    return { code: 0, message: lines.join("\n") };
  } catch (error) {
    if (!(error instanceof StoreUrlError)) throw error;
    return { code: 1, message: `webstream store migrate: ${error.message}` };
  }
}
