/**
 * Launches: binding a session to a gateway session id (a ready slot, else a
 * warming one, else a cold start; reserved across every wait so no two
 * launches get one slot), arming a one-time token with the streamer, and
 * starting the launch's app in the session; the same session id again gets
 * a fresh token in the same session, once its streamer is back if it was
 * being restarted.
 *
 * @module
 */
import { withTimeout } from "../util/async.ts";
import { appLaunched, endsWithApps } from "./app_lifetime.ts";
import {
  PoolExhaustedError,
  PoolUnavailableError,
  SessionGoneError,
} from "./errors.ts";
import {
  type AttachedStreamer,
  type BoundSlot,
  deferred,
  isBound,
  linkOf,
  type ProvisioningSlot,
} from "./slot_state.ts";
import type { Slot, SlotTable } from "./slot_table.ts";
import type { StreamerSupervisor } from "./streamers.ts";
import { hashToken, newToken } from "./tokens.ts";
import type { Allocation, LaunchRequest } from "./types.ts";
import type { Warming } from "./warming.ts";

/** How long a launch waits for a slot being recycled before a 503. */
const RECYCLE_WAIT_MS = 10_000;

/** Options for {@linkcode Allocator}. */
export interface AllocatorOptions {
  /** Session starts. */
  warming: Warming;
  /** The slots' streamers. */
  streamers: StreamerSupervisor;
  /** How long a streamer has to acknowledge a token. */
  tokenAckTimeoutMs: number;
}

/** The launches of one pool. */
export class Allocator {
  readonly #table: SlotTable;
  readonly #warming: Warming;
  readonly #streamers: StreamerSupervisor;
  readonly #tokenAckTimeoutMs: number;

  /** Allocates `table`'s slots. */
  constructor(table: SlotTable, options: AllocatorOptions) {
    this.#table = table;
    this.#warming = options.warming;
    this.#streamers = options.streamers;
    this.#tokenAckTimeoutMs = options.tokenAckTimeoutMs;
  }

  /**
   * Binds a new session to `request.sessionId` (a ready slot, a warming
   * one, or a cold start) and arms its first token; three tries.
   *
   * @throws {PoolExhaustedError} when no slot can take the launch.
   */
  async allocateNew(request: LaunchRequest): Promise<Allocation> {
    let lastError: Error | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      this.#table.assertRunning();
      let slot: Slot | undefined;
      try {
        slot = await this.#claim(request);
        const phase = slot.phase as BoundSlot;
        const allocation = await this.#issueToken(
          slot,
          phase,
          phase.streamer as AttachedStreamer,
          request,
          false,
        );
        this.#launchApp(slot, phase, request);
        this.#table.armGrace(slot, phase);
        // On disk before the answer: a host that crashes from now on takes
        // the session back bound.
        await this.#table.persist(slot);
        this.#table.logger.info("session allocated", {
          sessionId: request.sessionId,
          slot: slot.number,
          sessionUuid: phase.sessionUuid,
        });
        return allocation;
      } catch (error) {
        if (error instanceof PoolExhaustedError) throw error;
        this.#table.assertRunning();
        lastError = error as Error;
        // A session that never served anyone: another slot is quicker.
        if (slot) {
          this.#table.recycle(slot, `allocation failed: ${lastError.message}`);
        }
      } finally {
        this.#warming.replenish();
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
    const ready = this.#table.slots.find((s) =>
      s.phase.state === "ready" && !s.phase.reservedBy
    );
    if (ready) return this.#bind(ready, request);
    const warming = this.#table.slots.find((s) =>
      s.phase.state === "provisioning" && !s.phase.reservedBy
    );
    const free = warming
      ? undefined
      : this.#table.slots.find((s) => s.phase.state === "free");
    if (!warming && !free) {
      const recycling = this.#table.slots.flatMap((s) =>
        s.phase.state === "recycling" ? [s.phase.done] : []
      );
      if (recycling.length && !waited) {
        // A slot is being cleaned: worth a short wait rather than a refusal.
        await withTimeout(Promise.race(recycling), RECYCLE_WAIT_MS).catch(
          () => {},
        );
        this.#table.assertRunning();
        return this.#claim(request, true);
      }
      throw new PoolExhaustedError(
        Math.min(
          30,
          Math.ceil(this.#table.config.webstreamSettings.provisioningTimeout),
        ),
      );
    }
    if (warming) {
      const phase = warming.phase as ProvisioningSlot;
      phase.reservedBy = request.sessionId;
      try {
        await phase.ready.promise;
      } finally {
        if (warming.phase === phase) phase.reservedBy = undefined;
      }
      this.#table.assertRunning();
      return this.#bind(warming, request);
    }
    await this.#warming.provision(free!, request.sessionId);
    this.#table.assertRunning();
    return this.#bind(free!, request);
  }

  #bind(slot: Slot, request: LaunchRequest): Slot {
    const phase = slot.phase;
    if (phase.state !== "ready") {
      throw new PoolUnavailableError(`slot ${slot.number} is ${phase.state}`);
    }
    this.#table.enter(slot, {
      state: "active",
      sessionUuid: phase.sessionUuid,
      sessionId: request.sessionId,
      session: phase.session,
      streamer: phase.streamer,
      clientConnected: false,
      launched: new Set(),
      apps: new Map(),
      endsWithApps: endsWithApps(request),
      restarts: [],
    });
    this.#table.bySessionId.set(request.sessionId, slot);
    return slot;
  }

  /**
   * A fresh token for the session bound in `slot` (waiting for its
   * streamer while one is restarted); a new session when it has ended.
   */
  async reconnect(slot: Slot, request: LaunchRequest): Promise<Allocation> {
    const phase = slot.phase;
    try {
      if (!isBound(phase)) throw new SessionGoneError(`slot is ${phase.state}`);
      // Twice at most: a streamer that does not acknowledge is replaced.
      for (let attempt = 1;; attempt++) {
        const streamer = await this.#streamers.back(slot, phase);
        try {
          const allocation = await this.#issueToken(
            slot,
            phase,
            streamer,
            request,
            true,
          );
          this.#launchApp(slot, phase, request);
          if (!phase.clientConnected) this.#table.armGrace(slot, phase);
          this.#table.logger.info("session reconnected", {
            sessionId: request.sessionId,
            slot: slot.number,
          });
          return allocation;
        } catch (error) {
          this.#table.assertRunning();
          if (slot.phase !== phase) {
            throw new SessionGoneError((error as Error).message);
          }
          if (attempt >= 2) throw error;
          this.#streamers.restart(slot, phase, (error as Error).message);
        }
      }
    } catch (error) {
      this.#table.assertRunning();
      if (!(error instanceof SessionGoneError)) throw error;
      // The session is gone: start a new one instead.
      return this.allocateNew(request);
    }
  }

  async #issueToken(
    slot: Slot,
    phase: BoundSlot,
    streamer: AttachedStreamer,
    request: LaunchRequest,
    reconnect: boolean,
  ): Promise<Allocation> {
    const ttlSeconds = Math.ceil(
      this.#table.config.webstreamSettings.connectionTokenTtl,
    );
    const token = newToken();
    const tokenHash = await hashToken(token);
    const ack = deferred<void>();
    streamer.tokens.set(tokenHash, ack);
    try {
      // The viewer's policy and size go first: the streamer applies them to
      // the viewer that presents this token.
      streamer.link.send({
        type: "VIEWER_SETTINGS",
        sessionUuid: phase.sessionUuid,
        settings: JSON.stringify({
          policy: request.policy,
          width: request.width,
          height: request.height,
          app: viewedApp(request, phase.apps),
          appName: (viewedApp(request, phase.apps) && request.app.name) ||
            undefined,
        }),
      });
      const sent = streamer.link.send({
        type: "CONNECTION_TOKEN",
        sessionUuid: phase.sessionUuid,
        tokenHash,
        ttlSeconds,
      });
      if (!sent) throw new Error("streamer is not connected");
      await withTimeout(ack.promise, this.#tokenAckTimeoutMs, {
        message: "streamer did not acknowledge the connection token",
      });
    } finally {
      streamer.tokens.delete(tokenHash);
    }
    return {
      sessionId: phase.sessionId,
      sessionUuid: phase.sessionUuid,
      slot: slot.number,
      username: slot.account,
      port: slot.port,
      token,
      tokenExpiresAt: new Date(Date.now() + ttlSeconds * 1000),
      reconnect,
    };
  }

  /**
   * Starts the request's app in the session unless it already runs there
   * (one that closed may start again); a desktop's launch makes the session
   * one that does not end with its apps.
   */
  #launchApp(slot: Slot, phase: BoundSlot, request: LaunchRequest): void {
    if (!endsWithApps(request) && phase.endsWithApps) {
      phase.endsWithApps = false;
      this.#table.persist(slot);
    }
    const command = request.app.command ?? "";
    if (!command || phase.launched.has(command)) return;
    phase.launched.add(command);
    appLaunched(phase);
    linkOf(phase)?.send({
      type: "SESSION_INFO",
      sessionUuid: phase.sessionUuid,
      commandLineParams: command,
    });
    this.#table.persist(slot);
  }
}

/**
 * The app a viewer's tab shows: the command line of an app workspace's app
 * (the tab shows that app's windows only), remembered in `apps` by its id
 * (`X-App-ID`) for a tab that reconnects, which names its app by id only;
 * undefined for a desktop (the whole screen).
 */
export function viewedApp(
  request: LaunchRequest,
  apps: Map<string, string>,
): string | undefined {
  if (request.workspace.type === "desktop") return undefined;
  const { id, command } = request.app;
  if (id && command) apps.set(id, command);
  return command || (id ? apps.get(id) : undefined);
}
