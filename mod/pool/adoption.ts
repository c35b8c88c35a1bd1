/**
 * Taking sessions back when the host starts: each slot's record, left by an
 * earlier run that crashed or was killed, names a session. A bound session
 * whose display still runs is adopted as it is (its surviving streamer
 * reconnects with `RESUME_SESSION`; a dead one is replaced); a bound session
 * whose display died is ended, with a log line, and reported ended; a warm
 * one is ended; a record that cannot be trusted is dropped (the slot is then
 * swept like any other).
 *
 * @module
 */
import type { Adoption } from "../platform/mod.ts";
import type { BoundSlot } from "./slot_state.ts";
import type { Slot, SlotTable } from "./slot_table.ts";
import { lostStreamer, type StreamerSupervisor } from "./streamers.ts";

/**
 * Takes back slot `slot`'s session from its record, if an earlier run left
 * one (see the module documentation). True when the slot now holds an
 * adopted session; false when the slot is to be swept and cleaned.
 */
export async function takeBack(
  table: SlotTable,
  streamers: StreamerSupervisor,
  slot: Slot,
): Promise<boolean> {
  const recovery = table.recovery;
  const store = table.store;
  if (!recovery || !store) return false;
  const read = await store.read(slot.number);
  if (read.kind === "none") return false;
  if (read.kind === "invalid") {
    table.logger.warn("slot record unreadable; ending what the slot runs", {
      slot: slot.number,
      problem: read.problem,
    });
    await store.remove(slot.number);
    return false;
  }
  const record = read.record;
  if (record.account !== slot.account) {
    table.logger.warn("slot record of another account; not used", {
      slot: slot.number,
      account: record.account,
    });
    await store.remove(slot.number);
    return false;
  }
  // Ending what a record names never stops the start: the account's
  // sweep follows anyway.
  const endRecorded = () =>
    recovery.endRecorded(record.platform, slot.account).catch((error) =>
      table.logger.error("ending a recorded session failed", {
        slot: slot.number,
        error,
      })
    );
  if (!record.binding) {
    await endRecorded();
    await store.remove(slot.number);
    table.logger.info("ended a warm session an earlier run left", {
      slot: slot.number,
    });
    return false;
  }
  const { sessionId, launched, apps, endsWithApps } = record.binding;
  const adoption = await recovery.adopt(
    record.platform,
    await table.spec(slot, record.sessionUuid),
  ).catch((error): Adoption => ({
    ok: false,
    reason: (error as Error).message,
  }));
  if (!adoption.ok) {
    // Mostly "display :N has exited": it died while the host was down.
    const reason = `not taken back after a restart: ${adoption.reason}`;
    table.logger.info("recycling session", {
      slot: slot.number,
      account: slot.account,
      sessionId,
      sessionUuid: record.sessionUuid,
      reason,
    });
    await endRecorded();
    await store.remove(slot.number);
    table.sessionEnded({
      sessionUuid: record.sessionUuid,
      sessionId,
      reason,
    });
    return false;
  }
  const phase: BoundSlot = {
    state: "disconnected",
    sessionUuid: record.sessionUuid,
    sessionId,
    session: adoption.session,
    streamer: lostStreamer(),
    clientConnected: false,
    launched: new Set(launched),
    apps: new Map(Object.entries(apps)),
    endsWithApps,
    restarts: [],
  };
  table.enter(slot, phase);
  table.bySessionId.set(sessionId, slot);
  streamers.follow(slot, adoption.session);
  table.armGrace(slot, phase);
  table.logger.info("re-adopted session", {
    slot: slot.number,
    sessionId,
    sessionUuid: record.sessionUuid,
    display: adoption.session.id,
    streamerAlive: adoption.streamerAlive,
  });
  if (adoption.streamerAlive) streamers.awaitResume(slot, phase);
  else streamers.restart(slot, phase, "streamer was gone");
  return true;
}
