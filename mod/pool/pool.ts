/**
 * The session pool: slots `1..serverMaxSessionCount`, each moving through
 * free → provisioning → ready → active → disconnected → recycling → free
 * (one type per state: `slot_state.ts`). A configurable number of slots is
 * kept ready (logged on, streamer handshake done) so a launch does not wait
 * for a logon. A slot whose display dies is recycled; nothing is left
 * half-alive.
 *
 * Sessions outlive the processes that serve them, where the platform can
 * ({@linkcode SessionRecovery}): a bound session whose streamer dies gets a
 * new streamer in the same session (same display, apps and `sessionUuid`;
 * only if restarts keep failing is it recycled), and a host that crashed or
 * was restarted takes back (adopts) the bound sessions an earlier run left
 * running, from the records it keeps per slot (`slot_store.ts`). Sessions
 * whose display died meanwhile are recycled, with a log line. A deliberate
 * shutdown still logs every session off.
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
import type {
  Adoption,
  Hygiene,
  Platform,
  PlatformSession,
  SessionRecovery,
  SessionSpec,
  StreamerLicence,
  StreamerProcess,
} from "../platform/mod.ts";
import { licenceProof } from "../registration/licence_proof.ts";
import { delay, withTimeout } from "../util/async.ts";
import { accountName, streamerPort } from "./slots.ts";
import {
  type AttachedStreamer,
  type BoundSlot,
  deferred,
  isBound,
  linkOf,
  type LostStreamer,
  type ProvisioningSlot,
  restartDecision,
  sessionOf,
  type SlotPhase,
  streamerCloseMeans,
} from "./slot_state.ts";
import { type SlotRecord, SlotStore } from "./slot_store.ts";
import { hashToken, newPassword, newToken } from "./tokens.ts";
import type {
  Allocation,
  LaunchRequest,
  LiveSession,
  PoolStats,
  SessionEnd,
  SlotInfo,
} from "./types.ts";

/** Every slot is bound to a session or being prepared: try again later. */
export class PoolExhaustedError extends Error {
  /** Suggested wait before retrying, in seconds. */
  readonly retryAfter: number;

  constructor(retryAfter: number) {
    super("no pool session is available");
    this.name = "PoolExhaustedError";
    this.retryAfter = retryAfter;
  }
}

/** The pool is not accepting launches (starting or shutting down). */
export class PoolUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PoolUnavailableError";
  }
}

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

/** One pool slot: its fixed account and port, and where it is now. */
interface Slot {
  readonly number: number;
  readonly account: string;
  readonly port: number;
  phase: SlotPhase;
  since: number;
}

/** How long a launch waits for a slot being recycled before a 503. */
const RECYCLE_WAIT_MS = 10_000;

/** Consecutive provisioning failures after which `/health` says degraded. */
const DEGRADED_AFTER = 3;

/** A session that ended while a launch was waiting for its streamer. */
class SessionGoneError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "SessionGoneError";
  }
}

/** The session pool of one host. */
export class SessionPool implements StreamerDirectory {
  readonly #config: Config;
  readonly #platform: Platform;
  readonly #recovery?: SessionRecovery;
  readonly #logger: Logger;
  readonly #controlUrl: string;
  readonly #bindAddress: string;
  readonly #tokenAckTimeoutMs: number;
  readonly #resumeWaitMs: number;
  readonly #licence?: StreamerLicence;
  readonly #licenceSecret?: string;
  readonly #onSessionEnd?: (end: SessionEnd) => void;
  readonly #slots: Slot[];
  readonly #bySessionId = new Map<string, Slot>();
  readonly #pending = new Map<string, Promise<Allocation>>();
  #store?: SlotStore;
  #started = false;
  #stopping = false;
  #failures = 0;
  #replenishTimer?: ReturnType<typeof setTimeout>;
  readonly #stop = new AbortController();

  constructor(options: SessionPoolOptions) {
    this.#config = options.config;
    this.#platform = options.platform;
    this.#recovery = options.platform.recovery;
    this.#logger = options.logger;
    this.#controlUrl = options.controlUrl;
    this.#bindAddress = options.bindAddress;
    this.#tokenAckTimeoutMs = options.tokenAckTimeoutMs ?? 3000;
    this.#resumeWaitMs = options.resumeWaitMs ?? 10_000;
    this.#licence = options.licence;
    this.#licenceSecret = options.licenceSecret;
    this.#onSessionEnd = options.onSessionEnd;
    const s = options.config.webstreamSettings;
    this.#slots = Array.from({ length: s.serverMaxSessionCount }, (_, i) => ({
      number: i + 1,
      account: accountName(s.serverSessionUsername, i + 1),
      port: streamerPort(s.basePortNumber, i + 1),
      phase: { state: "free" },
      since: Date.now(),
    }));
  }

  get #hygiene(): Hygiene {
    return {
      profileCleanup: this.#config.profileCleanup,
      filesystemRestrictions: this.#config.filesystemRestrictions,
    };
  }

  /**
   * Prepares the platform and every pool account, takes back the bound
   * sessions an earlier run left running (where the platform can), ends
   * and cleans whatever else an earlier run left, then starts warming
   * sessions.
   */
  async start(): Promise<void> {
    await this.#platform.prepare();
    if (this.#recovery) {
      this.#store = new SlotStore(this.#recovery.stateDirectory, this.#logger);
    }
    const initial = this.#config.webstreamSettings.serverSessionPwd;
    await Promise.all(this.#slots.map(async (slot) => {
      await this.#platform.ensureAccount(
        slot.account,
        initial ?? newPassword(),
      );
      if (await this.#takeBack(slot)) return;
      await this.#platform.endAccountProcesses(slot.account);
      this.#reportProblems(
        slot,
        await this.#platform.cleanAccount(slot.account, this.#hygiene),
      );
    }));
    this.#started = true;
    this.#logger.info("session pool started", {
      slots: this.#slots.length,
      warm: this.#config.webstreamSettings.warmSessionCount,
      accounts: this.#platform.accountMode,
      adopted: this.liveSessions().length,
    });
    this.#replenish();
  }

  /** Counts for `/health` and heartbeats. */
  stats(): PoolStats {
    let active = 0, available = 0;
    for (const { phase } of this.#slots) {
      if (isBound(phase)) active++;
      if (
        phase.state === "free" ||
        ((phase.state === "provisioning" || phase.state === "ready") &&
          !phase.reservedBy)
      ) available++;
    }
    return { total: this.#slots.length, active, available };
  }

  /** `healthy`, `degraded` (sessions keep failing to start) or `draining`. */
  status(): "healthy" | "degraded" | "draining" | "starting" {
    if (this.#stopping) return "draining";
    if (!this.#started) return "starting";
    return this.#failures >= DEGRADED_AFTER ? "degraded" : "healthy";
  }

  /** Every slot's state (no secrets). */
  snapshot(): SlotInfo[] {
    return this.#slots.map((slot) => {
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
    if (!this.#started || this.#stopping) {
      return Promise.reject(
        new PoolUnavailableError(
          this.#stopping ? "the host is shutting down" : "the pool is starting",
        ),
      );
    }
    const pending = this.#pending.get(request.sessionId);
    if (pending) return pending;
    const existing = this.#bySessionId.get(request.sessionId);
    const work = existing
      ? this.#reconnect(existing, request)
      : this.#allocateNew(request);
    this.#pending.set(request.sessionId, work);
    return work.finally(() => this.#pending.delete(request.sessionId));
  }

  /** Delivers `FILE_UPLOAD_COMPLETE` to the streamer of `sessionUuid`. */
  notifyUploadComplete(
    sessionUuid: string,
    upload: { dialogGuid: string; filePath: string },
  ): boolean {
    const slot = this.#slots.find((s) =>
      "sessionUuid" in s.phase && s.phase.sessionUuid === sessionUuid
    );
    const link = slot && linkOf(slot.phase);
    return link?.send({ type: "FILE_UPLOAD_COMPLETE", ...upload }) ?? false;
  }

  /** The sessions bound to a user session (active or disconnected). */
  liveSessions(): LiveSession[] {
    return this.#slots.flatMap(({ number, phase }) =>
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
    const slot = this.#boundSlot(sessionUuid);
    if (!slot) return false;
    await this.#recycle(slot, reason);
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
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stop.abort();
    clearTimeout(this.#replenishTimer);
    await Promise.all(this.#slots.map(async (slot) => {
      const stopping = new PoolUnavailableError("the host is shutting down");
      const phase = slot.phase;
      this.#settle(phase, stopping);
      if (phase.state === "recycling") await phase.done;
      linkOf(phase)?.close("host shutting down", 1001);
      const session = phase.state === "provisioning"
        ? await phase.starting?.catch(() => undefined)
        : sessionOf(phase);
      if (session) {
        await this.#platform.endSession(session).catch((error) =>
          this.#logger.error("ending session failed", {
            slot: slot.number,
            error,
          })
        );
      }
      await this.#store?.remove(slot.number);
      this.#enter(slot, { state: "free" });
      if (this.#config.webstreamSettings.removeAccountsOnExit) {
        await this.#platform.removeAccount(slot.account).catch((error) =>
          this.#logger.error("removing pool account failed", {
            account: slot.account,
            error,
          })
        );
      }
    }));
    this.#logger.info("session pool stopped");
  }

  // ---- StreamerDirectory: the control channel ----

  /**
   * A streamer identified itself: a new session's (`REQUEST_SESSION_INFO`
   * while provisioning), a replacement in a session whose streamer was lost
   * (the same, while bound), or a streamer taking its session back after
   * this host restarted (`RESUME_SESSION`).
   */
  attach(link: StreamerLink): AttachResult {
    if (link.resumes) return this.#resume(link, link.resumes);
    const slot = this.#slots.find((s) => s.account === link.username);
    if (!slot) {
      return { ok: false, reason: `unknown pool account ${link.username}` };
    }
    const phase = slot.phase;
    if (phase.state === "provisioning" && phase.session) {
      this.#enter(slot, {
        state: "ready",
        sessionUuid: phase.sessionUuid,
        session: phase.session,
        streamer: attached(link),
        reservedBy: phase.reservedBy,
      });
      phase.ready.resolve();
      this.#failures = 0;
      return { ok: true, reply: sessionInfo(phase.sessionUuid) };
    }
    if (isBound(phase) && phase.streamer.kind === "lost") {
      this.#reattach(slot, phase, phase.streamer, link);
      this.#logger.info("streamer restarted in its session", {
        slot: slot.number,
        sessionId: phase.sessionId,
        sessionUuid: phase.sessionUuid,
        display: phase.session.id,
      });
      return {
        ok: true,
        reply: sessionInfo(phase.sessionUuid),
        // It is in use before any new viewer: check in with the gateway.
        then: [{ type: "SESSION_IN_USE", sessionUuid: phase.sessionUuid }],
      };
    }
    return {
      ok: false,
      reason: `slot ${slot.number} is ${phase.state}, not awaiting a streamer`,
    };
  }

  /** A later message from an attached streamer. */
  message(link: StreamerLink, message: StreamerMessage): void {
    const slot = this.#slots.find((s) => linkOf(s.phase) === link);
    if (!slot) return;
    const phase = slot.phase;
    switch (message.type) {
      case "TOKEN_ARMED":
        if (isBound(phase) && phase.streamer.kind === "attached") {
          phase.streamer.tokens.get(message.tokenHash)?.resolve();
        }
        return;
      case "CLIENT_CONNECTED":
        if (!isBound(phase) || message.sessionUuid !== phase.sessionUuid) {
          return;
        }
        phase.clientConnected = true;
        clearTimeout(phase.graceTimer);
        phase.graceTimer = undefined;
        this.#setBoundState(slot, phase, "active");
        return;
      case "CLIENT_DISCONNECTED":
        if (!isBound(phase) || message.sessionUuid !== phase.sessionUuid) {
          return;
        }
        phase.clientConnected = false;
        if (phase.state === "active") {
          this.#setBoundState(slot, phase, "disconnected");
          this.#armGrace(slot, phase);
        }
        return;
      case "UPLOAD_LANDED":
        // The manager completes the waiting dialog (the seed's message).
        this.#logger.info("upload landed", {
          slot: slot.number,
          dialogGuid: message.dialogGuid,
        });
        link.send({
          type: "FILE_UPLOAD_COMPLETE",
          dialogGuid: message.dialogGuid,
          filePath: message.filePath,
        });
        return;
      default:
        link.close(`unexpected ${message.type}`);
    }
  }

  /**
   * An attached streamer's control connection closed. A warm session is
   * recycled. A bound session whose streamer closed on purpose (its licence
   * was refused, say) is recycled too; one whose connection just dropped
   * (the process died) keeps its session and gets its streamer back.
   */
  detach(link: StreamerLink, closed?: LinkClosed): void {
    const slot = this.#slots.find((s) => linkOf(s.phase) === link);
    if (!slot) return;
    if (this.#stopping) return; // shutdown() ends every session itself
    const phase = slot.phase;
    if (!isBound(phase) || !this.#recovery) {
      // Nothing to take back (a warm session), or no way to restart it.
      this.#recycle(slot, "streamer left the control channel");
      return;
    }
    if (streamerCloseMeans(closed?.code) === "ended") {
      this.#recycle(
        slot,
        `streamer ended the session (${closed?.code}${
          closed?.reason ? ` ${closed.reason}` : ""
        })`,
      );
      return;
    }
    this.#streamerLost(slot, phase, "streamer's control channel dropped");
  }

  // ---- taking sessions back after a restart ----

  /**
   * Takes back slot `slot`'s session from its record, if an earlier run left
   * one: a bound session whose display still runs is adopted; a bound
   * session whose display died is ended (and reported ended); a warm one is
   * ended. True when the slot now holds an adopted session.
   */
  async #takeBack(slot: Slot): Promise<boolean> {
    const recovery = this.#recovery;
    const store = this.#store;
    if (!recovery || !store) return false;
    const read = await store.read(slot.number);
    if (read.kind === "none") return false;
    if (read.kind === "invalid") {
      this.#logger.warn("slot record unreadable; ending what the slot runs", {
        slot: slot.number,
        problem: read.problem,
      });
      await store.remove(slot.number);
      return false;
    }
    const record = read.record;
    if (record.account !== slot.account) {
      this.#logger.warn("slot record of another account; not used", {
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
        this.#logger.error("ending a recorded session failed", {
          slot: slot.number,
          error,
        })
      );
    if (!record.binding) {
      await endRecorded();
      await store.remove(slot.number);
      this.#logger.info("ended a warm session an earlier run left", {
        slot: slot.number,
      });
      return false;
    }
    const { sessionId, launched } = record.binding;
    const adoption = await recovery.adopt(
      record.platform,
      await this.#spec(slot, record.sessionUuid),
    ).catch((error): Adoption => ({
      ok: false,
      reason: (error as Error).message,
    }));
    if (!adoption.ok) {
      // Mostly "display :N has exited": it died while the host was down.
      const reason = `not taken back after a restart: ${adoption.reason}`;
      this.#logger.info("recycling session", {
        slot: slot.number,
        account: slot.account,
        sessionId,
        sessionUuid: record.sessionUuid,
        reason,
      });
      await endRecorded();
      await store.remove(slot.number);
      this.#onSessionEnd?.({
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
      streamer: lost(),
      clientConnected: false,
      launched: new Set(launched),
      restarts: [],
    };
    this.#enter(slot, phase);
    this.#bySessionId.set(sessionId, slot);
    this.#watchSession(slot, adoption.session);
    this.#armGrace(slot, phase);
    this.#logger.info("re-adopted session", {
      slot: slot.number,
      sessionId,
      sessionUuid: record.sessionUuid,
      display: adoption.session.id,
      streamerAlive: adoption.streamerAlive,
    });
    if (adoption.streamerAlive) this.#awaitResume(slot, phase);
    else this.#restartStreamer(slot, phase, "streamer was gone");
    return true;
  }

  /** A streamer reconnecting with `RESUME_SESSION` after this host restarted. */
  #resume(link: StreamerLink, sessionUuid: string): AttachResult {
    const slot = this.#boundSlot(sessionUuid);
    if (!slot) {
      // Still taking sessions back: the streamer tries again.
      if (!this.#started && !this.#stopping) {
        return { ok: false, reason: "the pool is starting", retry: true };
      }
      return { ok: false, reason: `no session ${sessionUuid} on this host` };
    }
    const phase = slot.phase as BoundSlot;
    if (slot.account !== link.username) {
      return {
        ok: false,
        reason: `session ${sessionUuid} is not ${link.username}'s`,
      };
    }
    if (phase.streamer.kind !== "lost" || phase.streamer.restarting) {
      // Only while its replacement starts (which stops it): never a refusal
      // that would make it end the session.
      return {
        ok: false,
        reason: `session ${sessionUuid} is getting another streamer`,
        retry: true,
      };
    }
    this.#reattach(slot, phase, phase.streamer, link);
    this.#logger.info("streamer resumed its session", {
      slot: slot.number,
      sessionId: phase.sessionId,
      sessionUuid,
    });
    return {
      ok: true,
      reply: sessionInfo(sessionUuid),
      then: [{ type: "SESSION_IN_USE", sessionUuid }],
    };
  }

  // ---- streamers of bound sessions: lost, restarted, back ----

  #reattach(
    slot: Slot,
    phase: BoundSlot,
    was: LostStreamer,
    link: StreamerLink,
  ): void {
    clearTimeout(was.timer);
    phase.streamer = attached(link);
    was.back.resolve();
    this.#persist(slot);
  }

  /**
   * The bound session's streamer is gone for now: pending tokens fail, the
   * viewer is counted gone (the grace period runs), and the streamer is
   * awaited back.
   */
  #streamerLost(slot: Slot, phase: BoundSlot, reason: string): LostStreamer {
    if (phase.streamer.kind === "lost") return phase.streamer;
    const was = phase.streamer;
    for (const ack of was.tokens.values()) ack.reject(new Error(reason));
    // The link is not closed: a streamer told 1000 would end the session's
    // apps. Its replacement stops it, and its messages are ignored.
    const now = lost();
    phase.streamer = now;
    if (phase.clientConnected) {
      phase.clientConnected = false;
      this.#setBoundState(slot, phase, "disconnected");
      this.#armGrace(slot, phase);
    }
    this.#logger.warn("streamer lost", {
      slot: slot.number,
      sessionId: phase.sessionId,
      sessionUuid: phase.sessionUuid,
      reason,
    });
    this.#awaitResume(slot, phase);
    return now;
  }

  /** Gives a lost streamer `resumeWaitMs` to come back, then replaces it. */
  #awaitResume(slot: Slot, phase: BoundSlot): void {
    const streamer = phase.streamer;
    if (streamer.kind !== "lost") return;
    clearTimeout(streamer.timer);
    streamer.timer = setTimeout(() => {
      if (slot.phase === phase && phase.streamer === streamer) {
        this.#restartStreamer(slot, phase, "streamer did not come back");
      }
    }, this.#resumeWaitMs);
  }

  /**
   * Starts a new streamer in the bound session (stopping the old one if it
   * still runs), unless the session's streamer has failed too often: then
   * the session is recycled. Without platform support, the session is
   * recycled at once.
   */
  async #restartStreamer(
    slot: Slot,
    phase: BoundSlot,
    reason: string,
  ): Promise<void> {
    if (this.#stopping || slot.phase !== phase) return;
    const recovery = this.#recovery;
    if (!recovery) {
      this.#recycle(slot, reason);
      return;
    }
    const streamer = this.#streamerLost(slot, phase, reason);
    if (streamer.restarting) return;
    clearTimeout(streamer.timer);
    const decision = restartDecision(phase.restarts, Date.now());
    if (!decision.restart) {
      this.#recycle(
        slot,
        `streamer keeps failing (${decision.reason}); last: ${reason}`,
      );
      return;
    }
    phase.restarts = decision.history;
    streamer.restarting = true;
    this.#logger.warn("restarting streamer", {
      slot: slot.number,
      sessionId: phase.sessionId,
      sessionUuid: phase.sessionUuid,
      display: phase.session.id,
      attempt: decision.history.length,
      reason,
    });
    let next: string;
    try {
      const spec = await this.#spec(slot, phase.sessionUuid);
      if (slot.phase !== phase || this.#stopping) return;
      const process = await recovery.restartStreamer(phase.session, spec);
      if (slot.phase !== phase) return; // recycled: its cleanup ends it
      this.#watchStreamer(slot, phase.session, process);
      this.#persist(slot);
      next = "restarted streamer did not connect";
    } catch (error) {
      if (slot.phase !== phase) return;
      this.#logger.error("streamer restart failed", {
        slot: slot.number,
        error,
      });
      next = `streamer restart failed: ${(error as Error).message}`;
    } finally {
      streamer.restarting = false;
    }
    if (phase.streamer !== streamer) return; // attached already
    const seconds = this.#config.webstreamSettings.provisioningTimeout;
    streamer.timer = setTimeout(() => {
      if (slot.phase === phase && phase.streamer === streamer) {
        this.#restartStreamer(slot, phase, next);
      }
    }, seconds * 1000);
  }

  /**
   * Resolves once the bound session's streamer is attached, waiting (up to
   * the provisioning timeout) while it is being restarted.
   *
   * @throws {SessionGoneError} when the session ended meanwhile.
   */
  async #streamerBack(slot: Slot, phase: BoundSlot): Promise<AttachedStreamer> {
    const seconds = this.#config.webstreamSettings.provisioningTimeout;
    const deadline = Date.now() + seconds * 1000;
    while (phase.streamer.kind === "lost") {
      if (slot.phase !== phase) throw new SessionGoneError("session ended");
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new PoolUnavailableError("the session's streamer is restarting");
      }
      await withTimeout(phase.streamer.back.promise, left).catch(() => {});
      this.#assertRunning();
    }
    if (slot.phase !== phase) throw new SessionGoneError("session ended");
    return phase.streamer;
  }

  // ---- allocation ----

  async #allocateNew(request: LaunchRequest): Promise<Allocation> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.#assertRunning();
      let slot: Slot | undefined;
      try {
        slot = await this.#claim(request);
        const phase = slot.phase as BoundSlot;
        const allocation = await this.#issueToken(
          slot,
          phase,
          phase.streamer as AttachedStreamer,
          request,
          false,
        );
        this.#launchApp(slot, phase, request);
        this.#armGrace(slot, phase);
        this.#persist(slot);
        this.#logger.info("session allocated", {
          sessionId: request.sessionId,
          slot: slot.number,
          sessionUuid: phase.sessionUuid,
        });
        return allocation;
      } catch (error) {
        if (error instanceof PoolExhaustedError) throw error;
        this.#assertRunning();
        lastError = error as Error;
        // A session that never served anyone: another slot is quicker.
        if (slot) {
          this.#recycle(slot, `allocation failed: ${lastError.message}`);
        }
      } finally {
        this.#replenish();
      }
    }
    throw lastError ?? new Error("allocation failed");
  }

  /**
   * Binds a slot to the request: a ready one, else a warming one, else a
   * cold start. The slot is reserved across every wait and bound in the same
   * turn it is found ready, so no two launches can get one slot.
   */
  async #claim(request: LaunchRequest, waited = false): Promise<Slot> {
    const ready = this.#slots.find((s) =>
      s.phase.state === "ready" && !s.phase.reservedBy
    );
    if (ready) return this.#bind(ready, request);
    const warming = this.#slots.find((s) =>
      s.phase.state === "provisioning" && !s.phase.reservedBy
    );
    const free = warming
      ? undefined
      : this.#slots.find((s) => s.phase.state === "free");
    if (!warming && !free) {
      const recycling = this.#slots.flatMap((s) =>
        s.phase.state === "recycling" ? [s.phase.done] : []
      );
      if (recycling.length && !waited) {
        // A slot is being cleaned: worth a short wait rather than a refusal.
        await withTimeout(Promise.race(recycling), RECYCLE_WAIT_MS).catch(
          () => {},
        );
        this.#assertRunning();
        return this.#claim(request, true);
      }
      throw new PoolExhaustedError(
        Math.min(
          30,
          Math.ceil(this.#config.webstreamSettings.provisioningTimeout),
        ),
      );
    }
    if (warming) {
      const phase = warming.phase as ProvisioningSlot;
      phase.reservedBy = request.sessionId;
      try {
        await phase.ready.promise;
      } finally {
        if (warming.phase === phase) phase.reservedBy = undefined;
      }
      this.#assertRunning();
      return this.#bind(warming, request);
    }
    await this.#provision(free!, request.sessionId);
    this.#assertRunning();
    return this.#bind(free!, request);
  }

  #bind(slot: Slot, request: LaunchRequest): Slot {
    const phase = slot.phase;
    if (phase.state !== "ready") {
      throw new PoolUnavailableError(`slot ${slot.number} is ${phase.state}`);
    }
    this.#enter(slot, {
      state: "active",
      sessionUuid: phase.sessionUuid,
      sessionId: request.sessionId,
      session: phase.session,
      streamer: phase.streamer,
      clientConnected: false,
      launched: new Set(),
      restarts: [],
    });
    this.#bySessionId.set(request.sessionId, slot);
    return slot;
  }

  #assertRunning(): void {
    if (this.#stopping) {
      throw new PoolUnavailableError("the host is shutting down");
    }
  }

  async #reconnect(slot: Slot, request: LaunchRequest): Promise<Allocation> {
    const phase = slot.phase;
    try {
      if (!isBound(phase)) throw new SessionGoneError(`slot is ${phase.state}`);
      // Twice at most: a streamer that does not acknowledge is replaced.
      for (let attempt = 1;; attempt++) {
        const streamer = await this.#streamerBack(slot, phase);
        try {
          const allocation = await this.#issueToken(
            slot,
            phase,
            streamer,
            request,
            true,
          );
          this.#launchApp(slot, phase, request);
          if (!phase.clientConnected) this.#armGrace(slot, phase);
          this.#logger.info("session reconnected", {
            sessionId: request.sessionId,
            slot: slot.number,
          });
          return allocation;
        } catch (error) {
          this.#assertRunning();
          if (slot.phase !== phase) {
            throw new SessionGoneError((error as Error).message);
          }
          if (attempt >= 2) throw error;
          this.#restartStreamer(slot, phase, (error as Error).message);
        }
      }
    } catch (error) {
      this.#assertRunning();
      if (!(error instanceof SessionGoneError)) throw error;
      // The session is gone: start a new one instead.
      return this.#allocateNew(request);
    }
  }

  async #issueToken(
    slot: Slot,
    phase: BoundSlot,
    streamer: AttachedStreamer,
    request: LaunchRequest,
    reconnect: boolean,
  ): Promise<Allocation> {
    const ttlSeconds = Math.ceil(
      this.#config.webstreamSettings.connectionTokenTtl,
    );
    const token = newToken();
    const tokenHash = await hashToken(token);
    const ack = deferred<void>();
    streamer.tokens.set(tokenHash, ack);
    try {
      // The viewer's policy and size go first: the streamer applies them to
      // the viewer that presents this token.
      streamer.link.send({
        type: "VIEWER_SETTINGS",
        sessionUuid: phase.sessionUuid,
        settings: JSON.stringify({
          policy: request.policy,
          width: request.width,
          height: request.height,
        }),
      });
      const sent = streamer.link.send({
        type: "CONNECTION_TOKEN",
        sessionUuid: phase.sessionUuid,
        tokenHash,
        ttlSeconds,
      });
      if (!sent) throw new Error("streamer is not connected");
      await withTimeout(ack.promise, this.#tokenAckTimeoutMs, {
        message: "streamer did not acknowledge the connection token",
      });
    } finally {
      streamer.tokens.delete(tokenHash);
    }
    return {
      sessionId: phase.sessionId,
      sessionUuid: phase.sessionUuid,
      slot: slot.number,
      username: slot.account,
      port: slot.port,
      token,
      tokenExpiresAt: new Date(Date.now() + ttlSeconds * 1000),
      reconnect,
    };
  }

  /** Starts the request's app in the session unless it already runs there. */
  #launchApp(slot: Slot, phase: BoundSlot, request: LaunchRequest): void {
    const command = request.app.command ?? "";
    if (!command || phase.launched.has(command)) return;
    phase.launched.add(command);
    linkOf(phase)?.send({
      type: "SESSION_INFO",
      sessionUuid: phase.sessionUuid,
      commandLineParams: command,
    });
    this.#persist(slot);
  }

  #armGrace(slot: Slot, phase: BoundSlot): void {
    clearTimeout(phase.graceTimer);
    const seconds = this.#config.webstreamSettings.reconnectGracePeriod;
    phase.graceTimer = setTimeout(() => {
      if (slot.phase === phase) {
        this.#recycle(slot, "no viewer within the reconnect grace period");
      }
    }, seconds * 1000);
  }

  // ---- provisioning ----

  /** What the platform needs to start (or restart) slot `slot`'s session. */
  async #spec(slot: Slot, sessionUuid: string): Promise<SessionSpec> {
    const s = this.#config.webstreamSettings;
    const proof = this.#licence && this.#licenceSecret
      ? await licenceProof(this.#licenceSecret, sessionUuid)
      : undefined;
    return {
      slot: slot.number,
      account: slot.account,
      streamerPort: slot.port,
      bindAddress: this.#bindAddress,
      controlUrl: this.#controlUrl,
      screen: s.screen,
      licence: this.#licence && { ...this.#licence, proof },
      reporting: this.#licence && {
        metrics: this.#config.metrics,
        activityLogging: this.#config.activityLogging,
      },
      orphanTimeout: s.orphanTimeout,
    };
  }

  async #provision(slot: Slot, reservedBy?: string): Promise<void> {
    this.#assertRunning();
    const s = this.#config.webstreamSettings;
    const phase: ProvisioningSlot = {
      state: "provisioning",
      sessionUuid: crypto.randomUUID(),
      ready: deferred(),
      reservedBy,
    };
    this.#enter(slot, phase);
    const spec = await this.#spec(slot, phase.sessionUuid);
    // A shutdown that began meanwhile has already passed this slot by.
    this.#assertRunning();
    const starting = this.#platform.startSession(spec);
    phase.starting = starting;
    try {
      await withTimeout(
        (async () => {
          const session = await starting;
          phase.session = session;
          this.#watchSession(slot, session);
          this.#persist(slot);
          await phase.ready.promise;
        })(),
        s.provisioningTimeout * 1000,
        { message: `no streamer handshake within ${s.provisioningTimeout} s` },
      );
    } catch (error) {
      if (this.#stopping) throw error;
      this.#failures++;
      this.#logger.error("provisioning failed", {
        slot: slot.number,
        account: slot.account,
        error,
      });
      this.#recycle(slot, `provisioning failed: ${(error as Error).message}`);
      throw error;
    } finally {
      if (slot.phase === phase) phase.reservedBy = undefined;
    }
  }

  /**
   * Follows a session: its display's death recycles it; its streamer's exit
   * (where the platform reports it apart) restarts the streamer of a bound
   * session and recycles any other.
   */
  #watchSession(slot: Slot, session: PlatformSession): void {
    session.ended.then((reason) => {
      if (sessionOf(slot.phase) === session) this.#recycle(slot, reason);
    });
    if (this.#recovery) {
      this.#watchStreamer(slot, session, this.#recovery.streamer(session));
    }
  }

  #watchStreamer(
    slot: Slot,
    session: PlatformSession,
    process: StreamerProcess,
  ): void {
    process.exited.then((reason) => {
      const phase = slot.phase;
      if (sessionOf(phase) !== session) return;
      if (this.#recovery?.streamer(session) !== process) return; // replaced
      if (isBound(phase)) this.#restartStreamer(slot, phase, reason);
      else this.#recycle(slot, reason);
    });
  }

  /** Keeps `warmSessionCount` slots ready or warming. */
  #replenish(): void {
    if (!this.#started || this.#stopping || this.#replenishTimer) return;
    if (this.#failures) {
      // Back off while sessions keep failing to start.
      const wait = Math.min(30_000, 500 * 2 ** Math.min(this.#failures, 6));
      this.#replenishTimer = setTimeout(() => {
        this.#replenishTimer = undefined;
        this.#fillWarm();
      }, wait);
      return;
    }
    this.#fillWarm();
  }

  #fillWarm(): void {
    if (this.#stopping) return;
    const warm =
      this.#slots.filter(({ phase }) =>
        (phase.state === "ready" || phase.state === "provisioning") &&
        !phase.reservedBy
      ).length;
    let need = this.#config.webstreamSettings.warmSessionCount - warm;
    for (const slot of this.#slots) {
      if (need <= 0) break;
      if (slot.phase.state !== "free") continue;
      need--;
      this.#provision(slot).catch(() => {});
    }
  }

  // ---- recycling ----

  #recycle(slot: Slot, reason: string): Promise<void> {
    const phase = slot.phase;
    if (phase.state === "recycling") return phase.done;
    if (phase.state === "free") return Promise.resolve();
    if (this.#stopping) return Promise.resolve(); // shutdown() ends sessions
    this.#logger.info("recycling session", {
      slot: slot.number,
      account: slot.account,
      sessionId: isBound(phase) ? phase.sessionId : undefined,
      reason,
    });
    if (isBound(phase)) {
      this.#onSessionEnd?.({
        sessionUuid: phase.sessionUuid,
        sessionId: phase.sessionId,
        reason,
      });
      for (const [sessionId, bound] of this.#bySessionId) {
        if (bound === slot) this.#bySessionId.delete(sessionId);
      }
    }
    this.#settle(phase, new Error(reason));
    linkOf(phase)?.close("session recycled", 1000);
    const finished = Promise.withResolvers<void>();
    this.#enter(slot, { state: "recycling", done: finished.promise });
    this.#cleanUp(slot, phase).then(finished.resolve);
    return finished.promise;
  }

  /** Stops a phase's timers and fails whatever waits on it. */
  #settle(phase: SlotPhase, error: Error): void {
    if (phase.state === "provisioning") phase.ready.reject(error);
    if (!isBound(phase)) return;
    clearTimeout(phase.graceTimer);
    if (phase.streamer.kind === "attached") {
      for (const ack of phase.streamer.tokens.values()) ack.reject(error);
    } else {
      clearTimeout(phase.streamer.timer);
      phase.streamer.back.reject(error);
    }
  }

  async #cleanUp(slot: Slot, previous: SlotPhase): Promise<void> {
    let session = sessionOf(previous);
    for (let attempt = 1;; attempt++) {
      try {
        if (!session && previous.state === "provisioning") {
          session = await previous.starting?.catch(() => undefined);
        }
        if (session) await this.#platform.endSession(session);
        await this.#store?.remove(slot.number);
        if (this.#stopping) break;
        this.#reportProblems(
          slot,
          await this.#platform.cleanAccount(slot.account, this.#hygiene),
        );
        await this.#platform.rotatePassword(slot.account, newPassword());
        break;
      } catch (error) {
        // Never hand out a slot whose logoff or hygiene did not complete.
        this.#logger.error("recycle failed; slot kept out of service", {
          slot: slot.number,
          attempt,
          error,
        });
        if (this.#stopping) break;
        await delay(Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6)), {
          signal: this.#stop.signal,
        }).catch(() => {});
      }
    }
    if (this.#stopping) return;
    this.#enter(slot, { state: "free" });
    this.#replenish();
  }

  // ---- bookkeeping ----

  /** Writes slot `slot`'s record for a later run (where the platform can). */
  #persist(slot: Slot): void {
    const store = this.#store;
    const recovery = this.#recovery;
    const phase = slot.phase;
    const session = sessionOf(phase);
    if (!store || !recovery || !session || !("sessionUuid" in phase)) return;
    let platform: unknown;
    try {
      platform = recovery.describe(session);
    } catch {
      return; // the session has ended already
    }
    const record: SlotRecord = {
      version: 1,
      slot: slot.number,
      account: slot.account,
      sessionUuid: phase.sessionUuid,
      binding: isBound(phase)
        ? { sessionId: phase.sessionId, launched: [...phase.launched] }
        : null,
      platform,
    };
    store.write(record);
  }

  #boundSlot(sessionUuid: string): Slot | undefined {
    return this.#slots.find((s) =>
      isBound(s.phase) && s.phase.sessionUuid === sessionUuid
    );
  }

  #reportProblems(slot: Slot, problems: string[]): void {
    for (const problem of problems) {
      this.#logger.warn("filesystem restriction not applied", {
        account: slot.account,
        problem,
      });
    }
  }

  #enter(slot: Slot, phase: SlotPhase): void {
    if (slot.phase.state !== phase.state) {
      this.#logger.debug("slot state", {
        slot: slot.number,
        from: slot.phase.state,
        to: phase.state,
      });
      slot.since = Date.now();
    }
    slot.phase = phase;
  }

  #setBoundState(
    slot: Slot,
    phase: BoundSlot,
    state: BoundSlot["state"],
  ): void {
    if (phase.state === state) return;
    this.#logger.debug("slot state", {
      slot: slot.number,
      from: phase.state,
      to: state,
    });
    phase.state = state;
    slot.since = Date.now();
  }
}

function attached(link: StreamerLink): AttachedStreamer {
  return { kind: "attached", link, tokens: new Map() };
}

function lost(): LostStreamer {
  return {
    kind: "lost",
    since: Date.now(),
    back: deferred(),
    restarting: false,
  };
}

function sessionInfo(sessionUuid: string) {
  return {
    type: "SESSION_INFO" as const,
    sessionUuid,
    commandLineParams: "",
  };
}
