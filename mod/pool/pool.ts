/**
 * The session pool: slots `1..serverMaxSessionCount`, each moving through
 * free → provisioning → ready → active → disconnected → recycling → free
 * (one type per state: `slot_state.ts`). A configurable number of slots is
 * kept ready (logged on, streamer handshake done) so a launch does not wait
 * for a logon. A slot whose display dies is recycled; nothing is left
 * half-alive.
 *
 * Sessions outlive the processes that serve them, where the platform can
 * (the platform's `SessionRecovery`): a bound session whose streamer dies gets a
 * new streamer in the same session (same display, apps and `sessionUuid`;
 * only if restarts keep failing is it recycled), and a host that crashed or
 * was restarted takes back (adopts) the bound sessions an earlier run left
 * running, from the records it keeps per slot (`slot_store.ts`). Sessions
 * whose display died meanwhile are recycled, with a log line. A deliberate
 * shutdown still logs every session off.
 *
 * {@linkcode SessionPool} is the pool's face; each job is a module of its
 * own: `slot_table.ts` (the slots, their records, recycling), `warming.ts`
 * (starting sessions), `allocation.ts` (launches and tokens),
 * `streamers.ts` (the control channel, and restarting streamers) and
 * `adoption.ts` (taking sessions back at start).
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import type {
  AttachResult,
  LinkClosed,
  StreamerDirectory,
  StreamerLink,
  StreamerMessage,
} from "../control/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Platform, StreamerLicence } from "../platform/mod.ts";
import { takeBack } from "./adoption.ts";
import { Allocator } from "./allocation.ts";
import { PoolUnavailableError } from "./errors.ts";
import { isBound, linkOf, sessionOf } from "./slot_state.ts";
import { SlotStore } from "./slot_store.ts";
import { settle, SlotTable } from "./slot_table.ts";
import { StreamerSupervisor } from "./streamers.ts";
import { newPassword } from "./tokens.ts";
import type {
  Allocation,
  LaunchRequest,
  LiveSession,
  PoolStats,
  SessionEnd,
  SlotInfo,
} from "./types.ts";
import { Warming } from "./warming.ts";

export { PoolExhaustedError, PoolUnavailableError } from "./errors.ts";

/** Options for {@linkcode SessionPool}. */
export interface SessionPoolOptions {
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
  /** How long a streamer has to acknowledge a token. Default 3000 ms. */
  tokenAckTimeoutMs?: number;
  /**
   * How long a lost streamer (its control channel dropped, its process
   * perhaps alive) has to reconnect before a new one is started in its
   * session. Default 10 000 ms.
   */
  resumeWaitMs?: number;
  /**
   * Called when a session bound to a user session ends on this host (its
   * display died, the grace period passed, it was logged off, its streamer
   * kept failing), so the gateway can be told at once. Not called when a
   * streamer is merely restarted, when a restarted host takes its sessions
   * back, or at shutdown.
   */
  onSessionEnd?: (end: SessionEnd) => void;
}

/** Consecutive provisioning failures after which `/health` says degraded. */
const DEGRADED_AFTER = 3;

/** The session pool of one host. */
export class SessionPool implements StreamerDirectory {
  readonly #table: SlotTable;
  readonly #streamers: StreamerSupervisor;
  readonly #warming: Warming;
  readonly #allocator: Allocator;
  readonly #pending = new Map<string, Promise<Allocation>>();

  /** A pool of free slots; nothing touches the OS until {@linkcode start}. */
  constructor(options: SessionPoolOptions) {
    this.#table = new SlotTable(options);
    this.#streamers = new StreamerSupervisor(
      this.#table,
      options.resumeWaitMs ?? 10_000,
    );
    this.#warming = new Warming(this.#table, this.#streamers);
    this.#table.onFree = () => this.#warming.replenish();
    this.#allocator = new Allocator(this.#table, {
      warming: this.#warming,
      streamers: this.#streamers,
      tokenAckTimeoutMs: options.tokenAckTimeoutMs ?? 3000,
    });
  }

  /**
   * Prepares the platform and every pool account, takes back the bound
   * sessions an earlier run left running (where the platform can), ends
   * and cleans whatever else an earlier run left, then starts warming
   * sessions.
   */
  async start(): Promise<void> {
    const table = this.#table;
    const { platform, recovery } = table;
    await platform.prepare();
    if (recovery) {
      table.store = new SlotStore(recovery.stateDirectory, table.logger);
    }
    const initial = table.config.webstreamSettings.serverSessionPwd;
    await Promise.all(table.slots.map(async (slot) => {
      await platform.ensureAccount(slot.account, initial ?? newPassword());
      if (await takeBack(table, this.#streamers, slot)) return;
      await platform.endAccountProcesses(slot.account);
      table.reportProblems(
        slot,
        await platform.cleanAccount(slot.account, table.hygiene),
      );
    }));
    table.started = true;
    table.logger.info("session pool started", {
      slots: table.slots.length,
      warm: table.config.webstreamSettings.warmSessionCount,
      accounts: platform.accountMode,
      adopted: this.liveSessions().length,
    });
    this.#warming.replenish();
  }

  /** Counts for `/health` and heartbeats. */
  stats(): PoolStats {
    let active = 0, available = 0;
    for (const { phase } of this.#table.slots) {
      if (isBound(phase)) active++;
      if (
        phase.state === "free" ||
        ((phase.state === "provisioning" || phase.state === "ready") &&
          !phase.reservedBy)
      ) available++;
    }
    return { total: this.#table.slots.length, active, available };
  }

  /** `healthy`, `degraded` (sessions keep failing to start) or `draining`. */
  status(): "healthy" | "degraded" | "draining" | "starting" {
    const table = this.#table;
    if (table.stopping) return "draining";
    if (!table.started) return "starting";
    return table.failures >= DEGRADED_AFTER ? "degraded" : "healthy";
  }

  /** Every slot's state (no secrets). */
  snapshot(): SlotInfo[] {
    return this.#table.slots.map((slot) => {
      const { phase } = slot;
      return {
        slot: slot.number,
        account: slot.account,
        port: slot.port,
        state: phase.state,
        since: new Date(slot.since),
        display: sessionOf(phase)?.id,
        sessionUuid: "sessionUuid" in phase ? phase.sessionUuid : undefined,
        sessionId: isBound(phase) ? phase.sessionId : undefined,
        clientConnected: isBound(phase) && phase.clientConnected,
      };
    });
  }

  /**
   * Binds a pool session to `request.sessionId` and returns how to reach its
   * streamer. The same session id again returns the same session with a
   * fresh token (reconnect); a new app command is started inside it. A
   * session whose streamer is being restarted is waited for.
   *
   * @throws {PoolExhaustedError} when no slot can take the launch.
   * @throws {PoolUnavailableError} while starting or shutting down.
   */
  allocate(request: LaunchRequest): Promise<Allocation> {
    const table = this.#table;
    if (!table.started || table.stopping) {
      return Promise.reject(
        new PoolUnavailableError(
          table.stopping ? "the host is shutting down" : "the pool is starting",
        ),
      );
    }
    const pending = this.#pending.get(request.sessionId);
    if (pending) return pending;
    const existing = table.bySessionId.get(request.sessionId);
    const work = existing
      ? this.#allocator.reconnect(existing, request)
      : this.#allocator.allocateNew(request);
    this.#pending.set(request.sessionId, work);
    return work.finally(() => this.#pending.delete(request.sessionId));
  }

  /** Delivers `FILE_UPLOAD_COMPLETE` to the streamer of `sessionUuid`. */
  notifyUploadComplete(
    sessionUuid: string,
    upload: { dialogGuid: string; filePath: string },
  ): boolean {
    const slot = this.#table.slots.find((s) =>
      "sessionUuid" in s.phase && s.phase.sessionUuid === sessionUuid
    );
    const link = slot && linkOf(slot.phase);
    return link?.send({ type: "FILE_UPLOAD_COMPLETE", ...upload }) ?? false;
  }

  /** The sessions bound to a user session (active or disconnected). */
  liveSessions(): LiveSession[] {
    return this.#table.slots.flatMap(({ number, phase }) =>
      isBound(phase)
        ? [{
          sessionUuid: phase.sessionUuid,
          sessionId: phase.sessionId,
          slot: number,
          clientConnected: phase.clientConnected,
        }]
        : []
    );
  }

  /**
   * Logs a bound session off: its apps and display end and the slot is
   * recycled. False when no session with that UUID is bound.
   */
  async logOff(sessionUuid: string, reason: string): Promise<boolean> {
    const slot = this.#table.boundSlot(sessionUuid);
    if (!slot) return false;
    await this.#table.recycle(slot, reason);
    return true;
  }

  /** The slot bound to a pool session, if any (for the `-sm` relay). */
  findSession(sessionUuid: string): SlotInfo | undefined {
    return this.snapshot().find((s) =>
      s.sessionUuid === sessionUuid &&
      (s.state === "active" || s.state === "disconnected")
    );
  }

  /**
   * Ends every session (a deliberate shutdown logs sessions off; only a
   * crash leaves them to be taken back); with `removeAccountsOnExit`,
   * removes the accounts.
   */
  async shutdown(): Promise<void> {
    const table = this.#table;
    if (table.stopping) return;
    table.stopping = true;
    table.stop.abort();
    this.#warming.stop();
    await Promise.all(table.slots.map(async (slot) => {
      const stopping = new PoolUnavailableError("the host is shutting down");
      const phase = slot.phase;
      settle(phase, stopping);
      if (phase.state === "recycling") await phase.done;
      linkOf(phase)?.close("host shutting down", 1001);
      const session = phase.state === "provisioning"
        ? await phase.starting?.catch(() => undefined)
        : sessionOf(phase);
      if (session) {
        await table.platform.endSession(session).catch((error) =>
          table.logger.error("ending session failed", {
            slot: slot.number,
            error,
          })
        );
      }
      await table.store?.remove(slot.number);
      table.enter(slot, { state: "free" });
      if (table.config.webstreamSettings.removeAccountsOnExit) {
        await table.platform.removeAccount(slot.account).catch((error) =>
          table.logger.error("removing pool account failed", {
            account: slot.account,
            error,
          })
        );
      }
    }));
    table.logger.info("session pool stopped");
  }

  // ---- StreamerDirectory: the control channel (see `streamers.ts`) ----

  /**
   * A streamer identified itself: a new session's (`REQUEST_SESSION_INFO`
   * while provisioning), a replacement in a session whose streamer was lost
   * (the same, while bound), or a streamer taking its session back after
   * this host restarted (`RESUME_SESSION`).
   */
  attach(link: StreamerLink): AttachResult {
    return this.#streamers.attach(link);
  }

  /** A later message from an attached streamer. */
  message(link: StreamerLink, message: StreamerMessage): void {
    this.#streamers.message(link, message);
  }

  /**
   * An attached streamer's control connection closed: a warm session, or
   * one whose streamer ended it on purpose, is recycled; a bound session
   * whose connection just dropped gets its streamer back.
   */
  detach(link: StreamerLink, closed?: LinkClosed): void {
    this.#streamers.detach(link, closed);
  }
}
