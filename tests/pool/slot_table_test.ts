/**
 * Tests for `mod/pool/slot_table.ts`: what a slot's session is started
 * with, its record for a later run (real files), the grace period, and
 * recycling (a bound session reported ended, its record removed, the
 * account cleaned, the slot free again).
 */
import { PoolUnavailableError } from "../../mod/pool/errors.ts";
import { deferred, linkOf } from "../../mod/pool/slot_state.ts";
import { SlotStore } from "../../mod/pool/slot_store.ts";
import type { Slot } from "../../mod/pool/slot_table.ts";
import { attached } from "../../mod/pool/streamers.ts";
import { licenceProof } from "../../mod/contract/licence_proof.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { captureLogs } from "../support/log.ts";
import { poolParts } from "../support/pool_parts.ts";
import {
  FakeStreamer,
  RecoveringPlatform,
  ScriptedPlatform,
} from "../support/scripted_platform.ts";
import { waitFor } from "../support/wait.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";
const { logger } = captureLogs();

Deno.test("spec: the slot's account and port, the orphan timeout, the session's proof", async () => {
  const licence = { gatewayUrl: "https://gw:9000", serverUrl: "http://h:9005" };
  const { table } = poolParts(new ScriptedPlatform(), logger, {
    orphanTimeout: 90,
  }, { licence, licenceSecret: "farm-secret-1234" });
  const spec = await table.spec(table.slots[1], UUID);
  assertEquals(spec.slot, 2);
  assertEquals(spec.account, "webs02");
  assertEquals(spec.streamerPort, 9020);
  assertEquals(spec.controlUrl, "ws://127.0.0.1:9005/control");
  assertEquals(spec.orphanTimeout, 90);
  assertEquals(spec.licence, {
    ...licence,
    proof: await licenceProof("farm-secret-1234", UUID),
  });
  assert(spec.reporting, "reporting settings go with a licence");
  table.stopping = true;
  assertThrows(() => table.assertRunning(), PoolUnavailableError);
});

/** Binds slot 1 of `table` to `gw-1` on a session the platform started. */
async function bindSlot(
  parts: ReturnType<typeof poolParts>,
  platform: ScriptedPlatform,
): Promise<Slot> {
  const { table } = parts;
  const slot = table.slots[0];
  const session = await platform.startSession(await table.spec(slot, UUID));
  const link = new FakeStreamer("webs01", parts.streamers);
  table.enter(slot, {
    state: "active",
    sessionUuid: UUID,
    sessionId: "gw-1",
    session,
    streamer: attached(link),
    clientConnected: false,
    launched: new Set(["xterm"]),
    apps: new Map([["term", "xterm"]]),
    endsWithApps: true,
    restarts: [],
  });
  table.bySessionId.set("gw-1", slot);
  return slot;
}

Deno.test("a bound session's record is kept; recycling reports it ended and frees the slot", async () => {
  await withTempDir(async (dir) => {
    const platform = new RecoveringPlatform(dir);
    const parts = poolParts(platform, logger);
    const { table } = parts;
    const store = new SlotStore(dir, logger);
    table.store = store;
    let freed = 0;
    table.onFree = () => freed++;
    const slot = await bindSlot(parts, platform);
    assertEquals(table.boundSlot(UUID), slot);
    table.persist(slot);
    const read = await waitFor(async () => {
      const r = await store.read(1);
      return r.kind === "record" ? r.record : undefined;
    });
    assertEquals(read.binding, {
      sessionId: "gw-1",
      launched: ["xterm"],
      apps: { term: "xterm" },
      endsWithApps: true,
    });
    assertEquals(read.platform, { display: ":1" });

    const link = linkOf(slot.phase) as FakeStreamer;
    const done = table.recycle(slot, "logged off by an administrator");
    assertEquals(slot.phase.state, "recycling");
    assertEquals(table.recycle(slot, "again"), done, "one recycle at a time");
    assertEquals(parts.ends, [{
      sessionUuid: UUID,
      sessionId: "gw-1",
      reason: "logged off by an administrator",
    }]);
    assertEquals(link.closed, "session recycled");
    assertEquals(table.bySessionId.size, 0);
    await done;
    assertEquals(slot.phase.state, "free");
    assertEquals(freed, 1);
    assertEquals((await store.read(1)).kind, "none");
    for (const call of ["end webs01", "clean webs01", "rotate webs01"]) {
      assert(platform.calls.includes(call), call);
    }
  });
});

Deno.test("the grace period recycles a session nobody came back to", async () => {
  const platform = new ScriptedPlatform();
  const parts = poolParts(platform, logger, { reconnectGracePeriod: 0.1 });
  const slot = await bindSlot(parts, platform);
  const phase = slot.phase;
  assert(phase.state === "active");
  parts.table.armGrace(slot, phase);
  await waitFor(() => parts.ends.length === 1);
  assertEquals(
    parts.ends[0].reason,
    "no viewer within the reconnect grace period",
  );
  await waitFor(() => slot.phase.state === "free");
});

Deno.test("a warm session's recycle reports nothing; a provisioning one fails its waiters", async () => {
  const platform = new ScriptedPlatform();
  const parts = poolParts(platform, logger);
  const slot = parts.table.slots[1];
  const ready = deferred<void>();
  parts.table.enter(slot, {
    state: "provisioning",
    sessionUuid: UUID,
    ready,
  });
  await parts.table.recycle(slot, "provisioning failed: test");
  assertEquals(parts.ends, []);
  let failed = false;
  await ready.promise.catch(() => failed = true);
  assert(failed, "the waiter was told");
  assertEquals(slot.phase.state, "free");
});
