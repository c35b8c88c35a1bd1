/**
 * The session map over a real SQLite store, with an injected clock:
 * put/get/getByUuid/ofUser/all/ids/onHost/delete/deleteHost and their indexes;
 * liveness from `lastCheckinAt` or `lastLaunchAt` against `staleAfter`;
 * a check-in naming the wrong host is refused; prune forgets stale sessions
 * and persists that; flush writes check-in times in one batch (and a failed
 * flush is written by the next); a map re-created on the same store file
 * restores sessions with a fresh window; `add` stores a new session before
 * indexing it, and one the store (a real full disk) cannot take is not kept.
 * Several gateways on one store: a session id not known is read from the
 * store once (`find`); another gateway's sessions, check-ins and endings
 * change memory only; while news of their check-ins lags (`heardUntil`),
 * no session is judged silent.
 *
 * @module
 */
import { resourcesSchema } from "../../mod/config/mod.ts";
import { SessionMap } from "../../mod/gateway/sessions.ts";
import { type GatewayStore, openSqliteStore } from "../../mod/gateway/store.ts";
import type { SessionRecord } from "../../mod/gateway/types.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { withTempDir, withTempDirSync } from "../support/fs.ts";
import { canMount, withSmallDisk } from "../support/full_disk.ts";

const T0 = 1_700_000_000_000;
const STALE_AFTER = 45;
const STALE_MS = STALE_AFTER * 1000;
const HOST_A = "http://a.test:8080";
const HOST_B = "http://b.test:8080";

/** A real store that also counts the writes made through it. */
interface CountingStore extends GatewayStore {
  writes: { putSession: number; putSessions: number; batchSizes: number[] };
}

function counting(store: GatewayStore): CountingStore {
  const writes = { putSession: 0, putSessions: 0, batchSizes: [] as number[] };
  return {
    ...store,
    writes,
    putSession(session) {
      writes.putSession++;
      store.putSession(session);
    },
    putSessions(sessions) {
      writes.putSessions++;
      writes.batchSizes.push(sessions.length);
      store.putSessions(sessions);
    },
  };
}

interface Harness {
  map: SessionMap;
  store: CountingStore;
  logs: Record<string, unknown>[];
  clock: { now: number };
}

function harness(
  store: GatewayStore = openSqliteStore(":memory:"),
  start = T0,
): Harness {
  const { logger, records: logs } = captureLogs();
  const clock = { now: start };
  const counted = counting(store);
  const map = new SessionMap({
    store: counted,
    staleAfter: STALE_AFTER,
    logger,
    now: () => clock.now,
  });
  return { map, store: counted, logs, clock };
}

function session(
  id: string,
  overrides: Partial<SessionRecord> = {},
): SessionRecord {
  return {
    sessionId: id,
    sessionUuid: `uuid-${id}`,
    user: "alice",
    credentials: "user",
    serverUrl: HOST_A,
    host: "10.0.0.5",
    port: 20010,
    path: "/stream",
    kind: "app",
    workspaceIds: ["calc"],
    resources: resourcesSchema.parse({}),
    createdAt: T0,
    lastLaunchAt: T0,
    ...overrides,
  };
}

function ids(sessions: SessionRecord[]): string[] {
  return sessions.map((s) => s.sessionId).sort();
}

function stored(store: GatewayStore): Map<string, SessionRecord> {
  return new Map(store.loadSessions().map((s) => [s.sessionId, s]));
}

Deno.test("put, get, indexes, delete", () => {
  const { map, store, logs } = harness();
  try {
    map.put(session("s1"));
    map.put(session("s2", { serverUrl: HOST_B }));
    map.put(session("s3", { user: "bob" }));
    assertEquals(map.size, 3);
    assertEquals(map.get("s1")?.sessionUuid, "uuid-s1");
    assertEquals(map.get("nope"), undefined);
    assertEquals(map.getByUuid("uuid-s2")?.sessionId, "s2");
    assertEquals(map.getByUuid("uuid-nope"), undefined);
    assertEquals(ids(map.ofUser("alice")), ["s1", "s2"]);
    assertEquals(ids(map.ofUser("bob")), ["s3"]);
    assertEquals(map.ofUser("carol"), []);
    assertEquals(ids(map.all()), ["s1", "s2", "s3"]);
    // Persisted at once.
    assertEquals([...stored(store).keys()].sort(), ["s1", "s2", "s3"]);

    // Replacing a session re-indexes it: new owner, new internal id.
    map.put(session("s1", { user: "bob", sessionUuid: "uuid-s1-b" }));
    assertEquals(ids(map.ofUser("alice")), ["s2"]);
    assertEquals(ids(map.ofUser("bob")), ["s1", "s3"]);
    assertEquals(map.getByUuid("uuid-s1"), undefined);
    assertEquals(map.getByUuid("uuid-s1-b")?.sessionId, "s1");
    assertEquals(stored(store).get("s1")?.user, "bob");

    map.delete("s2", "test");
    assertEquals(map.get("s2"), undefined);
    assertEquals(map.getByUuid("uuid-s2"), undefined);
    assertEquals(map.ofUser("alice"), []);
    assertEquals(stored(store).has("s2"), false);
    const ended = logs.find((r) => r.msg === "session ended");
    assertEquals(ended?.sessionId, "s2");
    assertEquals(ended?.reason, "test");
    map.delete("s2", "again"); // Unknown: nothing happens.
    assertEquals(logs.filter((r) => r.msg === "session ended").length, 1);

    // A host that unregisters takes its sessions along.
    map.put(session("s4", { serverUrl: HOST_B }));
    map.put(session("s5", { serverUrl: HOST_B, user: "carol" }));
    assertEquals(ids(map.onHost(HOST_B)), ["s4", "s5"]);
    map.deleteHost(HOST_B, "host unregistered");
    assertEquals(map.onHost(HOST_B), []);
    assertEquals(ids(map.all()), ["s1", "s3"]);
    assertEquals([...map.ids()].sort(), ["s1", "s3"]);
    assertEquals([...stored(store).keys()].sort(), ["s1", "s3"]);
    assertEquals(map.ofUser("carol"), []);
  } finally {
    store.close();
  }
});

Deno.test("liveness from check-ins or the last launch", () => {
  const { map, store, clock } = harness();
  try {
    map.put(session("launched"));
    map.put(session("old", { lastLaunchAt: T0 - STALE_MS - 1 }));
    map.put(
      session("checking-in", {
        lastLaunchAt: T0 - 10 * STALE_MS,
        lastCheckinAt: T0 - 1_000,
      }),
    );
    assertEquals(ids(map.ofUser("alice")), ["checking-in", "launched"]);
    assertEquals(map.liveCount(), 2);
    assertEquals(map.isLive(map.get("old")!), false);
    // all() still lists it until pruned.
    assertEquals(map.all().length, 3);

    // Exactly staleAfter after the launch is still live; a moment later not.
    clock.now = T0 + STALE_MS;
    assertEquals(map.isLive(map.get("launched")!), true);
    clock.now = T0 + STALE_MS + 1;
    assertEquals(map.isLive(map.get("launched")!), false);
    assertEquals(map.liveCount(), 0);

    // A check-in revives it; the later of launch and check-in counts.
    clock.now = T0 + 40_000;
    assert(map.checkin("uuid-launched", HOST_A));
    assertEquals(map.get("launched")?.lastCheckinAt, T0 + 40_000);
    assertEquals(map.liveCount(), 2);
    clock.now = T0 + 40_000 + STALE_MS;
    assertEquals(ids(map.ofUser("alice")), ["launched"]);
    assertEquals(map.liveCount(), 1);
    clock.now += 1;
    assertEquals(map.ofUser("alice"), []);
    assertEquals(map.liveCount(), 0);
    // Check-ins another gateway took revive it too.
    map.applyCheckins([["launched", clock.now]]);
    assertEquals(map.liveCount(), 1);
  } finally {
    store.close();
  }
});

Deno.test("a record changed behind the map's back is counted again", () => {
  const { map, store, logs, clock } = harness();
  try {
    map.put(session("a"));
    map.put(session("b"));
    // Not through the map: its tally still has the old time.
    map.get("a")!.lastLaunchAt = T0 + 10 * STALE_MS;
    clock.now = T0 + 2 * STALE_MS;
    map.delete("a", "test");
    assert(
      logs.some((r) =>
        r.msg === "the live-session tally lost track; counted again"
      ),
      "the recount is logged",
    );
    assertEquals(map.liveCount(), 0);
    assert(map.checkin("uuid-b", HOST_A));
    assertEquals(map.liveCount(), 1);
  } finally {
    store.close();
  }
});

Deno.test("a check-in for the wrong host is refused", () => {
  const { map, store, clock } = harness();
  try {
    map.put(session("s1"));
    clock.now += 30_000;
    assertEquals(map.checkin("uuid-s1", HOST_B), undefined);
    assertEquals(map.get("s1")?.lastCheckinAt, undefined);
    assertEquals(map.checkin("uuid-unknown", HOST_A), undefined);
    const accepted = map.checkin("uuid-s1", HOST_A);
    assertEquals(accepted?.sessionId, "s1");
    assertEquals(accepted?.lastCheckinAt, T0 + 30_000);
  } finally {
    store.close();
  }
});

Deno.test("prune forgets stale sessions and persists it", () => {
  withTempDirSync((dir) => {
    const path = `${dir}/gateway.db`;
    const { map, store, logs, clock } = harness(openSqliteStore(path));
    map.put(session("quiet"));
    map.put(session("talking"));
    map.put(session("quiet-bob", { user: "bob" }));
    clock.now = T0 + 30_000;
    map.checkin("uuid-talking", HOST_A);
    clock.now = T0 + STALE_MS + 1;
    assertEquals(map.prune(), 2);
    assertEquals(ids(map.all()), ["talking"]);
    assertEquals(map.ofUser("bob"), []);
    const reasons = logs.filter((r) => r.msg === "session ended")
      .map((r) => String(r.reason));
    assertEquals(reasons.length, 2);
    for (const reason of reasons) {
      assertMatch(reason, /no licence check-in for 45 s/);
    }
    // The surviving check-in was flushed by prune.
    assertEquals(stored(store).get("talking")?.lastCheckinAt, T0 + 30_000);
    assertEquals(map.prune(), 0);
    store.close();

    const reopened = openSqliteStore(path);
    try {
      assertEquals([...stored(reopened).keys()], ["talking"]);
    } finally {
      reopened.close();
    }
  });
});

Deno.test("flush writes check-in times in one batch", () => {
  const { map, store, clock } = harness();
  try {
    for (const id of ["s1", "s2", "s3", "s4"]) map.put(session(id));
    assertEquals(store.writes.putSession, 4);
    map.flush();
    assertEquals(store.writes.putSessions, 0, "nothing to write yet");

    clock.now = T0 + 5_000;
    map.checkin("uuid-s1", HOST_A);
    map.checkin("uuid-s2", HOST_A);
    map.checkin("uuid-s3", HOST_A);
    clock.now = T0 + 6_000;
    map.checkin("uuid-s1", HOST_A); // The same session twice: written once.
    // Check-ins alone do not write.
    assertEquals(store.writes.putSession, 4);
    assertEquals(store.writes.putSessions, 0);
    assertEquals(stored(store).get("s1")?.lastCheckinAt, undefined);

    map.flush();
    assertEquals(store.writes.putSessions, 1);
    assertEquals(store.writes.batchSizes, [3]);
    const after = stored(store);
    assertEquals(after.get("s1")?.lastCheckinAt, T0 + 6_000);
    assertEquals(after.get("s2")?.lastCheckinAt, T0 + 5_000);
    assertEquals(after.get("s3")?.lastCheckinAt, T0 + 5_000);
    assertEquals(after.get("s4")?.lastCheckinAt, undefined);

    // Flushed once, nothing pending; a deleted dirty session is skipped.
    map.flush();
    assertEquals(store.writes.putSessions, 1);
    map.checkin("uuid-s4", HOST_A);
    map.delete("s4", "test");
    map.flush();
    assertEquals(stored(store).has("s4"), false);
  } finally {
    store.close();
  }
});

Deno.test("a map re-created on the same store restores sessions", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gateway.db`;
    const first = harness(openSqliteStore(path));
    first.map.put(session("s1"));
    first.map.put(session("s2", { user: "bob", serverUrl: HOST_B }));
    first.store.close();

    // Restarted long after the sessions' last sign of life.
    const later = T0 + 3_600_000;
    const second = harness(openSqliteStore(path), later);
    try {
      assertEquals(second.map.size, 0, "a new map holds nothing until loaded");
      assertEquals(await second.map.load(second.store), 2);
      assertEquals(second.store.writes.putSession, 0, "nothing written back");
      assertEquals(second.map.size, 2);
      assertEquals(ids(second.map.ofUser("alice")), ["s1"]);
      assertEquals(second.map.getByUuid("uuid-s2")?.serverUrl, HOST_B);
      assertEquals(second.map.get("s1")?.lastCheckinAt, later);
      assertEquals(second.map.liveCount(), 2);
      // The fresh window runs out like any other.
      second.clock.now = later + STALE_MS + 1;
      assertEquals(second.map.liveCount(), 0);
      assertEquals(second.map.prune(), 2);
    } finally {
      second.store.close();
    }
  });
});

Deno.test("a flush that fails is written by the next one", () => {
  const real = openSqliteStore(":memory:");
  let failing = false;
  // The real store, but its batch write fails while `failing` (a full disk).
  const { map, clock } = harness({
    ...real,
    putSessions(sessions) {
      if (failing) throw new Error("database or disk is full");
      real.putSessions(sessions);
    },
  });
  try {
    map.put(session("s1"));
    clock.now = T0 + 5_000;
    map.checkin("uuid-s1", HOST_A);
    failing = true;
    let thrown: unknown;
    try {
      map.flush();
    } catch (error) {
      thrown = error;
    }
    assertMatch(String(thrown), /disk is full/);
    assertEquals(stored(real).get("s1")?.lastCheckinAt, undefined);
    failing = false;
    map.flush();
    assertEquals(stored(real).get("s1")?.lastCheckinAt, T0 + 5_000);
  } finally {
    real.close();
  }
});

Deno.test("endOnHost ends a session of that host only; reconcile keeps what the host has", () => {
  const { map, store, logs } = harness();
  try {
    map.put(session("s1"));
    map.put(session("s2"));
    map.put(session("s3", { lastLaunchAt: T0 + 5_000 }));
    map.put(session("b1", { serverUrl: HOST_B }));
    assertEquals(
      map.endOnHost(HOST_B, { sessionUuid: "uuid-s1", reason: "x" }),
      false,
    );
    assertEquals(
      map.endOnHost(HOST_A, { sessionUuid: "uuid-s1", reason: "display died" }),
      true,
    );
    assert(
      logs.some((l) =>
        l.msg === "session ended" && l.sessionId === "s1" &&
        l.reason === "ended on its host: display died"
      ),
    );
    // HOST_A has s2 only; s3 was launched after the list was asked for.
    const ended = map.reconcile(HOST_A, {
      live: new Set(["uuid-s2"]),
      since: T0 + 1_000,
    });
    assertEquals(ended, 0);
    assertEquals(ids(map.all()), ["b1", "s2", "s3"]);
    assertEquals(
      map.reconcile(HOST_A, { live: new Set(), since: T0 + 1_000 }),
      1,
    );
    assertEquals(ids(map.all()), ["b1", "s3"]);
    assertEquals([...stored(store).keys()].sort(), ["b1", "s3"]);
  } finally {
    store.close();
  }
});

Deno.test({
  name: "add stores a new session first; one the store cannot take is not kept",
  ignore: !canMount(),
  async fn() {
    await withSmallDisk(async (disk) => {
      const path = `${disk.dir}/gateway.sqlite`;
      const store = openSqliteStore(path);
      try {
        const { map } = harness(store);
        await map.add(session("s1"));
        assertEquals(map.get("s1")?.sessionId, "s1");
        assertEquals([...stored(store).keys()], ["s1"]);

        await disk.fill();
        let thrown: unknown;
        try {
          await map.add(session("s2", { user: "bob" }));
        } catch (error) {
          thrown = error;
        }
        assertMatch(String(thrown), /database or disk is full/);
        assertEquals(map.get("s2"), undefined);
        assertEquals(map.getByUuid("uuid-s2"), undefined);
        assertEquals(map.ofUser("bob"), []);
        assertEquals(map.size, 1);

        await disk.free();
        await map.add(session("s2", { user: "bob" }));
        assertEquals([...stored(store).keys()].sort(), ["s1", "s2"]);
      } finally {
        store.close();
      }
    });
  },
});

Deno.test("a session another gateway on the same store placed is found by its uuid and taken up", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gateway.sqlite`;
    const a = harness(openSqliteStore(path));
    const b = harness(openSqliteStore(path));
    await a.map.add(session("placed-on-a"));
    assertEquals(b.map.getByUuid("uuid-placed-on-a"), undefined);
    const found = await b.map.findByUuid("uuid-placed-on-a");
    assertEquals(found?.sessionId, "placed-on-a");
    // Known from now on: its streamer's check-ins are recorded here.
    assertEquals(b.map.get("placed-on-a")?.sessionUuid, "uuid-placed-on-a");
    assertEquals(
      b.map.checkin("uuid-placed-on-a", HOST_A)?.sessionId,
      "placed-on-a",
    );
    assertEquals(await b.map.findByUuid("uuid-nowhere"), undefined);
  });
});

Deno.test("load indexes each session as the source hands it over, replacing one known, sharing what is alike", async () => {
  const { map, store } = harness();
  try {
    map.put(session("s1", { user: "alice" }));
    const handed: SessionRecord[] = [];
    // A source on a database server: records come in batches, later.
    const source = {
      async eachSession(each: (session: SessionRecord) => void) {
        for (const batch of [["s1", "s2"], ["s3"]]) {
          await new Promise((resolve) => setTimeout(resolve, 1));
          for (const id of batch) {
            const record = session(id, { user: "bob" });
            handed.push(record);
            each(record);
            // Indexed at once, before the next one comes.
            assertEquals(map.get(id), record);
          }
        }
      },
    };
    assertEquals(await map.load(source), 3);
    assertEquals(map.size, 3);
    assertEquals(ids(map.ofUser("bob")), ["s1", "s2", "s3"]);
    assertEquals(map.ofUser("alice"), [], "s1 was replaced");
    // The map keeps the records handed over (no copy), with one shared
    // copy of values many have alike.
    assert(handed.every((r) => map.get(r.sessionId) === r));
    assert(handed[1].resources === handed[2].resources);
    assertEquals(handed[2].lastCheckinAt, T0);
  } finally {
    store.close();
  }
});

Deno.test("a session id not known here is read from the store once", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/gateway.sqlite`;
    const a = harness(openSqliteStore(path));
    const b = harness(openSqliteStore(path));
    const id = crypto.randomUUID();
    await a.map.add(session(id, { lastCheckinAt: T0 - 1000 }));
    assertEquals(b.map.get(id), undefined);
    const found = await b.map.find(id);
    assertEquals(found?.sessionUuid, `uuid-${id}`);
    // Known from now on, as stored (its check-in time too).
    assertEquals(b.map.get(id)?.lastCheckinAt, T0 - 1000);
    assertEquals(await b.map.find(crypto.randomUUID()), undefined);
    // Ids this gateway never makes cost no store read.
    b.store.close();
    assertEquals(await b.map.find("not-a-uuid"), undefined);
  });
});

Deno.test("applyRemote, applyCheckins and forgetRemote change memory only", () => {
  const { map, store, logs } = harness();
  try {
    map.applyRemote(session("r1", { lastCheckinAt: T0 + 5000 }));
    assertEquals(map.get("r1")?.sessionUuid, "uuid-r1");
    assertEquals(ids(map.ofUser("alice")), ["r1"]);
    // An older copy does not move the times back; the rest is the writer's.
    map.applyRemote(
      session("r1", { lastCheckinAt: T0, workspaceIds: ["calc", "editor"] }),
    );
    assertEquals(map.get("r1")?.lastCheckinAt, T0 + 5000);
    assertEquals(map.get("r1")?.workspaceIds, ["calc", "editor"]);
    map.applyCheckins([["r1", T0 + 9000], ["unknown", T0], ["r1", T0 + 1]]);
    assertEquals(map.get("r1")?.lastCheckinAt, T0 + 9000);
    assertEquals(store.writes, {
      putSession: 0,
      putSessions: 0,
      batchSizes: [],
    });
    assertEquals(store.loadSessions(), [], "nothing written back");
    assert(map.forgetRemote("r1"));
    assertEquals(map.get("r1"), undefined);
    assertEquals(map.getByUuid("uuid-r1"), undefined);
    assertEquals(map.forgetRemote("r1"), false);
    assert(logs.some((r) => r.msg === "session ended by another gateway"));
  } finally {
    store.close();
  }
});

Deno.test("load from a source that fails keeps what was read and says why", async () => {
  const { map, store } = harness();
  try {
    const source = {
      eachSession(each: (session: SessionRecord) => void) {
        each(session("s1"));
        throw new Error("connection lost");
      },
    };
    await assertRejects(() => map.load(source), Error, /connection lost/);
    assertEquals(map.size, 1);
  } finally {
    store.close();
  }
});

Deno.test("while news of other gateways' check-ins lags, no session is judged silent", () => {
  const { logger } = captureLogs();
  const store = openSqliteStore(":memory:");
  const clock = { now: T0 };
  let heardUntil = T0 + 1000;
  const map = new SessionMap({
    store,
    staleAfter: STALE_AFTER,
    logger,
    now: () => clock.now,
    heardUntil: () => heardUntil,
  });
  try {
    map.put(session("s1", { lastCheckinAt: T0 }));
    clock.now = T0 + STALE_MS * 3;
    assert(map.isLive(map.get("s1")!));
    assertEquals(map.prune(), 0);
    assertEquals(map.liveCount(), 1);
    heardUntil = clock.now;
    assertEquals(map.isLive(map.get("s1")!), false);
    assertEquals(map.prune(), 1);
  } finally {
    store.close();
  }
});
