/**
 * The pool's slots and what every part of the pool shares about them: the
 * slots themselves and the session ids bound to them, moving a slot to a
 * new state, the slot records kept for a later run, what the platform needs
 * to start a slot's session, the reconnect grace period, and recycling (log
 * the session off, clean the account, free the slot).
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type {
  Hygiene,
  Platform,
  SessionRecovery,
  SessionSpec,
  StreamerLicence,
} from "../platform/mod.ts";
import { licenceProof } from "../contract/licence_proof.ts";
import { delay } from "../util/async.ts";
import { PoolUnavailableError } from "./errors.ts";
import { accountName, streamerPort } from "./slots.ts";
import {
  type BoundSlot,
  isBound,
  linkOf,
  sessionOf,
  type SlotPhase,
} from "./slot_state.ts";
import type { SlotRecord, SlotStore } from "./slot_store.ts";
import { newPassword } from "./tokens.ts";
import type { SessionEnd } from "./types.ts";

/** One pool slot: its fixed account and port, and where it is now. */
export interface Slot {
  /** Slot number, 1-based. */
  readonly number: number;
  /** Its pool account. */
  readonly account: string;
  /** Its streamer port. */
  readonly port: number;
  /** Its state. */
  phase: SlotPhase;
  /** When it entered that state (ms). */
  since: number;
}

/** Options for {@linkcode SlotTable}. */
export interface SlotTableOptions {
  /** The validated configuration. */
  config: Config;
  /** The OS layer. */
  platform: Platform;
  /** The `/control` URL streamers connect to. */
  controlUrl: string;
  /** Where streamers listen. */
  bindAddress: string;
  /** Logger. */
  logger: Logger;
  /** Licence check-ins for the streamers, when a gateway is configured. */
  licence?: StreamerLicence;
  /** The farm's shared secret, to give each streamer its licence proof. */
  licenceSecret?: string;
  /** Told when a bound session really ends. */
  onSessionEnd?: (end: SessionEnd) => void;
}

/** The slots of one pool and what its parts share about them. */
export class SlotTable {
  /** The validated configuration. */
  readonly config: Config;
  /** The OS layer. */
  readonly platform: Platform;
  /** The platform's session recovery, where it has one. */
  readonly recovery?: SessionRecovery;
  /** Logger. */
  readonly logger: Logger;
  /** Every slot, by number − 1. */
  readonly slots: Slot[];
  /** The slot bound to each gateway session id. */
  readonly bySessionId = new Map<string, Slot>();
  /** Aborted when the host stops. */
  readonly stop = new AbortController();
  /** The slot records, once the platform is prepared (with recovery only). */
  store?: SlotStore;
  /** True once the pool has started. */
  started = false;
  /** True once the pool is shutting down. */
  stopping = false;
  /** Session starts that failed in a row. */
  failures = 0;
  /** Called when a recycled slot is free again (warming refills). */
  onFree: () => void = () => {};
  readonly #options: SlotTableOptions;

  /** Every slot free. */
  constructor(options: SlotTableOptions) {
    this.#options = options;
    this.config = options.config;
    this.platform = options.platform;
    this.recovery = options.platform.recovery;
    this.logger = options.logger;
    const s = options.config.webstreamSettings;
    this.slots = Array.from({ length: s.serverMaxSessionCount }, (_, i) => ({
      number: i + 1,
      account: accountName(s.serverSessionUsername, i + 1),
      port: streamerPort(s.basePortNumber, i + 1),
      phase: { state: "free" },
      since: Date.now(),
    }));
  }

  /** Recycle hygiene, from the configuration. */
  get hygiene(): Hygiene {
    return {
      profileCleanup: this.config.profileCleanup,
      filesystemRestrictions: this.config.filesystemRestrictions,
    };
  }

  /** The slot of a bound session, by its UUID. */
  boundSlot(sessionUuid: string): Slot | undefined {
    return this.slots.find((s) =>
      isBound(s.phase) && s.phase.sessionUuid === sessionUuid
    );
  }

  /** Moves `slot` to `phase`. */
  enter(slot: Slot, phase: SlotPhase): void {
    if (slot.phase.state !== phase.state) {
      this.logger.debug("slot state", {
        slot: slot.number,
        from: slot.phase.state,
        to: phase.state,
      });
      slot.since = Date.now();
    }
    slot.phase = phase;
  }

  /** Moves a bound session between active and disconnected. */
  setBoundState(
    slot: Slot,
    phase: BoundSlot,
    state: BoundSlot["state"],
  ): void {
    if (phase.state === state) return;
    this.logger.debug("slot state", {
      slot: slot.number,
      from: phase.state,
      to: state,
    });
    phase.state = state;
    slot.since = Date.now();
  }

  /**
   * @throws {PoolUnavailableError} once the host is shutting down.
   */
  assertRunning(): void {
    if (this.stopping) {
      throw new PoolUnavailableError("the host is shutting down");
    }
  }

  /** What the platform needs to start (or restart) slot `slot`'s session. */
  async spec(slot: Slot, sessionUuid: string): Promise<SessionSpec> {
    const { licence, licenceSecret, controlUrl, bindAddress } = this.#options;
    const s = this.config.webstreamSettings;
    const proof = licence && licenceSecret
      ? await licenceProof(licenceSecret, sessionUuid)
      : undefined;
    return {
      slot: slot.number,
      account: slot.account,
      streamerPort: slot.port,
      bindAddress,
      controlUrl,
      screen: s.screen,
      licence: licence && { ...licence, proof },
      reporting: licence && {
        metrics: this.config.metrics,
        activityLogging: this.config.activityLogging,
      },
      orphanTimeout: s.orphanTimeout,
    };
  }

  /** (Re)starts the reconnect grace period of a bound session. */
  armGrace(slot: Slot, phase: BoundSlot): void {
    clearTimeout(phase.graceTimer);
    const seconds = this.config.webstreamSettings.reconnectGracePeriod;
    phase.graceTimer = setTimeout(() => {
      if (slot.phase === phase) {
        this.recycle(slot, "no viewer within the reconnect grace period");
      }
    }, seconds * 1000);
  }

  /**
   * Writes slot `slot`'s record for a later run (where the platform can);
   * settles once it is written (a failure is logged, never thrown).
   */
  persist(slot: Slot): Promise<void> {
    const { store, recovery } = this;
    const phase = slot.phase;
    const session = sessionOf(phase);
    if (!store || !recovery || !session || !("sessionUuid" in phase)) {
      return Promise.resolve();
    }
    let platform: unknown;
    try {
      platform = recovery.describe(session);
    } catch {
      return Promise.resolve(); // the session has ended already
    }
    const record: SlotRecord = {
      version: 1,
      slot: slot.number,
      account: slot.account,
      sessionUuid: phase.sessionUuid,
      binding: isBound(phase)
        ? {
          sessionId: phase.sessionId,
          launched: [...phase.launched],
          apps: Object.fromEntries(phase.apps),
          endsWithApps: phase.endsWithApps,
        }
        : null,
      platform,
    };
    return store.write(record);
  }

  /** Tells the pool's owner a bound session really ended. */
  sessionEnded(end: SessionEnd): void {
    this.#options.onSessionEnd?.(end);
  }

  /** Logs the filesystem restrictions that could not be applied. */
  reportProblems(slot: Slot, problems: string[]): void {
    for (const problem of problems) {
      this.logger.warn("filesystem restriction not applied", {
        account: slot.account,
        problem,
      });
    }
  }

  /**
   * Logs the slot's session off and cleans its account; the slot is free
   * again when the returned promise settles. A bound session is reported
   * ended. Nothing happens during shutdown (which ends sessions itself).
   */
  recycle(slot: Slot, reason: string): Promise<void> {
    const phase = slot.phase;
    if (phase.state === "recycling") return phase.done;
    if (phase.state === "free") return Promise.resolve();
    if (this.stopping) return Promise.resolve();
    this.logger.info("recycling session", {
      slot: slot.number,
      account: slot.account,
      sessionId: isBound(phase) ? phase.sessionId : undefined,
      reason,
    });
    if (isBound(phase)) {
      this.sessionEnded({
        sessionUuid: phase.sessionUuid,
        sessionId: phase.sessionId,
        reason,
      });
      for (const [sessionId, bound] of this.bySessionId) {
        if (bound === slot) this.bySessionId.delete(sessionId);
      }
    }
    settle(phase, new Error(reason));
    linkOf(phase)?.close("session recycled", 1000);
    const finished = Promise.withResolvers<void>();
    this.enter(slot, { state: "recycling", done: finished.promise });
    this.#cleanUp(slot, phase).then(finished.resolve);
    return finished.promise;
  }

  async #cleanUp(slot: Slot, previous: SlotPhase): Promise<void> {
    let session = sessionOf(previous);
    for (let attempt = 1;; attempt++) {
      try {
        if (!session && previous.state === "provisioning") {
          session = await previous.starting?.catch(() => undefined);
        }
        if (session) await this.platform.endSession(session);
        await this.store?.remove(slot.number);
        if (this.stopping) break;
        this.reportProblems(
          slot,
          await this.platform.cleanAccount(slot.account, this.hygiene),
        );
        await this.platform.rotatePassword(slot.account, newPassword());
        break;
      } catch (error) {
        // Never hand out a slot whose logoff or hygiene did not complete.
        this.logger.error("recycle failed; slot kept out of service", {
          slot: slot.number,
          attempt,
          error,
        });
        if (this.stopping) break;
        await delay(Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6)), {
          signal: this.stop.signal,
        }).catch(() => {});
      }
    }
    if (this.stopping) return;
    this.enter(slot, { state: "free" });
    this.onFree();
  }
}

/** Stops a phase's timers and fails whatever waits on it. */
export function settle(phase: SlotPhase, error: Error): void {
  if (phase.state === "provisioning") phase.ready.reject(error);
  if (!isBound(phase)) return;
  clearTimeout(phase.graceTimer);
  clearTimeout(phase.appExitTimer);
  if (phase.streamer.kind === "attached") {
    for (const ack of phase.streamer.tokens.values()) ack.reject(error);
  } else {
    clearTimeout(phase.streamer.timer);
    phase.streamer.back.reject(error);
  }
}
