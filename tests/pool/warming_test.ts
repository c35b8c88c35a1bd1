/**
 * Tests for `mod/pool/warming.ts` with a scripted platform: a provisioned
 * slot is ready once its streamer identifies; one whose streamer never
 * does is recycled and counted as a failure; the warm count is kept.
 */
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { poolParts } from "../support/pool_parts.ts";
import {
  FakeStreamer,
  ScriptedPlatform,
} from "../support/scripted_platform.ts";
import { waitFor } from "../support/wait.ts";

const { logger } = captureLogs();

Deno.test("a provisioned slot is ready when its streamer identifies", async () => {
  const platform = new ScriptedPlatform();
  const { table, streamers, warming } = poolParts(platform, logger);
  const slot = table.slots[0];
  const started = warming.provision(slot, "gw-1");
  assertEquals(slot.phase.state, "provisioning");
  await waitFor(() =>
    slot.phase.state === "provisioning" && slot.phase.session
  );
  const streamer = new FakeStreamer("webs01", streamers);
  const result = streamers.attach(streamer);
  assert(result.ok);
  await started;
  assertEquals(slot.phase.state, "ready");
  // Still the launch's: no other launch takes it meanwhile.
  assertEquals(
    slot.phase.state === "ready" ? slot.phase.reservedBy : undefined,
    "gw-1",
  );
  assertEquals(table.failures, 0);
});

Deno.test("a streamer that never identifies: recycled, and counted", async () => {
  const platform = new ScriptedPlatform();
  const { table, warming } = poolParts(platform, logger, {
    provisioningTimeout: 0.1,
  });
  const slot = table.slots[0];
  await assertRejects(
    () => warming.provision(slot),
    Error,
    /no streamer handshake within 0.1 s/,
  );
  assertEquals(table.failures, 1);
  await waitFor(() => platform.calls.includes("end webs01"));
  warming.stop();
});

Deno.test("replenish keeps the warm count starting", async () => {
  const platform = new ScriptedPlatform();
  const { table, warming } = poolParts(platform, logger, {
    warmSessionCount: 2,
  });
  warming.replenish();
  await waitFor(() =>
    platform.calls.filter((c) => c.startsWith("start ")).length === 2
  );
  assertEquals(table.slots.map((s) => s.phase.state), [
    "provisioning",
    "provisioning",
  ]);
  table.stopping = true;
  warming.stop();
});
