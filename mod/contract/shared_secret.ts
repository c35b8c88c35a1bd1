/**
 * The gateway's shared secret: `/getConnection` is for the gateway only, so
 * when a secret is configured the request must carry
 * `Authorization: Bearer <secret>`.
 *
 * @module
 */
import { timingSafeEqual } from "../util/encoding.ts";

/** True when no secret is configured, or the request carries it. */
export function hasSharedSecret(
  headers: Headers,
  secret: string | undefined,
): boolean {
  if (!secret) return true;
  const header = headers.get("authorization") ?? "";
  const match = header.match(/^Bearer\s+(.+)$/i);
  return match !== null && timingSafeEqual(match[1], secret);
}

/** The `Authorization` header value that carries `secret`. */
export function bearer(secret: string): string {
  return `Bearer ${secret}`;
}
