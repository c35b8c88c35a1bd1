/**
 * The platform interface: every piece of OS work the session manager does
 * goes through it, so the pool logic is the same on Linux and Windows.
 *
 * @module
 */
import type { FilesystemRestriction, ProfileCleanup } from "../config/mod.ts";

/** What a new session needs to be started. */
export interface SessionSpec {
  /** Pool slot number, 1-based. */
  slot: number;
  /** The pool account the session runs as (e.g. `webs01`). */
  account: string;
  /** The port the streamer must listen on. */
  streamerPort: number;
  /** Address the streamer binds to. */
  bindAddress: string;
  /** The session manager's `/control` WebSocket URL. */
  controlUrl: string;
  /**
   * Initial screen geometry, and the largest a viewer may resize it to
   * (default: the initial size).
   */
  screen: {
    width: number;
    height: number;
    depth: number;
    maxWidth?: number;
    maxHeight?: number;
  };
  /** Where the streamer checks its licence in, when a gateway is configured. */
  licence?: StreamerLicence;
  /** What the streamer reports to the gateway (with `licence` only). */
  reporting?: StreamerReporting;
  /**
   * `webstreamSettings.orphanTimeout`: how long, in seconds, the session
   * outlives an unreachable session manager before it ends itself. Unset:
   * the streamer's default (300).
   */
  orphanTimeout?: number;
}

/** The host's `metrics` and `activityLogging` sections, for its streamers. */
export interface StreamerReporting {
  /** `metrics`. */
  metrics: {
    enabled: boolean;
    interval: number;
    report: ("fps" | "bandwidth" | "latency" | "input")[];
  };
  /** `activityLogging`. */
  activityLogging: {
    enabled: boolean;
    events: ("session_start" | "session_end" | "app_launch" | "upload")[];
  };
}

/** What a streamer needs for licence check-ins with the gateway. */
export interface StreamerLicence {
  /** `gateway.backend.gatewayUrl`: one gateway or several, in order. */
  gatewayUrl: string | readonly string[];
  /** This host's `serverUrl` (`gateway.backend.advertisedUrl`). */
  serverUrl: string;
  /** A CA certificate file (PEM) for the gateway, readable by pool users. */
  caCertificate?: string;
  /** This session's licence proof (see `licenceProof`). */
  proof?: string;
}

/** A running OS session with its streamer. */
export interface PlatformSession {
  /** The slot it belongs to. */
  readonly slot: number;
  /** The pool account it runs as. */
  readonly account: string;
  /** The OS's name for it: an X display (`:3`) or a WTS session id. */
  readonly id: string;
  /**
   * Resolves, with a reason, when the session dies on its own. On a
   * platform with {@linkcode SessionRecovery} that is the display's death
   * only (a streamer's exit is reported by
   * {@linkcode SessionRecovery.streamer}); on one without, a streamer's exit
   * ends the session too.
   */
  readonly ended: Promise<string>;
}

/** One streamer process of a session. */
export interface StreamerProcess {
  /** Resolves, with a reason, when this streamer process has exited. */
  readonly exited: Promise<string>;
}

/**
 * A session taken over from an earlier run of the host, or why it could not
 * be (its display died: the session is over).
 */
export type Adoption =
  | {
    ok: true;
    /** The session, as if this run had started it. */
    session: PlatformSession;
    /** Whether its streamer still runs (it will reconnect by itself). */
    streamerAlive: boolean;
  }
  | { ok: false; reason: string };

/**
 * Sessions that outlive the processes serving them: a streamer that dies is
 * replaced in the same session, and a host that crashed or was restarted
 * takes back (adopts) the sessions an earlier run left running. A platform
 * without it ends a session whose streamer dies, and a restarted host ends
 * whatever an earlier run left.
 */
export interface SessionRecovery {
  /**
   * Where the host keeps what it must know after a restart (one record per
   * slot): a folder only the host's user can read or write.
   */
  readonly stateDirectory: string;
  /** The session's current streamer. */
  streamer(session: PlatformSession): StreamerProcess;
  /**
   * Starts a new streamer in the session (same display, same sound, the
   * apps untouched), first stopping the current one if it still runs.
   */
  restartStreamer(
    session: PlatformSession,
    spec: SessionSpec,
  ): Promise<StreamerProcess>;
  /**
   * What a later run needs to adopt the session (plain JSON; it names
   * processes, so it must be kept where only the host can write).
   */
  describe(session: PlatformSession): unknown;
  /**
   * Takes back a session an earlier run started, from its
   * {@linkcode describe} record, when its display still runs. `spec` is the
   * slot's, for restarting its streamer later.
   */
  adopt(record: unknown, spec: SessionSpec): Promise<Adoption>;
  /** Ends every process a record names (a session that is not adopted). */
  endRecorded(record: unknown, account: string): Promise<void>;
}

/** Hygiene applied when a pool account is recycled. */
export interface Hygiene {
  /** How the profile is rebuilt. */
  profileCleanup: ProfileCleanup;
  /** Paths the pool account must not use. */
  filesystemRestrictions: FilesystemRestriction[];
}

/** An OS session as the platform lists it. */
export interface SessionListing {
  /** The OS's name for it. */
  id: string;
  /** The account that owns it. */
  account: string;
  /** Whether it is still alive. */
  alive: boolean;
}

/** Options for {@linkcode Platform.verifyStreamerPeer}. */
export interface PeerCheckOptions {
  /** The port the streamer connected to: the session manager's control port. */
  serverPort?: number;
}

/**
 * OS operations for pool accounts and their sessions. Implementations must be
 * safe to call concurrently for different accounts.
 */
export interface Platform {
  /** `linux` or `windows`. */
  readonly name: string;
  /** `system`: real OS accounts; `current`: every slot runs as this process's user. */
  readonly accountMode: "system" | "current";
  /** Capabilities advertised to the gateway (e.g. `desktop`, `xvfb`). */
  readonly capabilities: readonly string[];
  /** One-time host preparation before any account or session exists. */
  prepare(): Promise<void>;
  /** Creates the pool account if missing (refusing a non-pool user of that name). */
  ensureAccount(account: string, password: string): Promise<void>;
  /** Sets a new password for the pool account. */
  rotatePassword(account: string, password: string): Promise<void>;
  /** Deletes the pool account and its profile. */
  removeAccount(account: string): Promise<void>;
  /** Logs the account on, and starts the streamer in the new session. */
  startSession(spec: SessionSpec): Promise<PlatformSession>;
  /** Logs the session off: every process of it is gone when this resolves. */
  endSession(session: PlatformSession): Promise<void>;
  /** Ends whatever an account still runs outside a known session (after a crash). */
  endAccountProcesses(account: string): Promise<void>;
  /**
   * Profile cleanup and filesystem restrictions for a logged-off account.
   * Resolves with the restrictions that could not be applied (one line each);
   * rejects when the profile itself could not be reset.
   */
  cleanAccount(account: string, hygiene: Hygiene): Promise<string[]>;
  /** The sessions this platform started that are still known. */
  listSessions(): Promise<SessionListing[]>;
  /**
   * True when `peer` is a local connection owned by the account's processes
   * (with `serverPort`, its connection to that port of this host).
   */
  verifyStreamerPeer(
    account: string,
    peer: Deno.NetAddr,
    options?: PeerCheckOptions,
  ): Promise<boolean>;
  /**
   * Streamer restart and session re-adoption, where the platform has them
   * (Linux); see {@linkcode SessionRecovery}.
   */
  readonly recovery?: SessionRecovery;
}
