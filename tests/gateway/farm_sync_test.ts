/**
 * Keeping a gateway's memory coherent with its store's change notices.
 *
 * Pure: `reconcile` takes in every stored record unless memory is newer
 * (kept), and forgets what the store no longer holds unless kept;
 * `applyChange` puts each kind of notice into the registry (and its
 * placement index), the session map and the revocations, writing nothing
 * back to the store.
 *
 * Against a real PostgreSQL (two stores, as two gateways): what gateway A
 * writes reaches B's memory, B's own writes are not applied twice, a row
 * too large for a notice is read, check-in times arrive in batches; and
 * with the server restarted (notices lost meanwhile), B reads the store
 * again: a host and a session deleted meanwhile are forgotten, one added is
 * learnt, and a session B has not yet written (kept by its guard) stays.
 *
 * @module
 */
import { healthCheckSchema, placementSchema } from "../../mod/config/mod.ts";
import postgres from "postgres";
import { Revocations } from "../../mod/gateway/auth/mod.ts";
import {
  applyChange,
  FarmSync,
  reconcile,
  reread,
} from "../../mod/gateway/farm_sync.ts";
import { HostRegistry } from "../../mod/gateway/registry.ts";
import { SessionMap } from "../../mod/gateway/sessions.ts";
import { asyncStore, openSqliteStore } from "../../mod/gateway/store.ts";
import { GuardedStore } from "../../mod/gateway/store_guard.ts";
import { openPostgresStore } from "../../mod/gateway/store_postgres.ts";
import type { AsyncGatewayStore } from "../../mod/gateway/store.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { hasPostgres, startPostgres } from "../support/postgres.ts";
import { host, session } from "../support/store_contract.ts";
import { waitFor } from "../support/wait.ts";

Deno.test("reconcile: stored records in, gone keys out, unless kept", () => {
  const plan = reconcile(
    ["a", "b", "kept-gone", "c"],
    [{ k: "a" }, { k: "new" }, { k: "c" }],
    { key: (r) => r.k, keep: (key) => key === "kept-gone" || key === "c" },
  );
  assertEquals(plan, { apply: [{ k: "a" }, { k: "new" }], forget: ["b"] });
});

Deno.test("reread: records judged as they come, what memory holds beyond them is gone unless kept", () => {
  const compared = reread<{ k: string }>({
    key: (r) => r.k,
    keep: (key) => key === "kept-gone" || key === "c",
  });
  assertEquals(
    [{ k: "a" }, { k: "new" }, { k: "c" }].map((r) => compared.take(r)),
    [true, true, false],
  );
  // Asked after the read: records taken in meanwhile are not gone.
  assertEquals(compared.gone(["a", "b", "kept-gone", "c", "new"]), ["b"]);
});

/** A gateway's memory over `source`, guarded as createGateway does. */
async function memory(source: AsyncGatewayStore, now = Date.now) {
  const { logger, records: logs } = captureLogs();
  const store = await GuardedStore.open(source, { logger });
  const health = healthCheckSchema.parse({});
  const registry = new HostRegistry({ store, health, logger, now });
  const sessions = new SessionMap({ store, staleAfter: 45, logger, now });
  const revocations = new Revocations({ store, now });
  return { store, registry, sessions, revocations, logs, logger };
}

Deno.test("applyChange: each kind into memory, nothing written back", async () => {
  const sqlite = openSqliteStore(":memory:");
  const m = await memory(asyncStore(sqlite), () => 1_700_000_002_000);
  try {
    const h = host("a");
    applyChange(
      { kind: "host", op: "put", key: h.serverUrl, origin: "g", row: h },
      m,
    );
    assertEquals(m.registry.get(h.serverUrl)?.state, "Healthy");
    const settings = placementSchema.parse({});
    assertEquals(
      [...m.registry.index().groups(settings)].flatMap((g) =>
        [...g.ranked()].map((v) => v.serverUrl)
      ),
      [h.serverUrl],
    );
    const s = session("s1");
    applyChange(
      { kind: "session", op: "put", key: "s1", origin: "g", row: s },
      m,
    );
    assertEquals(m.sessions.get("s1")?.sessionUuid, "uuid-s1");
    applyChange(
      { kind: "checkins", origin: "g", checkins: [["s1", 1_700_000_009_000]] },
      m,
    );
    assertEquals(m.sessions.get("s1")?.lastCheckinAt, 1_700_000_009_000);
    applyChange({
      kind: "revocation",
      op: "put",
      key: "signin:x",
      origin: "g",
      row: { kind: "signin", id: "x", expiresAt: 1_800_000_000_000 },
    }, m);
    assert(
      await m.revocations.isRevoked({ id: "x", user: "u", issuedAt: 0 }),
    );
    await m.store.flush();
    assertEquals(sqlite.loadHosts(), []);
    assertEquals(sqlite.loadSessions(), []);
    assertEquals(sqlite.loadRevocations(), []);
    applyChange(
      { kind: "session", op: "delete", key: "s1", origin: "g" },
      m,
    );
    applyChange(
      { kind: "host", op: "delete", key: h.serverUrl, origin: "g" },
      m,
    );
    assertEquals(m.sessions.size, 0);
    assertEquals(m.registry.size, 0);
  } finally {
    await m.store.close();
  }
});

Deno.test({
  name: "FarmSync on a real PostgreSQL: notices, large rows, check-ins, resync",
  ignore: !hasPostgres(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cluster = await startPostgres();
    try {
      const url = await cluster.createDatabase();
      const a = await openPostgresStore(url, { gatewayId: "A" });
      const b = await openPostgresStore(url, { gatewayId: "B" });
      const m = await memory(b);
      const sync = await FarmSync.listen(b.changes, { logger: m.logger });
      sync.start({ ...m, source: b, tickMs: 200 });
      try {
        await t.step(
          "A's writes reach B; B's own are not applied",
          async () => {
            await a.putHost(host("h1"));
            await a.putSession(session("s1"));
            await a.putRevocation({
              kind: "user",
              user: "bob",
              before: 5,
              expiresAt: 9e12,
            });
            await waitFor(
              () =>
                m.sessions.get("s1") && m.registry.get(host("h1").serverUrl),
              {
                what: "B to learn A's host and session",
              },
            );
            assert(
              await m.revocations.isRevoked({
                id: "z",
                user: "bob",
                issuedAt: 1,
              }),
            );
            // B's own write: a session only in its store is not re-applied.
            await b.putSession(session("own"));
            await a.putSession(session("s2"));
            await waitFor(() => m.sessions.get("s2"), {
              what: "B to learn s2",
            });
            assertEquals(m.sessions.get("own"), undefined);
          },
        );

        await t.step("a row too large for a notice is read", async () => {
          const big = {
            ...session("big"),
            workspaceIds: Array.from(
              { length: 800 },
              (_, i) => `workspace-${i}`,
            ),
          };
          assert(JSON.stringify(big).length > 8000);
          await a.putSession(big);
          await waitFor(() => m.sessions.get("big"), {
            what: "B to read the large session",
          });
          assertEquals(m.sessions.get("big")?.workspaceIds.length, 800);
        });

        await t.step("a host too large for a notice is read", async () => {
          const plain = host("big-host");
          const tags = Array.from({ length: 800 }, (_, i) => `tag-${i}`);
          const big = {
            ...plain,
            registration: { ...plain.registration, tags },
          };
          assert(JSON.stringify(big).length > 8000);
          await a.putHost(big);
          await waitFor(() => m.registry.get(big.serverUrl), {
            what: "B to read the large host",
          });
          assertEquals(
            m.registry.get(big.serverUrl)?.registration.tags.length,
            800,
          );
        });

        await t.step("check-in times arrive in batches", async () => {
          const many = Array.from({ length: 250 }, (_, i) => session(`c${i}`));
          await a.putSessions(many);
          await waitFor(() => many.every((s) => m.sessions.get(s.sessionId)), {
            what: "B to learn 250 sessions",
          });
          const at = 1_800_000_000_000;
          await a.putSessions(many.map((s) => ({ ...s, lastCheckinAt: at })));
          await waitFor(
            () =>
              many.every((s) =>
                m.sessions.get(s.sessionId)?.lastCheckinAt === at
              ),
            { what: "B to learn the check-ins" },
          );
        });

        await t.step(
          "after a restart of the server, B reads the store again",
          async () => {
            // Changes nobody is told of (triggers off), as if lost.
            const raw = postgres(url, { onnotice: () => {} });
            try {
              await raw.begin(async (tx) => {
                await tx`SET LOCAL session_replication_role = replica`;
                await tx`DELETE FROM hosts WHERE server_url = ${
                  host("h1").serverUrl
                }`;
                await tx`DELETE FROM sessions WHERE session_id = 's1'`;
                await tx`INSERT INTO hosts (server_url, data)
                VALUES (${host("h2").serverUrl}, ${
                  JSON.stringify(host("h2"))
                }::text::jsonb)`;
              });
            } finally {
              await raw.end();
            }
            assert(m.registry.get(host("h1").serverUrl), "not told");
            await cluster.halt();
            // Not in the store yet: B's guard keeps it.
            m.sessions.put(session("mine"));
            await cluster.resume();
            await waitFor(
              () =>
                m.registry.get(host("h1").serverUrl) === undefined &&
                m.sessions.get("s1") === undefined &&
                m.registry.get(host("h2").serverUrl) !== undefined,
              { what: "B to reconcile with the store" },
            );
            assert(
              m.logs.some((r) => r.msg === "memory reconciled with the store"),
            );
            assert(m.sessions.get("mine"), "a session not yet written stays");
            assert(m.sessions.get("s2"));
          },
        );
      } finally {
        await sync.stop();
        await m.store.close();
        await a.close();
      }
    } finally {
      await cluster.stop();
    }
  },
});
