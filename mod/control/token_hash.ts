/**
 * How a connection token is named on the control channel: the lowercase hex
 * SHA-256 of its text, so the streamer never holds the token itself.
 *
 * @module
 */
import { encodeHex } from "../util/encoding.ts";

/** The lowercase hex SHA-256 of a token. */
export async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(token),
  );
  return encodeHex(new Uint8Array(digest));
}
