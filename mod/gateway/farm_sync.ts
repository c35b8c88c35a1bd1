/**
 * Keeps a gateway's memory (host registry, session map, revocations)
 * coherent with the other gateways on its store, through the store's change
 * notices (store_changes.ts): each notice is applied to memory and the
 * placement index, never written back. When the listener connects again
 * after losing its connection (the database restarted), notices were lost:
 * hosts and sessions are read again and memory reconciled, keeping what
 * this gateway has not written yet. It also writes this gateway's
 * heartbeats every `tickMs` (so the others see a host's load figures within
 * a heartbeat interval) and asks the store whether it answers, so a
 * gateway that writes little still notices a database gone.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Revocations } from "./auth/mod.ts";
import type { HostRegistry } from "./registry.ts";
import type { SessionMap } from "./sessions.ts";
import type { AsyncGatewayStore } from "./store.ts";
import type {
  StoreChange,
  StoreChanges,
  StoreChangeSubscription,
} from "./store_changes.ts";
import type { GuardedStore } from "./store_guard.ts";
import type { HostRecord, SessionRecord } from "./types.ts";

/** What the notices are applied to. */
export interface FarmSyncTargets {
  /** Hosts. */
  registry: HostRegistry;
  /** Sessions. */
  sessions: SessionMap;
  /** Revoked sign-ins. */
  revocations: Revocations;
  /** The guarded store (what is not written yet; is it answering). */
  store: GuardedStore;
  /** The store itself, read again after a lost connection. */
  source: AsyncGatewayStore;
  /** How often heartbeats are written and the store asked (ms). */
  tickMs: number;
  /** Clock (ms). Default `Date.now`. */
  now?: () => number;
}

/** What a read of the store again changes in memory. */
export interface Reconciliation<T> {
  /** Records to take in. */
  apply: T[];
  /** Keys to forget. */
  forget: string[];
}

/** How to compare memory with the store read again. */
export interface RereadOptions<T> {
  /** A record's key. */
  key: (record: T) => string;
  /**
   * True when memory's record of `key` wins: this gateway has not written
   * it yet, or made it after the read began.
   */
  keep: (key: string) => boolean;
}

/** Memory compared with the store read again, one stored record at a time. */
export interface Reread<T> {
  /** Notes a stored record; true when memory should take it in. */
  take(record: T): boolean;
  /** The keys of `memory` the store no longer holds, unless kept. */
  gone(memory: Iterable<string>): string[];
}

/**
 * Compares memory with the store as its records come (sessions, read
 * through a cursor, are never held all at once): every stored record is
 * taken in unless `keep` says memory is newer; every key in memory the store
 * no longer holds is forgotten unless `keep` says so.
 */
export function reread<T>(options: RereadOptions<T>): Reread<T> {
  const storedKeys = new Set<string>();
  return {
    take(record) {
      const key = options.key(record);
      storedKeys.add(key);
      return !options.keep(key);
    },
    gone: (memory) =>
      [...memory].filter((key) => !storedKeys.has(key) && !options.keep(key)),
  };
}

/** {@linkcode reread} of records read all at once. */
export function reconcile<T>(
  memory: Iterable<string>,
  stored: readonly T[],
  options: RereadOptions<T>,
): Reconciliation<T> {
  const compared = reread(options);
  const apply = stored.filter((record) => compared.take(record));
  return { apply, forget: compared.gone(memory) };
}

/** Applies one notice to memory. */
export function applyChange(
  notice: StoreChange,
  targets: Pick<FarmSyncTargets, "registry" | "sessions" | "revocations">,
): void {
  switch (notice.kind) {
    case "host":
      if (notice.op === "delete") targets.registry.forgetRemote(notice.key);
      else if (notice.row) targets.registry.applyRemote(notice.row);
      return;
    case "session":
      if (notice.op === "delete") targets.sessions.forgetRemote(notice.key);
      else if (notice.row) targets.sessions.applyRemote(notice.row);
      return;
    case "checkins":
      targets.sessions.applyCheckins(notice.checkins);
      return;
    case "revocation":
      targets.revocations.applyRemote(notice.row);
      return;
  }
}

/** A gateway's listener on its store's change notices (see the module). */
export class FarmSync {
  readonly #logger: Logger;
  #subscription?: StoreChangeSubscription;
  #targets?: FarmSyncTargets;
  /** Notices that arrived before {@linkcode FarmSync.start}. */
  #early: StoreChange[] = [];
  #resyncWanted = false;
  #resyncing?: Promise<void>;
  #timers: ReturnType<typeof setInterval>[] = [];
  #retry?: ReturnType<typeof setTimeout>;
  /** Since when notices may have been missed (until read again). */
  #behindSince?: number;
  #stopped = false;

  private constructor(logger: Logger) {
    this.#logger = logger;
  }

  /**
   * Starts listening; notices are kept until {@linkcode FarmSync.start}
   * (listen before reading the store, so nothing told meanwhile is missed).
   */
  static async listen(
    changes: StoreChanges,
    options: { logger: Logger },
  ): Promise<FarmSync> {
    const sync = new FarmSync(options.logger);
    sync.#subscription = await changes.listen({
      change: (notice) => sync.#change(notice),
      connected: (resumed) => {
        if (!resumed) return;
        sync.#behindSince ??= Date.now();
        sync.#logger.info(
          "change notices flow again; reading the store again",
        );
        sync.#resync();
      },
      invalid: (error) =>
        sync.#logger.warn("change notice skipped", { error: error.message }),
    });
    return sync;
  }

  /**
   * The time up to which every change is known here: undefined when up to
   * date, else when the store started failing or the listener was found
   * lost, until the store has been read again.
   */
  heardUntil(): number | undefined {
    return this.#behindSince;
  }

  /** Applies what arrived so far, and from now on as it arrives. */
  start(targets: FarmSyncTargets): void {
    this.#targets = targets;
    const early = this.#early;
    this.#early = [];
    for (const notice of early) this.#change(notice);
    if (this.#resyncWanted) this.#resync();
    this.#timers.push(setInterval(() => this.#tick(), targets.tickMs));
  }

  /** Stops listening. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    clearTimeout(this.#retry);
    await this.#resyncing?.catch(() => {});
    await this.#subscription?.stop().catch(() => {});
  }

  #tick(): void {
    const targets = this.#targets!;
    const state = targets.store.state;
    // While failing, the gateway's own flush (every check-in interval) keeps
    // the latest heartbeats; batches every tick would pile up in the guard.
    if (state.kind === "working") {
      try {
        targets.registry.flush();
      } catch (error) {
        this.#logger.error("writing heartbeats failed", { error });
      }
    }
    void targets.store.probe();
    // Notices sent while the store failed may be lost: read it again once
    // it works (the listener may not have noticed anything).
    if (state.kind === "failing") this.#behindSince ??= state.since;
    else if (this.#behindSince !== undefined) this.#resync();
  }

  #change(notice: StoreChange): void {
    const targets = this.#targets;
    if (!targets) {
      this.#early.push(notice);
      return;
    }
    const key = "key" in notice ? notice.key : "";
    // Our own write of it is on its way (and will be told to the others).
    if (
      (notice.kind === "host" || notice.kind === "session") &&
      notice.op === "put" && targets.store.holds(notice.kind, key)
    ) return;
    if (notice.kind === "host" && notice.op === "put" && !notice.row) {
      void this.#readHost(notice.key);
    } else if (
      notice.kind === "session" && notice.op === "put" && !notice.row
    ) {
      void this.#readSession(notice.key);
    } else {
      applyChange(notice, targets);
    }
  }

  /** A host too large for its notice, read from the store. */
  async #readHost(serverUrl: string): Promise<void> {
    const targets = this.#targets!;
    try {
      const host = await targets.source.findHost(serverUrl);
      if (host) targets.registry.applyRemote(host);
    } catch (error) {
      this.#logger.warn("a changed host could not be read", {
        serverUrl,
        error: (error as Error).message,
      });
    }
  }

  /** A session too large for its notice, read from the store. */
  async #readSession(sessionId: string): Promise<void> {
    const targets = this.#targets!;
    const session = await targets.store.findSession(sessionId);
    if (session) targets.sessions.applyRemote(session);
  }

  /** Reads hosts, sessions and revocations again (one at a time). */
  #resync(): void {
    if (!this.#targets) {
      this.#resyncWanted = true;
      return;
    }
    if (this.#resyncing || this.#stopped) return;
    this.#resyncing = this.#readAgain(this.#targets).catch((error) => {
      this.#logger.warn("reading the store again failed; retrying", {
        error: (error as Error).message,
      });
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.#resync(), this.#targets!.tickMs);
    }).finally(() => this.#resyncing = undefined);
  }

  async #readAgain(targets: FarmSyncTargets): Promise<void> {
    const { registry, sessions, store, source } = targets;
    const started = (targets.now ?? Date.now)();
    // Written here but not yet in the store when the read began.
    const heldHosts = new Set(
      registry.list().map((h) => h.serverUrl).filter((url) =>
        store.holds("host", url)
      ),
    );
    const heldSessions = new Set(
      sessions.ids().filter((id) => store.holds("session", id)),
    );
    const sessionReread = reread<SessionRecord>({
      key: (s) => s.sessionId,
      keep: (id) =>
        heldSessions.has(id) || store.holds("session", id) ||
        (sessions.get(id)?.lastLaunchAt ?? 0) >= started,
    });
    let sessionsRead = 0;
    const [hosts, , revoked] = await Promise.all([
      source.loadHosts(),
      // Taken in as they are read: 500,000 sessions are never in an array.
      source.eachSession((session) => {
        sessionsRead++;
        if (this.#stopped || !sessionReread.take(session)) return;
        // A fresh check-in window, as at a restart: check-ins written while
        // the listener was away are not told again.
        session.lastCheckinAt = Math.max(session.lastCheckinAt ?? 0, started);
        sessions.applyRemote(session);
      }),
      source.loadRevocations(),
    ]);
    if (this.#stopped) return;
    const hostPlan = reconcile<HostRecord>(
      registry.list().map((h) => h.serverUrl),
      hosts,
      {
        key: (h) => h.serverUrl,
        keep: (url) =>
          heldHosts.has(url) || store.holds("host", url) ||
          (registry.get(url)?.registeredAt ?? 0) >= started,
      },
    );
    for (const host of hostPlan.apply) registry.applyRemote(host);
    for (const url of hostPlan.forget) registry.forgetRemote(url);
    const sessionsGone = sessionReread.gone(sessions.ids());
    for (const id of sessionsGone) sessions.forgetRemote(id);
    for (const revocation of revoked) {
      targets.revocations.applyRemote(revocation);
    }
    if (store.state.kind === "working") this.#behindSince = undefined;
    this.#logger.info("memory reconciled with the store", {
      hosts: hosts.length,
      hostsForgotten: hostPlan.forget.length,
      sessions: sessionsRead,
      sessionsForgotten: sessionsGone.length,
    });
  }
}
