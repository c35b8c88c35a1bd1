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
 * For placement at scale the registry is also an index
 * ({@linkcode HostRegistry.index}): hosts grouped by tags and capabilities,
 * the Healthy ones within the load limits ranked by load for the placement
 * settings asked for, the others counted by reason; kept up to date on every
 * heartbeat, logon, probe that changes a state, drain and goodbye rather than
 * rebuilt per decision. A host's view, too, is built once per change, not
 * once per decision.
 *
 * @module
 */
import type { HealthCheckSettings, PlacementSettings } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { HeartbeatPayload, RegisterPayload } from "../contract/mod.ts";
import {
  type HostIndex,
  type HostProfile,
  overLimitOf,
  type RankedGroup,
  rankKey,
} from "./placement.ts";
import type { GatewayStore } from "./store.ts";
import type { HostRecord, HostState, HostView, ProbeResult } from "./types.ts";

/** Options for {@linkcode HostRegistry}. */
export interface HostRegistryOptions {
  /** Where hosts are persisted (a store, or its guard). */
  store: Pick<
    GatewayStore,
    "loadHosts" | "putHost" | "putHosts" | "deleteHost"
  >;
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
  /**
   * Its heartbeats reach another gateway on the store (this one learns them
   * from the store): a good probe from here counts as hearing from it too,
   * so it stays Healthy here while the store is out of reach.
   */
  remote?: boolean;
  /** The view, until something about the host changes or `viewUntil`. */
  view?: HostView;
  viewUntil?: number;
}

/** How a logon begun with {@linkcode HostRegistry.beginLogon} ended. */
export type LogonOutcome = "placed" | "failed";

/** The gateway's knowledge of its session hosts. */
export class HostRegistry {
  readonly #entries = new Map<string, Entry>();
  /** Hosts whose last heartbeat is not in the store yet. */
  readonly #dirty = new Set<string>();
  readonly #store: HostRegistryOptions["store"];
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
    if (known) this.#unrank(known);
    this.#entries.set(payload.serverUrl, entry);
    this.#rank(entry);
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
    entry.remote = false;
    this.#dirty.add(payload.serverUrl);
    this.#rank(entry);
    return this.#view(entry);
  }

  /** Records a goodbye; false when the host was not known. */
  unregister(serverUrl: string): boolean {
    const entry = this.#entries.get(serverUrl);
    if (!entry) return false;
    entry.record.unregistered = true;
    entry.record.unregisteredAt = this.#now();
    this.#rank(entry);
    this.#store.putHost(entry.record);
    this.#logger.info("host unregistered", { serverUrl });
    return true;
  }

  /** Drains (or undrains) a host; undefined when unknown. */
  setDraining(serverUrl: string, draining: boolean): HostView | undefined {
    const entry = this.#entries.get(serverUrl);
    if (!entry) return undefined;
    entry.record.draining = draining;
    this.#rank(entry);
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
    this.#setProbe(
      entry,
      result,
      result.ok ? 0 : entry.probeFailures + 1,
    );
  }

  /**
   * Takes the probe state another gateway shares for a host it probes
   * (`probe_sharing.ts`), when it is newer than what this one has; written
   * nowhere (it is that gateway's to share). A good one verifies a host
   * restored from the store only when it is younger than the heartbeat
   * window ({@linkcode heardWithinMs}): one from a gateway that stopped
   * long ago says nothing of the host now.
   */
  applyProbe(
    serverUrl: string,
    shared: { failures: number; lastProbe: ProbeResult },
  ): void {
    const entry = this.#entries.get(serverUrl);
    if (!entry || (entry.lastProbe?.at ?? -Infinity) >= shared.lastProbe.at) {
      return;
    }
    const fresh = this.#now() - shared.lastProbe.at <=
      heardWithinMs(this.#health);
    this.#setProbe(entry, shared.lastProbe, shared.failures, fresh);
  }

  #setProbe(
    entry: Entry,
    result: ProbeResult,
    failures: number,
    fresh = true,
  ): void {
    entry.lastProbe = result;
    entry.probeFailures = failures;
    if (result.ok && fresh) entry.verified = true;
    const before = entry.view?.state;
    entry.view = undefined;
    // Logs a state change, if any; only a change of state moves its rank.
    if (this.#view(entry).state !== before) this.#rank(entry);
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
      this.#unrank(entry);
      this.#dirty.delete(url);
      this.#store.deleteHost(url);
      this.#logger.info("host forgotten", { serverUrl: url });
      gone.push(url);
    }
    return gone;
  }

  /**
   * Takes in a host as another gateway on the same store wrote it (a change
   * notice, or the store read again): memory and the placement index only,
   * nothing written back. What this gateway heard itself and is newer stays:
   * the later registration and the later heartbeat win; a drain is the
   * writer's.
   */
  applyRemote(record: HostRecord): void {
    const known = this.#entries.get(record.serverUrl);
    const merged = known ? mergeHost(known.record, record) : record;
    const heard = merged.heartbeat?.receivedAt ?? merged.registeredAt;
    const newHeartbeat = (merged.heartbeat?.receivedAt ?? -1) >
      (known?.record.heartbeat?.receivedAt ?? -1);
    const entry: Entry = known ?? {
      record: merged,
      seenAt: heard,
      probeFailures: 0,
      logonsInFlight: 0,
      placed: 0,
      heartbeatSerial: 0,
      // Heard from by the gateway that wrote it; silence still counts.
      verified: true,
      remote: true,
    };
    if (known) {
      this.#unrank(known);
      known.record = merged;
      known.seenAt = Math.max(known.seenAt, heard);
      if (newHeartbeat) {
        // As a heartbeat here: its figures include what was placed.
        known.placed = 0;
        known.heartbeatSerial = ++this.#heartbeatSerial;
        known.remote = true;
        // Heard from, by the farm, since this gateway read the store.
        known.verified = true;
      }
    } else {
      this.#entries.set(record.serverUrl, entry);
    }
    this.#rank(entry);
  }

  /**
   * Forgets a host another gateway forgot (memory and index only).
   * False when it was not known.
   */
  forgetRemote(serverUrl: string): boolean {
    const entry = this.#entries.get(serverUrl);
    if (!entry) return false;
    this.#entries.delete(serverUrl);
    this.#unrank(entry);
    this.#dirty.delete(serverUrl);
    return true;
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
    this.#rank(entry);
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
      this.#rank(current);
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

  /**
   * The hosts restored from the store and not heard from since (no good
   * probe, no heartbeat, no fresh shared probe): Unreachable until they are.
   * A starting gateway probes these before it serves.
   */
  unheard(): string[] {
    const hosts: string[] = [];
    for (const entry of this.#entries.values()) {
      if (!entry.verified && !entry.record.unregistered) {
        hosts.push(entry.record.serverUrl);
      }
    }
    return hosts;
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

  /**
   * The hosts as a placement index: grouped by tags and capabilities and
   * ranked by load. A ranking is built the first time a set of placement
   * settings asks for it and then kept up to date.
   */
  index(): HostIndex {
    const entries = this.#entries;
    return this.#index ??= {
      get: (serverUrl) => this.get(serverUrl),
      groups: (settings) => this.#ranking(settings).groups.values(),
      get size(): number {
        return entries.size;
      },
    };
  }

  #index?: HostIndex;

  /** Rankings by settings signature; the oldest is dropped past a few. */
  readonly #rankings = new Map<string, Ranking>();

  #ranking(settings: PlacementSettings): Ranking {
    const signature = signatureOf(settings);
    let ranking = this.#rankings.get(signature);
    if (ranking) return ranking;
    ranking = new Ranking(settings, (entry) => this.#view(entry));
    for (const entry of this.#entries.values()) {
      ranking.add(entry, this.#view(entry));
    }
    this.#rankings.set(signature, ranking);
    if (this.#rankings.size > MAX_RANKINGS) {
      this.#rankings.delete(this.#rankings.keys().next().value!);
    }
    return ranking;
  }

  /** Places an entry whose load or tags changed in every ranking again. */
  #rank(entry: Entry): void {
    entry.view = undefined;
    if (!this.#rankings.size) return;
    const view = this.#view(entry);
    for (const ranking of this.#rankings.values()) {
      ranking.remove(entry);
      ranking.add(entry, view);
    }
  }

  #unrank(entry: Entry): void {
    for (const ranking of this.#rankings.values()) ranking.remove(entry);
  }

  #view(entry: Entry): HostView {
    const now = this.#now();
    if (entry.view && now < entry.viewUntil!) return entry.view;
    const view = this.#build(entry);
    // State changes with time only by silence; until then the view holds.
    // (An Unreachable host's reason counts the seconds: never kept.)
    entry.view = view;
    entry.viewUntil = view.state === "Unreachable"
      ? now
      : entry.seenAt + heardWithinMs(this.#health);
    return view;
  }

  #build(entry: Entry): HostView {
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
    return Object.freeze({
      ...entry.record,
      state,
      stateReason: reason,
      probeFailures: entry.probeFailures,
      lastProbe: entry.lastProbe,
      logonsInFlight: entry.logonsInFlight,
      placedSinceHeartbeat: entry.placed,
    });
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
    const heard = entry.remote && entry.lastProbe?.ok
      ? Math.max(entry.seenAt, entry.lastProbe.at)
      : entry.seenAt;
    const silenceMs = this.#now() - heard;
    if (silenceMs > heardWithinMs(h)) {
      return {
        state: "Unreachable",
        reason: `no heartbeat for ${Math.round(silenceMs / 1000)} s`,
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

/**
 * How long a host stays Healthy without news of it (ms): `missedHeartbeats`
 * × `heartbeatInterval`. A shared probe older than this does not verify a
 * restored host either.
 */
export function heardWithinMs(
  health: Pick<HealthCheckSettings, "missedHeartbeats" | "heartbeatInterval">,
): number {
  return health.missedHeartbeats * health.heartbeatInterval * 1000;
}

/**
 * A host record as known here merged with another gateway's: the later
 * registration with its goodbye, the later heartbeat (a registration after
 * it resets it), the writer's drain.
 */
export function mergeHost(known: HostRecord, remote: HostRecord): HostRecord {
  if (remote.registeredAt < known.registeredAt) {
    return { ...known, draining: remote.draining };
  }
  const sameRegistration = remote.registeredAt === known.registeredAt;
  const heartbeat = sameRegistration &&
      (known.heartbeat?.receivedAt ?? -1) > (remote.heartbeat?.receivedAt ?? -1)
    ? known.heartbeat
    : remote.heartbeat;
  const unregistered = remote.unregistered ||
    (sameRegistration && known.unregistered);
  const merged: HostRecord = {
    ...remote,
    registration: heartbeat === known.heartbeat && heartbeat !== undefined
      ? known.registration
      : remote.registration,
    heartbeat,
    unregistered,
  };
  if (!unregistered) delete merged.unregisteredAt;
  else merged.unregisteredAt = remote.unregisteredAt ?? known.unregisteredAt;
  return merged;
}

/** Rankings kept at once (one per placement settings in use). */
const MAX_RANKINGS = 4;

const signatures = new WeakMap<PlacementSettings, string>();

/** What a ranking depends on: strategy, weights and the load limits. */
function signatureOf(settings: PlacementSettings): string {
  let signature = signatures.get(settings);
  if (signature === undefined) {
    signature = JSON.stringify([
      settings.strategy,
      settings.weights,
      settings.overload,
      settings.maxConcurrentLogons,
    ]);
    signatures.set(settings, signature);
  }
  return signature;
}

interface Group extends RankedGroup {
  /** Hosts within the load limits, by (key, serverUrl). */
  entries: Entry[];
  unranked: Map<string, number>;
}

interface Slot {
  group: Group;
  /** The rank key; undefined when not ranked (then `reason`). */
  key?: number;
  reason?: string;
}

/** The hosts grouped by profile and ranked for one set of settings. */
class Ranking {
  readonly groups = new Map<string, Group>();
  readonly #slots = new Map<Entry, Slot>();
  readonly #settings: PlacementSettings;
  readonly #view: (entry: Entry) => HostView;

  constructor(
    settings: PlacementSettings,
    view: (entry: Entry) => HostView,
  ) {
    this.#settings = settings;
    this.#view = view;
  }

  add(entry: Entry, view: HostView): void {
    const group = this.#group(view.registration);
    group.size++;
    // A host turns Healthy only on news of it (a heartbeat, a good probe,
    // an undrain), which ranks it again; one that falls silent stays ranked
    // and placement sees its state.
    const reason = view.state !== "Healthy"
      ? `${view.state}: ${view.stateReason}`
      : overLimitOf(view, this.#settings);
    if (reason) {
      group.unranked.set(reason, (group.unranked.get(reason) ?? 0) + 1);
      this.#slots.set(entry, { group, reason });
      return;
    }
    const key = rankKey(view, this.#settings);
    this.#slots.set(entry, { group, key });
    group.entries.splice(
      this.#position(group, key, entry.record.serverUrl),
      0,
      entry,
    );
  }

  remove(entry: Entry): void {
    const slot = this.#slots.get(entry);
    if (!slot) return;
    const { group } = slot;
    group.size--;
    if (slot.reason !== undefined) {
      const n = group.unranked.get(slot.reason)! - 1;
      if (n) group.unranked.set(slot.reason, n);
      else group.unranked.delete(slot.reason);
    } else {
      const at = this.#position(group, slot.key!, entry.record.serverUrl);
      group.entries.splice(at, 1);
    }
    this.#slots.delete(entry);
    if (!group.size) this.groups.delete(profileKey(group.profile));
  }

  /** Where (key, url) is or would go in the group's ranking. */
  #position(group: Group, key: number, url: string): number {
    let low = 0;
    let high = group.entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const other = group.entries[mid];
      const otherKey = this.#slots.get(other)!.key!;
      const before = otherKey < key ||
        (otherKey === key && other.record.serverUrl < url);
      if (before) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  #group(offered: HostProfile): Group {
    const profile = {
      tags: [...new Set(offered.tags)].sort(),
      capabilities: [...new Set(offered.capabilities)].sort(),
    };
    const key = profileKey(profile);
    let group = this.groups.get(key);
    if (!group) {
      const entries: Entry[] = [];
      const view = this.#view;
      // Lazy: placement stops soon after the winner.
      const views = function* (): Generator<HostView> {
        for (const entry of entries) yield view(entry);
      };
      group = {
        profile,
        size: 0,
        entries,
        unranked: new Map(),
        ranked: views,
      };
      this.groups.set(key, group);
    }
    return group;
  }
}

function profileKey(profile: HostProfile): string {
  return `${profile.tags.join("\n")}\t${profile.capabilities.join("\n")}`;
}
