/**
 * Tests for `mod/pool/adoption.ts` through the pool: a new pool over the
 * records an earlier one left (real files in a temporary folder; a scripted
 * platform adopts the displays the test says still run) adopts the bound
 * sessions whose display runs (the streamer resumes with `RESUME_SESSION`,
 * or is replaced when it does not come back), recycles those whose display
 * died (reporting them ended), ends warm ones, and ignores records it
 * cannot trust.
 */
import { SlotStore } from "../../mod/pool/slot_store.ts";
import { FakeStreamer } from "../support/scripted_platform.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { withTempDir } from "../support/fs.ts";
import { waitFor } from "../support/wait.ts";
import { crashedPool, makePool, request } from "../support/recovering_pool.ts";

const { logger, records: logs } = captureLogs("debug");

Deno.test("a new pool adopts the bound sessions an earlier one left running", async () => {
  await withTempDir(async (dir) => {
    const { allocation } = await crashedPool(logger, dir);
    const { pool, platform, connect, connectNew, ends } = makePool(logger, dir);
    platform.alive.set(":1", { streamerAlive: true });
    try {
      // Before the pool has taken its sessions back, a resume is "not now".
      const early = pool.attach(
        new FakeStreamer("webs01", pool, allocation.sessionUuid),
      );
      assertEquals(early, {
        ok: false,
        reason: "the pool is starting",
        retry: true,
      });
      await pool.start();
      assert(platform.calls.includes("adopt webs01 :1"));
      assert(!platform.calls.includes("sweep webs01"), "not swept");
      assert(!platform.calls.includes("clean webs01"), "not cleaned");
      assertEquals(pool.liveSessions(), [{
        sessionUuid: allocation.sessionUuid,
        sessionId: "gw-1",
        slot: 1,
        clientConnected: false,
      }]);
      assertEquals(pool.status(), "healthy");
      // The streamer that survived reconnects and names its session.
      const back = connect("webs01", allocation.sessionUuid);
      assertEquals(back.received[0], {
        type: "SESSION_INFO",
        sessionUuid: allocation.sessionUuid,
        commandLineParams: "",
      });
      pool.message(back, {
        type: "CLIENT_CONNECTED",
        sessionUuid: allocation.sessionUuid,
      });
      assertEquals(pool.snapshot()[0].state, "active");
      const again = await pool.allocate(request("gw-1", { command: "xterm" }));
      assertEquals(again.sessionUuid, allocation.sessionUuid);
      assertEquals(again.reconnect, true);
      assert(
        !back.received.some((m) =>
          m.type === "SESSION_INFO" && m.commandLineParams === "xterm"
        ),
        "the app it launched is remembered",
      );
      // Another streamer cannot take the session; unknown sessions are refused.
      const intruder = pool.attach(
        new FakeStreamer("webs01", pool, allocation.sessionUuid),
      );
      assert(!intruder.ok && intruder.retry);
      const unknown = pool.attach(
        new FakeStreamer("webs02", pool, crypto.randomUUID()),
      );
      assert(!unknown.ok && !unknown.retry);
      // Slot 2 was empty: it warms as usual.
      await connectNew("webs02");
      assertEquals(ends, [], "adoption ends nothing");
      assert(logs.some((r) => r.msg === "re-adopted session"));
    } finally {
      await pool.shutdown();
    }
  });
});

Deno.test("an adopted session whose streamer does not come back gets a new one", async () => {
  await withTempDir(async (dir) => {
    const { allocation } = await crashedPool(logger, dir);
    const { pool, platform, connect } = makePool(logger, dir, {
      warmSessionCount: 0,
    });
    platform.alive.set(":1", { streamerAlive: true });
    try {
      await pool.start();
      // No resume within resumeWaitMs (200 ms): replaced.
      await waitFor(() => platform.calls.includes("restart webs01"));
      connect("webs01");
      assertEquals(
        (await pool.allocate(request("gw-1"))).sessionUuid,
        allocation.sessionUuid,
      );
    } finally {
      await pool.shutdown();
    }
  });
});

Deno.test("at start, a session whose display died is recycled and reported ended", async () => {
  await withTempDir(async (dir) => {
    const { allocation } = await crashedPool(logger, dir);
    const { pool, platform, ends } = makePool(logger, dir, {
      warmSessionCount: 0,
    });
    try {
      await pool.start();
      const at = (call: string) => platform.calls.indexOf(call);
      assert(at("adopt webs01 :1") >= 0);
      assert(at("end recorded webs01 :1") > at("adopt webs01 :1"));
      assert(at("sweep webs01") > at("end recorded webs01 :1"));
      assert(at("clean webs01") > at("sweep webs01"));
      // Slot 2 held a warm session: ended, not adopted.
      assert(at("end recorded webs02 :2") >= 0);
      assert(!platform.calls.includes("adopt webs02 :2"));
      assertEquals(ends, [{
        sessionUuid: allocation.sessionUuid,
        sessionId: "gw-1",
        reason: "not taken back after a restart: display :1 has exited",
      }]);
      assertEquals(pool.liveSessions(), []);
      const recycled = logs.findLast((r) => r.msg === "recycling session");
      assertEquals(recycled?.sessionId, "gw-1");
      assertEquals(
        (await new SlotStore(dir, logger).read(1)).kind,
        "none",
        "the record is gone",
      );
    } finally {
      await pool.shutdown();
    }
  });
});

Deno.test("at start, warm sessions are ended and untrustworthy records ignored", async () => {
  await withTempDir(async (dir) => {
    const store = new SlotStore(dir, logger);
    await store.write({
      version: 1,
      slot: 1,
      account: "webs01",
      sessionUuid: crypto.randomUUID(),
      binding: null,
      platform: { display: ":7" },
    });
    await Deno.writeTextFile(store.path(2), '{"version": 1, "slot": "two"}');
    const { pool, platform, ends } = makePool(logger, dir, {
      warmSessionCount: 0,
    });
    try {
      await pool.start();
      assert(platform.calls.includes("end recorded webs01 :7"));
      assert(!platform.calls.some((c) => c.startsWith("adopt")));
      assert(platform.calls.includes("sweep webs02"), "slot 2 swept");
      assert(
        logs.some((r) =>
          r.msg === "slot record unreadable; ending what the slot runs" &&
          /slot: expected number/.test(String(r.problem))
        ),
      );
      assertEquals(ends, []);
      assertEquals((await store.read(1)).kind, "none");
      assertEquals((await store.read(2)).kind, "none");
    } finally {
      await pool.shutdown();
    }
  });
});

Deno.test("shutdown logs adopted sessions off and removes their records", async () => {
  await withTempDir(async (dir) => {
    await crashedPool(logger, dir);
    const { pool, platform, ends } = makePool(logger, dir, {
      warmSessionCount: 0,
    });
    platform.alive.set(":1", { streamerAlive: true });
    await pool.start();
    await pool.shutdown();
    assert(platform.calls.includes("end webs01"));
    assertEquals((await new SlotStore(dir, logger).read(1)).kind, "none");
    assertEquals(ends, [], "a shutdown reports nothing (the host unregisters)");
  });
});
