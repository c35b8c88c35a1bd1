/**
 * The gateway's state store when its disk fails (full, an I/O error, locked
 * by another gateway too long): a {@linkcode GatewayStore} in front of the
 * real one that keeps the gateway serving from memory. A write that fails is
 * kept, the latest per record, and written again later, so hosts, check-ins,
 * reconnects and sign-outs go on; only a new session, which must be stored
 * before anyone is sent to it, is refused ({@linkcode StoreUnavailableError}).
 * The state (working or failing, and why) is logged once per change, never
 * per request, and the guard recovers by itself: kept writes are retried
 * every few seconds while failing, and before a new session is started.
 * It fronts any {@linkcode AsyncGatewayStore} (SQLite through `asyncStore`,
 * PostgreSQL): the gateway's writes return at once and reach the store in
 * order, one writer at a time.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { ClaimOutcome, SessionClaim } from "./claims.ts";
import type {
  AsyncGatewayStore,
  GatewayStore,
  Revocation,
  SignInRef,
} from "./store.ts";
import type { ProbeRound, ProbeShare } from "./probe_leases.ts";
import type { HostRecord, SessionRecord } from "./types.ts";

/** Whether the store can be written now. */
export type StoreState =
  | { kind: "working" }
  | {
    kind: "failing";
    /** What the store said, e.g. `database or disk is full`. */
    cause: string;
    /** When it started failing (ms since the epoch). */
    since: number;
  };

/** The message a refused new session gets, naming the cause. */
export function storeFailureMessage(cause: string): string {
  return `the gateway's state store cannot be written: ${cause}`;
}

/** A write that had to reach the store now did not. */
export class StoreUnavailableError extends Error {
  /** What the store said. */
  readonly storeCause: string;

  constructor(cause: string) {
    super(storeFailureMessage(cause));
    this.name = "StoreUnavailableError";
    this.storeCause = cause;
  }
}

/** Options for {@linkcode GuardedStore}. */
export interface GuardedStoreOptions {
  /** Where state changes are logged. */
  logger: Logger;
  /** How often kept writes are retried while failing. Default 5000 ms. */
  retryIntervalMs?: number;
  /**
   * The least time between two retries asked for by {@linkcode
   * GuardedStore.check} (a launch), so a burst of launches does not hammer a
   * failing disk. Default 1000 ms.
   */
  minRetryGapMs?: number;
  /** Clock (ms), for tests. Default `Date.now`. */
  now?: () => number;
}

type Write = (store: AsyncGatewayStore) => Promise<unknown>;

/** What a store error says, without the stack (`database or disk is full`). */
export function storeErrorCause(error: unknown): string {
  if (error instanceof StoreUnavailableError) return error.storeCause;
  const e = error as { errstr?: unknown; message?: unknown };
  if (typeof e?.errstr === "string" && e.errstr) return e.errstr;
  if (typeof e?.message === "string" && e.message) return e.message;
  return String(error);
}

/** What the gateway read from its store when it started. */
interface Loaded {
  hosts: HostRecord[];
  revocations: Revocation[];
  settings: Map<string, string>;
}

/**
 * A store that writes behind, in order, and keeps and retries what fails
 * (see the module). Its reads of hosts, revocations and settings are what
 * the store held when it was opened ({@linkcode GuardedStore.open}): the
 * gateway reads its state once, at start. Sessions, the bulk of a big
 * farm's state, are not kept here: {@linkcode GuardedStore.eachSession}
 * streams them from the store into the session map, which holds the only
 * copy.
 */
export class GuardedStore
  implements Omit<GatewayStore, "loadSessions" | "eachSession"> {
  readonly #store: AsyncGatewayStore;
  readonly #loaded: Loaded;
  readonly #logger: Logger;
  readonly #retryMs: number;
  readonly #minGapMs: number;
  readonly #now: () => number;
  /**
   * Writes not yet in the store, by record, oldest first; the latest write
   * of a record replaces the one before (and goes to the end).
   */
  readonly #pending = new Map<string, Write>();
  #state: StoreState = { kind: "working" };
  #timer?: ReturnType<typeof setInterval>;
  #lastRetry = 0;
  #draining?: Promise<void>;
  #batches = 0;

  private constructor(
    store: AsyncGatewayStore,
    loaded: Loaded,
    options: GuardedStoreOptions,
  ) {
    this.#store = store;
    this.#loaded = loaded;
    this.#logger = options.logger;
    this.#retryMs = options.retryIntervalMs ?? 5000;
    this.#minGapMs = options.minRetryGapMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Reads the hosts, revocations and settings the gateway starts from,
   * then guards `store` (sessions: {@linkcode GuardedStore.eachSession}).
   *
   * @throws whatever the store throws when it cannot be read.
   */
  static async open(
    store: AsyncGatewayStore,
    options: GuardedStoreOptions,
  ): Promise<GuardedStore> {
    const [hosts, revocations, settings] = await Promise.all([
      store.loadHosts(),
      store.loadRevocations(),
      store.loadSettings(),
    ]);
    return new GuardedStore(store, {
      hosts,
      revocations,
      settings: new Map(Object.entries(settings)),
    }, options);
  }

  /** The state now. */
  get state(): StoreState {
    return this.#state;
  }

  /** How many records wait to be written (or are being written). */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * The state; when failing, a retry of the kept writes is started (at most
   * once a second): what a launch asks before starting a new session. The
   * retry's outcome counts from the next call.
   */
  check(): StoreState {
    if (
      this.#state.kind === "failing" &&
      this.#now() - this.#lastRetry >= this.#minGapMs
    ) {
      void this.retry();
    }
    return this.#state;
  }

  /**
   * Writes what is kept, oldest first, stopping at the first failure. With
   * nothing kept while failing (a refused new session, a failed read), a
   * small real write tells whether the store works again.
   */
  async retry(): Promise<StoreState> {
    this.#lastRetry = this.#now();
    if (this.#pending.size) {
      await this.#drain();
    } else if (this.#state.kind === "failing") {
      try {
        await this.#store.putSetting(
          "storeCheckedAt",
          new Date(this.#now()).toISOString(),
        );
        this.#working();
      } catch (error) {
        this.#failing(error);
      }
    }
    return this.#state;
  }

  /** Resolves once everything written so far is in the store (or kept). */
  async flush(): Promise<StoreState> {
    if (this.#state.kind === "working" && this.#pending.size) {
      await this.#drain();
    }
    return this.#state;
  }

  loadHosts(): HostRecord[] {
    return this.#loaded.hosts;
  }

  putHost(host: HostRecord): void {
    this.#write(`host:${host.serverUrl}`, (s) => s.putHost(host));
  }

  putHosts(hosts: HostRecord[]): void {
    if (!hosts.length) return;
    // One transaction for the batch; a later write of one of its records
    // goes after it, so the latest still wins.
    this.#write(`hosts:${++this.#batches}`, (s) => s.putHosts(hosts));
  }

  deleteHost(serverUrl: string): void {
    this.#write(`host:${serverUrl}`, (s) => s.deleteHost(serverUrl));
  }

  /**
   * Hands every session the store holds now to `each`, as it is read (see
   * {@linkcode GatewayStore.eachSession}): what a starting gateway loads its
   * session map from, and what a gateway resyncs from. A store that cannot
   * be read counts as failing, and the promise rejects.
   */
  async eachSession(each: (session: SessionRecord) => void): Promise<void> {
    // What `each` throws is not the store's failure.
    let inEach = false;
    try {
      await this.#store.eachSession((session) => {
        inEach = true;
        each(session);
        inEach = false;
      });
    } catch (error) {
      if (!inEach) this.#failing(error);
      throw error;
    }
  }

  putSession(session: SessionRecord): void {
    this.#write(
      `session:${session.sessionId}`,
      (s) => s.putSession(session),
    );
  }

  putSessions(sessions: SessionRecord[]): void {
    if (!sessions.length) return;
    this.#write(`sessions:${++this.#batches}`, (s) => s.putSessions(sessions));
  }

  /**
   * Stores a new session now.
   *
   * @throws {StoreUnavailableError} when the store cannot be written (then
   * nothing of it is kept).
   */
  async insertSession(session: SessionRecord): Promise<void> {
    // While failing, what is kept goes first, so the store is whole again
    // before it takes something new; it also tells whether it works again.
    if (this.#state.kind === "failing") await this.retry();
    if (this.#state.kind === "failing") {
      throw new StoreUnavailableError(this.#state.cause);
    }
    try {
      await this.#store.insertSession(session);
    } catch (error) {
      this.#failing(error);
      throw new StoreUnavailableError(storeErrorCause(error));
    }
  }

  /**
   * Takes a claim in the store now (claims.ts).
   *
   * @throws {StoreUnavailableError} when the store cannot take it: a new
   * session is refused then, as when it cannot be recorded.
   */
  async claimSession(claim: SessionClaim): Promise<ClaimOutcome> {
    if (this.#state.kind === "failing") await this.retry();
    if (this.#state.kind === "failing") {
      throw new StoreUnavailableError(this.#state.cause);
    }
    try {
      return await this.#store.claimSession(claim);
    } catch (error) {
      this.#failing(error);
      throw new StoreUnavailableError(storeErrorCause(error));
    }
  }

  /**
   * Releases a claim now, so the next launch counts without it; never
   * throws (a claim left behind expires by itself).
   */
  async releaseClaim(sessionId: string): Promise<void> {
    if (this.#state.kind === "failing") return;
    try {
      await this.#store.releaseClaim(sessionId);
    } catch (error) {
      this.#failing(error);
    }
  }

  deleteSession(sessionId: string): void {
    this.#write(`session:${sessionId}`, (s) => s.deleteSession(sessionId));
  }

  /**
   * Asks the store (another gateway may have placed the session); nothing
   * while the store is failing, as for revocations.
   */
  findSessionByUuid(sessionUuid: string): Promise<SessionRecord | undefined> {
    return this.#read((s) => s.findSessionByUuid(sessionUuid));
  }

  /** Asks the store, as {@linkcode GuardedStore.findSessionByUuid}. */
  findHost(serverUrl: string): Promise<HostRecord | undefined> {
    return this.#read((s) => s.findHost(serverUrl));
  }

  /** Asks the store, as {@linkcode GuardedStore.findSessionByUuid}. */
  findSession(sessionId: string): Promise<SessionRecord | undefined> {
    return this.#read((s) => s.findSession(sessionId));
  }

  /**
   * True while a write of host `key` (its serverUrl) or session `key` (its
   * sessionId) waits to reach the store: memory is newer than the store
   * there.
   */
  holds(kind: "host" | "session", key: string): boolean {
    return this.#pending.has(`${kind}:${key}`);
  }

  /**
   * Tells whether the store answers, by a small read, unless failing (then
   * the retries tell): a gateway that writes little notices a store gone.
   */
  async probe(): Promise<StoreState> {
    if (this.#state.kind === "working") {
      await this.#read((s) => s.getSetting("cookieSecret"));
    }
    return this.#state;
  }

  /** A read that a failing store does not get (undefined then). */
  async #read<T>(
    read: (store: AsyncGatewayStore) => Promise<T | undefined>,
  ): Promise<T | undefined> {
    if (this.#state.kind === "failing") return undefined;
    try {
      return await read(this.#store);
    } catch (error) {
      this.#failing(error);
      return undefined;
    }
  }

  getSetting(key: string): string | undefined {
    return this.#loaded.settings.get(key);
  }

  putSetting(key: string, value: string): void {
    this.#loaded.settings.set(key, value);
    this.#write(`setting:${key}`, (s) => s.putSetting(key, value));
  }

  loadSettings(): Record<string, string> {
    return Object.fromEntries(this.#loaded.settings);
  }

  /** Asks the store itself (the first writer wins there), and keeps it. */
  async settingOnce(key: string, value: string): Promise<string> {
    const stored = await this.#store.settingOnce(key, value);
    this.#loaded.settings.set(key, stored);
    return stored;
  }

  putRevocation(revocation: Revocation): void {
    const key = revocation.kind === "signin"
      ? `revoked:${revocation.id}`
      : `revoked-user:${revocation.user}`;
    this.#write(key, (s) => s.putRevocation(revocation));
  }

  /**
   * Asks the store; a store that cannot be read says no (the caller keeps
   * its own revocations in memory) and counts as failing. While failing it
   * is not asked: a request must not wait on a database that is down.
   */
  async isRevoked(signIn: SignInRef): Promise<boolean> {
    if (this.#state.kind === "failing") return false;
    try {
      return await this.#store.isRevoked(signIn);
    } catch (error) {
      this.#failing(error);
      return false;
    }
  }

  loadRevocations(): Revocation[] {
    return this.#loaded.revocations;
  }

  pruneRevocations(now: number): void {
    this.#write("prune-revocations", (s) => s.pruneRevocations(now));
  }

  /**
   * Asks the store itself (leases live there). While failing it is not
   * asked, so probing does not wait on a database that is down: the caller
   * probes every host meanwhile.
   *
   * @throws {StoreUnavailableError} while failing; what the store throws.
   */
  shareProbes(round: ProbeRound): Promise<ProbeShare> {
    if (this.#state.kind === "failing") {
      return Promise.reject(new StoreUnavailableError(this.#state.cause));
    }
    return this.#store.shareProbes(round);
  }

  /** Asks the store itself; nothing while failing (the leases lapse). */
  async leaveProbing(gatewayId: string): Promise<void> {
    if (this.#state.kind === "failing") return;
    await this.#store.leaveProbing(gatewayId);
  }

  /**
   * Writes what is kept one last time, says what could not be written, and
   * closes the store.
   */
  async close(): Promise<void> {
    this.#stopTimer();
    await this.#draining;
    if (this.#pending.size) await this.retry();
    this.#stopTimer();
    if (this.#pending.size) {
      this.#logger.error(
        "gateway state lost at stop: the store cannot be written",
        {
          records: this.#pending.size,
          cause: this.#state.kind === "failing" ? this.#state.cause : undefined,
        },
      );
    }
    await this.#store.close();
  }

  /** Queues a write; written at once unless failing (then kept). */
  #write(key: string, write: Write): void {
    // Re-inserted at the end: the latest write of a record is what counts.
    this.#pending.delete(key);
    this.#pending.set(key, write);
    if (this.#state.kind === "working") void this.#drain();
  }

  /** One writer at a time, so writes reach the store in order. */
  #drain(): Promise<void> {
    this.#draining ??= this.#writeAll().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  async #writeAll(): Promise<void> {
    // A Map iterates what is added meanwhile too, in order.
    for (const [key, write] of this.#pending) {
      try {
        await write(this.#store);
      } catch (error) {
        this.#failing(error);
        return;
      }
      // Unless written again meanwhile (then that comes later).
      if (this.#pending.get(key) === write) this.#pending.delete(key);
    }
    this.#working();
  }

  #failing(error: unknown): void {
    const cause = storeErrorCause(error);
    if (this.#state.kind === "failing") {
      this.#state.cause = cause;
      return;
    }
    this.#state = { kind: "failing", cause, since: this.#now() };
    this.#logger.error(
      "the gateway's state store cannot be written; new sessions are refused, " +
        "reconnects and resolves are served from memory until it can",
      { cause },
    );
    this.#timer = setInterval(() => void this.retry(), this.#retryMs);
  }

  #working(): void {
    if (this.#state.kind === "working") return;
    const since = this.#state.since;
    this.#state = { kind: "working" };
    this.#stopTimer();
    this.#logger.info("the gateway's state store works again", {
      failedForSeconds: Math.round((this.#now() - since) / 1000),
    });
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
