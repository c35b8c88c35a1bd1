/**
 * Tests for `mod/pool/streamers.ts` through the pool, with a scripted
 * platform that can restart streamers (`tests/support/recovering_pool.ts`;
 * the real Linux platform does it in
 * tests/integration/session_survival_test.ts):
 *
 * - a bound session whose streamer dies gets a new streamer in the same
 *   session; a reconnect waits for it; `onSessionEnd` is not called;
 * - restarts are bounded; a streamer that ends its session on purpose, a
 *   warm session whose streamer dies, and a failing restart are handled.
 */
import { FakeStreamer } from "../support/scripted_platform.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { withTempDir } from "../support/fs.ts";
import { waitFor } from "../support/wait.ts";
import { bound, makePool, request } from "../support/recovering_pool.ts";

const { logger, records: logs } = captureLogs("debug");

Deno.test("a bound session's streamer that dies is restarted in the session", async () => {
  await withTempDir(async (dir) => {
    const { pool, platform, connect, first, allocation, ends } = await bound(
      logger,
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
    const { pool, platform, connect, allocation, ends } = await bound(
      logger,
      dir,
    );
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
    const { pool, platform, connect, ends } = await bound(logger, dir, {
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
    const { pool, platform, connectNew, ends } = makePool(logger, dir);
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

Deno.test("while a dropped streamer may come back, only it may attach", async () => {
  await withTempDir(async (dir) => {
    const { pool, platform, connect, first, allocation, ends } = await bound(
      logger,
      dir,
    );
    try {
      // The connection drops, the process still runs: it is awaited.
      pool.detach(first, { code: 0, reason: "" });
      const other = pool.attach(new FakeStreamer("webs01", pool));
      assert(!other.ok);
      assertMatch(other.reason, /not awaiting a streamer/);
      const back = connect("webs01", allocation.sessionUuid);
      assertEquals(back.received[1], {
        type: "SESSION_IN_USE",
        sessionUuid: allocation.sessionUuid,
      });
      assert(!platform.calls.includes("restart webs01"), "no restart needed");
      assertEquals(ends, []);
    } finally {
      await pool.shutdown();
    }
  });
});
