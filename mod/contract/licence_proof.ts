/**
 * A streamer's proof that it runs a session its host started: the HMAC-SHA256
 * of the session's internal id under the farm's shared secret. The host gives
 * it to the streamer (in its environment, never on a command line); the
 * gateway checks it on every check-in, metrics report and activity event, so
 * knowing a session id alone lets nobody keep a session alive or write to
 * its records.
 *
 * @module
 */
import { encodeHex, timingSafeEqual } from "../util/encoding.ts";

/** The environment variable that carries the proof to the streamer. */
export const LICENCE_PROOF_ENV = "WEBSTREAM_LICENCE_PROOF";

async function key(secret: string): Promise<CryptoKey> {
  return await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/** The proof for `sessionUuid` (lowercase hex). */
export async function licenceProof(
  secret: string,
  sessionUuid: string,
): Promise<string> {
  const mac = await crypto.subtle.sign(
    "HMAC",
    await key(secret),
    new TextEncoder().encode(`webstream-licence:${sessionUuid}`),
  );
  return encodeHex(new Uint8Array(mac));
}

/** True when `proof` is the proof for `sessionUuid`. */
export async function verifyLicenceProof(
  secret: string,
  sessionUuid: string,
  proof: string,
): Promise<boolean> {
  return timingSafeEqual(await licenceProof(secret, sessionUuid), proof);
}
