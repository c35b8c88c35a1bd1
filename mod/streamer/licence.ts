/**
 * The streamer's licence check-ins: `POST {gatewayUrl}/gateway/licence/checkin`
 * with `{ sessionUuid, serverUrl, proof }` every 15 s (or the interval the gateway
 * answers with) while the session is allocated. With several gateways they
 * fail over as the host's registration does (`GatewayEndpoints`). A gateway
 * that refuses the session (403, or 404 three times in a row: it never
 * placed or already ended it) ends the session; one that cannot be reached
 * does not.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { delay } from "../util/async.ts";
import { GatewayEndpoints } from "../registration/gateway_endpoints.ts";

/** Options for {@linkcode startLicenceCheckins}. */
export interface LicenceCheckinOptions {
  /** `gateway.backend.gatewayUrl`: one gateway or several, in order. */
  gatewayUrl: string | readonly string[];
  /** The host's `serverUrl`. */
  serverUrl: string;
  /** A CA certificate (PEM file) for the gateway. */
  caCertificate?: string;
  /** The session checked in. */
  sessionUuid: string;
  /** Its licence proof from the host, when it has one. */
  proof?: string;
  /** Called once when the gateway refuses the session. */
  onRefused: (reason: string) => void;
  /** Logger. */
  logger: Logger;
  /** Interval until the gateway says otherwise. Default 15 000 ms. */
  intervalMs?: number;
  /**
   * Wait before the first check-in, so the gateway has recorded the session
   * it just placed. Default 2000 ms.
   */
  firstDelayMs?: number;
}

/** Running check-ins. */
export interface LicenceCheckins {
  /** Stops checking in. */
  stop(): void;
}

/** Unknown-session answers in a row after which the session ends. */
export const MAX_UNKNOWN = 3;

/** Starts checking in (the first check-in after `firstDelayMs`). */
export function startLicenceCheckins(
  options: LicenceCheckinOptions,
): LicenceCheckins {
  const stopping = new AbortController();
  const { logger } = options;
  const gateways = new GatewayEndpoints(options.gatewayUrl);
  (async () => {
    const client = options.caCertificate
      ? Deno.createHttpClient({
        caCerts: [await Deno.readTextFile(options.caCertificate)],
      })
      : undefined;
    // The client is closed however the check-ins end (stop, refusal).
    try {
      let interval = options.intervalMs ?? 15_000;
      let unknown = 0;
      let unreachable = 0;
      let rejected = 0;
      await delay(options.firstDelayMs ?? 2000, { signal: stopping.signal });
      while (!stopping.signal.aborted) {
        try {
          const response = await gateways.fetch("licence/checkin", {
            client,
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({
              sessionUuid: options.sessionUuid,
              serverUrl: options.serverUrl,
              proof: options.proof,
            }),
          }, { timeoutMs: 10_000, signal: stopping.signal });
          const body = await response.json().catch(() => ({}));
          if (typeof body.interval === "number" && body.interval > 0) {
            interval = body.interval * 1000;
          }
          unreachable = 0;
          if (response.ok) unknown = 0;
          else if (response.status === 400 && !rejected++) {
            // Nothing will change on its own (no proof given, say): say so.
            logger.error("the gateway rejects this streamer's check-ins", {
              error: body.error,
            });
          } else if (response.status === 403) {
            return options.onRefused(`licence refused: ${body.error ?? "403"}`);
          } else if (response.status === 404 && ++unknown >= MAX_UNKNOWN) {
            return options.onRefused("the gateway does not know this session");
          }
        } catch (error) {
          if (stopping.signal.aborted) return;
          if (!unreachable++) {
            logger.warn("licence check-in failed; the session continues", {
              error,
            });
          }
        }
        await delay(interval, { signal: stopping.signal });
      }
    } finally {
      client?.close();
    }
  })().catch((error) => logger.error("licence check-ins stopped", { error }));
  return { stop: () => stopping.abort() };
}
