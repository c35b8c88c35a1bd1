/**
 * Tells the gateway at once when a session ends on this host
 * (`POST /gateway/sessionEnded`, `mod/contract/sessions.ts`), so it never
 * sends anyone to a session that is gone. Reports are kept and retried,
 * with a growing wait, until the gateway answers; a gateway that does not
 * know the session (404) has nothing to end, which counts as done. What is
 * still unsent when the gateway stays away is settled anyway when this host
 * registers again: the gateway then reconciles with `GET /sessions`.
 *
 * @module
 */
import type { SessionEnded } from "../contract/mod.ts";
import type { Logger } from "../log/mod.ts";
import { delay } from "../util/async.ts";
import { type GatewayTarget, postToGateway } from "./gateway_post.ts";

/** Options for {@linkcode SessionEndReporter}. */
export interface SessionEndReporterOptions extends GatewayTarget {
  /** This host's `serverUrl`. */
  serverUrl: string;
  /** Timeout of each request. */
  requestTimeoutMs: number;
  /** Logger. */
  logger: Logger;
  /** First wait after a failed attempt, ms. Default 500. */
  retryMs?: number;
  /** Longest wait between attempts, ms. Default 30 000. */
  maxRetryMs?: number;
  /** Most reports kept while the gateway is away. Default 1000. */
  maxPending?: number;
}

/** A session that ended, as the host reports it. */
export type SessionEndReport = Omit<SessionEnded, "serverUrl">;

/** Sends session-end reports to the gateway, in order, until accepted. */
export class SessionEndReporter {
  readonly #options: SessionEndReporterOptions;
  readonly #queue: SessionEndReport[] = [];
  readonly #stop = new AbortController();
  #sending?: Promise<void>;

  constructor(options: SessionEndReporterOptions) {
    this.#options = options;
  }

  /** Reports still waiting for the gateway. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Queues a report and sends it as soon as the gateway takes it. */
  report(end: SessionEndReport): void {
    if (this.#stop.signal.aborted) return;
    const max = this.#options.maxPending ?? 1000;
    if (this.#queue.length >= max) {
      // Registration reconciles whatever is dropped here.
      const dropped = this.#queue.shift()!;
      this.#options.logger.warn(
        "session-end reports piling up; oldest dropped",
        {
          sessionUuid: dropped.sessionUuid,
          pending: max,
        },
      );
    }
    this.#queue.push({ ...end });
    this.#sending ??= this.#drain().finally(() => this.#sending = undefined);
  }

  /** Stops sending (what is pending is left to the next registration). */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#sending;
  }

  async #drain(): Promise<void> {
    const { retryMs = 500, maxRetryMs = 30_000, logger } = this.#options;
    const signal = this.#stop.signal;
    let failures = 0;
    while (this.#queue.length && !signal.aborted) {
      const end = this.#queue[0];
      const outcome = await this.#send(end);
      if (outcome === "retry") {
        const wait = Math.min(
          maxRetryMs,
          retryMs * 2 ** Math.min(failures, 10),
        );
        failures++;
        await delay(wait, { signal }).catch(() => {});
        continue;
      }
      failures = 0;
      this.#queue.shift();
      if (outcome === "done") {
        logger.debug("gateway told the session ended", {
          sessionUuid: end.sessionUuid,
        });
      }
    }
  }

  /** One attempt: done, refused for good (logged), or worth a retry. */
  async #send(end: SessionEndReport): Promise<"done" | "refused" | "retry"> {
    const { serverUrl, requestTimeoutMs, logger } = this.#options;
    const body: SessionEnded = { serverUrl, ...end };
    try {
      const response = await postToGateway(this.#options, "sessionEnded", {
        body,
        timeoutMs: requestTimeoutMs,
        signal: this.#stop.signal,
      });
      const detail = (await response.text()).slice(0, 200);
      if (response.ok || response.status === 404) return "done";
      if (response.status >= 500 || response.status === 429) return "retry";
      // A refusal that no retry changes (a wrong secret, say).
      logger.error("gateway refused a session-end report", {
        sessionUuid: end.sessionUuid,
        status: response.status,
        detail,
      });
      return "refused";
    } catch (error) {
      if (this.#stop.signal.aborted) return "retry";
      logger.debug("session-end report failed; retrying", {
        sessionUuid: end.sessionUuid,
        error,
      });
      return "retry";
    }
  }
}
