/**
 * One POST from a session host to its gateway's `/gateway/…` routes, with
 * the farm's shared secret: the one way registration, heartbeats and
 * session-end reports reach the gateway.
 *
 * @module
 */
import { bearer } from "../contract/shared_secret.ts";

/** Where and how a host reaches its gateway. */
export interface GatewayTarget {
  /** `gateway.backend.gatewayUrl`. */
  gatewayUrl: string;
  /** `Authorization: Bearer` secret, when configured. */
  sharedSecret?: string;
  /** HTTP client for the gateway (a private CA, say). */
  client?: Deno.HttpClient;
}

/** POSTs `body` as JSON to `gatewayUrl/gateway/{path}`. */
export function postToGateway(
  target: GatewayTarget,
  path: string,
  options: { body: unknown; signal: AbortSignal },
): Promise<Response> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
  };
  if (target.sharedSecret) headers.Authorization = bearer(target.sharedSecret);
  return fetch(`${target.gatewayUrl.replace(/\/$/, "")}/gateway/${path}`, {
    client: target.client,
    method: "POST",
    headers,
    body: JSON.stringify(options.body),
    signal: options.signal,
  });
}
