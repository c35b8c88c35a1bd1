/**
 * Tests for `mod/pool/allocation.ts` with a scripted platform and a
 * streamer played by the test: a new launch binds a slot and arms its
 * token; the same session again gets a fresh token in the same session; a
 * session that has ended meanwhile gives way to a new one; a full pool
 * says when to retry.
 */
import { hashToken } from "../../mod/control/token_hash.ts";
import { PoolExhaustedError } from "../../mod/pool/errors.ts";
import type { LaunchRequest } from "../../mod/pool/types.ts";
import { viewedApp } from "../../mod/pool/allocation.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { poolParts } from "../support/pool_parts.ts";
import {
  FakeStreamer,
  ScriptedPlatform,
} from "../support/scripted_platform.ts";
import { waitFor } from "../support/wait.ts";

const { logger } = captureLogs();

function request(sessionId: string, command?: string): LaunchRequest {
  return {
    sessionId,
    workspace: {},
    app: command ? { command } : {},
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

Deno.test("launches bind slots, arm tokens, reconnect, and run out", async () => {
  const platform = new ScriptedPlatform();
  const { table, streamers, allocator } = poolParts(platform, logger);
  /** Plays the streamer of `account` once its session has started. */
  const streamerFor = async (account: string) => {
    await waitFor(() =>
      table.slots.find((s) =>
        s.account === account && s.phase.state === "provisioning" &&
        s.phase.session
      )
    );
    const streamer = new FakeStreamer(account, streamers);
    assert(streamers.attach(streamer).ok);
    return streamer;
  };
  const first = allocator.allocateNew(request("gw-1", "xterm"));
  const s1 = await streamerFor("webs01");
  const allocation = await first;
  assertEquals(allocation.slot, 1);
  assertEquals(allocation.reconnect, false);
  const armed = s1.received.find((m) => m.type === "CONNECTION_TOKEN");
  assert(armed?.type === "CONNECTION_TOKEN");
  assertEquals(armed.tokenHash, await hashToken(allocation.token));
  assert(
    s1.received.some((m) =>
      m.type === "SESSION_INFO" && m.commandLineParams === "xterm"
    ),
  );
  assertEquals(table.bySessionId.get("gw-1"), table.slots[0]);
  // The viewer of an app workspace is told which app its tab shows.
  const viewer = s1.received.find((m) => m.type === "VIEWER_SETTINGS");
  assert(viewer?.type === "VIEWER_SETTINGS");
  assertEquals(JSON.parse(viewer.settings).app, "xterm");

  assertEquals(JSON.parse(viewer.settings).appName, undefined);

  const again = await allocator.reconnect(table.slots[0], {
    ...request("gw-1", "xterm"),
    app: { command: "xterm", name: "Terminal" },
  });
  // The app's name as the portal shows it comes with it (for its tab).
  const named = s1.received.findLast((m) => m.type === "VIEWER_SETTINGS");
  assert(named?.type === "VIEWER_SETTINGS");
  assertEquals(JSON.parse(named.settings).appName, "Terminal");
  assertEquals(again.sessionUuid, allocation.sessionUuid);
  assertEquals(again.reconnect, true);
  assert(again.token !== allocation.token);

  const second = allocator.allocateNew(request("gw-2"));
  await streamerFor("webs02");
  assertEquals((await second).slot, 2);
  await assertRejects(
    () => allocator.allocateNew(request("gw-3")),
    PoolExhaustedError,
  );

  // Slot 1's session ends: a reconnect for it gets a new session.
  await table.recycle(table.slots[0], "logged off");
  const fresh = allocator.reconnect(table.slots[0], request("gw-1"));
  await streamerFor("webs01");
  const renewed = await fresh;
  assertEquals(renewed.reconnect, false);
  assert(renewed.sessionUuid !== allocation.sessionUuid);
  table.stopping = true;
});

Deno.test("a desktop's viewer shows the whole screen, an app's viewer its app", () => {
  const apps = new Map<string, string>();
  const launch = {
    ...request("gw-1", "xterm"),
    app: { id: "term", command: "xterm" },
  };
  assertEquals(viewedApp(launch, apps), "xterm");
  // A reconnecting tab names its app by id only.
  assertEquals(viewedApp({ ...launch, app: { id: "term" } }, apps), "xterm");
  assertEquals(viewedApp({ ...launch, app: { id: "other" } }, apps), undefined);
  assertEquals(viewedApp(request("gw-1"), apps), undefined);
  assertEquals(
    viewedApp({
      ...request("gw-1", "openbox"),
      workspace: { type: "desktop" },
    }, apps),
    undefined,
  );
});
