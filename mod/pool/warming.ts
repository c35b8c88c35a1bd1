/**
 * Starting sessions: a slot is provisioned (the platform logs the account on
 * and starts the streamer; the slot is ready when the streamer identifies,
 * within `provisioningTimeout`), and `warmSessionCount` slots are kept ready
 * or warming, backing off while starts keep failing.
 *
 * @module
 */
import { withTimeout } from "../util/async.ts";
import { deferred, type ProvisioningSlot } from "./slot_state.ts";
import type { Slot, SlotTable } from "./slot_table.ts";
import type { StreamerSupervisor } from "./streamers.ts";

/** Session starts of one pool. */
export class Warming {
  readonly #table: SlotTable;
  readonly #streamers: StreamerSupervisor;
  #timer?: ReturnType<typeof setTimeout>;

  /** Starts sessions in `table`'s slots, followed by `streamers`. */
  constructor(table: SlotTable, streamers: StreamerSupervisor) {
    this.#table = table;
    this.#streamers = streamers;
  }

  /**
   * Starts a session in the free slot `slot`, for the launch `reservedBy`
   * (none: a warm one). Resolves once its streamer has identified (the slot
   * is ready); a start that fails or misses the deadline recycles the slot.
   */
  async provision(slot: Slot, reservedBy?: string): Promise<void> {
    const table = this.#table;
    table.assertRunning();
    const s = table.config.webstreamSettings;
    const phase: ProvisioningSlot = {
      state: "provisioning",
      sessionUuid: crypto.randomUUID(),
      ready: deferred(),
      reservedBy,
    };
    table.enter(slot, phase);
    const spec = await table.spec(slot, phase.sessionUuid);
    // A shutdown that began meanwhile has already passed this slot by.
    table.assertRunning();
    const starting = table.platform.startSession(spec);
    phase.starting = starting;
    try {
      await withTimeout(
        (async () => {
          const session = await starting;
          phase.session = session;
          this.#streamers.follow(slot, session);
          table.persist(slot);
          await phase.ready.promise;
        })(),
        s.provisioningTimeout * 1000,
        { message: `no streamer handshake within ${s.provisioningTimeout} s` },
      );
    } catch (error) {
      if (table.stopping) throw error;
      table.failures++;
      table.logger.error("provisioning failed", {
        slot: slot.number,
        account: slot.account,
        error,
      });
      table.recycle(slot, `provisioning failed: ${(error as Error).message}`);
      throw error;
    } finally {
      if (slot.phase === phase) phase.reservedBy = undefined;
    }
  }

  /** Keeps `warmSessionCount` slots ready or warming. */
  replenish(): void {
    const table = this.#table;
    if (!table.started || table.stopping || this.#timer) return;
    if (table.failures) {
      // Back off while sessions keep failing to start.
      const wait = Math.min(30_000, 500 * 2 ** Math.min(table.failures, 6));
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#fillWarm();
      }, wait);
      return;
    }
    this.#fillWarm();
  }

  /** Starts no more sessions (the host stops). */
  stop(): void {
    clearTimeout(this.#timer);
  }

  #fillWarm(): void {
    const table = this.#table;
    if (table.stopping) return;
    const warm =
      table.slots.filter(({ phase }) =>
        (phase.state === "ready" || phase.state === "provisioning") &&
        !phase.reservedBy
      ).length;
    let need = table.config.webstreamSettings.warmSessionCount - warm;
    for (const slot of table.slots) {
      if (need <= 0) break;
      if (slot.phase.state !== "free") continue;
      need--;
      this.provision(slot).catch(() => {});
    }
  }
}
