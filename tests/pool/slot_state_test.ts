/**
 * The slot states and the pool's pure decisions: what a closed streamer
 * connection means, whether a streamer may be restarted once more, and the
 * accessors that read a state's session and link.
 */
import type { StreamerLink } from "../../mod/control/mod.ts";
import type { PlatformSession } from "../../mod/platform/mod.ts";
import {
  type BoundSlot,
  deferred,
  isBound,
  linkOf,
  RESTART_POLICY,
  restartDecision,
  sessionOf,
  type SlotPhase,
  streamerCloseMeans,
} from "../../mod/pool/slot_state.ts";
import { assert, assertEquals } from "../support/assert.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";
const session: PlatformSession = {
  slot: 1,
  account: "webs01",
  id: ":3",
  ended: new Promise(() => {}),
};
const link: StreamerLink = {
  username: "webs01",
  send: () => true,
  close: () => {},
};

Deno.test("a close the streamer meant ends the session; a drop is a loss", () => {
  for (const code of [1000, 4000, 4008, 4011, 4403, 4999]) {
    assertEquals(streamerCloseMeans(code), "ended", `code ${code}`);
  }
  // No close frame (Deno 0, browsers 1006), or anything else: restart.
  for (const code of [undefined, 0, 1001, 1005, 1006, 1011, 3000, 5000]) {
    assertEquals(streamerCloseMeans(code), "lost", `code ${code}`);
  }
});

Deno.test("restarts: at most three within five minutes", () => {
  assertEquals(RESTART_POLICY, { max: 3, windowMs: 300_000 });
  let history: number[] = [];
  for (const now of [1000, 2000, 3000]) {
    const decision = restartDecision(history, now);
    assert(decision.restart);
    history = decision.history;
  }
  assertEquals(history, [1000, 2000, 3000]);
  const refused = restartDecision(history, 4000);
  assertEquals(refused, {
    restart: false,
    reason: "3 restarts within 300 s",
  });
  // Old restarts are forgotten: the streamer earned another one.
  const later = restartDecision(history, 301_500);
  assertEquals(later, { restart: true, history: [2000, 3000, 301_500] });
  // A policy of its own.
  assertEquals(
    restartDecision([0], 10, { max: 1, windowMs: 100 }).restart,
    false,
  );
  assertEquals(
    restartDecision([0], 100, { max: 1, windowMs: 100 }).restart,
    true,
  );
});

Deno.test("each state carries what it needs; accessors read it", () => {
  const free: SlotPhase = { state: "free" };
  const provisioning: SlotPhase = {
    state: "provisioning",
    sessionUuid: UUID,
    ready: deferred(),
  };
  const ready: SlotPhase = {
    state: "ready",
    sessionUuid: UUID,
    session,
    streamer: { kind: "attached", link, tokens: new Map() },
  };
  const active: BoundSlot = {
    state: "active",
    sessionUuid: UUID,
    sessionId: "gw-1",
    session,
    streamer: { kind: "attached", link, tokens: new Map() },
    clientConnected: false,
    launched: new Set(),
    apps: new Map(),
    endsWithApps: true,
    restarts: [],
  };
  const lost: BoundSlot = {
    ...active,
    state: "disconnected",
    streamer: {
      kind: "lost",
      since: 0,
      back: deferred(),
      restarting: false,
      awaiting: "resume",
    },
  };
  const recycling: SlotPhase = { state: "recycling", done: Promise.resolve() };
  assertEquals(
    [free, provisioning, ready, active, lost, recycling].map(isBound),
    [false, false, false, true, true, false],
  );
  assertEquals(
    [free, provisioning, ready, active, lost, recycling].map((p) =>
      sessionOf(p)?.id
    ),
    [undefined, undefined, ":3", ":3", ":3", undefined],
  );
  assertEquals(sessionOf({ ...provisioning, session })?.id, ":3");
  assertEquals(
    [free, provisioning, ready, active, lost, recycling].map((p) =>
      linkOf(p) === link
    ),
    [false, false, true, true, false, false],
  );
});

Deno.test("a deferred that is rejected and never awaited reports nothing", async () => {
  const d = deferred<number>();
  d.reject(new Error("nobody listens"));
  await new Promise((r) => setTimeout(r, 10));
  const e = deferred<number>();
  e.resolve(7);
  assertEquals(await e.promise, 7);
});
