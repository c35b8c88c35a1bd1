/**
 * The pool's vocabulary: slot states, what a launch asks for and what an
 * allocation returns.
 *
 * @module
 */
import type { SessionPolicy } from "../contract/get_connection.ts";

/** Where a slot is in its life: free → provisioning → ready → active → disconnected → recycling → free. */
export type SlotState =
  | "free"
  | "provisioning"
  | "ready"
  | "active"
  | "disconnected"
  | "recycling";

/** What the session may do, from `X-Policy-JSON`. */
export type { SessionPolicy };

/** A workspace launch, as the gateway describes it in `/getConnection`. */
export interface LaunchRequest {
  /** `X-Session-ID`: the gateway's id for this user session. */
  sessionId: string;
  /** `X-Workspace-*` headers, keyed by the lowercased suffix (`id`, `name`, …). */
  workspace: Record<string, string>;
  /** `X-App-*` headers, keyed by the lowercased suffix (`command`, `name`, …). */
  app: Record<string, string>;
  /** `X-Policy-JSON`. */
  policy: SessionPolicy;
  /** Requested screen width, if any. */
  width?: number;
  /** Requested screen height, if any. */
  height?: number;
}

/** What `/getConnection` needs to answer. */
export interface Allocation {
  /** `X-Session-ID` echoed. */
  sessionId: string;
  /** The pool session's UUID. */
  sessionUuid: string;
  /** Slot number. */
  slot: number;
  /** Pool account. */
  username: string;
  /** Streamer port. */
  port: number;
  /** One-time connection token. */
  token: string;
  /** When the token stops being accepted. */
  tokenExpiresAt: Date;
  /** True when this returned an existing session. */
  reconnect: boolean;
}

/** One slot as reported by `snapshot()` (no secrets). */
export interface SlotInfo {
  /** Slot number. */
  slot: number;
  /** Pool account. */
  account: string;
  /** Streamer port. */
  port: number;
  /** Current state. */
  state: SlotState;
  /** When it entered that state. */
  since: Date;
  /** The OS session (`:3`), when one exists. */
  display?: string;
  /** The pool session's UUID, when one exists. */
  sessionUuid?: string;
  /** The gateway session bound to it, when active or disconnected. */
  sessionId?: string;
  /** Whether a viewer is connected. */
  clientConnected: boolean;
}

/** Counts for `/health` and heartbeats. */
export interface PoolStats {
  /** Number of slots. */
  total: number;
  /** Slots bound to a user session (active or disconnected). */
  active: number;
  /** Slots a new launch could use (free, provisioning or ready, not reserved). */
  available: number;
}

/** A pool session bound to a user session: what the host tells its gateway. */
export interface LiveSession {
  /** The pool session's UUID. */
  sessionUuid: string;
  /** The gateway's session id bound to it. */
  sessionId: string;
  /** Slot number. */
  slot: number;
  /** Whether a viewer is connected now. */
  clientConnected: boolean;
}

/** A bound session that ended on this host, and why (for logs). */
export interface SessionEnd {
  /** The pool session's UUID. */
  sessionUuid: string;
  /** The gateway's session id it was bound to. */
  sessionId: string;
  /** Why it ended. */
  reason: string;
}
