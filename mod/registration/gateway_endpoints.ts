/**
 * The gateways a session host (and its streamers) may talk to: one URL, or
 * several (`gateway.backend.gatewayUrl` as a list: gateways that share one
 * state store, or one load-balanced name). Requests go to the gateway that
 * answered last; when it does not answer (a network error, or 502/503/504
 * from a proxy in front of it) the next ones are tried in turn, and the
 * first that answers is kept. A host therefore moves to another gateway
 * only when its own is gone, and stays there: no flapping, no storm of
 * registrations when one gateway of several dies.
 *
 * @module
 */

/** Answers that mean "this gateway is not there" (a proxy in front says so). */
const GONE = new Set([502, 503, 504]);

/**
 * One request, as `fetch` takes it: the body is a string (sent again to the
 * next gateway), and the signal comes with the call's options.
 */
export type GatewayRequest = Omit<RequestInit, "body" | "signal"> & {
  body?: string;
  client?: Deno.HttpClient;
};

/** The gateways, in order of preference; see the module documentation. */
export class GatewayEndpoints {
  readonly #urls: string[];
  #current = 0;

  /** `urls`: at least one http(s) URL (validated by the caller's schema). */
  constructor(urls: string | readonly string[]) {
    const list = typeof urls === "string" ? [urls] : [...urls];
    if (!list.length) throw new RangeError("at least one gateway URL");
    this.#urls = list.map((url) => url.replace(/\/+$/, ""));
  }

  /** Every gateway, without trailing slashes. */
  get urls(): readonly string[] {
    return this.#urls;
  }

  /** The gateway requests go to now. */
  get current(): string {
    return this.#urls[this.#current];
  }

  /**
   * Sends `request` to `{gateway}/gateway/{path}`: the current gateway
   * first, then each other one once, each attempt bounded by
   * `options.timeoutMs`, while `options.signal` allows. An answer other
   * than 502/503/504 is returned (and its gateway kept); when none answers,
   * the last error is thrown (or the last such answer returned).
   */
  async fetch(
    path: string,
    request: GatewayRequest,
    options: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<Response> {
    const { signal, timeoutMs } = options;
    let failure: unknown;
    let gone: Response | undefined;
    for (let i = 0; i < this.#urls.length; i++) {
      const index = (this.#current + i) % this.#urls.length;
      signal?.throwIfAborted();
      const attempt = AbortSignal.timeout(timeoutMs);
      try {
        const response = await fetch(`${this.#urls[index]}/gateway/${path}`, {
          ...request,
          signal: signal ? AbortSignal.any([signal, attempt]) : attempt,
        });
        if (GONE.has(response.status) && this.#urls.length > 1) {
          await gone?.body?.cancel();
          gone = response;
          continue;
        }
        await gone?.body?.cancel();
        this.#current = index;
        return response;
      } catch (error) {
        if (signal?.aborted) throw error;
        failure = error;
      }
    }
    if (gone) return gone;
    throw failure;
  }
}
