/**
 * One POST from a session host to its gateway's `/gateway/…` routes, with
 * the farm's shared secret: the one way registration, heartbeats and
 * session-end reports reach the gateway.
 *
 * @module
 */
import { bearer } from "../contract/shared_secret.ts";
import type { GatewayEndpoints } from "./gateway_endpoints.ts";

/** Where and how a host reaches its gateway. */
export interface GatewayTarget {
  /** `gateway.backend.gatewayUrl`: one gateway or several. */
  gateway: GatewayEndpoints;
  /** `Authorization: Bearer` secret, when configured. */
  sharedSecret?: string;
  /** HTTP client for the gateway (a private CA, say). */
  client?: Deno.HttpClient;
}

/**
 * POSTs `body` as JSON to `{gateway}/gateway/{path}` (another gateway of
 * the list when this one does not answer within `timeoutMs`).
 */
export function postToGateway(
  target: GatewayTarget,
  path: string,
  options: { body: unknown; timeoutMs: number; signal?: AbortSignal },
): Promise<Response> {
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
  };
  if (target.sharedSecret) headers.Authorization = bearer(target.sharedSecret);
  return target.gateway.fetch(path, {
    client: target.client,
    method: "POST",
    headers,
    body: JSON.stringify(options.body),
  }, { timeoutMs: options.timeoutMs, signal: options.signal });
}
