/**
 * The pool state machine, driven step by step: a scripted platform stands in
 * for the OS (the real Linux platform runs in tests/integration/) and the
 * test plays each streamer through the control-channel interface the pool
 * exposes, so every transition and failure path can be provoked on demand.
 * With a gateway and the farm's secret, each session's streamer is given
 * the licence proof of its own session id (and a shutdown during that
 * starts nothing).
 */
import { parseConfig } from "../../mod/config/mod.ts";
import {
  hashToken,
  type LaunchRequest,
  PoolExhaustedError,
  PoolUnavailableError,
  SessionPool,
  type SessionPoolOptions,
} from "../../mod/pool/mod.ts";
import { licenceProof } from "../../mod/contract/licence_proof.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { waitFor } from "../support/wait.ts";
import {
  FakeStreamer,
  ScriptedPlatform,
} from "../support/scripted_platform.ts";

const { logger, records: logs } = captureLogs("debug");

function makePool(
  settings: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
  options: Pick<
    SessionPoolOptions,
    "licence" | "licenceSecret" | "onSessionEnd"
  > = {},
) {
  const config = parseConfig({
    webstreamSettings: {
      serverMaxSessionCount: 2,
      serverSessionUsername: "webs",
      basePortNumber: 9000,
      warmSessionCount: 1,
      provisioningTimeout: 5,
      reconnectGracePeriod: 30,
      ...settings,
    },
    ...extra,
  }, { env: {} });
  const platform = new ScriptedPlatform();
  const pool = new SessionPool({
    config,
    platform,
    controlUrl: "ws://127.0.0.1:9005/control",
    bindAddress: "127.0.0.1",
    logger,
    tokenAckTimeoutMs: 200,
    ...options,
  });
  const streamers = new Map<string, FakeStreamer>();
  /** Connects a streamer for `account` once its session has started. */
  const connect = async (account: string): Promise<FakeStreamer> => {
    await waitFor(() =>
      pool.snapshot().find((s) => s.account === account && s.display)
    );
    const streamer = new FakeStreamer(account, pool);
    const result = pool.attach(streamer);
    assert(result.ok, result.ok ? "" : result.reason);
    streamer.send(result.reply);
    streamers.set(account, streamer);
    return streamer;
  };
  return { pool, platform, connect, streamers };
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
      downloadMaxBytes: 2 ** 30,
      maxPixelRatio: 2,
    },
  };
}

const state = (pool: SessionPool, slot: number) =>
  pool.snapshot()[slot - 1].state;

Deno.test("start prepares every account, then keeps the warm count ready", async () => {
  const { pool, platform, connect } = makePool();
  assertEquals(pool.status(), "starting");
  await pool.start();
  assertEquals(platform.calls.slice(0, 7), [
    "prepare",
    "ensure webs01",
    "ensure webs02",
    "sweep webs01",
    "sweep webs02",
    "clean webs01",
    "clean webs02",
  ]);
  assertEquals(state(pool, 1), "provisioning");
  assertEquals(state(pool, 2), "free");
  const streamer = await connect("webs01");
  assertEquals(state(pool, 1), "ready");
  const info = streamer.received[0];
  assert(info.type === "SESSION_INFO");
  assertEquals(info.commandLineParams, "");
  assertEquals(pool.stats(), { total: 2, active: 0, available: 2 });
  assertEquals(pool.status(), "healthy");
  await pool.shutdown();
});

Deno.test("allocation arms a token, launches the app and replenishes the warm slot", async () => {
  const { pool, platform, connect } = makePool();
  await pool.start();
  const s1 = await connect("webs01");
  const allocation = await pool.allocate(
    request("gw-1", { command: "xterm -e top" }),
  );
  assertEquals(allocation.slot, 1);
  assertEquals(allocation.port, 9010);
  assertEquals(allocation.username, "webs01");
  assertEquals(allocation.reconnect, false);
  const armed = s1.received.find((m) => m.type === "CONNECTION_TOKEN");
  assert(armed?.type === "CONNECTION_TOKEN");
  assertEquals(armed.tokenHash, await hashToken(allocation.token));
  assertEquals(armed.sessionUuid, allocation.sessionUuid);
  assertEquals(armed.ttlSeconds, 60);
  assert(allocation.tokenExpiresAt.getTime() > Date.now());
  assertEquals(s1.received.at(-1), {
    type: "SESSION_INFO",
    sessionUuid: allocation.sessionUuid,
    commandLineParams: "xterm -e top",
  });
  assertEquals(state(pool, 1), "active");
  // Slot 2 starts warming so the next launch does not wait for a logon.
  await waitFor(() => platform.calls.includes("start webs02 9020"));
  assertEquals(state(pool, 2), "provisioning");
  await pool.shutdown();
});

Deno.test("the same session id reconnects: new token, same session, new apps only", async () => {
  const { pool, connect } = makePool();
  await pool.start();
  const s1 = await connect("webs01");
  const first = await pool.allocate(request("gw-1", { command: "xterm" }));
  const again = await pool.allocate(request("gw-1", { command: "xterm" }));
  assertEquals(again.sessionUuid, first.sessionUuid);
  assertEquals(again.reconnect, true);
  assert(again.token !== first.token);
  const launches = () =>
    s1.received.filter((m) => m.type === "SESSION_INFO" && m.commandLineParams)
      .length;
  assertEquals(launches(), 1);
  // Another app for the same session starts inside it (session sharing).
  await pool.allocate(request("gw-1", { command: "gedit" }));
  assertEquals(launches(), 2);
  await pool.shutdown();
});

Deno.test("concurrent launches for one session id get one session", async () => {
  const { pool, connect } = makePool();
  await pool.start();
  await connect("webs01");
  const [a, b] = await Promise.all([
    pool.allocate(request("gw-1")),
    pool.allocate(request("gw-1")),
  ]);
  assertEquals(a.sessionUuid, b.sessionUuid);
  assertEquals(pool.stats().active, 1);
  await pool.shutdown();
});

Deno.test("a launch with no ready slot starts one cold; a full pool says when to retry", async () => {
  const { pool, connect } = makePool({ warmSessionCount: 0 });
  await pool.start();
  assertEquals(state(pool, 1), "free");
  const cold = pool.allocate(request("gw-1"));
  await connect("webs01");
  assertEquals((await cold).slot, 1);
  const second = pool.allocate(request("gw-2"));
  await connect("webs02");
  assertEquals((await second).slot, 2);
  const error = await assertRejects(
    () => pool.allocate(request("gw-3")),
    PoolExhaustedError,
  );
  assert((error as PoolExhaustedError).retryAfter > 0);
  await pool.shutdown();
});

Deno.test("a streamer that never shows up is recycled; repeated failures degrade health", async () => {
  const { pool, platform, connect } = makePool({
    provisioningTimeout: 0.1,
    serverMaxSessionCount: 1,
  });
  await pool.start();
  await waitFor(
    () => platform.calls.filter((c) => c === "end webs01").length >= 3,
    {
      what: "three failed provisionings",
    },
  );
  assertEquals(pool.status(), "degraded");
  assert(
    logs.some((r) =>
      r.msg === "provisioning failed" &&
      /no streamer handshake within 0.1 s/.test(
        String((r.error as { message?: string })?.message),
      )
    ),
  );
  // Every failed logon was logged off and cleaned before the slot was reused.
  const order = platform.calls.filter((c) =>
    /^(start|end|clean|rotate)/.test(c)
  );
  const firstStart = order.indexOf("start webs01 9010");
  assertEquals(order.slice(firstStart, firstStart + 4), [
    "start webs01 9010",
    "end webs01",
    "clean webs01",
    "rotate webs01",
  ]);
  await connect("webs01").catch(() => {});
  await pool.shutdown();
});

Deno.test("a streamer that does not acknowledge its token is replaced by another slot", async () => {
  const { pool, platform, connect } = makePool({ warmSessionCount: 2 });
  await pool.start();
  const s1 = await connect("webs01");
  await connect("webs02");
  s1.ackTokens = false;
  const allocation = await pool.allocate(request("gw-1"));
  assertEquals(allocation.slot, 2);
  assertEquals(s1.closed, "session recycled");
  await waitFor(() => platform.calls.includes("end webs01"));
  await pool.shutdown();
});

Deno.test("viewer comings and goings drive active ↔ disconnected and the grace period", async () => {
  const { pool, platform, connect } = makePool({ reconnectGracePeriod: 0.3 });
  await pool.start();
  const s1 = await connect("webs01");
  const a = await pool.allocate(request("gw-1"));
  pool.message(s1, { type: "CLIENT_CONNECTED", sessionUuid: a.sessionUuid });
  assertEquals(pool.snapshot()[0].clientConnected, true);
  pool.message(s1, { type: "CLIENT_DISCONNECTED", sessionUuid: a.sessionUuid });
  assertEquals(state(pool, 1), "disconnected");
  // Back within the grace period: the session is kept.
  pool.message(s1, { type: "CLIENT_CONNECTED", sessionUuid: a.sessionUuid });
  assertEquals(state(pool, 1), "active");
  await new Promise((r) => setTimeout(r, 500));
  assertEquals(state(pool, 1), "active");
  // Gone for longer than the grace period: recycled and free again.
  pool.message(s1, { type: "CLIENT_DISCONNECTED", sessionUuid: a.sessionUuid });
  await waitFor(() => platform.calls.includes("end webs01"), {
    what: "recycle",
  });
  await waitFor(() => pool.snapshot()[0].sessionId === undefined);
  const fresh = await (async () => {
    const pending = pool.allocate(request("gw-1"));
    await connect(
      pool.snapshot().find((s) => s.state === "provisioning")?.account ??
        "webs02",
    )
      .catch(() => {});
    return await pending;
  })();
  assertEquals(fresh.reconnect, false);
  assert(fresh.sessionUuid !== a.sessionUuid);
  await pool.shutdown();
});

Deno.test("messages about another session are ignored", async () => {
  const { pool, connect } = makePool();
  await pool.start();
  const s1 = await connect("webs01");
  await pool.allocate(request("gw-1"));
  pool.message(s1, {
    type: "CLIENT_DISCONNECTED",
    sessionUuid: "00000000-0000-4000-8000-000000000000",
  });
  assertEquals(state(pool, 1), "active");
  await pool.shutdown();
});

Deno.test("a session that dies, or a streamer that leaves, is recycled", async () => {
  const { pool, platform, connect } = makePool({ warmSessionCount: 2 });
  await pool.start();
  const s1 = await connect("webs01");
  const s2 = await connect("webs02");
  await pool.allocate(request("gw-1"));
  platform.sessions[0].end("display :1 exited (signal SIGKILL)");
  await waitFor(() => platform.calls.includes("end webs01"));
  assert(
    logs.some((r) =>
      r.msg === "recycling session" &&
      r.reason === "display :1 exited (signal SIGKILL)"
    ),
  );
  assertEquals(s1.closed, "session recycled");
  // A link the pool does not know is ignored.
  pool.detach(new FakeStreamer("webs02", pool));
  assertEquals(state(pool, 2), "ready");
  // The streamer of slot 2 leaves the control channel: its slot is recycled.
  pool.detach(s2);
  await waitFor(() => platform.calls.includes("end webs02"));
  assert(
    logs.some((r) =>
      r.msg === "recycling session" && r.slot === 2 &&
      r.reason === "streamer left the control channel"
    ),
  );
  await pool.shutdown();
});

Deno.test("the control channel refuses strangers and duplicates", async () => {
  const { pool, connect } = makePool();
  await pool.start();
  const unknown = pool.attach(new FakeStreamer("nobody", pool));
  assertEquals(unknown, { ok: false, reason: "unknown pool account nobody" });
  const notStarted = pool.attach(new FakeStreamer("webs02", pool));
  assert(!notStarted.ok);
  assertMatch(notStarted.reason, /slot 2 is free/);
  await connect("webs01");
  const duplicate = pool.attach(new FakeStreamer("webs01", pool));
  assert(!duplicate.ok);
  assertMatch(duplicate.reason, /slot 1 is ready/);
  await pool.shutdown();
});

Deno.test("a slot whose cleanup fails stays out of service until cleanup succeeds", async () => {
  const { pool, platform, connect } = makePool({
    serverMaxSessionCount: 1,
    warmSessionCount: 1,
  });
  await pool.start();
  const s1 = await connect("webs01");
  const a = await pool.allocate(request("gw-1"));
  platform.failCleanups = 1;
  pool.message(s1, { type: "CLIENT_DISCONNECTED", sessionUuid: a.sessionUuid });
  pool.detach(s1);
  await waitFor(() =>
    logs.some((r) => r.msg === "recycle failed; slot kept out of service")
  );
  assertEquals(state(pool, 1), "recycling");
  assertEquals(pool.stats().available, 0);
  // The retry (after about a second) succeeds and the slot warms again.
  await waitFor(
    () => state(pool, 1) === "provisioning" || state(pool, 1) === "free",
    {
      what: "slot back in service",
    },
  );
  await pool.shutdown();
});

Deno.test("restrictions that cannot be applied are logged, not fatal", async () => {
  logs.length = 0;
  const { pool } = makePool({}, {
    filesystemRestrictions: [{ path: "/srv/secret" }],
  });
  await pool.start();
  assert(
    logs.some((r) =>
      r.msg === "filesystem restriction not applied" &&
      r.problem === "/srv/secret: not applied"
    ),
  );
  await pool.shutdown();
});

Deno.test("uploads reach the streamer of the right session only", async () => {
  const { pool, connect } = makePool({ warmSessionCount: 2 });
  await pool.start();
  const s1 = await connect("webs01");
  const s2 = await connect("webs02");
  const a = await pool.allocate(request("gw-1"));
  const other = a.slot === 1 ? s2 : s1;
  const mine = a.slot === 1 ? s1 : s2;
  const upload = {
    dialogGuid: "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab",
    filePath: "/home/u/a.txt",
  };
  assertEquals(pool.notifyUploadComplete(a.sessionUuid, upload), true);
  assertEquals(mine.received.at(-1), {
    type: "FILE_UPLOAD_COMPLETE",
    ...upload,
  });
  assert(!other.received.some((m) => m.type === "FILE_UPLOAD_COMPLETE"));
  assertEquals(
    pool.notifyUploadComplete("00000000-0000-4000-8000-000000000000", upload),
    false,
  );
  await pool.shutdown();
});

Deno.test("shutdown ends every session, removes accounts when asked, refuses launches", async () => {
  const { pool, platform, connect } = makePool({ removeAccountsOnExit: true });
  await pool.start();
  await connect("webs01");
  await pool.allocate(request("gw-1"));
  await pool.shutdown();
  assert(platform.calls.includes("end webs01"));
  assert(platform.calls.includes("remove webs01"));
  assert(platform.calls.includes("remove webs02"));
  assertEquals(pool.status(), "draining");
  await assertRejects(
    () => pool.allocate(request("gw-2")),
    PoolUnavailableError,
    /shutting down/,
  );
});

Deno.test("launches before start are refused as unavailable", async () => {
  const { pool } = makePool();
  await assertRejects(
    () => pool.allocate(request("gw-1")),
    PoolUnavailableError,
    /starting/,
  );
});

Deno.test("two launches in the same turn never share a slot", async () => {
  const { pool, connect } = makePool({ warmSessionCount: 1 });
  await pool.start();
  await connect("webs01");
  const both = Promise.all([
    pool.allocate(request("alice")),
    pool.allocate(request("bob")),
  ]);
  // Bob's launch starts slot 2 cold.
  await connect("webs02");
  const [alice, bob] = await both;
  assert(alice.slot !== bob.slot, "one slot was handed to two sessions");
  assert(alice.sessionUuid !== bob.sessionUuid);
  assertEquals(pool.stats().active, 2);
  await pool.shutdown();
});

Deno.test("a recycled slot forgets every session id bound to it", async () => {
  const { pool, platform, connect } = makePool({ warmSessionCount: 2 });
  await pool.start();
  const s1 = await connect("webs01");
  await connect("webs02");
  const a = await pool.allocate(request("alice"));
  assertEquals(a.slot, 1);
  pool.detach(s1);
  await waitFor(() => platform.calls.includes("end webs01"));
  // Alice's next launch is a new session, never whatever slot 1 holds next.
  const again = await pool.allocate(request("alice"));
  assertEquals(again.reconnect, false);
  assert(again.sessionUuid !== a.sessionUuid);
  await pool.shutdown();
});

Deno.test("nothing new starts once shutdown has begun", async () => {
  const { pool, platform, connect } = makePool({
    serverMaxSessionCount: 1,
    warmSessionCount: 1,
  });
  await pool.start();
  const s1 = await connect("webs01");
  await pool.allocate(request("alice"));
  // A reconnect waits for its token acknowledgement while the host stops.
  s1.ackTokens = false;
  const reconnect = pool.allocate(request("alice"));
  await pool.shutdown();
  await assertRejects(() => reconnect, PoolUnavailableError);
  const starts = platform.calls.filter((c) => c.startsWith("start")).length;
  await new Promise((r) => setTimeout(r, 300));
  assertEquals(
    platform.calls.filter((c) => c.startsWith("start")).length,
    starts,
    "a session was started after shutdown",
  );
  assertEquals(pool.snapshot()[0].state, "free");
});

const LICENCE = {
  gatewayUrl: "http://127.0.0.1:9000",
  serverUrl: "http://127.0.0.1:9005",
};
const LICENCE_SECRET = "farm-secret-for-pool-tests";

Deno.test("each session's streamer is given its own licence proof", async () => {
  const { pool, platform, connect } = makePool({ warmSessionCount: 2 }, {}, {
    licence: LICENCE,
    licenceSecret: LICENCE_SECRET,
  });
  await pool.start();
  const s1 = await connect("webs01");
  await connect("webs02");
  /** The proof slot `n`'s streamer must have for its current session. */
  const expected = async (n: number) => {
    const uuid = pool.snapshot()[n - 1].sessionUuid;
    assert(uuid, `slot ${n} has a session`);
    return await licenceProof(LICENCE_SECRET, uuid);
  };
  assertEquals(platform.specs.map((s) => s.slot).sort(), [1, 2]);
  for (const spec of platform.specs) {
    assertEquals(spec.licence, {
      ...LICENCE,
      proof: await expected(spec.slot),
    });
  }
  assert(platform.specs[0].licence!.proof !== platform.specs[1].licence!.proof);

  // A recycled slot runs a new session: a new id, so a new proof.
  pool.detach(s1);
  await waitFor(() => platform.specs.filter((s) => s.slot === 1).length === 2, {
    what: "slot 1 to start again",
  });
  const again = platform.specs.filter((s) => s.slot === 1);
  assert(again[1].licence!.proof !== again[0].licence!.proof);
  assertEquals(again[1].licence!.proof, await expected(1));
  await pool.shutdown();
});

Deno.test("without the shared secret (or a gateway) no proof is given", async () => {
  for (
    const options of [
      { licence: LICENCE },
      { licenceSecret: LICENCE_SECRET },
    ]
  ) {
    const { pool, platform, connect } = makePool({}, {}, options);
    await pool.start();
    await connect("webs01");
    assertEquals(platform.specs[0].licence?.proof, undefined);
    assertEquals(
      platform.specs[0].licence,
      options.licence ? { ...LICENCE, proof: undefined } : undefined,
    );
    await pool.shutdown();
  }
});

Deno.test("a shutdown while a proof is being made starts no session", async () => {
  const { pool, platform } = makePool({ warmSessionCount: 2 }, {}, {
    licence: LICENCE,
    licenceSecret: LICENCE_SECRET,
  });
  await pool.start();
  // The warm slots are computing their proofs right now.
  await pool.shutdown();
  await new Promise((r) => setTimeout(r, 300));
  const ended = platform.calls.filter((c) => c.startsWith("end ")).length;
  assertEquals(
    platform.sessions.length,
    ended,
    "a session was started after shutdown and never ended",
  );
  assert(pool.snapshot().every((s) => s.state === "free"));
});

Deno.test("bound sessions are listed, logged off, and each end reported once", async () => {
  const ends: { sessionUuid: string; sessionId: string; reason: string }[] = [];
  const { pool, platform, connect } = makePool(
    { warmSessionCount: 2 },
    {},
    { onSessionEnd: (end) => ends.push(end) },
  );
  await pool.start();
  const s1 = await connect("webs01");
  await connect("webs02");
  assertEquals(pool.liveSessions(), [], "warm sessions are not bound");
  const a = await pool.allocate(request("gw-1"));
  const b = await pool.allocate(request("gw-2"));
  pool.message(s1, { type: "CLIENT_CONNECTED", sessionUuid: a.sessionUuid });
  assertEquals(pool.liveSessions(), [
    {
      sessionUuid: a.sessionUuid,
      sessionId: "gw-1",
      slot: 1,
      clientConnected: true,
    },
    {
      sessionUuid: b.sessionUuid,
      sessionId: "gw-2",
      slot: 2,
      clientConnected: false,
    },
  ]);

  assertEquals(await pool.logOff(crypto.randomUUID(), "nobody"), false);
  assertEquals(await pool.logOff(a.sessionUuid, "logged off by alice"), true);
  assert(platform.calls.includes("end webs01"));
  assertEquals(ends, [{
    sessionUuid: a.sessionUuid,
    sessionId: "gw-1",
    reason: "logged off by alice",
  }]);
  assertEquals(pool.liveSessions().map((s) => s.sessionId), ["gw-2"]);
  assertEquals(await pool.logOff(a.sessionUuid, "again"), false);

  // A display that dies is an end too; a warm session that dies is not.
  platform.sessions[1].end("display :2 exited");
  await waitFor(() => ends.length === 2);
  assertEquals(ends[1].sessionId, "gw-2");
  await connect("webs01");
  const warm = platform.sessions.findLast((x) => x.account === "webs01")!;
  warm.end("display died while warm");
  await waitFor(() =>
    platform.calls.filter((c) => c === "end webs01").length >= 2
  );
  assertEquals(ends.length, 2);
  await pool.shutdown();
});
