/**
 * The pool when sessions outlive the processes that serve them, driven step
 * by step with a scripted platform that can restart streamers and adopt
 * sessions (the real Linux platform does it in
 * tests/integration/session_survival_test.ts), with real slot records in a
 * temporary folder:
 *
 * - a bound session whose streamer dies gets a new streamer in the same
 *   session; a reconnect waits for it; `onSessionEnd` is not called;
 * - restarts are bounded; a streamer that ends its session on purpose, a
 *   warm session whose streamer dies, and a failing restart are recycled;
 * - a new pool over the same records adopts the bound sessions whose display
 *   runs (the streamer resumes with `RESUME_SESSION`, or is replaced when it
 *   does not come back), recycles those whose display died (reporting them
 *   ended), ends warm ones, and ignores records it cannot trust.
 */
import { parseConfig } from "../../mod/config/mod.ts";
import {
  type LaunchRequest,
  SessionPool,
  type SessionPoolOptions,
} from "../../mod/pool/mod.ts";
import type { SessionEnd } from "../../mod/pool/types.ts";
import { SlotStore } from "../../mod/pool/slot_store.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { withTempDir } from "../support/fs.ts";
import { waitFor } from "../support/wait.ts";
import {
  FakeStreamer,
  RecoveringPlatform,
} from "../support/scripted_platform.ts";

const { logger, records: logs } = captureLogs("debug");

function makePool(
  stateDirectory: string,
  settings: Record<string, unknown> = {},
  options: Partial<SessionPoolOptions> = {},
) {
  const config = parseConfig({
    webstreamSettings: {
      serverMaxSessionCount: 2,
      serverSessionUsername: "webs",
      basePortNumber: 9000,
      warmSessionCount: 1,
      provisioningTimeout: 5,
      reconnectGracePeriod: 30,
      orphanTimeout: 42,
      ...settings,
    },
  }, { env: {} });
  const platform = new RecoveringPlatform(stateDirectory);
  const ends: SessionEnd[] = [];
  const pool = new SessionPool({
    config,
    platform,
    controlUrl: "ws://127.0.0.1:9005/control",
    bindAddress: "127.0.0.1",
    logger,
    tokenAckTimeoutMs: 200,
    resumeWaitMs: 200,
    onSessionEnd: (end) => ends.push(end),
    ...options,
  });
  /** Connects a streamer for `account` (as a new or restarted streamer). */
  const connect = (account: string, resumes?: string): FakeStreamer => {
    const streamer = new FakeStreamer(account, pool, resumes);
    const result = pool.attach(streamer);
    assert(result.ok, result.ok ? "" : result.reason);
    streamer.send(result.reply);
    for (const message of result.then ?? []) streamer.send(message);
    return streamer;
  };
  /** Connects the first streamer of a new session once it has started. */
  const connectNew = async (account: string): Promise<FakeStreamer> => {
    await waitFor(() =>
      pool.snapshot().find((s) => s.account === account && s.display)
    );
    return connect(account);
  };
  return { pool, platform, connect, connectNew, ends };
}

function request(
  sessionId: string,
  app: Record<string, string> = {},
): LaunchRequest {
  return {
    sessionId,
    workspace: {},
    app,
    policy: {
      clipboard: "both",
      fileUpload: true,
      fileDownload: false,
      printing: false,
      shadowing: false,
      audio: true,
      videoMaxKbps: 8000,
    },
  };
}

/** A bound session in slot 1 of a started pool, and its first streamer. */
async function bound(dir: string, settings: Record<string, unknown> = {}) {
  const rig = makePool(dir, settings);
  await rig.pool.start();
  const first = await rig.connectNew("webs01");
  const allocation = await rig.pool.allocate(
    request("gw-1", { command: "xterm" }),
  );
  return { ...rig, first, allocation };
}

Deno.test("a bound session's streamer that dies is restarted in the session", async () => {
  await withTempDir(async (dir) => {
    const { pool, platform, connect, first, allocation, ends } = await bound(
      dir,
    );
    try {
      platform.streamerOf(1).exit("streamer exited (signal SIGKILL)");
      await waitFor(() => platform.calls.includes("restart webs01"));
      // Its connection drops too (no close frame): nothing more happens.
      pool.detach(first, { code: 0, reason: "" });
      // Still bound (no viewer had come; the grace period runs on).
      assertEquals(pool.snapshot()[0].state, "active");
      assertEquals(pool.snapshot()[0].sessionUuid, allocation.sessionUuid);
      assertEquals(platform.specs.at(-1)?.orphanTimeout, 42);
      // A reconnect meanwhile waits for the new streamer.
      const pending = pool.allocate(request("gw-1"));
      const second = connect("webs01");
      assertEquals(second.received.slice(0, 2), [
        {
          type: "SESSION_INFO",
          sessionUuid: allocation.sessionUuid,
          commandLineParams: "",
        },
        { type: "SESSION_IN_USE", sessionUuid: allocation.sessionUuid },
      ]);
      const again = await pending;
      assertEquals(again.sessionUuid, allocation.sessionUuid);
      assertEquals(again.reconnect, true);
      assert(
        second.received.some((m) => m.type === "CONNECTION_TOKEN"),
        "the token went to the new streamer",
      );
      // The app already runs: it is not started again.
      await pool.allocate(request("gw-1", { command: "xterm" }));
      assert(
        !second.received.some((m) =>
          m.type === "SESSION_INFO" && m.commandLineParams === "xterm"
        ),
      );
      assertEquals(first.closed, undefined, "the old link is left alone");
      assertEquals(ends, [], "the session did not end");
      assert(!platform.calls.includes("end webs01"));
      assert(logs.some((r) => r.msg === "streamer restarted in its session"));
    } finally {
      await pool.shutdown();
    }
  });
});

Deno.test("a streamer that keeps dying ends its session after three restarts", async () => {
  await withTempDir(async (dir) => {
    const { pool, platform, connect, allocation, ends } = await bound(dir);
    try {
      for (let restart = 1; restart <= 3; restart++) {
        platform.streamerOf(1).exit("streamer exited (code 1)");
        await waitFor(() =>
          platform.calls.filter((c) => c === "restart webs01").length ===
            restart
        );
        connect("webs01");
      }
      platform.streamerOf(1).exit("streamer exited (code 1)");
      await waitFor(() => platform.calls.includes("end webs01"));
      assertEquals(ends.length, 1);
      assertEquals(ends[0].sessionUuid, allocation.sessionUuid);
      assertMatch(ends[0].reason, /streamer keeps failing \(3 restarts/);
    } finally {
      await pool.shutdown();
    }
  });
});

Deno.test("a restart that fails is tried again; a streamer ending its session on purpose is recycled", async () => {
  await withTempDir(async (dir) => {
    const { pool, platform, connect, ends } = await bound(dir, {
      provisioningTimeout: 0.2,
    });
    try {
      platform.failRestarts = 1;
      platform.streamerOf(1).exit("streamer exited (code 1)");
      await waitFor(() =>
        platform.calls.filter((c) => c === "restart webs01").length === 2
      );
      assert(logs.some((r) => r.msg === "streamer restart failed"));
      const second = connect("webs01");
      pool.detach(second, { code: 4403, reason: "licence refused" });
      await waitFor(() => platform.calls.includes("end webs01"));
      assertEquals(ends.length, 1);
      assertEquals(
        ends[0].reason,
        "streamer ended the session (4403 licence refused)",
      );
    } finally {
      await pool.shutdown();
    }
  });
});

Deno.test("a warm session whose streamer dies is recycled, not restarted", async () => {
  await withTempDir(async (dir) => {
    const { pool, platform, connectNew, ends } = makePool(dir);
    try {
      await pool.start();
      await connectNew("webs01");
      platform.streamerOf(1).exit("streamer exited (code 1)");
      await waitFor(() => platform.calls.includes("end webs01"));
      assert(!platform.calls.includes("restart webs01"));
      assertEquals(ends, []);
    } finally {
      await pool.shutdown();
    }
  });
});

/** Writes slot 1's records as a pool would, then drops that pool. */
async function crashedPool(dir: string) {
  const first = await bound(dir);
  const store = new SlotStore(dir, logger);
  await waitFor(async () => {
    const read = await store.read(1);
    return read.kind === "record" && read.record.binding?.launched.length;
  }, { what: "slot 1's record" });
  // Slot 2 started warming after the launch: its record too.
  await waitFor(async () => (await store.read(2)).kind === "record", {
    what: "slot 2's record",
  });
  // As after a crash: nothing is ended, the records stay.
  return first;
}

Deno.test("a new pool adopts the bound sessions an earlier one left running", async () => {
  await withTempDir(async (dir) => {
    const { allocation } = await crashedPool(dir);
    const { pool, platform, connect, connectNew, ends } = makePool(dir);
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
    const { allocation } = await crashedPool(dir);
    const { pool, platform, connect } = makePool(dir, {
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
    const { allocation } = await crashedPool(dir);
    const { pool, platform, ends } = makePool(dir, { warmSessionCount: 0 });
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
    const { pool, platform, ends } = makePool(dir, { warmSessionCount: 0 });
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
    await crashedPool(dir);
    const { pool, platform, ends } = makePool(dir, { warmSessionCount: 0 });
    platform.alive.set(":1", { streamerAlive: true });
    await pool.start();
    await pool.shutdown();
    assert(platform.calls.includes("end webs01"));
    assertEquals((await new SlotStore(dir, logger).read(1)).kind, "none");
    assertEquals(ends, [], "a shutdown reports nothing (the host unregisters)");
  });
});
