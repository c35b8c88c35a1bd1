/**
 * The session host's side of the gateway contract: after a local `/health`
 * self-check, `POST /gateway/register` (retried every
 * `registrationRetryInterval` s, up to `registrationMaxAttempts` times), then
 * `POST /gateway/heartbeat` every `heartbeatInterval` s. A heartbeat answered
 * 404 means the gateway forgot this host (or never knew it: registration
 * gave up while it was down), so it registers again. On shutdown,
 * `POST /gateway/unregister` with a bounded wait, whenever the gateway
 * accepted a registration: one still in flight when the stop comes is
 * finished first (bounded by the request timeout), so a host stopped while
 * registering is not left registered. A gateway that is down never stops
 * the host from serving.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { HeartbeatPayload, RegisterPayload } from "../contract/mod.ts";
import { delay } from "../util/async.ts";
import type { GatewayEndpoints } from "./gateway_endpoints.ts";
import { postToGateway } from "./gateway_post.ts";
import type { LoadSample } from "./system_load.ts";

export * from "./gateway_endpoints.ts";
export * from "./gateway_post.ts";
export * from "./instance_metadata.ts";
export * from "./session_end_reporter.ts";
export * from "./system_load.ts";

/** Options for {@linkcode GatewayClient}. */
export interface GatewayClientOptions {
  /** `gateway.backend.gatewayUrl`: one gateway or several. */
  gateway: GatewayEndpoints;
  /** Everything in the register payload. */
  registration: RegisterPayload;
  /** The host's own `/health` URL, checked before registering. */
  selfCheckUrl: string;
  /** `Authorization: Bearer` secret, when configured. */
  sharedSecret?: string;
  /** Heartbeat period. */
  heartbeatIntervalMs: number;
  /** Wait between registration attempts. */
  retryIntervalMs: number;
  /** Registration attempts before giving up. */
  maxAttempts: number;
  /** Timeout of each request to the gateway. */
  requestTimeoutMs: number;
  /** Bound on the unregister call at shutdown. */
  unregisterTimeoutMs: number;
  /** Live pool figures for heartbeats. */
  state: () => { status: string; activeSessions: number };
  /** Load figures for heartbeats. */
  load: () => LoadSample;
  /** Logger. */
  logger: Logger;
  /** HTTP client for the gateway (a private CA, say). */
  client?: Deno.HttpClient;
}

/** Where the client is in its life. */
export type GatewayClientState =
  | "idle"
  | "checking"
  | "registering"
  | "registered"
  | "gave-up"
  | "stopped";

/** Registers with the gateway and keeps the registration alive. */
export class GatewayClient {
  readonly #options: GatewayClientOptions;
  readonly #stop = new AbortController();
  #state: GatewayClientState = "idle";
  #loop?: Promise<void>;
  #heartbeatFailures = 0;
  /** The gateway holds a registration of ours (it answered one with 2xx). */
  #accepted = false;

  constructor(options: GatewayClientOptions) {
    this.#options = options;
  }

  /** The client's state. */
  get state(): GatewayClientState {
    return this.#state;
  }

  /** Starts the self-check, registration and heartbeats in the background. */
  start(): void {
    this.#loop ??= this.#run().catch((error) => {
      this.#options.logger.error("gateway client stopped unexpectedly", {
        error,
      });
    });
  }

  /** Stops heartbeats and unregisters (bounded by `unregisterTimeoutMs`). */
  async stop(): Promise<void> {
    this.#state = "stopped";
    this.#stop.abort();
    // A registration in flight ends first: the gateway may accept it.
    await this.#loop;
    if (!this.#accepted) return;
    this.#accepted = false;
    const { registration, unregisterTimeoutMs, logger } = this.#options;
    try {
      const response = await this.#post(
        "unregister",
        { serverUrl: registration.serverUrl },
        // After the stop: bounded by its own timeout only.
        { timeoutMs: unregisterTimeoutMs },
      );
      await response.body?.cancel();
      logger.info("unregistered from gateway", { status: response.status });
    } catch (error) {
      logger.warn("unregister failed", { error });
    }
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    this.#state = "checking";
    await this.#selfCheck();
    if (signal.aborted) return;
    await this.#register();
    // Heartbeats go on even after registration gave up: the first one a
    // gateway answers with 404 starts a new round of registration attempts,
    // so a host joins whenever its gateway comes back.
    while (!signal.aborted) {
      await delay(this.#options.heartbeatIntervalMs, { signal });
      if (signal.aborted) return;
      if ((await this.#heartbeat()) === "forgotten") {
        this.#accepted = false;
        this.#options.logger.warn(
          "gateway does not know this host; registering again",
        );
        await this.#register();
      }
    }
  }

  /** Waits until the host's own `/health` answers 200. */
  async #selfCheck(): Promise<void> {
    const { selfCheckUrl, logger } = this.#options;
    const signal = this.#stop.signal;
    for (let attempt = 1; !signal.aborted; attempt++) {
      try {
        const response = await fetch(selfCheckUrl, {
          signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
        });
        await response.body?.cancel();
        if (response.ok) return;
        if (attempt === 1) {
          logger.info("waiting for local health before registering", {
            status: response.status,
          });
        }
      } catch (error) {
        if (attempt === 1) {
          logger.warn("local health self-check failed", { error });
        }
      }
      await delay(500, { signal });
    }
  }

  async #register(): Promise<boolean> {
    const { maxAttempts, retryIntervalMs, registration, logger } =
      this.#options;
    const signal = this.#stop.signal;
    this.#state = "registering";
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (signal.aborted) return false;
      try {
        // Not cut short by a stop: its answer says whether to unregister.
        const response = await this.#post("register", registration, {
          timeoutMs: this.#options.requestTimeoutMs,
        });
        const detail = (await response.text()).slice(0, 200);
        if (response.ok) {
          this.#accepted = true;
          if (signal.aborted) return false;
          this.#state = "registered";
          this.#heartbeatFailures = 0;
          logger.info("registered with gateway", { attempt });
          return true;
        }
        logger.warn("gateway refused registration", {
          attempt,
          status: response.status,
          detail,
        });
      } catch (error) {
        if (signal.aborted) return false;
        logger.warn("registration failed", { attempt, maxAttempts, error });
      }
      if (attempt < maxAttempts) await delay(retryIntervalMs, { signal });
    }
    if (!signal.aborted) {
      this.#state = "gave-up";
      logger.error("gave up registering with the gateway", {
        attempts: maxAttempts,
      });
    }
    return false;
  }

  async #heartbeat(): Promise<"ok" | "failed" | "forgotten"> {
    const { registration, state, load, logger } = this.#options;
    const { status, activeSessions } = state();
    const payload: HeartbeatPayload = {
      serverUrl: registration.serverUrl,
      status,
      activeSessions,
      maxSessions: registration.maxSessions,
      instanceType: registration.instanceType,
      tags: registration.tags,
      ...load(),
      timestamp: new Date().toISOString(),
    };
    try {
      const response = await this.#post("heartbeat", payload);
      await response.body?.cancel();
      if (response.status === 404) return "forgotten";
      if (!response.ok) throw new Error(`gateway answered ${response.status}`);
      if (this.#heartbeatFailures) {
        logger.info("heartbeats reach the gateway again", {
          failed: this.#heartbeatFailures,
        });
      }
      this.#heartbeatFailures = 0;
      return "ok";
    } catch (error) {
      if (this.#stop.signal.aborted) return "failed";
      // Log the first failure of a run loudly, the rest quietly.
      const log = this.#heartbeatFailures++ ? logger.debug : logger.warn;
      log("heartbeat failed", { error, consecutive: this.#heartbeatFailures });
      return "failed";
    }
  }

  #post(
    path: string,
    body: unknown,
    options: { timeoutMs: number; signal?: AbortSignal } = {
      timeoutMs: this.#options.requestTimeoutMs,
      signal: this.#stop.signal,
    },
  ): Promise<Response> {
    return postToGateway(this.#options, path, { body, ...options });
  }
}
