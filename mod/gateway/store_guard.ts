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
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { GatewayStore, Revocation, SignInRef } from "./store.ts";
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

type Write = (store: GatewayStore) => void;

/** What a store error says, without the stack (`database or disk is full`). */
export function storeErrorCause(error: unknown): string {
  if (error instanceof StoreUnavailableError) return error.storeCause;
  const e = error as { errstr?: unknown; message?: unknown };
  if (typeof e?.errstr === "string" && e.errstr) return e.errstr;
  if (typeof e?.message === "string" && e.message) return e.message;
  return String(error);
}

/** A store that keeps failed writes and retries them (see the module). */
export class GuardedStore implements GatewayStore {
  readonly #store: GatewayStore;
  readonly #logger: Logger;
  readonly #retryMs: number;
  readonly #minGapMs: number;
  readonly #now: () => number;
  /** Writes that did not reach the store, by record; the latest wins. */
  readonly #pending = new Map<string, Write>();
  #state: StoreState = { kind: "working" };
  #timer?: ReturnType<typeof setInterval>;
  #lastRetry = 0;

  constructor(store: GatewayStore, options: GuardedStoreOptions) {
    this.#store = store;
    this.#logger = options.logger;
    this.#retryMs = options.retryIntervalMs ?? 5000;
    this.#minGapMs = options.minRetryGapMs ?? 1000;
    this.#now = options.now ?? Date.now;
  }

  /** The state now. */
  get state(): StoreState {
    return this.#state;
  }

  /** How many records wait to be written. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * The state, after retrying the kept writes when failing (at most once a
   * second): what a launch asks before starting a new session.
   */
  check(): StoreState {
    if (
      this.#state.kind === "failing" &&
      this.#now() - this.#lastRetry >= this.#minGapMs
    ) {
      this.retry();
    }
    return this.#state;
  }

  /**
   * Writes what is kept, oldest first, stopping at the first failure. With
   * nothing kept while failing (a refused new session, a failed read), a
   * small real write tells whether the store works again.
   */
  retry(): StoreState {
    this.#lastRetry = this.#now();
    try {
      if (this.#pending.size) {
        for (const [key, write] of this.#pending) {
          write(this.#store);
          this.#pending.delete(key);
        }
      } else if (this.#state.kind === "failing") {
        this.#store.putSetting(
          "storeCheckedAt",
          new Date(this.#now()).toISOString(),
        );
      }
      this.#working();
    } catch (error) {
      this.#failing(error);
    }
    return this.#state;
  }

  loadHosts(): HostRecord[] {
    return this.#store.loadHosts();
  }

  putHost(host: HostRecord): void {
    this.#write(`host:${host.serverUrl}`, (s) => s.putHost(host));
  }

  putHosts(hosts: HostRecord[]): void {
    if (!hosts.length) return;
    this.#batch(
      (s) => s.putHosts(hosts),
      hosts.map((host) => [`host:${host.serverUrl}`, (s) => s.putHost(host)]),
    );
  }

  deleteHost(serverUrl: string): void {
    this.#write(`host:${serverUrl}`, (s) => s.deleteHost(serverUrl));
  }

  loadSessions(): SessionRecord[] {
    return this.#store.loadSessions();
  }

  putSession(session: SessionRecord): void {
    this.#write(
      `session:${session.sessionId}`,
      (s) => s.putSession(session),
    );
  }

  putSessions(sessions: SessionRecord[]): void {
    if (!sessions.length) return;
    this.#batch(
      (s) => s.putSessions(sessions),
      sessions.map((session) => [
        `session:${session.sessionId}`,
        (s) => s.putSession(session),
      ]),
    );
  }

  /**
   * Stores a new session now.
   *
   * @throws {StoreUnavailableError} when the store cannot be written (then
   * nothing of it is kept).
   */
  insertSession(session: SessionRecord): void {
    // Whatever is kept goes first, so the store is whole again before it
    // takes something new; it also tells whether the store works again.
    if (this.#pending.size) this.retry();
    if (this.#state.kind === "failing") {
      throw new StoreUnavailableError(this.#state.cause);
    }
    try {
      this.#store.insertSession(session);
    } catch (error) {
      this.#failing(error);
      throw new StoreUnavailableError(storeErrorCause(error));
    }
  }

  deleteSession(sessionId: string): void {
    this.#write(`session:${sessionId}`, (s) => s.deleteSession(sessionId));
  }

  getSetting(key: string): string | undefined {
    return this.#store.getSetting(key);
  }

  putSetting(key: string, value: string): void {
    this.#write(`setting:${key}`, (s) => s.putSetting(key, value));
  }

  putRevocation(revocation: Revocation): void {
    const key = revocation.kind === "signin"
      ? `revoked:${revocation.id}`
      : `revoked-user:${revocation.user}`;
    this.#write(key, (s) => s.putRevocation(revocation));
  }

  /**
   * Asks the store; a store that cannot be read says no (the caller keeps
   * its own revocations in memory) and counts as failing.
   */
  isRevoked(signIn: SignInRef): boolean {
    try {
      return this.#store.isRevoked(signIn);
    } catch (error) {
      this.#failing(error);
      return false;
    }
  }

  loadRevocations(): Revocation[] {
    return this.#store.loadRevocations();
  }

  loadSettings(): Record<string, string> {
    return this.#store.loadSettings();
  }

  pruneRevocations(now: number): void {
    this.#write("prune-revocations", (s) => s.pruneRevocations(now));
  }

  /**
   * Writes what is kept one last time, says what could not be written, and
   * closes the store.
   */
  close(): void {
    this.#stopTimer();
    if (this.#pending.size) this.retry();
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
    this.#store.close();
  }

  /** Writes now; when that fails (or already failing), keeps it. */
  #write(key: string, write: Write): void {
    if (this.#state.kind === "working") {
      try {
        write(this.#store);
        return;
      } catch (error) {
        this.#failing(error);
      }
    }
    this.#keep(key, write);
  }

  /** A batch in one transaction; kept record by record when it fails. */
  #batch(write: Write, records: [string, Write][]): void {
    if (this.#state.kind === "working") {
      try {
        write(this.#store);
        return;
      } catch (error) {
        this.#failing(error);
      }
    }
    for (const [key, one] of records) this.#keep(key, one);
  }

  #keep(key: string, write: Write): void {
    // Re-inserted at the end: the latest write of a record is what counts.
    this.#pending.delete(key);
    this.#pending.set(key, write);
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
    this.#timer = setInterval(() => this.retry(), this.#retryMs);
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
