/**
 * The gateway's vocabulary: hosts as the registry knows them, sessions as the
 * session map knows them, and the identity of a signed-in user.
 *
 * @module
 */
import type { Resources } from "../config/mod.ts";
import type { HeartbeatPayload, RegisterPayload } from "../contract/mod.ts";

/** A host's health as the gateway judges it. */
export type HostState = "Healthy" | "Unreachable" | "Draining" | "Unregistered";

/** What the registry keeps about a host (persisted). */
export interface HostRecord {
  /** The host's `serverUrl` (its advertised URL): the key. */
  serverUrl: string;
  /** The last registration payload. */
  registration: RegisterPayload;
  /** When it last registered (ms since the epoch). */
  registeredAt: number;
  /** The last heartbeat, with when it arrived. */
  heartbeat?: HeartbeatPayload & { receivedAt: number };
  /** Drained through the admin API: no new sessions. */
  draining: boolean;
  /** The host said goodbye (`/gateway/unregister`). */
  unregistered: boolean;
  /** When it said goodbye. */
  unregisteredAt?: number;
}

/** The result of one `/health` probe. */
export interface ProbeResult {
  /** When the probe finished. */
  at: number;
  /** Whether it answered 200 within the timeout. */
  ok: boolean;
  /** How long it took. */
  latencyMs: number;
  /** Why it failed. */
  error?: string;
}

/** A host with its live health, as placement and the admin API see it. */
export interface HostView extends HostRecord {
  /** Its state now. */
  state: HostState;
  /** Why it is in that state. */
  stateReason: string;
  /** Consecutive failed probes. */
  probeFailures: number;
  /** The last probe. */
  lastProbe?: ProbeResult;
  /** Session starts the gateway has asked of it that have not answered yet. */
  logonsInFlight: number;
  /** New sessions the gateway placed on it since its last heartbeat. */
  placedSinceHeartbeat: number;
}

/** A user session the gateway placed (persisted). */
export interface SessionRecord {
  /** The client-facing id (`X-Session-ID` towards the host). */
  sessionId: string;
  /** The host's id for the pool session (internal). */
  sessionUuid: string;
  /** Who launched it. */
  user: string;
  /** The credential profile its apps run under. */
  credentials: string;
  /** The host it runs on. */
  serverUrl: string;
  /** Where its streamer listens. */
  host: string;
  /** Streamer port. */
  port: number;
  /** Streamer WebSocket path. */
  path: string;
  /** A desktop or an app session. */
  kind: "app" | "desktop";
  /** Workspaces started in it, the launching one first. */
  workspaceIds: string[];
  /** What the session allows (its resource profile). */
  resources: Resources;
  /** When it was created. */
  createdAt: number;
  /** When it was last launched into or reconnected. */
  lastLaunchAt: number;
  /** The streamer's last licence check-in. */
  lastCheckinAt?: number;
}

/** A signed-in user. */
export interface Identity {
  /** User name. */
  user: string;
  /** Group names. */
  groups: string[];
  /** May use the admin API and page. */
  admin: boolean;
}
