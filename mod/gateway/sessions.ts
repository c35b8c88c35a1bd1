/**
 * The session map: every user session the gateway placed, indexed by its
 * client-facing id, by user and by the host's internal id. A session is live
 * while its streamer keeps checking in (or it was launched into recently);
 * one silent for `licence.staleAfter` has ended and is forgotten. Check-in
 * times are written to the store in batches, not on every check-in.
 *
 * With hundreds of thousands of sessions, memory counts: what many sessions
 * have alike (a resource profile, a workspace list, a host's URL and address)
 * is kept once and shared, not once per session.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { isLive, lastSeen, liveSince } from "./liveness.ts";
import { LiveTally } from "./live_tally.ts";
import type { GatewayStore } from "./store.ts";
import type { SessionRecord } from "./types.ts";

/**
 * What the session map writes its sessions to: a store, or the guard in
 * front of one (`store_guard.ts`).
 */
export type SessionStore = Pick<
  GatewayStore,
  | "insertSession"
  | "putSession"
  | "putSessions"
  | "deleteSession"
  | "findSessionByUuid"
  | "findSession"
>;

/**
 * Where {@linkcode SessionMap.load} reads sessions from: a store, its guard,
 * or a store on a database server (then each is handed over as it comes).
 */
export interface SessionSource {
  /** Hands every stored session to `each`; may resolve once done. */
  eachSession(each: (session: SessionRecord) => void): void | Promise<void>;
}

/** The shape of the session ids this gateway makes. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Options for {@linkcode SessionMap}. */
export interface SessionMapOptions {
  /** Where sessions are persisted. */
  store: SessionStore;
  /** Seconds without a check-in after which a session has ended. */
  staleAfter: number;
  /** Logger. */
  logger: Logger;
  /** Clock (ms), for tests. Default `Date.now`. */
  now?: () => number;
  /**
   * The time up to which this gateway has heard of every check-in: behind
   * `now` while a shared store's change notices may be missing (it fails),
   * so sessions checking in at other gateways are not judged silent then.
   * Default `now`.
   */
  heardUntil?: () => number;
}

/** The gateway's sessions. */
export class SessionMap {
  readonly #byId = new Map<string, SessionRecord>();
  readonly #byUser = new Map<string, Set<string>>();
  readonly #byUuid = new Map<string, string>();
  readonly #dirty = new Set<string>();
  readonly #store: SessionStore;
  readonly #staleMs: number;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #heardUntil?: () => number;
  /** The sessions by last-seen time: what the licence check counts. */
  readonly #tally = new LiveTally();

  constructor(options: SessionMapOptions) {
    this.#store = options.store;
    this.#staleMs = options.staleAfter * 1000;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#heardUntil = options.heardUntil;
  }

  /**
   * Takes every session of `source` (the store, when the gateway starts),
   * indexing each as it is read: with 500,000 sessions, nothing but this
   * map holds them, and what many share is shared as they come. Each gets a
   * fresh check-in window; one known already is replaced. Nothing is
   * written back.
   *
   * @returns how many sessions were read.
   * @throws whatever the source throws (what was read so far is kept).
   */
  async load(source: SessionSource): Promise<number> {
    const restoredAt = this.#now();
    let count = 0;
    await source.eachSession((session) => {
      // The records are this map's own: no copy.
      session.lastCheckinAt = restoredAt;
      this.#index(session);
      this.#dirty.delete(session.sessionId);
      count++;
    });
    return count;
  }

  /** A session by its client-facing id. */
  get(sessionId: string): SessionRecord | undefined {
    return this.#byId.get(sessionId);
  }

  /** A session by the host's internal id. */
  getByUuid(sessionUuid: string): SessionRecord | undefined {
    const id = this.#byUuid.get(sessionUuid);
    return id === undefined ? undefined : this.#byId.get(id);
  }

  /** The live sessions of a user. */
  ofUser(user: string): SessionRecord[] {
    const now = this.#judgedAt();
    const ids = this.#byUser.get(user);
    if (!ids) return [];
    const out: SessionRecord[] = [];
    for (const id of ids) {
      const session = this.#byId.get(id)!;
      if (this.#live(session, now)) out.push(session);
    }
    return out;
  }

  /** Every session (live or not yet pruned). */
  all(): SessionRecord[] {
    return [...this.#byId.values()];
  }

  /** Every session's id, read in place (no array of 500,000 records). */
  ids(): MapIterator<string> {
    return this.#byId.keys();
  }

  /**
   * How many sessions are live now (the licences in use; the rule is
   * liveness.ts's, which the stores' claims count by too).
   */
  liveCount(): number {
    return this.#byId.size - this.#silentCount(this.#judgedAt());
  }

  /** True while the session's streamer checks in. */
  isLive(session: SessionRecord): boolean {
    return this.#live(session, this.#judgedAt());
  }

  /**
   * Adds a session the gateway just created: stored before it is indexed,
   * so a session that cannot be stored is not kept at all.
   *
   * @throws {Error} from the store ({@linkcode GatewayStore.insertSession}).
   */
  async add(session: SessionRecord): Promise<void> {
    await this.#store.insertSession(session);
    this.#index(session);
    this.#dirty.delete(session.sessionId);
  }

  /** Adds or replaces a session (persisted at once). */
  put(session: SessionRecord): void {
    this.#index(session);
    this.#store.putSession(session);
    this.#dirty.delete(session.sessionId);
  }

  /** Forgets a session. */
  delete(sessionId: string, reason: string): void {
    const session = this.#byId.get(sessionId);
    if (!session) return;
    this.#unindex(session);
    this.#store.deleteSession(sessionId);
    this.#dirty.delete(sessionId);
    this.#logger.info("session ended", {
      sessionId,
      user: session.user,
      serverUrl: session.serverUrl,
      reason,
    });
  }

  /** The sessions of a host (live or not yet pruned). */
  onHost(serverUrl: string): SessionRecord[] {
    return this.#where((session) => session.serverUrl === serverUrl);
  }

  /** Forgets every session of a host (it unregistered). */
  deleteHost(serverUrl: string, reason: string): void {
    for (const session of this.onHost(serverUrl)) {
      this.delete(session.sessionId, reason);
    }
  }

  /**
   * Ends the session `sessionUuid` of `serverUrl` (its host said it ended).
   * False when this gateway has no such session of that host.
   */
  endOnHost(
    serverUrl: string,
    options: { sessionUuid: string; reason: string },
  ): boolean {
    const session = this.getByUuid(options.sessionUuid);
    if (!session || session.serverUrl !== serverUrl) return false;
    this.delete(session.sessionId, `ended on its host: ${options.reason}`);
    return true;
  }

  /**
   * Ends the sessions of `serverUrl` that its host no longer has: those not
   * in `live` (the host's own list of session UUIDs), except any launched
   * at or after `since` (the list was asked for then, and a launch may have
   * been under way).
   *
   * @returns the number of sessions ended.
   */
  reconcile(
    serverUrl: string,
    options: { live: ReadonlySet<string>; since: number },
  ): number {
    const gone = this.#where((session) =>
      session.serverUrl === serverUrl &&
      !options.live.has(session.sessionUuid) &&
      session.lastLaunchAt < options.since
    );
    for (const session of gone) {
      this.delete(session.sessionId, "its host no longer has it");
    }
    return gone.length;
  }

  /**
   * The session with the host's internal id `sessionUuid`: known here, or
   * found in the store and known from now on (a gateway sharing the store
   * placed it, and its streamer checks in here).
   */
  async findByUuid(sessionUuid: string): Promise<SessionRecord | undefined> {
    const known = this.getByUuid(sessionUuid);
    if (known) return known;
    const stored = await this.#store.findSessionByUuid(sessionUuid);
    if (!stored || this.getByUuid(sessionUuid)) {
      return this.getByUuid(sessionUuid);
    }
    stored.lastCheckinAt = this.#now();
    this.#index(stored);
    return stored;
  }

  /**
   * The session `sessionId`: known here, or read from the store once (a
   * gateway sharing it placed the session, and its notice has not arrived
   * yet) and known from then on. Only an id shaped as this gateway makes
   * them (a UUID) is looked up, so random ids cost no store reads.
   */
  async find(sessionId: string): Promise<SessionRecord | undefined> {
    const known = this.#byId.get(sessionId);
    if (known || !UUID.test(sessionId)) return known;
    const stored = await this.#store.findSession(sessionId);
    if (stored) this.applyRemote(stored);
    return this.#byId.get(sessionId);
  }

  /**
   * Takes in a session as another gateway on the same store wrote it (a
   * change notice, or the store read again): memory only, nothing written
   * back. The later check-in and launch times win.
   */
  applyRemote(session: SessionRecord): void {
    const previous = this.#byId.get(session.sessionId);
    if (previous) {
      session.lastLaunchAt = Math.max(
        previous.lastLaunchAt,
        session.lastLaunchAt,
      );
      const checkin = Math.max(
        previous.lastCheckinAt ?? 0,
        session.lastCheckinAt ?? 0,
      );
      if (checkin) session.lastCheckinAt = checkin;
    }
    this.#index(session);
  }

  /**
   * Takes in check-in times another gateway wrote (`[sessionId, at]`), for
   * the sessions known here; memory only.
   */
  applyCheckins(checkins: readonly (readonly [string, number])[]): void {
    for (const [sessionId, at] of checkins) {
      const session = this.#byId.get(sessionId);
      if (session && at > (session.lastCheckinAt ?? 0)) {
        this.#seen(session, () => session.lastCheckinAt = at);
      }
    }
  }

  /**
   * Forgets a session another gateway ended (memory only). False when it
   * was not known.
   */
  forgetRemote(sessionId: string): boolean {
    const session = this.#byId.get(sessionId);
    if (!session) return false;
    this.#unindex(session);
    this.#dirty.delete(sessionId);
    this.#logger.info("session ended by another gateway", {
      sessionId,
      user: session.user,
      serverUrl: session.serverUrl,
    });
    return true;
  }

  /**
   * Records a streamer's licence check-in. Undefined when no session of that
   * host has that internal id.
   */
  checkin(sessionUuid: string, serverUrl: string): SessionRecord | undefined {
    const session = this.getByUuid(sessionUuid);
    if (!session || session.serverUrl !== serverUrl) return undefined;
    this.#seen(session, () => session.lastCheckinAt = this.#now());
    this.#dirty.add(session.sessionId);
    return session;
  }

  /** Forgets sessions whose streamer went silent; writes check-in times. */
  prune(): number {
    const now = this.#judgedAt();
    // The tally knows when none is silent: no scan of every session then.
    const silent = this.#silentCount(now) > 0
      ? this.#where((session) => !this.#live(session, now))
      : [];
    for (const session of silent) {
      this.delete(
        session.sessionId,
        `no licence check-in for ${Math.round(this.#staleMs / 1000)} s`,
      );
    }
    this.flush();
    return silent.length;
  }

  /** Writes pending check-in times to the store. */
  flush(): void {
    if (!this.#dirty.size) return;
    const sessions = [...this.#dirty].flatMap((id) => {
      const session = this.#byId.get(id);
      return session ? [session] : [];
    });
    const ids = [...this.#dirty];
    this.#dirty.clear();
    try {
      this.#store.putSessions(sessions);
    } catch (error) {
      for (const id of ids) this.#dirty.add(id);
      throw error;
    }
  }

  /** How many sessions are known. */
  get size(): number {
    return this.#byId.size;
  }

  /**
   * The sessions `test` picks, read in place: at 500,000 sessions a copy of
   * them all (a large array, straight into the old generation) each prune
   * was garbage V8 only freed in its next major collection.
   */
  #where(test: (session: SessionRecord) => boolean): SessionRecord[] {
    const picked: SessionRecord[] = [];
    this.#byId.forEach((session) => {
      if (test(session)) picked.push(session);
    });
    return picked;
  }

  /** When silence is judged: now, or when news last was complete. */
  #judgedAt(): number {
    const now = this.#now();
    return this.#heardUntil ? Math.min(now, this.#heardUntil()) : now;
  }

  #live(session: SessionRecord, now: number): boolean {
    return isLive(session, liveSince(now, this.#staleMs));
  }

  /** Values many sessions share, by their JSON. */
  readonly #shared = new Map<string, unknown>();

  #share<T>(value: T): T {
    const key = typeof value === "string"
      ? `s${value}`
      : `j${JSON.stringify(value)}`;
    const known = this.#shared.get(key);
    if (known !== undefined) return known as T;
    this.#shared.set(
      key,
      typeof value === "object" ? Object.freeze(value) : value,
    );
    return value;
  }

  /** How many sessions are silent at `now` (from the tally). */
  #silentCount(now: number): number {
    if (this.#tally.total !== this.#byId.size) this.#retally();
    return this.#tally.before(liveSince(now, this.#staleMs));
  }

  /** Changes a session's times in place, and tallies the change. */
  #seen(session: SessionRecord, change: () => void): void {
    const before = lastSeen(session);
    change();
    if (!this.#tally.move(before, lastSeen(session))) this.#retally();
  }

  /** Counts every session again (only if the tally lost track: a bug). */
  #retally(): void {
    this.#logger.warn("the live-session tally lost track; counted again", {
      tallied: this.#tally.total,
      sessions: this.#byId.size,
    });
    this.#tally.clear();
    for (const session of this.#byId.values()) {
      this.#tally.add(lastSeen(session));
    }
  }

  /** Indexes `session`, replacing the record of the same id, if any. */
  #index(session: SessionRecord): void {
    const previous = this.#byId.get(session.sessionId);
    if (previous) this.#unindex(previous);
    // Equal values, one copy: the record reads the same.
    session.resources = this.#share(session.resources);
    session.workspaceIds = this.#share(session.workspaceIds);
    session.serverUrl = this.#share(session.serverUrl);
    session.host = this.#share(session.host);
    session.path = this.#share(session.path);
    session.credentials = this.#share(session.credentials);
    this.#byId.set(session.sessionId, session);
    this.#tally.add(lastSeen(session));
    this.#byUuid.set(session.sessionUuid, session.sessionId);
    let ids = this.#byUser.get(session.user);
    if (!ids) this.#byUser.set(session.user, ids = new Set());
    ids.add(session.sessionId);
  }

  #unindex(session: SessionRecord): void {
    this.#byId.delete(session.sessionId);
    if (!this.#tally.remove(lastSeen(session))) this.#retally();
    if (this.#byUuid.get(session.sessionUuid) === session.sessionId) {
      this.#byUuid.delete(session.sessionUuid);
    }
    const ids = this.#byUser.get(session.user);
    ids?.delete(session.sessionId);
    if (ids && !ids.size) this.#byUser.delete(session.user);
  }
}
