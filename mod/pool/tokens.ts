/**
 * One-time connection tokens: 32 random bytes, base64url. The streamer is
 * only ever told a token's SHA-256, so the token itself exists only in the
 * `/getConnection` answer.
 *
 * @module
 */
import { encodeBase64Url } from "../util/encoding.ts";

export { hashToken } from "../control/token_hash.ts";

/** A new random token. */
export function newToken(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

/** A random password for a pool account (24 characters, no ':' or newline). */
export function newPassword(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(18)));
}
