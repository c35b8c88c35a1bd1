/**
 * The PostgreSQL gateway store against a real cluster (Debian's PostgreSQL
 * 15, started by the test in a temporary folder): it keeps the same store
 * contract as SQLite, and a second connection sees what the first wrote;
 * claims keep the claims contract through three gateways' connections;
 * migrating is idempotent, also when several gateways migrate at once; a
 * newer schema, a URL that is not `postgres://` and a server nobody answers
 * on are refused with errors naming what was wrong; a multi-host connection
 * string reaches the live server past a dead one; a SQLite store's contents
 * are copied once, and never into a database that already holds state. The
 * gateway's guard in front of it, with the server halted: a probe finds it
 * out, writes are kept (and said to be held),
 * a new session is refused naming the cause, revocation checks do not wait;
 * with the server back, the guard writes what it kept by itself. Probing
 * divided by leases: gateways hold disjoint shares of the hosts that cover
 * them all, as rendezvous hashing says once all are live; a result one
 * shares reaches the others (a newer one is never overwritten by an older)
 * and is deleted with its host;
 * a gateway that stops renewing loses its hosts to the others after its
 * lease; a host only one gateway knows is probed by it a lease after
 * nobody took it; one that leaves hands its hosts over at once.
 *
 * @module
 */
import postgres from "postgres";
import { asyncStore, openSqliteStore } from "../../mod/gateway/store.ts";
import {
  migratePostgres,
  openPostgresStore,
  POSTGRES_SCHEMA_VERSION,
  StoreUrlError,
} from "../../mod/gateway/store_postgres.ts";
import {
  GuardedStore,
  StoreUnavailableError,
} from "../../mod/gateway/store_guard.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { freePort } from "../support/ports.ts";
import { hasPostgres, startPostgres } from "../support/postgres.ts";
import { waitFor } from "../support/wait.ts";
import {
  type ProbeRound,
  rendezvousWinner,
} from "../../mod/gateway/probe_leases.ts";
import type { PostgresStore } from "../../mod/gateway/store_postgres.ts";
import {
  byKey,
  exerciseClaims,
  exerciseStore,
  host,
  session,
} from "../support/store_contract.ts";

function assertIncludes(text: string, part: string): void {
  assert(text.includes(part), `expected ${JSON.stringify(part)} in: ${text}`);
}

Deno.test({
  name: "the PostgreSQL store",
  ignore: !hasPostgres(),
  async fn(t) {
    const cluster = await startPostgres();
    try {
      await t.step(
        "keeps the store contract; another connection sees it",
        async () => {
          const url = await cluster.createDatabase();
          const store = await openPostgresStore(url);
          try {
            await exerciseStore(store);
          } finally {
            await store.close();
          }
          const again = await openPostgresStore(url);
          try {
            assertEquals(await again.loadHosts(), [host("a", true)]);
            assertEquals(
              byKey(await again.loadSessions(), (s) => s.sessionId),
              [{ ...session("s1"), lastCheckinAt: 42 }, session("s3", "bob")],
            );
            assertEquals(await again.getSetting("cookieSecret"), "second");
            assert(
              await again.isRevoked({ id: "cookie-9", user: "x", issuedAt: 0 }),
            );
          } finally {
            await again.close();
          }
        },
      );

      await t.step(
        "keeps the claims contract through several gateways' connections",
        async () => {
          const url = await cluster.createDatabase();
          const stores = await Promise.all(
            [1, 2, 3].map(() => openPostgresStore(url)),
          );
          try {
            await exerciseClaims(stores);
          } finally {
            for (const store of stores) await store.close();
          }
        },
      );

      await t.step(
        "the session tally follows every insert, upsert and delete",
        async () => {
          const url = await cluster.createDatabase();
          const stores = await Promise.all(
            [1, 2].map(() => openPostgresStore(url)),
          );
          const sql = postgres(url, { onnotice: () => {} });
          const check = async () => {
            const [row] = await sql<{ tally: string; stored: string }[]>`
              SELECT (SELECT coalesce(sum(sessions), 0) FROM session_tally)
                AS tally, (SELECT count(*) FROM sessions) AS stored`;
            assertEquals(Number(row.tally), Number(row.stored));
            return Number(row.stored);
          };
          try {
            const ids = Array.from({ length: 30 }, (_, i) => `tally-${i}`);
            await stores[0].putSessions(
              ids.slice(0, 20).map((id) => session(id)),
            );
            // Ten new, ten replaced: only the new count.
            await stores[1].putSessions(ids.slice(10).map((id) => session(id)));
            assertEquals(await check(), 30);
            await stores[0].insertSession(session("tally-new"));
            await stores[1].putSession(session("tally-new"));
            await Promise.all(
              ids.slice(0, 12).map((id, i) => stores[i % 2].deleteSession(id)),
            );
            await stores[0].deleteSession("never-stored");
            assertEquals(await check(), 19);
            await sql`TRUNCATE sessions`;
            assertEquals(await check(), 0);
          } finally {
            await sql.end();
            for (const store of stores) await store.close();
          }
        },
      );

      await t.step(
        "the session tally starts from the sessions an older schema held",
        async () => {
          const url = await cluster.createDatabase();
          const store = await openPostgresStore(url);
          await store.putSessions(
            ["old-1", "old-2", "old-3"].map((id) => session(id)),
          );
          await store.close();
          // Back to the schema before the tally (step 5).
          const sql = postgres(url, { onnotice: () => {} });
          await sql.unsafe(`
            DROP TABLE session_tally;
            DROP FUNCTION session_tally_change, session_tally_truncate CASCADE;
            UPDATE webstream_schema SET version = 4`);
          assertEquals(await migratePostgres(url), {
            from: 4,
            to: POSTGRES_SCHEMA_VERSION,
          });
          const [row] = await sql`SELECT sum(sessions)::int AS n
            FROM session_tally`;
          assertEquals(row.n, 3);
          await sql.end();
        },
      );

      await t.step(
        "divides probing among gateways by leases",
        async () => {
          const url = await cluster.createDatabase();
          const store = await openPostgresStore(url);
          try {
            await exerciseProbeLeases(store, url);
          } finally {
            await store.close();
          }
        },
      );

      await t.step("migrating is idempotent, also concurrently", async () => {
        const url = await cluster.createDatabase();
        const results = await Promise.all(
          [1, 2, 3].map(() => migratePostgres(url)),
        );
        // Exactly one of the three created the schema.
        assertEquals(
          results.map((r) => r.from).sort(),
          [0, POSTGRES_SCHEMA_VERSION, POSTGRES_SCHEMA_VERSION],
        );
        assertEquals(await migratePostgres(url), {
          from: POSTGRES_SCHEMA_VERSION,
          to: POSTGRES_SCHEMA_VERSION,
        });
        const store = await openPostgresStore(url);
        await store.putHost(host("kept"));
        await store.close();
        await migratePostgres(url);
        const reopened = await openPostgresStore(url);
        assertEquals(await reopened.loadHosts(), [host("kept")]);
        await reopened.close();
      });

      await t.step("a newer schema is refused and left alone", async () => {
        const url = await cluster.createDatabase();
        await migratePostgres(url);
        const sql = postgres(url, { onnotice: () => {} });
        await sql`UPDATE webstream_schema SET version = 99`;
        const error = await assertRejects(
          () => openPostgresStore(url),
          StoreUrlError,
        );
        assertIncludes(error.message, "newer webstream (schema 99");
        assertIncludes(error.message, `127.0.0.1:${cluster.port}/test_`);
        const [row] = await sql`SELECT version FROM webstream_schema`;
        assertEquals(row.version, 99);
        await sql.end();
      });

      await t.step("bad URLs and dead servers are named", async () => {
        const notPg = await assertRejects(
          () => migratePostgres("mysql://db.example/farm"),
          StoreUrlError,
        );
        assertIncludes(notPg.message, "must start with postgres://");
        const port = freePort();
        const dead = await assertRejects(
          () =>
            migratePostgres(`postgres://u:secret@127.0.0.1:${port}/farm`, {
              connectTimeout: 2,
            }),
          StoreUrlError,
        );
        assertIncludes(dead.message, `127.0.0.1:${port}/farm`);
        assertIncludes(dead.message, "ECONNREFUSED");
        assert(!dead.message.includes("secret"), "no password in messages");
        const noDb = await assertRejects(
          () => migratePostgres(`${cluster.url}_nowhere`),
          StoreUrlError,
        );
        assertIncludes(noDb.message, "does not exist");
      });

      await t.step("a multi-host URL reaches the live server", async () => {
        const url = await cluster.createDatabase();
        const dead = freePort();
        const multi = url.replace(
          "@127.0.0.1:",
          `@127.0.0.1:${dead},127.0.0.1:`,
        );
        const store = await openPostgresStore(multi);
        try {
          await store.putSetting("reached", "yes");
          assertEquals(await store.getSetting("reached"), "yes");
        } finally {
          await store.close();
        }
      });

      await t.step("a SQLite store is copied once", async () => {
        const sqlite = openSqliteStore(":memory:");
        await exerciseStore(asyncStore(sqlite));
        const contents = {
          hosts: sqlite.loadHosts(),
          sessions: sqlite.loadSessions(),
          revocations: sqlite.loadRevocations(),
          settings: sqlite.loadSettings(),
        };
        sqlite.close();
        const url = await cluster.createDatabase();
        const store = await openPostgresStore(url);
        try {
          await store.importContents(contents);
          assertEquals(await store.loadHosts(), contents.hosts);
          assertEquals(
            byKey(await store.loadSessions(), (s) => s.sessionId),
            byKey(contents.sessions, (s) => s.sessionId),
          );
          assertEquals(await store.loadRevocations(), contents.revocations);
          assertEquals(await store.loadSettings(), contents.settings);
          const twice = await assertRejects(
            () => store.importContents(contents),
            StoreUrlError,
          );
          assertIncludes(twice.message, "already holds");
        } finally {
          await store.close();
        }
      });

      // Last: it halts the server.
      await t.step(
        "the guard keeps writes while the server is down",
        async () => {
          const url = await cluster.createDatabase();
          const { logger, records } = captureLogs();
          const guard = await GuardedStore.open(
            await openPostgresStore(url, { connectTimeout: 2 }),
            { logger, retryIntervalMs: 200 },
          );
          try {
            guard.putHost(host("a"));
            assertEquals(await guard.flush(), { kind: "working" });
            assertEquals(guard.holds("host", host("a").serverUrl), false);
            assertEquals(await guard.probe(), { kind: "working" });
            await cluster.halt();
            // A gateway that writes nothing finds out by asking.
            assertEquals((await guard.probe()).kind, "failing");
            assertEquals(await guard.findSession("s1"), undefined);
            guard.putSession(session("s1"));
            // Kept: memory is newer than the store there.
            assert(guard.holds("session", "s1"));
            const state = await guard.flush();
            assertEquals(state.kind, "failing");
            // The cause names the server that is down.
            assertMatch(
              state.kind === "failing" ? state.cause : "",
              // The client's words vary with the moment the server went.
              /127\.0\.0\.1:\d+|terminating connection|CONNECTION_(CLOSED|ENDED)/,
            );
            await assertRejects(
              () => guard.insertSession(session("s2")),
              StoreUnavailableError,
              /^the gateway's state store cannot be written: /,
            );
            assert(
              !await guard.isRevoked({ id: "c", user: "alice", issuedAt: 0 }),
            );
            assertEquals(guard.pending, 1);
            await cluster.resume();
            await waitFor(() => guard.state.kind === "working", {
              what: "the guard to find the server back",
            });
            assertEquals(guard.pending, 0);
            await guard.insertSession(session("s2"));
            assertEquals(
              records.filter((r) => /state store/.test(String(r.msg))).length,
              2,
            );
          } finally {
            await guard.close();
          }
          const check = await openPostgresStore(url);
          try {
            assertEquals(await check.loadHosts(), [host("a")]);
            assertEquals(
              (await check.loadSessions()).map((s) => s.sessionId).sort(),
              ["s1", "s2"],
            );
          } finally {
            await check.close();
          }
        },
      );
    } finally {
      await cluster.stop();
    }
  },
});

/** The probe-lease rounds of several gateways on one PostgreSQL store. */
async function exerciseProbeLeases(
  store: PostgresStore,
  databaseUrl: string,
): Promise<void> {
  const hosts = Array.from({ length: 12 }, (_, i) => `http://h${i}.test:1`);
  const leaseMs = 400;
  const since: Record<string, number> = {};
  const round = async (
    gatewayId: string,
    overrides: Partial<ProbeRound> = {},
  ) => {
    const share = await store.shareProbes({
      gatewayId,
      leaseMs,
      hosts,
      results: [],
      since: since[gatewayId] ?? 0,
      ...overrides,
    });
    since[gatewayId] = share.now - leaseMs;
    return share;
  };
  const gateways = ["gw-a", "gw-b", "gw-c"];

  // The first alone takes all; once the others are live, each holds its
  // rendezvous share and the shares cover every host once.
  assertEquals((await round("gw-a")).held.sort(), [...hosts].sort());
  await round("gw-b");
  await round("gw-c");
  const held: Record<string, string[]> = {};
  for (const gateway of gateways) held[gateway] = (await round(gateway)).held;
  for (const gateway of gateways) {
    assertEquals(
      held[gateway].sort(),
      hosts.filter((h) => rendezvousWinner(h, gateways) === gateway).sort(),
      gateway,
    );
  }
  assertEquals(Object.values(held).flat().sort(), [...hosts].sort());

  // A's result reaches B and C; an older one does not replace it.
  const url = held["gw-a"][0];
  const probe = (at: number, ok: boolean) => ({ at, ok, latencyMs: 5 });
  await round("gw-a", {
    results: [{ serverUrl: url, failures: 2, lastProbe: probe(2000, false) }],
  });
  await round("gw-c", {
    results: [{ serverUrl: url, failures: 0, lastProbe: probe(1000, true) }],
  });
  const seen = (await round("gw-b")).results.filter((r) => r.serverUrl === url);
  assertEquals(seen, [
    { serverUrl: url, failures: 2, lastProbe: probe(2000, false) },
  ]);
  // A host forgotten takes its result along.
  const forgotten = held["gw-a"][1] ?? held["gw-b"][0];
  await round("gw-a", {
    results: [{
      serverUrl: forgotten,
      failures: 1,
      lastProbe: probe(3, false),
    }],
  });
  await store.deleteHost(forgotten);
  assertEquals(
    (await round("gw-b", { since: 0 })).results.map((r) => r.serverUrl),
    [url],
  );

  // C stops renewing: after its lease, A and B share its hosts.
  await waitFor(async () => {
    const a = await round("gw-a");
    const b = await round("gw-b");
    return a.held.length + b.held.length === hosts.length &&
      !a.held.some((h) => b.held.includes(h));
  }, { what: "C's hosts to move to A and B", intervalMs: 100 });

  // A host B knows and A (the winner for it) does not: nobody takes it
  // at first; a lease later, B does.
  const known = Array.from({ length: 40 }, (_, i) => `http://only${i}.test:1`)
    .find((h) => rendezvousWinner(h, ["gw-a", "gw-b"]) === "gw-a")!;
  const first = await round("gw-b", { hosts: [known] });
  assertEquals(first.held, []);
  await waitFor(async () => {
    await round("gw-a");
    return (await round("gw-b", { hosts: [...hosts, known] })).held
      .includes(known);
  }, { what: "B to take the host A does not know", intervalMs: 100 });

  // B leaves (it stops): A takes all its hosts at its very next round.
  await store.leaveProbing("gw-b");
  assertEquals((await round("gw-a")).held.sort(), [...hosts].sort());

  // Alone and holding all, A's rounds renew its leases by its liveness
  // alone: no lease row is written.
  const sql = postgres(databaseUrl, { onnotice: () => {} });
  try {
    const rows = () =>
      sql`SELECT server_url, holder, expires_at, xmin::text AS version
        FROM probe_leases ORDER BY server_url`;
    const before = await rows();
    await new Promise((resolve) => setTimeout(resolve, leaseMs + 100));
    assertEquals((await round("gw-a")).held.sort(), [...hosts].sort());
    assertEquals((await round("gw-a")).held.sort(), [...hosts].sort());
    assertEquals(await rows(), before);
    // A host A no longer knows: its lease is given up, for the others.
    const [gone, ...rest] = hosts;
    assertEquals(
      (await round("gw-a", { hosts: rest })).held.sort(),
      rest.sort(),
    );
    const [row] = await sql`SELECT holder FROM probe_leases
      WHERE server_url = ${gone}`;
    assertEquals(row.holder, null);
  } finally {
    await sql.end();
  }
}
