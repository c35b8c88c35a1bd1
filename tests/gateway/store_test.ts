/**
 * The SQLite gateway store (`node:sqlite`, one file): hosts, sessions,
 * settings and revocations round trip, replace and delete (a user's
 * revocation keeps its latest cutoff; expired ones are pruned); `putSessions`
 * and `putHosts` write a batch in one transaction (a failing batch leaves
 * nothing behind); a reopened file keeps everything; a file of schema 1 is
 * migrated to the current schema with its data kept; a file written with a
 * newer schema version is refused with a clear error and left untouched; the
 * file and its WAL are mode 0600 (an existing open file is made private).
 * Claims for new sessions keep the claims contract, through one connection
 * and through several to one file, also from several threads at once.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import {
  asyncStore,
  openSqliteStore,
  SCHEMA_VERSION,
} from "../../mod/gateway/store.ts";
import type { ClaimOutcome, SessionClaim } from "../../mod/gateway/claims.ts";
import type { HostRecord, SessionRecord } from "../../mod/gateway/types.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { withTempDir, withTempDirSync } from "../support/fs.ts";
import {
  byKey,
  exerciseClaims,
  exerciseStore,
  host,
  session,
} from "../support/store_contract.ts";

Deno.test("in-memory store keeps the store contract", async () => {
  const store = openSqliteStore(":memory:");
  try {
    await exerciseStore(asyncStore(store));
  } finally {
    store.close();
  }
});

Deno.test("in-memory store keeps the claims contract", async () => {
  const store = openSqliteStore(":memory:");
  try {
    await exerciseClaims([asyncStore(store)]);
  } finally {
    store.close();
  }
});

Deno.test("a file store keeps the claims contract through several connections", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gateway.db`;
    const stores = [1, 2, 3].map(() => openSqliteStore(path));
    try {
      await exerciseClaims(stores.map((s) => asyncStore(s)));
    } finally {
      for (const store of stores) store.close();
    }
  });
});

Deno.test("claims from several threads at once on one file: exactly N granted", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gateway.db`;
    openSqliteStore(path).close();
    const go = new SharedArrayBuffer(4);
    const now = Date.now();
    const claim = (i: number): SessionClaim => ({
      sessionId: `claim-${i}`,
      gatewayId: `gateway-${i % 4}`,
      serverUrl: `http://h${i % 2}.test:9005`,
      now,
      expiresAt: now + 60_000,
      liveSince: now - 45_000,
      limits: { licence: 5, hostCapacity: 100, logonCap: 100 },
    });
    const workers = [0, 1, 2, 3].map(() =>
      new Worker(new URL("../support/claim_worker.ts", import.meta.url), {
        type: "module",
      })
    );
    try {
      const results = workers.map((worker, w) => {
        const ready = Promise.withResolvers<void>();
        const done = Promise.withResolvers<ClaimOutcome[]>();
        worker.onmessage = (event) => {
          if (event.data.ready) ready.resolve();
          else done.resolve(event.data.outcomes);
        };
        worker.onerror = (event) => {
          ready.reject(event.error ?? event.message);
          done.reject(event.error ?? event.message);
        };
        worker.postMessage({
          path,
          go,
          claims: Array.from({ length: 10 }, (_, i) => claim(w * 10 + i)),
        });
        return { ready: ready.promise, done: done.promise };
      });
      await Promise.all(results.map((r) => r.ready));
      const flag = new Int32Array(go);
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
      const outcomes = (await Promise.all(results.map((r) => r.done))).flat();
      assertEquals(outcomes.length, 40);
      assertEquals(outcomes.filter((o) => o.kind === "granted").length, 5);
    } finally {
      for (const worker of workers) worker.terminate();
    }
  });
});

Deno.test("a file store keeps everything when reopened", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gateway.db`;
    const first = openSqliteStore(path);
    await exerciseStore(asyncStore(first));
    first.close();

    const second = openSqliteStore(path);
    try {
      assertEquals(second.loadHosts(), [host("a", true)]);
      assertEquals(byKey(second.loadSessions(), (s) => s.sessionId), [
        { ...session("s1"), lastCheckinAt: 42 },
        session("s3", "bob"),
      ]);
      assertEquals(second.getSetting("cookieSecret"), "second");
      assert(
        await second.isRevoked({ id: "cookie-9", user: "x", issuedAt: 0 }),
      );
      // And it still writes.
      second.putSession(session("s4"));
    } finally {
      second.close();
    }
    const third = openSqliteStore(path);
    try {
      assertEquals(third.loadSessions().length, 3);
    } finally {
      third.close();
    }
  });
});

Deno.test("putSessions is one transaction", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/gateway.db`;
    const store = openSqliteStore(path);
    try {
      store.putSession(session("kept"));
      // The third record cannot be serialised (a BigInt): the batch fails
      // part-way and the first two must not be written either.
      const broken = { ...session("s3"), port: 1n } as unknown as SessionRecord;
      assertThrows(() =>
        store.putSessions([
          { ...session("kept"), user: "changed" },
          session("s2"),
          broken,
        ])
      );
      assertEquals(store.loadSessions(), [session("kept")]);
      // The store is usable after the rollback.
      store.putSessions([session("s2"), session("s3")]);
      assertEquals(store.loadSessions().length, 3);
    } finally {
      store.close();
    }
    const reopened = openSqliteStore(path);
    try {
      assertEquals(reopened.loadSessions().length, 3);
    } finally {
      reopened.close();
    }
  });
});

Deno.test("a file from a newer schema version is refused", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/newer.db`;
    const db = new DatabaseSync(path);
    db.exec("CREATE TABLE future (x TEXT); PRAGMA user_version = 99;");
    db.close();

    assertThrows(
      () => openSqliteStore(path),
      Error,
      /newer\.db was written by a newer webstream \(schema 99\)/,
    );

    // Refused means untouched: no tables of ours, the version kept.
    const check = new DatabaseSync(path);
    try {
      const version = check.prepare("PRAGMA user_version").get() as {
        user_version: number;
      };
      assertEquals(Number(version.user_version), 99);
      const tables = check.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
      ).all().map((row) => String(row.name));
      assertEquals(tables, ["future"]);
    } finally {
      check.close();
    }
  });
});

Deno.test("a new file is stamped with the current schema version", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/fresh.db`;
    openSqliteStore(path).close();
    const check = new DatabaseSync(path);
    try {
      const version = check.prepare("PRAGMA user_version").get() as {
        user_version: number;
      };
      assertEquals(Number(version.user_version), SCHEMA_VERSION);
      assertEquals(SCHEMA_VERSION, 3);
    } finally {
      check.close();
    }
    // The current version opens again without complaint.
    openSqliteStore(path).close();
  });
});

Deno.test("a file of schema 1 is migrated, keeping its data", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/v1.db`;
    // Exactly what release schema 1 created.
    const db = new DatabaseSync(path);
    db.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE hosts (server_url TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE sessions (session_id TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      PRAGMA user_version = 1;
    `);
    db.prepare("INSERT INTO sessions VALUES (?, ?)").run(
      "old",
      JSON.stringify(session("old")),
    );
    db.prepare("INSERT INTO settings VALUES ('cookieSecret', 'kept')").run();
    db.close();

    const store = openSqliteStore(path);
    try {
      assertEquals(store.loadSessions(), [session("old")]);
      assertEquals(store.getSetting("cookieSecret"), "kept");
      store.putRevocation({ kind: "signin", id: "c", expiresAt: 10 });
      assert(await store.isRevoked({ id: "c", user: "alice", issuedAt: 0 }));
    } finally {
      store.close();
    }
    const check = new DatabaseSync(path);
    try {
      const version = check.prepare("PRAGMA user_version").get() as {
        user_version: number;
      };
      assertEquals(Number(version.user_version), SCHEMA_VERSION);
    } finally {
      check.close();
    }
    // Opening it again does not migrate twice.
    openSqliteStore(path).close();
  });
});

Deno.test("putHosts writes a batch in one transaction", () => {
  const store = openSqliteStore(":memory:");
  try {
    const hosts = ["a", "b", "c"].map((n) => host(n, false));
    store.putHosts(hosts);
    assertEquals(
      store.loadHosts().map((h) => h.serverUrl).sort(),
      hosts.map((h) => h.serverUrl).sort(),
    );
    const bad = {
      ...host("d", false),
      serverUrl: undefined,
    } as unknown as HostRecord;
    let failed = false;
    try {
      store.putHosts([host("e", false), bad]);
    } catch {
      failed = true;
    }
    assert(failed, "a batch with an invalid host must fail");
    assertEquals(
      store.loadHosts().length,
      3,
      "nothing of a failed batch is written",
    );
  } finally {
    store.close();
  }
});

Deno.test("the store file and its WAL are readable by this user only", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/gateway.db`;
    const store = openSqliteStore(path);
    try {
      // A write in WAL mode creates the -wal (and -shm) files.
      store.putSetting("cookieSecret", "secret");
      for (const file of [path, `${path}-wal`]) {
        assertEquals(Deno.statSync(file).mode! & 0o777, 0o600, file);
      }
    } finally {
      store.close();
    }
  });
});

Deno.test("an existing store file (and WAL) open to others is made private", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/gateway.db`;
    // Written by an older release, readable by everyone; a connection kept
    // open leaves its -wal file behind, readable by everyone too.
    const old = new DatabaseSync(path);
    old.exec(
      "PRAGMA journal_mode = WAL; CREATE TABLE t (x); INSERT INTO t VALUES (1);",
    );
    Deno.chmodSync(path, 0o644);
    Deno.chmodSync(`${path}-wal`, 0o644);
    try {
      const store = openSqliteStore(path);
      try {
        for (const file of [path, `${path}-wal`, `${path}-shm`]) {
          assertEquals(Deno.statSync(file).mode! & 0o777, 0o600, file);
        }
      } finally {
        store.close();
      }
    } finally {
      old.close();
    }
  });
});
