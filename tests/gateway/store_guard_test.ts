/**
 * The guarded store over a real SQLite file on a real disk that fills up (a
 * small tmpfs, as root): writes return at once and reach the file in order;
 * writes that fail are kept, the latest per record, and written once the
 * disk has room again; reads of hosts and settings are what the store held
 * when it was opened, sessions are read from the store when asked (a read
 * that fails makes it failing); a new session is refused with
 * `StoreUnavailableError` naming the cause and nothing of it is kept; reads
 * go on; the state is logged once when the store starts failing and once
 * when it works again, never per write; `check()` retries at most once per
 * gap; while failing, the guard retries by itself on its timer; a claim is
 * refused like a new session while a release never throws; `close()`
 * writes what is kept or says how much was lost.
 *
 * @module
 */
import { resourcesSchema } from "../../mod/config/mod.ts";
import { asyncStore, openSqliteStore } from "../../mod/gateway/store.ts";
import {
  GuardedStore,
  storeFailureMessage,
  StoreUnavailableError,
} from "../../mod/gateway/store_guard.ts";
import type { HostRecord, SessionRecord } from "../../mod/gateway/types.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { canMount, withSmallDisk } from "../support/full_disk.ts";
import { captureLogs } from "../support/log.ts";
import { waitFor } from "../support/wait.ts";

const OPTIONS = {
  ignore: !canMount(),
  sanitizeOps: false,
  sanitizeResources: false,
};

const FULL = "database or disk is full";

function session(id: string, port = 20010): SessionRecord {
  return {
    sessionId: id,
    sessionUuid: crypto.randomUUID(),
    user: "alice",
    credentials: "user",
    serverUrl: "http://a.test:8080",
    host: "10.0.0.5",
    port,
    path: "/stream",
    kind: "desktop",
    workspaceIds: ["desk"],
    resources: resourcesSchema.parse({}),
    createdAt: 1_700_000_000_000,
    lastLaunchAt: 1_700_000_000_000,
  };
}

function host(name: string, draining = false): HostRecord {
  const serverUrl = `http://${name}.test:8080`;
  return {
    serverUrl,
    registration: {
      serverUrl,
      maxSessions: 4,
      instanceType: "m5.large",
      ec2InstanceId: "i-0abc",
      tags: [],
      capabilities: [],
      version: "0.1.0",
    },
    registeredAt: 1_700_000_000_000,
    draining,
    unregistered: false,
  };
}

/** State-change records (error when failing, info when working again). */
function stateLines(records: Record<string, unknown>[]): string[] {
  return records
    .filter((r) => /state store/.test(String(r.msg)))
    .map((r) => `${r.level}: ${r.msg}`);
}

/** A guard over the SQLite file at `path`. */
function guarded(
  path: string,
  options: Parameters<typeof GuardedStore.open>[1],
): Promise<GuardedStore> {
  return GuardedStore.open(asyncStore(openSqliteStore(path)), options);
}

Deno.test(
  "a full disk: writes are kept and written later, new sessions refused, one log line per change",
  OPTIONS,
  async () => {
    await withSmallDisk(async (disk) => {
      const path = `${disk.dir}/gateway.sqlite`;
      const seed = openSqliteStore(path);
      seed.putSession(session("before"));
      seed.close();
      const { logger, records } = captureLogs();
      const clock = { now: 1_700_000_000_000 };
      const guard = await guarded(path, {
        logger,
        retryIntervalMs: 3_600_000, // this test retries by hand
        now: () => clock.now,
      });
      try {
        guard.putHost(host("a"));
        await guard.insertSession(session("s1"));
        guard.putSession(session("s2"));
        assertEquals(await guard.flush(), { kind: "working" });
        assertEquals(guard.pending, 0);

        await disk.fill();
        // Writes do not throw: they are kept.
        guard.putSession(session("s1", 30_000));
        assertEquals((await guard.flush()).kind, "failing");
        assertEquals(guard.state.kind === "failing" && guard.state.cause, FULL);
        guard.putSession(session("s1", 30_001)); // the latest of s1 counts
        guard.deleteSession("s2");
        guard.putHosts([host("a", true), host("b")]); // one batch
        guard.putSetting("k", "v");
        guard.putRevocation({ kind: "signin", id: "c1", expiresAt: 1e15 });
        guard.pruneRevocations(0);
        assertEquals(guard.pending, 6);
        // A new session is refused, and not kept.
        const error = await assertRejects(
          () => guard.insertSession(session("s3")),
          StoreUnavailableError,
        );
        assertEquals(error.message, storeFailureMessage(FULL));
        assertEquals(
          error.message,
          "the gateway's state store cannot be written: database or disk is full",
        );
        assertEquals(guard.pending, 6);
        // Reads still work: sessions from the file (a full disk reads),
        // settings as written.
        const read: string[] = [];
        await guard.eachSession((s) => read.push(s.sessionId));
        assertEquals(read.sort(), ["before", "s1", "s2"]);
        assertEquals(guard.getSetting("k"), "v");
        assert(
          !await guard.isRevoked({ id: "c1", user: "alice", issuedAt: 0 }),
        );
        // Retrying on a full disk changes nothing.
        assertEquals((await guard.retry()).kind, "failing");
        assertEquals(guard.pending, 6);
        // check() retries at most once a second (clock injected).
        clock.now += 500;
        assertEquals(guard.check().kind, "failing");
        assertEquals(stateLines(records).length, 1);

        await disk.free();
        // Still failing until a retry: within the gap, check() does not.
        assertEquals(guard.check().kind, "failing");
        assertEquals(guard.pending, 6);
        clock.now += 1000;
        guard.check();
        await waitFor(() => guard.state.kind === "working", {
          what: "the retry check() started",
        });
        assertEquals(guard.pending, 0);
        assertEquals(stateLines(records), [
          "error: the gateway's state store cannot be written; new sessions " +
          "are refused, reconnects and resolves are served from memory until it can",
          "info: the gateway's state store works again",
        ]);
        assertEquals(records[0].cause, FULL);

        // Everything kept reached the file: read it with a second connection.
        await guard.insertSession(session("s3"));
        const check = openSqliteStore(path);
        try {
          assertEquals(
            check.loadSessions().map((s) => [s.sessionId, s.port]).sort(),
            [["before", 20010], ["s1", 30_001], ["s3", 20010]],
          );
          assertEquals(
            check.loadHosts().map((h) => [h.serverUrl, h.draining]).sort(),
            [["http://a.test:8080", true], ["http://b.test:8080", false]],
          );
          assertEquals(check.getSetting("k"), "v");
          assert(await check.isRevoked({ id: "c1", user: "x", issuedAt: 0 }));
        } finally {
          check.close();
        }
      } finally {
        await guard.close();
      }
    });
  },
);

Deno.test(
  "a refused new session alone makes the store failing; a real write tells it works again",
  OPTIONS,
  async () => {
    await withSmallDisk(async (disk) => {
      const path = `${disk.dir}/gateway.sqlite`;
      const { logger, records } = captureLogs();
      const guard = await guarded(path, { logger, retryIntervalMs: 3_600_000 });
      try {
        await disk.fill();
        await assertRejects(
          () => guard.insertSession(session("s1")),
          StoreUnavailableError,
          /database or disk is full$/,
        );
        assertEquals(guard.pending, 0);
        assertEquals((await guard.retry()).kind, "failing");
        await disk.free();
        assertEquals(await guard.retry(), { kind: "working" });
        assertEquals(stateLines(records).length, 2);
        await guard.insertSession(session("s1"));
        const check = openSqliteStore(path);
        assertEquals(check.loadSessions().map((s) => s.sessionId), ["s1"]);
        check.close();
      } finally {
        await guard.close();
      }
    });
  },
);

Deno.test(
  "while failing, the guard retries by itself and recovers",
  OPTIONS,
  async () => {
    await withSmallDisk(async (disk) => {
      const path = `${disk.dir}/gateway.sqlite`;
      const { logger, records } = captureLogs();
      const guard = await guarded(path, { logger, retryIntervalMs: 100 });
      try {
        guard.putSession(session("s1"));
        await guard.flush();
        await disk.fill();
        guard.putSession(session("s1", 30_000));
        assertEquals((await guard.flush()).kind, "failing");
        await disk.free();
        await waitFor(() => guard.state.kind === "working", {
          what: "the guard's own retry",
        });
        assertEquals(guard.pending, 0);
        const check = openSqliteStore(path);
        assertEquals(check.loadSessions()[0].port, 30_000);
        check.close();
        assertEquals(stateLines(records).length, 2);
      } finally {
        await guard.close();
      }
    });
  },
);

Deno.test(
  "close writes what is kept, or says how much is lost",
  OPTIONS,
  async () => {
    await withSmallDisk(async (disk) => {
      const path = `${disk.dir}/gateway.sqlite`;
      const first = captureLogs();
      const guard = await guarded(path, {
        logger: first.logger,
        retryIntervalMs: 3_600_000,
      });
      await disk.fill();
      guard.putSession(session("kept"));
      await guard.flush();
      await disk.free();
      await guard.close();
      const reopened = openSqliteStore(path);
      try {
        assertEquals(reopened.loadSessions().map((s) => s.sessionId), ["kept"]);
      } finally {
        reopened.close();
      }

      const second = captureLogs();
      const lossy = await guarded(path, {
        logger: second.logger,
        retryIntervalMs: 3_600_000,
      });
      await disk.fill();
      lossy.putSession(session("lost"));
      lossy.putSession(session("lost-too"));
      await lossy.close();
      const lost = second.records.find((r) =>
        /lost at stop/.test(String(r.msg))
      );
      assertEquals(lost?.records, 2);
      assertEquals(lost?.cause, FULL);
    });
  },
);

Deno.test(
  "a claim the store cannot take is refused naming the cause; a release never throws",
  OPTIONS,
  async () => {
    await withSmallDisk(async (disk) => {
      const path = `${disk.dir}/gateway.sqlite`;
      const { logger } = captureLogs();
      const guard = await guarded(path, { logger, retryIntervalMs: 3_600_000 });
      const claim = (sessionId: string, licence = 1) => ({
        sessionId,
        gatewayId: "g1",
        serverUrl: "http://a.test:8080",
        now: 1_000,
        expiresAt: 61_000,
        liveSince: 0,
        limits: { licence, hostCapacity: 4, logonCap: 2 },
      });
      try {
        assertEquals(await guard.claimSession(claim("c1")), {
          kind: "granted",
        });
        await disk.fill();
        await assertRejects(
          // Room (licence 2): a write, which the full disk refuses.
          () => guard.claimSession(claim("c2", 2)),
          StoreUnavailableError,
          /database or disk is full$/,
        );
        assertEquals(guard.state.kind, "failing");
        // Not even tried while failing; the claim expires by itself.
        await guard.releaseClaim("c1");
        await disk.free();
        assertEquals(await guard.retry(), { kind: "working" });
        // Still held (licence 1): released now, the next one fits.
        assertEquals((await guard.claimSession(claim("c3"))).kind, "refused");
        await guard.releaseClaim("c1");
        assertEquals(await guard.claimSession(claim("c3")), {
          kind: "granted",
        });
      } finally {
        await guard.close();
      }
    });
  },
);

Deno.test("sessions are read from the store when asked, not kept; a read that fails makes the store failing, a reader's error does not", async () => {
  const raw = openSqliteStore(":memory:");
  raw.putSession(session("before"));
  const { logger, records } = captureLogs();
  const guard = await GuardedStore.open(asyncStore(raw), {
    logger,
    retryIntervalMs: 3_600_000,
  });
  try {
    raw.putSession(session("after"));
    const read: string[] = [];
    await guard.eachSession((s) => read.push(s.sessionId));
    assertEquals(read.sort(), ["after", "before"], "the store as it is now");

    await assertRejects(
      () =>
        guard.eachSession(() => {
          throw new Error("the reader's own bug");
        }),
      Error,
      /the reader's own bug/,
    );
    assertEquals(guard.state.kind, "working");

    raw.close(); // the store cannot be read any more
    await assertRejects(() => guard.eachSession(() => {}));
    assertEquals(guard.state.kind, "failing");
    assertEquals(stateLines(records).length, 1);
  } finally {
    await guard.close().catch(() => {});
  }
});
