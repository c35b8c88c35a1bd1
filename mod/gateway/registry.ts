/**
 * The host registry: every session host that registered, its last heartbeat,
 * its health probes, and whether an administrator drained it. A host's state
 * is derived when asked, never stored, so it can never disagree with the
 * facts it comes from:
 *
 * - **Unregistered**: it said goodbye;
 * - **Unreachable**: `healthCheck.failureThreshold` probes in a row failed, or
 *   no heartbeat for `missedHeartbeats` × `heartbeatInterval`;
 * - **Draining**: an administrator drained it (no new sessions);
 * - **Healthy**: otherwise. One good probe clears the failures.
 *
 * @module
 */
import type { HealthCheckSettings } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HeartbeatPayload, RegisterPayload } from "../contract/mod.ts";
import type { GatewayStore } from "./store.ts";
import type { HostRecord, HostState, HostView, ProbeResult } from "./types.ts";

/** Options for {@linkcode HostRegistry}. */
export interface HostRegistryOptions {
  /** Where hosts are persisted. */
  store: GatewayStore;
  /** `gateway.healthCheck`. */
  health: HealthCheckSettings;
  /** Logger for state changes. */
  logger: Logger;
  /** Clock (ms), for tests. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  record: HostRecord;
  /** Last time it was heard from: heartbeat, registration or gateway start. */
  seenAt: number;
  probeFailures: number;
  lastProbe?: ProbeResult;
  logonsInFlight: number;
  lastState?: HostState;
  /** New sessions placed since the last heartbeat. */
  placed: number;
  /** Serial of the last heartbeat (0: none since registration). */
  heartbeatSerial: number;
  /** False for a host restored from the store until it is heard from. */
  verified: boolean;
}

/** How a logon begun with {@linkcode HostRegistry.beginLogon} ended. */
export type LogonOutcome = "placed" | "failed";

/** The gateway's knowledge of its session hosts. */
export class HostRegistry {
  readonly #entries = new Map<string, Entry>();
  /** Hosts whose last heartbeat is not in the store yet. */
  readonly #dirty = new Set<string>();
  readonly #store: GatewayStore;
  readonly #health: HealthCheckSettings;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** Counts heartbeats received, to order them against logons. */
  #heartbeatSerial = 0;

  constructor(options: HostRegistryOptions) {
    this.#store = options.store;
    this.#health = options.health;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    const restoredAt = this.#now();
    for (const record of this.#store.loadHosts()) {
      // A restarted gateway gives every host a fresh heartbeat window.
      this.#entries.set(record.serverUrl, {
        record,
        seenAt: restoredAt,
        probeFailures: 0,
        logonsInFlight: 0,
        placed: 0,
        heartbeatSerial: 0,
        verified: false,
      });
    }
  }

  /** Records a registration (a new host, or one coming back). */
  register(payload: RegisterPayload): HostView {
    const now = this.#now();
    const known = this.#entries.get(payload.serverUrl);
    const record: HostRecord = {
      serverUrl: payload.serverUrl,
      registration: { ...payload, tags: [...payload.tags] },
      registeredAt: now,
      // A registration starts afresh: no figures until its first heartbeat.
      heartbeat: undefined,
      draining: known?.record.draining ?? false,
      unregistered: false,
    };
    const entry: Entry = {
      record,
      seenAt: now,
      probeFailures: 0,
      lastProbe: known?.lastProbe,
      logonsInFlight: known?.logonsInFlight ?? 0,
      lastState: known?.lastState,
      placed: 0,
      heartbeatSerial: 0,
      verified: true,
    };
    this.#entries.set(payload.serverUrl, entry);
    this.#store.putHost(record);
    this.#logger.info(known ? "host registered again" : "host registered", {
      serverUrl: payload.serverUrl,
      maxSessions: payload.maxSessions,
      tags: payload.tags,
    });
    return this.#view(entry);
  }

  /** Records a heartbeat; undefined when the host is not registered (→ 404). */
  heartbeat(payload: HeartbeatPayload): HostView | undefined {
    const entry = this.#entries.get(payload.serverUrl);
    if (!entry || entry.record.unregistered) return undefined;
    const now = this.#now();
    entry.record.heartbeat = { ...payload, receivedAt: now };
    // The host's own tags win over what it registered with.
    entry.record.registration.tags = payload.tags;
    entry.seenAt = now;
    entry.placed = 0;
    entry.heartbeatSerial = ++this.#heartbeatSerial;
    entry.verified = true;
    this.#dirty.add(payload.serverUrl);
    return this.#view(entry);
  }

  /** Records a goodbye; false when the host was not known. */
  unregister(serverUrl: string): boolean {
    const entry = this.#entries.get(serverUrl);
    if (!entry) return false;
    entry.record.unregistered = true;
    entry.record.unregisteredAt = this.#now();
    this.#store.putHost(entry.record);
    this.#logger.info("host unregistered", { serverUrl });
    return true;
  }

  /** Drains (or undrains) a host; undefined when unknown. */
  setDraining(serverUrl: string, draining: boolean): HostView | undefined {
    const entry = this.#entries.get(serverUrl);
    if (!entry) return undefined;
    entry.record.draining = draining;
    this.#store.putHost(entry.record);
    this.#logger.info(draining ? "host drained" : "host undrained", {
      serverUrl,
    });
    return this.#view(entry);
  }

  /** Records the result of a `/health` probe. */
  recordProbe(serverUrl: string, result: ProbeResult): void {
    const entry = this.#entries.get(serverUrl);
    if (!entry) return;
    entry.lastProbe = result;
    entry.probeFailures = result.ok ? 0 : entry.probeFailures + 1;
    if (result.ok) entry.verified = true;
    this.#view(entry); // logs a state change, if any
  }

  /**
   * Forgets hosts that left: unregistered for `unregisteredAfterMs`, or
   * silent (no heartbeat, no good probe) for `silentAfterMs`. Returns their
   * URLs so their sessions can be forgotten too.
   */
  sweep(
    options: { unregisteredAfterMs: number; silentAfterMs: number },
  ): string[] {
    const now = this.#now();
    const gone: string[] = [];
    for (const [url, entry] of this.#entries) {
      const left = entry.record.unregistered
        ? now - (entry.record.unregisteredAt ?? entry.record.registeredAt) >
          options.unregisteredAfterMs
        : now -
            Math.max(
              entry.seenAt,
              entry.lastProbe?.ok ? entry.lastProbe.at : 0,
            ) >
          options.silentAfterMs;
      if (!left) continue;
      this.#entries.delete(url);
      this.#dirty.delete(url);
      this.#store.deleteHost(url);
      this.#logger.info("host forgotten", { serverUrl: url });
      gone.push(url);
    }
    return gone;
  }

  /**
   * Counts a session start in flight on a host (for the logon cap). Call the
   * returned function when it ends: with `"placed"` the new session counts on
   * the host until its next heartbeat, unless a heartbeat arrived while the
   * logon was under way; that one may already include the session, and
   * counting it twice would refuse launches on a host with room. (If it did
   * not, the host itself refuses when full and the launch goes elsewhere.)
   */
  beginLogon(serverUrl: string): (outcome: LogonOutcome) => void {
    const entry = this.#entries.get(serverUrl);
    if (!entry) return () => {};
    entry.logonsInFlight++;
    const startedAfter = this.#heartbeatSerial;
    let done = false;
    return (outcome) => {
      if (done) return;
      done = true;
      // A re-registration replaces the entry (carrying the count over), so
      // release on the current one, not the one captured here.
      const current = this.#entries.get(serverUrl);
      if (!current) return;
      if (current.logonsInFlight > 0) current.logonsInFlight--;
      if (outcome === "placed" && current.heartbeatSerial <= startedAfter) {
        current.placed++;
      }
    };
  }

  /** One host, with its state now. */
  get(serverUrl: string): HostView | undefined {
    const entry = this.#entries.get(serverUrl);
    return entry && this.#view(entry);
  }

  /** Every host, with its state now. */
  list(): HostView[] {
    return [...this.#entries.values()].map((entry) => this.#view(entry));
  }

  /** The hosts to probe: all but the unregistered. */
  probeTargets(): string[] {
    return [...this.#entries.values()]
      .filter((e) => !e.record.unregistered)
      .map((e) => e.record.serverUrl);
  }

  /**
   * Writes the latest heartbeats to the store, in one transaction (so a
   * restarted gateway knows recent load figures).
   */
  flush(): void {
    if (!this.#dirty.size) return;
    const records = [...this.#dirty].flatMap((url) => {
      const entry = this.#entries.get(url);
      return entry ? [entry.record] : [];
    });
    const urls = [...this.#dirty];
    this.#dirty.clear();
    try {
      this.#store.putHosts(records);
    } catch (error) {
      for (const url of urls) this.#dirty.add(url);
      throw error;
    }
  }

  /** How many hosts are known. */
  get size(): number {
    return this.#entries.size;
  }

  #view(entry: Entry): HostView {
    const { state, reason } = this.#state(entry);
    if (state !== entry.lastState) {
      if (entry.lastState) {
        this.#logger.info("host state changed", {
          serverUrl: entry.record.serverUrl,
          from: entry.lastState,
          to: state,
          reason,
        });
      }
      entry.lastState = state;
    }
    return {
      ...entry.record,
      state,
      stateReason: reason,
      probeFailures: entry.probeFailures,
      lastProbe: entry.lastProbe,
      logonsInFlight: entry.logonsInFlight,
      placedSinceHeartbeat: entry.placed,
    };
  }

  #state(entry: Entry): { state: HostState; reason: string } {
    const h = this.#health;
    if (entry.record.unregistered) {
      return { state: "Unregistered", reason: "the host unregistered" };
    }
    if (!entry.verified) {
      return {
        state: "Unreachable",
        reason: "not heard from since the gateway started",
      };
    }
    if (entry.probeFailures >= h.failureThreshold) {
      return {
        state: "Unreachable",
        reason: `${entry.probeFailures} health probes failed in a row` +
          (entry.lastProbe?.error ? ` (${entry.lastProbe.error})` : ""),
      };
    }
    const silence = (this.#now() - entry.seenAt) / 1000;
    if (silence > h.missedHeartbeats * h.heartbeatInterval) {
      return {
        state: "Unreachable",
        reason: `no heartbeat for ${Math.round(silence)} s`,
      };
    }
    if (entry.record.draining) {
      return { state: "Draining", reason: "drained by an administrator" };
    }
    const reported = entry.record.heartbeat?.status;
    if (reported === "draining" || reported === "starting") {
      return {
        state: "Draining",
        reason: `the host reports it is ${reported}`,
      };
    }
    return { state: "Healthy", reason: "answering probes and heartbeats" };
  }
}
