/**
 * Security identifiers as bytes: the binary `SID` layout (revision 1, a
 * sub-authority count, a 6-byte big-endian identifier authority, then
 * little-endian 32-bit sub-authorities) and its `S-1-5-32-555` string form,
 * converted without a DLL. advapi32's `ConvertStringSidToSidW` (which also
 * knows SDDL aliases such as `BA`) is in `advapi32.ts`.
 *
 * @module
 */
import { viewOf } from "./struct.ts";

/** `SID_MAX_SUB_AUTHORITIES` (winnt.h). */
export const SID_MAX_SUB_AUTHORITIES = 15;

/**
 * Whether `bytes` is exactly one well-formed binary SID: revision 1, at
 * most 15 sub-authorities, length `8 + 4 × count`.
 */
export function isValidSid(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 8 && bytes[0] === 1 &&
    bytes[1] <= SID_MAX_SUB_AUTHORITIES &&
    bytes.byteLength === 8 + 4 * bytes[1];
}

/** Throws a `TypeError` describing `bytes` unless it is a valid binary SID. */
export function checkSid(bytes: Uint8Array): void {
  if (!isValidSid(bytes)) {
    throw new TypeError(
      `not a binary SID (${bytes.byteLength} bytes, revision ${bytes[0]}, ${
        bytes[1]
      } sub-authorities)`,
    );
  }
}

/** A binary SID (`PSID` bytes) from its string form, e.g. `S-1-5-32-555`. */
export function sidFromString(sid: string): Uint8Array<ArrayBuffer> {
  const m = /^S-1-(\d+)((?:-\d+)*)$/i.exec(sid);
  if (!m) throw new TypeError(`invalid SID string ${JSON.stringify(sid)}`);
  const authority = BigInt(m[1]);
  const subs = m[2] ? m[2].slice(1).split("-").map(Number) : [];
  if (authority >= 1n << 48n) {
    throw new TypeError(`invalid SID string ${sid}: authority too large`);
  }
  if (
    subs.length > SID_MAX_SUB_AUTHORITIES || subs.some((s) => s > 0xffffffff)
  ) {
    throw new TypeError(
      `invalid SID string ${sid}: too many or too large sub-authorities`,
    );
  }
  const bytes = new Uint8Array(8 + 4 * subs.length);
  const view = viewOf(bytes);
  bytes[0] = 1;
  bytes[1] = subs.length;
  // The identifier authority is 6 bytes big-endian; sub-authorities are LE.
  for (let i = 0; i < 6; i++) {
    bytes[2 + i] = Number((authority >> BigInt(8 * (5 - i))) & 0xffn);
  }
  subs.forEach((s, i) => view.setUint32(8 + 4 * i, s, true));
  return bytes;
}

/** The string form (`S-1-5-32-555`) of a binary SID. */
export function sidToString(bytes: Uint8Array): string {
  if (!isValidSid(bytes)) throw new TypeError("not a valid binary SID");
  let authority = 0n;
  for (let i = 0; i < 6; i++) {
    authority = (authority << 8n) | BigInt(bytes[2 + i]);
  }
  const view = viewOf(bytes);
  const subs: number[] = [];
  for (let i = 0; i < bytes[1]; i++) subs.push(view.getUint32(8 + 4 * i, true));
  return ["S", "1", authority.toString(), ...subs].join("-");
}
