/**
 * The state of one pool slot, one type per state (a discriminated union on
 * `state`), and the pool's pure decisions about streamers: what a closed
 * control connection means, and whether a streamer that died may be
 * restarted once more.
 *
 * ```
 * free ─▶ provisioning ─▶ ready ─▶ active ⇄ disconnected
 *   ▲          │                     │            │
 *   └──────────┴──── recycling ◀─────┴────────────┘
 * ```
 *
 * A bound session (active or disconnected) has a streamer that is either
 * attached (its control channel is up) or lost (its channel dropped or its
 * process died; a new one, or the same one reconnecting, is awaited).
 *
 * @module
 */
import type { StreamerLink } from "../control/mod.ts";
import type { PlatformSession } from "../platform/mod.ts";
import type { Timer } from "../util/async.ts";

/** A promise with its settle functions; rejections are read by whoever awaits. */
export interface Deferred<T> {
  /** The promise. */
  promise: Promise<T>;
  /** Fulfils it. */
  resolve(value: T): void;
  /** Rejects it. */
  reject(error: Error): void;
}

/** A {@linkcode Deferred} whose rejection is never reported as unhandled. */
export function deferred<T>(): Deferred<T> {
  const d = Promise.withResolvers<T>();
  d.promise.catch(() => {});
  return d;
}

/** A streamer whose control channel is up. */
export interface AttachedStreamer {
  kind: "attached";
  /** Its control connection. */
  link: StreamerLink;
  /** Tokens sent to it and not yet acknowledged, by SHA-256. */
  tokens: Map<string, Deferred<void>>;
}

/**
 * A bound session's streamer that is gone for now: its channel dropped or
 * its process died. The same streamer may reconnect (`RESUME_SESSION`), or
 * the pool starts a new one in the session.
 */
export interface LostStreamer {
  kind: "lost";
  /** When it was lost (ms). */
  since: number;
  /** Settles when a streamer attaches again (or the session ends). */
  back: Deferred<void>;
  /** True while the platform is starting a new streamer. */
  restarting: boolean;
  /**
   * Who may attach: the same streamer reconnecting (`RESUME_SESSION`), or,
   * once the pool has started one, a new streamer (`REQUEST_SESSION_INFO`).
   */
  awaiting: "resume" | "new streamer";
  /** When to give up waiting and (re)start one. */
  timer?: Timer;
}

/** A bound session's streamer. */
export type BoundStreamer = AttachedStreamer | LostStreamer;

/** No session: the account is clean and logged off. */
export interface FreeSlot {
  state: "free";
}

/** A session is being started; its streamer has not identified yet. */
export interface ProvisioningSlot {
  state: "provisioning";
  /** The new session's UUID. */
  sessionUuid: string;
  /** Settles when the streamer identifies (or the start fails). */
  ready: Deferred<void>;
  /** The platform's start, once asked for. */
  starting?: Promise<PlatformSession>;
  /** The session, once the platform has started it. */
  session?: PlatformSession;
  /** The launch waiting for this slot, if one is. */
  reservedBy?: string;
}

/** A warm session whose streamer has identified: a launch only binds it. */
export interface ReadySlot {
  state: "ready";
  /** The session's UUID. */
  sessionUuid: string;
  /** The session. */
  session: PlatformSession;
  /** Its streamer. */
  streamer: AttachedStreamer;
  /** The launch that waited for this slot while it started, if one did. */
  reservedBy?: string;
}

/**
 * A session bound to a gateway session: `active` from the bind on and while
 * a viewer is connected, `disconnected` once the viewer has gone (the
 * reconnect grace period runs).
 */
export interface BoundSlot {
  state: "active" | "disconnected";
  /** The session's UUID. */
  sessionUuid: string;
  /** The gateway's session id (`X-Session-ID`). */
  sessionId: string;
  /** The session. */
  session: PlatformSession;
  /** Its streamer. */
  streamer: BoundStreamer;
  /** Whether a viewer is connected now. */
  clientConnected: boolean;
  /** App command lines started in the session and not reported closed. */
  launched: Set<string>;
  /**
   * Each app's command line by its id (`X-App-ID`): a tab that reconnects
   * names its app by id only, and its viewer shows that app.
   */
  apps: Map<string, string>;
  /**
   * Whether the session ends when its last app closes (an app session; a
   * desktop does not): `app_lifetime.ts`.
   */
  endsWithApps: boolean;
  /** Recycles the session when no viewer comes back in time. */
  graceTimer?: Timer;
  /** Logs an app session off once its last app closed (`appExitGrace`). */
  appExitTimer?: Timer;
  /** When the streamer was restarted (ms), for {@linkcode restartDecision}. */
  restarts: number[];
}

/** The session is being logged off and the account cleaned. */
export interface RecyclingSlot {
  state: "recycling";
  /** Settles when the slot is free again (or the host stops). */
  done: Promise<void>;
}

/** Where a slot is, with what that state needs and nothing else. */
export type SlotPhase =
  | FreeSlot
  | ProvisioningSlot
  | ReadySlot
  | BoundSlot
  | RecyclingSlot;

/** True for a session bound to a gateway session. */
export function isBound(phase: SlotPhase): phase is BoundSlot {
  return phase.state === "active" || phase.state === "disconnected";
}

/** The session of a phase that has one. */
export function sessionOf(phase: SlotPhase): PlatformSession | undefined {
  return phase.state === "ready" || isBound(phase)
    ? phase.session
    : phase.state === "provisioning"
    ? phase.session
    : undefined;
}

/** The streamer link of a phase whose streamer is attached. */
export function linkOf(phase: SlotPhase): StreamerLink | undefined {
  if (phase.state === "ready") return phase.streamer.link;
  if (isBound(phase) && phase.streamer.kind === "attached") {
    return phase.streamer.link;
  }
  return undefined;
}

/**
 * What a bound session's closed control connection means: `ended` when the
 * streamer closed it on purpose, ending its session (1000, or 4000–4999:
 * its licence was refused, it cannot listen, the manager sent garbage);
 * `lost` for anything else (no close frame: the process died), after which
 * the streamer is restarted in the session.
 */
export function streamerCloseMeans(
  code: number | undefined,
): "ended" | "lost" {
  if (code === 1000 || (code !== undefined && code >= 4000 && code <= 4999)) {
    return "ended";
  }
  return "lost";
}

/** How often a session's streamer may be restarted. */
export interface RestartPolicy {
  /** Most restarts within `windowMs`. */
  max: number;
  /** The window, in ms. */
  windowMs: number;
}

/** The pool's: three restarts within five minutes, then the session ends. */
export const RESTART_POLICY: RestartPolicy = { max: 3, windowMs: 300_000 };

/** Whether to restart a streamer once more, with the new history. */
export type RestartDecision =
  | { restart: true; history: number[] }
  | { restart: false; reason: string };

/**
 * Decides whether a session's streamer may be restarted at `now`, given
 * when it was restarted before: restarts older than the window are
 * forgotten; with `max` left in it, no more.
 */
export function restartDecision(
  history: readonly number[],
  now: number,
  policy: RestartPolicy = RESTART_POLICY,
): RestartDecision {
  const recent = history.filter((at) => now - at < policy.windowMs);
  if (recent.length >= policy.max) {
    return {
      restart: false,
      reason: `${recent.length} restarts within ${policy.windowMs / 1000} s`,
    };
  }
  return { restart: true, history: [...recent, now] };
}
