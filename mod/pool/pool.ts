/**
 * The session pool: slots `1..serverMaxSessionCount`, each moving through
 * free → provisioning → ready → active → disconnected → recycling → free.
 * A configurable number of slots is kept ready (logged on, streamer
 * handshake done) so a launch does not wait for a logon. Any slot whose
 * display or streamer dies is recycled; nothing is left half-alive.
 *
 * @module
 */
import type { Config } from "../config/mod.ts";
import type {
  AttachResult,
  StreamerDirectory,
  StreamerLink,
  StreamerMessage,
} from "../control/mod.ts";
import type { Logger } from "../log/mod.ts";
import type {
  Hygiene,
  Platform,
  PlatformSession,
  StreamerLicence,
} from "../platform/mod.ts";
import { licenceProof } from "../contract/licence_proof.ts";
import { delay, type Timer, withTimeout } from "../util/async.ts";
import { accountName, streamerPort } from "./slots.ts";
import { hashToken, newPassword, newToken } from "./tokens.ts";
import type {
  Allocation,
  LaunchRequest,
  LiveSession,
  PoolStats,
  SessionEnd,
  SlotInfo,
  SlotState,
} from "./types.ts";

/** Every slot is bound to a session or being prepared: try again later. */
export class PoolExhaustedError extends Error {
  /** Suggested wait before retrying, in seconds. */
  readonly retryAfter: number;

  constructor(retryAfter: number) {
    super("no pool session is available");
    this.name = "PoolExhaustedError";
    this.retryAfter = retryAfter;
  }
}

/** The pool is not accepting launches (starting or shutting down). */
export class PoolUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PoolUnavailableError";
  }
}

/** Options for {@linkcode SessionPool}. */
export interface SessionPoolOptions {
  /** The validated configuration. */
  config: Config;
  /** The OS layer. */
  platform: Platform;
  /** The `/control` URL streamers connect to. */
  controlUrl: string;
  /** Where streamers listen. */
  bindAddress: string;
  /** Logger. */
  logger: Logger;
  /** Licence check-ins for the streamers, when a gateway is configured. */
  licence?: StreamerLicence;
  /** The farm's shared secret, to give each streamer its licence proof. */
  licenceSecret?: string;
  /** How long a streamer has to acknowledge a token. Default 3000 ms. */
  tokenAckTimeoutMs?: number;
  /**
   * Called when a session bound to a user session ends on this host (its
   * display died, the grace period passed, it was logged off), so the
   * gateway can be told at once.
   */
  onSessionEnd?: (end: SessionEnd) => void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: Error): void;
}

function deferred<T>(): Deferred<T> {
  const d = Promise.withResolvers<T>();
  d.promise.catch(() => {}); // rejections are read by whoever awaits
  return d;
}

interface Slot {
  readonly number: number;
  readonly account: string;
  readonly port: number;
  state: SlotState;
  since: number;
  sessionUuid?: string;
  sessionId?: string;
  session?: PlatformSession;
  starting?: Promise<unknown>;
  link?: StreamerLink;
  ready?: Deferred<void>;
  reservedBy?: string;
  clientConnected: boolean;
  launched: Set<string>;
  graceTimer?: Timer;
  recycling?: Promise<void>;
  pendingTokens: Map<string, Deferred<void>>;
}

/** How long a launch waits for a slot being recycled before a 503. */
const RECYCLE_WAIT_MS = 10_000;

/** Consecutive provisioning failures after which `/health` says degraded. */
const DEGRADED_AFTER = 3;

/** The session pool of one host. */
export class SessionPool implements StreamerDirectory {
  readonly #config: Config;
  readonly #platform: Platform;
  readonly #logger: Logger;
  readonly #controlUrl: string;
  readonly #bindAddress: string;
  readonly #tokenAckTimeoutMs: number;
  readonly #licence?: StreamerLicence;
  readonly #licenceSecret?: string;
  readonly #onSessionEnd?: (end: SessionEnd) => void;
  readonly #slots: Slot[];
  readonly #bySessionId = new Map<string, Slot>();
  readonly #pending = new Map<string, Promise<Allocation>>();
  #started = false;
  #stopping = false;
  #failures = 0;
  #replenishTimer?: Timer;
  readonly #stop = new AbortController();

  constructor(options: SessionPoolOptions) {
    this.#config = options.config;
    this.#platform = options.platform;
    this.#logger = options.logger;
    this.#controlUrl = options.controlUrl;
    this.#bindAddress = options.bindAddress;
    this.#tokenAckTimeoutMs = options.tokenAckTimeoutMs ?? 3000;
    this.#licence = options.licence;
    this.#licenceSecret = options.licenceSecret;
    this.#onSessionEnd = options.onSessionEnd;
    const s = options.config.webstreamSettings;
    this.#slots = Array.from({ length: s.serverMaxSessionCount }, (_, i) => ({
      number: i + 1,
      account: accountName(s.serverSessionUsername, i + 1),
      port: streamerPort(s.basePortNumber, i + 1),
      state: "free" as SlotState,
      since: Date.now(),
      clientConnected: false,
      launched: new Set<string>(),
      pendingTokens: new Map(),
    }));
  }

  get #hygiene(): Hygiene {
    return {
      profileCleanup: this.#config.profileCleanup,
      filesystemRestrictions: this.#config.filesystemRestrictions,
    };
  }

  /**
   * Prepares the platform and every pool account (ending leftovers of an
   * earlier run and resetting profiles), then starts warming sessions.
   */
  async start(): Promise<void> {
    await this.#platform.prepare();
    const initial = this.#config.webstreamSettings.serverSessionPwd;
    await Promise.all(this.#slots.map(async (slot) => {
      await this.#platform.ensureAccount(
        slot.account,
        initial ?? newPassword(),
      );
      await this.#platform.endAccountProcesses(slot.account);
      this.#reportProblems(
        slot,
        await this.#platform.cleanAccount(slot.account, this.#hygiene),
      );
    }));
    this.#started = true;
    this.#logger.info("session pool started", {
      slots: this.#slots.length,
      warm: this.#config.webstreamSettings.warmSessionCount,
      accounts: this.#platform.accountMode,
    });
    this.#replenish();
  }

  /** Counts for `/health` and heartbeats. */
  stats(): PoolStats {
    let active = 0, available = 0;
    for (const slot of this.#slots) {
      if (slot.state === "active" || slot.state === "disconnected") active++;
      if (
        ["free", "provisioning", "ready"].includes(slot.state) &&
        !slot.reservedBy
      ) available++;
    }
    return { total: this.#slots.length, active, available };
  }

  /** `healthy`, `degraded` (sessions keep failing to start) or `draining`. */
  status(): "healthy" | "degraded" | "draining" | "starting" {
    if (this.#stopping) return "draining";
    if (!this.#started) return "starting";
    return this.#failures >= DEGRADED_AFTER ? "degraded" : "healthy";
  }

  /** Every slot's state (no secrets). */
  snapshot(): SlotInfo[] {
    return this.#slots.map((slot) => ({
      slot: slot.number,
      account: slot.account,
      port: slot.port,
      state: slot.state,
      since: new Date(slot.since),
      display: slot.session?.id,
      sessionUuid: slot.sessionUuid,
      sessionId: slot.sessionId,
      clientConnected: slot.clientConnected,
    }));
  }

  /**
   * Binds a pool session to `request.sessionId` and returns how to reach its
   * streamer. The same session id again returns the same session with a
   * fresh token (reconnect); a new app command is started inside it.
   *
   * @throws {PoolExhaustedError} when no slot can take the launch.
   * @throws {PoolUnavailableError} while starting or shutting down.
   */
  allocate(request: LaunchRequest): Promise<Allocation> {
    if (!this.#started || this.#stopping) {
      return Promise.reject(
        new PoolUnavailableError(
          this.#stopping ? "the host is shutting down" : "the pool is starting",
        ),
      );
    }
    const pending = this.#pending.get(request.sessionId);
    if (pending) return pending;
    const existing = this.#bySessionId.get(request.sessionId);
    const work = existing
      ? this.#reconnect(existing, request)
      : this.#allocateNew(request);
    this.#pending.set(request.sessionId, work);
    return work.finally(() => this.#pending.delete(request.sessionId));
  }

  /** Delivers `FILE_UPLOAD_COMPLETE` to the streamer of `sessionUuid`. */
  notifyUploadComplete(
    sessionUuid: string,
    upload: { dialogGuid: string; filePath: string },
  ): boolean {
    const slot = this.#slots.find((s) => s.sessionUuid === sessionUuid);
    return slot?.link?.send({ type: "FILE_UPLOAD_COMPLETE", ...upload }) ??
      false;
  }

  /** The sessions bound to a user session (active or disconnected). */
  liveSessions(): LiveSession[] {
    return this.#slots.flatMap((slot) =>
      (slot.state === "active" || slot.state === "disconnected") &&
        slot.sessionUuid && slot.sessionId
        ? [{
          sessionUuid: slot.sessionUuid,
          sessionId: slot.sessionId,
          slot: slot.number,
          clientConnected: slot.clientConnected,
        }]
        : []
    );
  }

  /**
   * Logs a bound session off: its apps and display end and the slot is
   * recycled. False when no session with that UUID is bound.
   */
  async logOff(sessionUuid: string, reason: string): Promise<boolean> {
    const slot = this.#slots.find((s) =>
      s.sessionUuid === sessionUuid &&
      (s.state === "active" || s.state === "disconnected")
    );
    if (!slot) return false;
    await this.#recycle(slot, reason);
    return true;
  }

  /** The slot bound to a pool session, if any (for the `-sm` relay). */
  findSession(sessionUuid: string): SlotInfo | undefined {
    return this.snapshot().find((s) =>
      s.sessionUuid === sessionUuid &&
      (s.state === "active" || s.state === "disconnected")
    );
  }

  /** Ends every session; with `removeAccountsOnExit`, removes the accounts. */
  async shutdown(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#stop.abort();
    clearTimeout(this.#replenishTimer);
    await Promise.all(this.#slots.map(async (slot) => {
      clearTimeout(slot.graceTimer);
      const stopping = new PoolUnavailableError("the host is shutting down");
      slot.ready?.reject(stopping);
      for (const ack of slot.pendingTokens.values()) ack.reject(stopping);
      await slot.recycling?.catch(() => {});
      slot.link?.close("host shutting down", 1001);
      await slot.starting?.catch(() => {});
      if (slot.session) {
        await this.#platform.endSession(slot.session).catch((error) =>
          this.#logger.error("ending session failed", {
            slot: slot.number,
            error,
          })
        );
      }
      this.#setState(slot, "free");
      if (this.#config.webstreamSettings.removeAccountsOnExit) {
        await this.#platform.removeAccount(slot.account).catch((error) =>
          this.#logger.error("removing pool account failed", {
            account: slot.account,
            error,
          })
        );
      }
    }));
    this.#logger.info("session pool stopped");
  }

  // ---- StreamerDirectory: the control channel ----

  /** A streamer identified itself with `REQUEST_SESSION_INFO`. */
  attach(link: StreamerLink): AttachResult {
    const slot = this.#slots.find((s) => s.account === link.username);
    if (!slot) {
      return { ok: false, reason: `unknown pool account ${link.username}` };
    }
    if (slot.state !== "provisioning" || slot.link || !slot.sessionUuid) {
      return {
        ok: false,
        reason: `slot ${slot.number} is ${slot.state}, not awaiting a streamer`,
      };
    }
    slot.link = link;
    this.#setState(slot, "ready");
    slot.ready?.resolve();
    this.#failures = 0;
    return {
      ok: true,
      reply: {
        type: "SESSION_INFO",
        sessionUuid: slot.sessionUuid,
        commandLineParams: "",
      },
    };
  }

  /** A later message from an attached streamer. */
  message(link: StreamerLink, message: StreamerMessage): void {
    const slot = this.#slots.find((s) => s.link === link);
    if (!slot) return;
    switch (message.type) {
      case "TOKEN_ARMED":
        slot.pendingTokens.get(message.tokenHash)?.resolve();
        return;
      case "CLIENT_CONNECTED":
        if (message.sessionUuid !== slot.sessionUuid) return;
        if (slot.state !== "active" && slot.state !== "disconnected") return;
        slot.clientConnected = true;
        clearTimeout(slot.graceTimer);
        this.#setState(slot, "active");
        return;
      case "CLIENT_DISCONNECTED":
        if (message.sessionUuid !== slot.sessionUuid) return;
        slot.clientConnected = false;
        if (slot.state === "active") {
          this.#setState(slot, "disconnected");
          this.#armGrace(slot);
        }
        return;
      case "UPLOAD_LANDED":
        // The manager completes the waiting dialog (the seed's message).
        this.#logger.info("upload landed", {
          slot: slot.number,
          dialogGuid: message.dialogGuid,
        });
        link.send({
          type: "FILE_UPLOAD_COMPLETE",
          dialogGuid: message.dialogGuid,
          filePath: message.filePath,
        });
        return;
      default:
        link.close(`unexpected ${message.type}`);
    }
  }

  /** An attached streamer's control connection closed. */
  detach(link: StreamerLink): void {
    const slot = this.#slots.find((s) => s.link === link);
    if (!slot) return;
    slot.link = undefined;
    if (this.#stopping) return; // shutdown() ends every session itself
    if (slot.state !== "recycling" && slot.state !== "free") {
      this.#recycle(slot, "streamer left the control channel");
    }
  }

  // ---- internals ----

  async #allocateNew(request: LaunchRequest): Promise<Allocation> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.#assertRunning();
      let slot: Slot | undefined;
      try {
        slot = await this.#claim(request);
        const allocation = await this.#issueToken(slot, request, false);
        this.#launchApp(slot, request);
        this.#armGrace(slot);
        this.#logger.info("session allocated", {
          sessionId: request.sessionId,
          slot: slot.number,
          sessionUuid: slot.sessionUuid,
        });
        return allocation;
      } catch (error) {
        if (error instanceof PoolExhaustedError) throw error;
        this.#assertRunning();
        lastError = error as Error;
        if (slot) {
          this.#recycle(slot, `allocation failed: ${lastError.message}`);
        }
      } finally {
        this.#replenish();
      }
    }
    throw lastError ?? new Error("allocation failed");
  }

  /**
   * Binds a slot to the request: a ready one, else a warming one, else a
   * cold start. The slot is reserved across every wait and bound in the same
   * turn it is found ready, so no two launches can get one slot.
   */
  async #claim(request: LaunchRequest, waited = false): Promise<Slot> {
    const ready = this.#slots.find((s) => s.state === "ready" && !s.reservedBy);
    if (ready) return this.#bind(ready, request);
    const warming = this.#slots.find((s) =>
      s.state === "provisioning" && !s.reservedBy
    );
    const free = warming
      ? undefined
      : this.#slots.find((s) => s.state === "free");
    const slot = warming ?? free;
    if (!slot) {
      const recycling = this.#slots.flatMap((s) =>
        s.recycling ? [s.recycling] : []
      );
      if (recycling.length && !waited) {
        // A slot is being cleaned: worth a short wait rather than a refusal.
        await withTimeout(Promise.race(recycling), RECYCLE_WAIT_MS).catch(
          () => {},
        );
        this.#assertRunning();
        return this.#claim(request, true);
      }
      throw new PoolExhaustedError(
        Math.min(
          30,
          Math.ceil(this.#config.webstreamSettings.provisioningTimeout),
        ),
      );
    }
    slot.reservedBy = request.sessionId;
    try {
      if (free) await this.#provision(free);
      else await slot.ready!.promise;
      this.#assertRunning();
      return this.#bind(slot, request);
    } finally {
      slot.reservedBy = undefined;
    }
  }

  #bind(slot: Slot, request: LaunchRequest): Slot {
    if (slot.state !== "ready") {
      throw new PoolUnavailableError(`slot ${slot.number} is ${slot.state}`);
    }
    slot.reservedBy = undefined;
    this.#setState(slot, "active");
    slot.sessionId = request.sessionId;
    slot.clientConnected = false;
    this.#bySessionId.set(request.sessionId, slot);
    return slot;
  }

  #assertRunning(): void {
    if (this.#stopping) {
      throw new PoolUnavailableError("the host is shutting down");
    }
  }

  async #reconnect(slot: Slot, request: LaunchRequest): Promise<Allocation> {
    try {
      const allocation = await this.#issueToken(slot, request, true);
      this.#launchApp(slot, request);
      if (!slot.clientConnected) this.#armGrace(slot);
      this.#logger.info("session reconnected", {
        sessionId: request.sessionId,
        slot: slot.number,
      });
      return allocation;
    } catch (error) {
      this.#assertRunning();
      // The session is gone (its streamer died): start a new one instead.
      this.#recycle(slot, `reconnect failed: ${(error as Error).message}`);
      return this.#allocateNew(request);
    }
  }

  async #issueToken(
    slot: Slot,
    request: LaunchRequest,
    reconnect: boolean,
  ): Promise<Allocation> {
    const ttlSeconds = Math.ceil(
      this.#config.webstreamSettings.connectionTokenTtl,
    );
    const token = newToken();
    const tokenHash = await hashToken(token);
    const ack = deferred<void>();
    slot.pendingTokens.set(tokenHash, ack);
    try {
      // The viewer's policy and size go first: the streamer applies them to
      // the viewer that presents this token.
      slot.link?.send({
        type: "VIEWER_SETTINGS",
        sessionUuid: slot.sessionUuid!,
        settings: JSON.stringify({
          policy: request.policy,
          width: request.width,
          height: request.height,
        }),
      });
      const sent = slot.link?.send({
        type: "CONNECTION_TOKEN",
        sessionUuid: slot.sessionUuid!,
        tokenHash,
        ttlSeconds,
      });
      if (!sent) throw new Error("streamer is not connected");
      await withTimeout(ack.promise, this.#tokenAckTimeoutMs, {
        message: "streamer did not acknowledge the connection token",
      });
    } finally {
      slot.pendingTokens.delete(tokenHash);
    }
    return {
      sessionId: slot.sessionId!,
      sessionUuid: slot.sessionUuid!,
      slot: slot.number,
      username: slot.account,
      port: slot.port,
      token,
      tokenExpiresAt: new Date(Date.now() + ttlSeconds * 1000),
      reconnect,
    };
  }

  /** Starts the request's app in the session unless it already runs there. */
  #launchApp(slot: Slot, request: LaunchRequest): void {
    const command = request.app.command ?? "";
    if (!command || slot.launched.has(command)) return;
    slot.launched.add(command);
    slot.link?.send({
      type: "SESSION_INFO",
      sessionUuid: slot.sessionUuid!,
      commandLineParams: command,
    });
  }

  #armGrace(slot: Slot): void {
    clearTimeout(slot.graceTimer);
    const seconds = this.#config.webstreamSettings.reconnectGracePeriod;
    slot.graceTimer = setTimeout(
      () => this.#recycle(slot, "no viewer within the reconnect grace period"),
      seconds * 1000,
    );
  }

  async #provision(slot: Slot): Promise<void> {
    this.#assertRunning();
    const s = this.#config.webstreamSettings;
    this.#setState(slot, "provisioning");
    slot.sessionUuid = crypto.randomUUID();
    slot.ready = deferred();
    const proof = this.#licence && this.#licenceSecret
      ? await licenceProof(this.#licenceSecret, slot.sessionUuid)
      : undefined;
    // A shutdown that began meanwhile has already passed this slot by.
    this.#assertRunning();
    const starting = this.#platform.startSession({
      slot: slot.number,
      account: slot.account,
      streamerPort: slot.port,
      bindAddress: this.#bindAddress,
      controlUrl: this.#controlUrl,
      screen: s.screen,
      licence: this.#licence && { ...this.#licence, proof },
      reporting: this.#licence && {
        metrics: this.#config.metrics,
        activityLogging: this.#config.activityLogging,
      },
    });
    slot.starting = starting;
    try {
      await withTimeout(
        (async () => {
          const session = await starting;
          slot.session = session;
          session.ended.then((reason) => {
            if (slot.session === session) this.#recycle(slot, reason);
          });
          await slot.ready!.promise;
        })(),
        s.provisioningTimeout * 1000,
        { message: `no streamer handshake within ${s.provisioningTimeout} s` },
      );
    } catch (error) {
      if (this.#stopping) throw error;
      this.#failures++;
      this.#logger.error("provisioning failed", {
        slot: slot.number,
        account: slot.account,
        error,
      });
      this.#recycle(slot, `provisioning failed: ${(error as Error).message}`);
      throw error;
    }
  }

  /** Keeps `warmSessionCount` slots ready or warming. */
  #replenish(): void {
    if (!this.#started || this.#stopping || this.#replenishTimer) return;
    if (this.#failures) {
      // Back off while sessions keep failing to start.
      const wait = Math.min(30_000, 500 * 2 ** Math.min(this.#failures, 6));
      this.#replenishTimer = setTimeout(() => {
        this.#replenishTimer = undefined;
        this.#fillWarm();
      }, wait);
      return;
    }
    this.#fillWarm();
  }

  #fillWarm(): void {
    if (this.#stopping) return;
    const warm =
      this.#slots.filter((s) =>
        (s.state === "ready" || s.state === "provisioning") && !s.reservedBy
      ).length;
    let need = this.#config.webstreamSettings.warmSessionCount - warm;
    for (const slot of this.#slots) {
      if (need <= 0) break;
      if (slot.state !== "free") continue;
      need--;
      this.#provision(slot).catch(() => {});
    }
  }

  #recycle(slot: Slot, reason: string): Promise<void> {
    if (slot.recycling) return slot.recycling;
    if (this.#stopping) return Promise.resolve(); // shutdown() ends sessions
    this.#logger.info("recycling session", {
      slot: slot.number,
      account: slot.account,
      sessionId: slot.sessionId,
      reason,
    });
    const bound = slot.state === "active" || slot.state === "disconnected";
    if (bound && slot.sessionUuid && slot.sessionId) {
      this.#onSessionEnd?.({
        sessionUuid: slot.sessionUuid,
        sessionId: slot.sessionId,
        reason,
      });
    }
    this.#setState(slot, "recycling");
    clearTimeout(slot.graceTimer);
    slot.ready?.reject(new Error(reason));
    for (const ack of slot.pendingTokens.values()) {
      ack.reject(new Error(reason));
    }
    for (const [sessionId, bound] of this.#bySessionId) {
      if (bound === slot) this.#bySessionId.delete(sessionId);
    }
    const link = slot.link;
    slot.link = undefined;
    link?.close("session recycled", 1000);
    // #cleanUp clears slot.recycling itself, before the slot can be reused.
    slot.recycling = this.#cleanUp(slot);
    return slot.recycling;
  }

  async #cleanUp(slot: Slot): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        await slot.starting?.catch(() => {});
        if (slot.session) await this.#platform.endSession(slot.session);
        slot.session = undefined;
        slot.starting = undefined;
        if (this.#stopping) break;
        this.#reportProblems(
          slot,
          await this.#platform.cleanAccount(slot.account, this.#hygiene),
        );
        await this.#platform.rotatePassword(slot.account, newPassword());
        break;
      } catch (error) {
        // Never hand out a slot whose logoff or hygiene did not complete.
        this.#logger.error("recycle failed; slot kept out of service", {
          slot: slot.number,
          attempt,
          error,
        });
        if (this.#stopping) break;
        await delay(Math.min(60_000, 1000 * 2 ** Math.min(attempt, 6)), {
          signal: this.#stop.signal,
        });
      }
    }
    slot.sessionUuid = undefined;
    slot.sessionId = undefined;
    slot.ready = undefined;
    slot.clientConnected = false;
    slot.launched.clear();
    slot.recycling = undefined;
    if (this.#stopping) return;
    this.#setState(slot, "free");
    this.#replenish();
  }

  #reportProblems(slot: Slot, problems: string[]): void {
    for (const problem of problems) {
      this.#logger.warn("filesystem restriction not applied", {
        account: slot.account,
        problem,
      });
    }
  }

  #setState(slot: Slot, state: SlotState): void {
    if (slot.state === state) return;
    this.#logger.debug("slot state", {
      slot: slot.number,
      from: slot.state,
      to: state,
    });
    slot.state = state;
    slot.since = Date.now();
  }
}
