/**
 * A session pool over a {@linkcode RecoveringPlatform} (streamers the test
 * ends and restarts, sessions adopted from real slot records in a
 * temporary folder), with the test playing each streamer: for the tests of
 * restarting streamers and of taking sessions back.
 *
 * @module
 */
import { parseConfig } from "../../mod/config/mod.ts";
import type { Logger } from "../../mod/log/mod.ts";
import {
  type Allocation,
  type LaunchRequest,
  SessionPool,
  type SessionPoolOptions,
} from "../../mod/pool/mod.ts";
import type { SessionEnd } from "../../mod/pool/types.ts";
import { SlotStore } from "../../mod/pool/slot_store.ts";
import { assert } from "./assert.ts";
import { waitFor } from "./wait.ts";
import { FakeStreamer, RecoveringPlatform } from "./scripted_platform.ts";

/** A pool over a recovering platform, and how the test plays streamers. */
export interface RecoveringRig {
  /** The pool. */
  pool: SessionPool;
  /** Its platform. */
  platform: RecoveringPlatform;
  /** Connects a streamer for `account` (new, restarted, or resuming). */
  connect(account: string, resumes?: string): FakeStreamer;
  /** Connects the first streamer of a new session once it has started. */
  connectNew(account: string): Promise<FakeStreamer>;
  /** The session ends the pool reported. */
  ends: SessionEnd[];
}

/** A rig whose slot 1 holds a session bound to `gw-1`. */
export interface BoundRig extends RecoveringRig {
  /** Slot 1's first streamer. */
  first: FakeStreamer;
  /** The launch that bound it (with the app `xterm`). */
  allocation: Allocation;
}

/**
 * A two-slot pool (one warm) on `stateDirectory`, its platform, streamer
 * connectors and the session ends it reported.
 */
export function makePool(
  logger: Logger,
  stateDirectory: string,
  settings: Record<string, unknown> = {},
  options: Partial<SessionPoolOptions> = {},
): RecoveringRig {
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

/** A launch of `sessionId` with `app` headers. */
export function request(
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

/** A bound session in slot 1 of a started pool, and its first streamer. */
export async function bound(
  logger: Logger,
  dir: string,
  settings: Record<string, unknown> = {},
): Promise<BoundRig> {
  const rig = makePool(logger, dir, settings);
  await rig.pool.start();
  const first = await rig.connectNew("webs01");
  const allocation = await rig.pool.allocate(
    request("gw-1", { command: "xterm" }),
  );
  return { ...rig, first, allocation };
}

/** Writes slot 1's records as a pool would, then drops that pool. */
export async function crashedPool(
  logger: Logger,
  dir: string,
): Promise<BoundRig> {
  const first = await bound(logger, dir);
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
