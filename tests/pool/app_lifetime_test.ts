/**
 * Tests for `mod/pool/app_lifetime.ts`: the decision (a desktop goes on, an
 * app session with apps left goes on, one with none is logged off after the
 * grace), and the rule applied to a pool's bound session with a scripted
 * platform and a streamer played by the test: the streamer's `APP_CLOSED`
 * of the last app recycles the session after `appExitGrace` and reports
 * its end; an app launched meanwhile cancels that and starts again though
 * its command ran before; a desktop is never ended this way; a command the
 * host did not launch is ignored.
 *
 * (The real host, streamer and gateway: tests/integration/app_lifetime_test.ts.)
 */
import {
  afterAppClosed,
  endsWithApps,
  LAST_APP_CLOSED,
} from "../../mod/pool/app_lifetime.ts";
import type { LaunchRequest } from "../../mod/pool/types.ts";
import { isBound } from "../../mod/pool/slot_state.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { type PoolParts, poolParts } from "../support/pool_parts.ts";
import {
  FakeStreamer,
  ScriptedPlatform,
} from "../support/scripted_platform.ts";
import { delay } from "../../mod/util/async.ts";
import { waitFor } from "../support/wait.ts";

/** Grace in these tests, in seconds. */
const GRACE = 0.2;

function request(
  sessionId: string,
  options: { command?: string; type?: string } = {},
): LaunchRequest {
  return {
    sessionId,
    workspace: options.type ? { type: options.type } : {},
    app: options.command ? { command: options.command } : {},
    policy: {
      clipboard: "both",
      fileUpload: true,
      fileDownload: false,
      printing: false,
      shadowing: false,
      audio: true,
      videoMaxKbps: 0,
      downloadMaxBytes: 2 ** 30,
      maxPixelRatio: 2,
    },
  };
}

Deno.test("the decision: desktops and sessions with apps left go on", () => {
  const none = new Set<string>();
  assertEquals(afterAppClosed({ endsWithApps: true, launched: none }), {
    action: "log off after grace",
  });
  assertEquals(
    afterAppClosed({ endsWithApps: true, launched: new Set(["gedit"]) }),
    { action: "keep", reason: "apps still run" },
  );
  assertEquals(afterAppClosed({ endsWithApps: false, launched: none }), {
    action: "keep",
    reason: "desktop",
  });
  assert(endsWithApps(request("gw", { command: "xterm", type: "app" })));
  assert(endsWithApps(request("gw", { command: "xterm" })));
  assert(!endsWithApps(request("gw", { command: "openbox", type: "desktop" })));
});

/** A pool with slot 1 bound to `gw-1` by `first`; its streamer. */
async function boundSession(
  parts: PoolParts,
  first: LaunchRequest,
): Promise<FakeStreamer> {
  const { table, streamers, allocator } = parts;
  const pending = allocator.allocateNew(first);
  await waitFor(() =>
    table.slots[0].phase.state === "provisioning" &&
    table.slots[0].phase.session
  );
  const streamer = new FakeStreamer("webs01", streamers);
  assert(streamers.attach(streamer).ok);
  await pending;
  return streamer;
}

/** `APP_CLOSED` from slot 1's streamer. */
function closed(parts: PoolParts, streamer: FakeStreamer, command: string) {
  const phase = parts.table.slots[0].phase;
  assert(isBound(phase));
  parts.streamers.message(streamer, {
    type: "APP_CLOSED",
    sessionUuid: phase.sessionUuid,
    commandLineParams: command,
  });
}

function started(streamer: FakeStreamer, command: string): number {
  return streamer.received.filter((m) =>
    m.type === "SESSION_INFO" && m.commandLineParams === command
  ).length;
}

Deno.test("an app session ends after the grace once its last app closed", async () => {
  const { logger, records } = captureLogs();
  const parts = poolParts(new ScriptedPlatform(), logger, {
    appExitGrace: GRACE,
  });
  const { table, allocator, ends } = parts;
  try {
    const streamer = await boundSession(
      parts,
      request("gw-1", { command: "xterm", type: "app" }),
    );
    await allocator.reconnect(
      table.slots[0],
      request("gw-1", { command: "gedit", type: "app" }),
    );
    const uuid = table.slots[0].phase.state === "active"
      ? table.slots[0].phase.sessionUuid
      : "";

    // One of two closes: the session goes on.
    closed(parts, streamer, "xterm");
    assert(records.some((r) => r.msg === "app closed" && r.appsLeft === 1));
    await delay(GRACE * 1000 * 3);
    assertEquals(ends, []);
    assertEquals(table.slots[0].phase.state, "active");

    // It may be launched again (the host's de-duplication forgets it).
    await allocator.reconnect(
      table.slots[0],
      request("gw-1", { command: "xterm", type: "app" }),
    );
    assertEquals(started(streamer, "xterm"), 2);

    // The last app closes, a new one comes within the grace: kept.
    closed(parts, streamer, "xterm");
    closed(parts, streamer, "gedit");
    await allocator.reconnect(
      table.slots[0],
      request("gw-1", { command: "gedit", type: "app" }),
    );
    await delay(GRACE * 1000 * 3);
    assertEquals(ends, []);

    // It closes too, and nothing comes: logged off, and reported.
    closed(parts, streamer, "gedit");
    await waitFor(() => ends.length === 1, { what: "the session to end" });
    assertEquals(ends, [{
      sessionUuid: uuid,
      sessionId: "gw-1",
      reason: LAST_APP_CLOSED,
    }]);
    assertEquals(table.bySessionId.get("gw-1"), undefined);
  } finally {
    table.stopping = true;
  }
});

Deno.test("a desktop does not end with its apps; unknown commands are ignored", async () => {
  const { logger, records } = captureLogs();
  const parts = poolParts(new ScriptedPlatform(), logger, {
    appExitGrace: GRACE,
  });
  const { table, ends } = parts;
  try {
    const streamer = await boundSession(
      parts,
      request("gw-1", { command: "openbox", type: "desktop" }),
    );
    closed(parts, streamer, "never-launched");
    assert(
      records.some((r) =>
        r.msg === "a closed app the host did not launch ignored"
      ),
    );
    closed(parts, streamer, "openbox");
    assert(records.some((r) => r.msg === "app closed" && r.kept === "desktop"));
    await delay(GRACE * 1000 * 3);
    assertEquals(ends, []);
    assertEquals(table.slots[0].phase.state, "active");
  } finally {
    table.stopping = true;
  }
});
