/**
 * The pool's side of the control channel, and what keeps a bound session's
 * streamer alive: streamers identifying (a new session's, one restarted in
 * a session, one resuming after this host restarted), their messages, their
 * connections closing, and a lost streamer's return — awaited for a while,
 * else replaced by a new one in the same session, up to the restart policy
 * (`restartDecision`), after which the session is recycled.
 *
 * @module
 */
import type {
  AttachResult,
  LinkClosed,
  StreamerDirectory,
  StreamerLink,
  StreamerMessage,
} from "../control/mod.ts";
import type { PlatformSession, StreamerProcess } from "../platform/mod.ts";
import { withTimeout } from "../util/async.ts";
import { appClosed } from "./app_lifetime.ts";
import { PoolUnavailableError, SessionGoneError } from "./errors.ts";
import {
  type AttachedStreamer,
  type BoundSlot,
  deferred,
  isBound,
  linkOf,
  type LostStreamer,
  restartDecision,
  sessionOf,
  streamerCloseMeans,
} from "./slot_state.ts";
import type { Slot, SlotTable } from "./slot_table.ts";

/** The streamers of one pool's slots. */
export class StreamerSupervisor implements StreamerDirectory {
  readonly #table: SlotTable;
  readonly #resumeWaitMs: number;

  /**
   * Supervises `table`'s streamers; a lost one has `resumeWaitMs` to
   * reconnect before it is replaced.
   */
  constructor(table: SlotTable, resumeWaitMs: number) {
    this.#table = table;
    this.#resumeWaitMs = resumeWaitMs;
  }

  /**
   * A streamer identified itself: a new session's (`REQUEST_SESSION_INFO`
   * while provisioning), a replacement in a session whose streamer was lost
   * (the same, while bound), or a streamer taking its session back after
   * this host restarted (`RESUME_SESSION`).
   */
  attach(link: StreamerLink): AttachResult {
    if (link.resumes) return this.#resume(link, link.resumes);
    const slot = this.#table.slots.find((s) => s.account === link.username);
    if (!slot) {
      return { ok: false, reason: `unknown pool account ${link.username}` };
    }
    const phase = slot.phase;
    if (phase.state === "provisioning" && phase.session) {
      this.#table.enter(slot, {
        state: "ready",
        sessionUuid: phase.sessionUuid,
        session: phase.session,
        streamer: attached(link),
        reservedBy: phase.reservedBy,
      });
      phase.ready.resolve();
      this.#table.failures = 0;
      return { ok: true, reply: sessionInfo(phase.sessionUuid) };
    }
    if (
      isBound(phase) && phase.streamer.kind === "lost" &&
      phase.streamer.awaiting === "new streamer"
    ) {
      this.#reattach(slot, phase, phase.streamer, link);
      this.#table.logger.info("streamer restarted in its session", {
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
    const slot = this.#table.slots.find((s) => linkOf(s.phase) === link);
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
        this.#table.setBoundState(slot, phase, "active");
        return;
      case "CLIENT_DISCONNECTED":
        if (!isBound(phase) || message.sessionUuid !== phase.sessionUuid) {
          return;
        }
        phase.clientConnected = false;
        if (phase.state === "active") {
          this.#table.setBoundState(slot, phase, "disconnected");
          this.#table.armGrace(slot, phase);
        }
        return;
      case "APP_CLOSED":
        if (!isBound(phase) || message.sessionUuid !== phase.sessionUuid) {
          return;
        }
        appClosed(this.#table, slot, {
          phase,
          command: message.commandLineParams,
        });
        return;
      case "UPLOAD_LANDED":
        // The manager completes the waiting dialog (the seed's message).
        this.#table.logger.info("upload landed", {
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
    const slot = this.#table.slots.find((s) => linkOf(s.phase) === link);
    if (!slot) return;
    if (this.#table.stopping) return; // shutdown() ends every session itself
    const phase = slot.phase;
    if (!isBound(phase) || !this.#table.recovery) {
      // Nothing to take back (a warm session), or no way to restart it.
      this.#table.recycle(slot, "streamer left the control channel");
      return;
    }
    if (streamerCloseMeans(closed?.code) === "ended") {
      this.#table.recycle(
        slot,
        `streamer ended the session (${closed?.code}${
          closed?.reason ? ` ${closed.reason}` : ""
        })`,
      );
      return;
    }
    this.lost(slot, phase, "streamer's control channel dropped");
  }

  /** A streamer reconnecting with `RESUME_SESSION` after this host restarted. */
  #resume(link: StreamerLink, sessionUuid: string): AttachResult {
    const slot = this.#table.boundSlot(sessionUuid);
    if (!slot) {
      // Still taking sessions back: the streamer tries again.
      if (!this.#table.started && !this.#table.stopping) {
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
    if (
      phase.streamer.kind !== "lost" || phase.streamer.awaiting !== "resume"
    ) {
      // Only while its replacement starts (which stops it): never a refusal
      // that would make it end the session.
      return {
        ok: false,
        reason: `session ${sessionUuid} is getting another streamer`,
        retry: true,
      };
    }
    this.#reattach(slot, phase, phase.streamer, link);
    this.#table.logger.info("streamer resumed its session", {
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

  #reattach(
    slot: Slot,
    phase: BoundSlot,
    was: LostStreamer,
    link: StreamerLink,
  ): void {
    clearTimeout(was.timer);
    phase.streamer = attached(link);
    was.back.resolve();
    this.#table.persist(slot);
  }

  /**
   * The bound session's streamer is gone for now: pending tokens fail, the
   * viewer is counted gone (the grace period runs), and the streamer is
   * awaited back.
   */
  lost(slot: Slot, phase: BoundSlot, reason: string): LostStreamer {
    if (phase.streamer.kind === "lost") return phase.streamer;
    const was = phase.streamer;
    for (const ack of was.tokens.values()) ack.reject(new Error(reason));
    // The link is not closed: a streamer told 1000 would end the session's
    // apps. Its replacement stops it, and its messages are ignored.
    const now = lostStreamer();
    phase.streamer = now;
    if (phase.clientConnected) {
      phase.clientConnected = false;
      this.#table.setBoundState(slot, phase, "disconnected");
      this.#table.armGrace(slot, phase);
    }
    this.#table.logger.warn("streamer lost", {
      slot: slot.number,
      sessionId: phase.sessionId,
      sessionUuid: phase.sessionUuid,
      reason,
    });
    this.awaitResume(slot, phase);
    return now;
  }

  /** Gives a lost streamer `resumeWaitMs` to come back, then replaces it. */
  awaitResume(slot: Slot, phase: BoundSlot): void {
    const streamer = phase.streamer;
    if (streamer.kind !== "lost") return;
    clearTimeout(streamer.timer);
    streamer.timer = setTimeout(() => {
      if (slot.phase === phase && phase.streamer === streamer) {
        this.restart(slot, phase, "streamer did not come back");
      }
    }, this.#resumeWaitMs);
  }

  /**
   * Starts a new streamer in the bound session (stopping the old one if it
   * still runs), unless the session's streamer has failed too often: then
   * the session is recycled. Without platform support, the session is
   * recycled at once.
   */
  async restart(
    slot: Slot,
    phase: BoundSlot,
    reason: string,
  ): Promise<void> {
    if (this.#table.stopping || slot.phase !== phase) return;
    const recovery = this.#table.recovery;
    if (!recovery) {
      this.#table.recycle(slot, reason);
      return;
    }
    const streamer = this.lost(slot, phase, reason);
    if (streamer.restarting) return;
    clearTimeout(streamer.timer);
    const decision = restartDecision(phase.restarts, Date.now());
    if (!decision.restart) {
      this.#table.recycle(
        slot,
        `streamer keeps failing (${decision.reason}); last: ${reason}`,
      );
      return;
    }
    phase.restarts = decision.history;
    streamer.restarting = true;
    streamer.awaiting = "new streamer";
    this.#table.logger.warn("restarting streamer", {
      slot: slot.number,
      sessionId: phase.sessionId,
      sessionUuid: phase.sessionUuid,
      display: phase.session.id,
      attempt: decision.history.length,
      reason,
    });
    let next: string;
    try {
      const spec = await this.#table.spec(slot, phase.sessionUuid);
      if (slot.phase !== phase || this.#table.stopping) return;
      const process = await recovery.restartStreamer(phase.session, spec);
      if (slot.phase !== phase) return; // recycled: its cleanup ends it
      this.#watchStreamer(slot, phase.session, process);
      this.#table.persist(slot);
      next = "restarted streamer did not connect";
    } catch (error) {
      if (slot.phase !== phase) return;
      this.#table.logger.error("streamer restart failed", {
        slot: slot.number,
        error,
      });
      next = `streamer restart failed: ${(error as Error).message}`;
    } finally {
      streamer.restarting = false;
    }
    if (phase.streamer !== streamer) return; // attached already
    const seconds = this.#table.config.webstreamSettings.provisioningTimeout;
    streamer.timer = setTimeout(() => {
      if (slot.phase === phase && phase.streamer === streamer) {
        this.restart(slot, phase, next);
      }
    }, seconds * 1000);
  }

  /**
   * Resolves once the bound session's streamer is attached, waiting (up to
   * the provisioning timeout) while it is being restarted.
   *
   * @throws {SessionGoneError} when the session ended meanwhile.
   */
  async back(slot: Slot, phase: BoundSlot): Promise<AttachedStreamer> {
    const seconds = this.#table.config.webstreamSettings.provisioningTimeout;
    const deadline = Date.now() + seconds * 1000;
    while (phase.streamer.kind === "lost") {
      if (slot.phase !== phase) throw new SessionGoneError("session ended");
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new PoolUnavailableError("the session's streamer is restarting");
      }
      await withTimeout(phase.streamer.back.promise, left).catch(() => {});
      this.#table.assertRunning();
    }
    if (slot.phase !== phase) throw new SessionGoneError("session ended");
    return phase.streamer;
  }

  /**
   * Follows a session: its display's death recycles it; its streamer's exit
   * (where the platform reports it apart) restarts the streamer of a bound
   * session and recycles any other.
   */
  follow(slot: Slot, session: PlatformSession): void {
    session.ended.then((reason) => {
      if (sessionOf(slot.phase) === session) this.#table.recycle(slot, reason);
    });
    if (this.#table.recovery) {
      this.#watchStreamer(
        slot,
        session,
        this.#table.recovery.streamer(session),
      );
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
      if (this.#table.recovery?.streamer(session) !== process) return; // replaced
      if (isBound(phase)) this.restart(slot, phase, reason);
      else this.#table.recycle(slot, reason);
    });
  }
}

/** An attached streamer on `link`. */
export function attached(link: StreamerLink): AttachedStreamer {
  return { kind: "attached", link, tokens: new Map() };
}

/** A streamer lost just now. */
export function lostStreamer(): LostStreamer {
  return {
    kind: "lost",
    since: Date.now(),
    back: deferred(),
    restarting: false,
    awaiting: "resume",
  };
}

function sessionInfo(sessionUuid: string) {
  return {
    type: "SESSION_INFO" as const,
    sessionUuid,
    commandLineParams: "",
  };
}
