/**
 * Header values outside printable ASCII (a workspace called "Büro", a
 * command under `C:\Programme\Büro`) cannot travel in HTTP headers as they
 * are. The gateway sends them as one RFC 2047 encoded word,
 * `=?utf-8?b?<base64 of the UTF-8 text>?=`, and the host decodes
 * `X-Workspace-*` and `X-App-*` values that have that form.
 *
 * @module
 */

const ENCODED = /^=\?utf-8\?b\?([A-Za-z0-9+/]*={0,2})\?=$/i;

/** The value as it can travel in a header. */
export function encodeHeaderValue(value: string): string {
  // Plain ASCII travels as it is, unless it would read as an encoded word.
  if (/^[\x20-\x7e]*$/.test(value) && !ENCODED.test(value)) return value;
  const bytes = new TextEncoder().encode(value);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `=?utf-8?b?${btoa(binary)}?=`;
}

/** The value a header carried (decoding an encoded word). */
export function decodeHeaderValue(value: string): string {
  const match = value.match(ENCODED);
  if (!match) return value;
  try {
    const bytes = Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0));
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return value;
  }
}
