/**
 * Header values outside printable ASCII (a workspace called "Büro", a
 * command under `C:\Programme\Büro`) cannot travel in HTTP headers as they
 * are. The gateway sends them as one RFC 2047 encoded word,
 * `=?utf-8?b?<base64 of the UTF-8 text>?=`, and the host decodes
 * `X-Workspace-*` and `X-App-*` values that have that form.
 *
 * A value shaped like an encoded word (`=?…?=`) that is not one this host
 * can decode (another charset or encoding, broken base64, bytes that are
 * not UTF-8) is refused rather than used literally: it was meant to be
 * decoded, and its literal text is not what the sender meant. So that a
 * plain value of that shape still arrives as it was, the encoder always
 * encodes it.
 *
 * @module
 */

/** The one encoded word the host decodes (strict base64, padded). */
const ENCODED =
  /^=\?utf-8\?b\?((?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?)\?=$/i;

/** Anything shaped like an RFC 2047 encoded word. */
const WORD_SHAPED = /^=\?[\s\S]*\?=$/;

/** The value as it can travel in a header. */
export function encodeHeaderValue(value: string): string {
  // Plain ASCII travels as it is, unless it would read as an encoded word.
  if (/^[\x20-\x7e]*$/.test(value) && !WORD_SHAPED.test(value)) return value;
  const bytes = new TextEncoder().encode(value);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `=?utf-8?b?${btoa(binary)}?=`;
}

/** A header value read: the text it carried, or why it cannot be read. */
export type HeaderValue =
  | { ok: true; value: string }
  | { ok: false; error: string };

/**
 * The text a header value carried: an encoded word decoded, a plain value
 * as it came; a value shaped like an encoded word that does not decode is
 * refused with the reason.
 */
export function readHeaderValue(value: string): HeaderValue {
  if (!WORD_SHAPED.test(value)) return { ok: true, value };
  const match = value.match(ENCODED);
  if (!match) {
    return {
      ok: false,
      error: "a malformed encoded word (expected =?utf-8?b?<base64>?=)",
    };
  }
  try {
    const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return { ok: true, value: text };
  } catch {
    return {
      ok: false,
      error: "a malformed encoded word (its bytes are not UTF-8)",
    };
  }
}

/** A header value that cannot be read (see {@linkcode readHeaderValue}). */
export class HeaderValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HeaderValueError";
  }
}

/**
 * The value a header carried (decoding an encoded word).
 *
 * @throws {HeaderValueError} when it is shaped like an encoded word but does
 *   not decode.
 */
export function decodeHeaderValue(value: string): string {
  const read = readHeaderValue(value);
  if (!read.ok) throw new HeaderValueError(read.error);
  return read.value;
}
