/**
 * Xauthority files: one MIT-MAGIC-COOKIE-1 entry that Xvfb reads with `-auth`
 * and clients read through `XAUTHORITY`. The entry uses FamilyWild with an
 * empty display number, which libXau matches against any display, so the file
 * can be written before Xvfb has picked its display number.
 *
 * @module
 */

/** The X authorization protocol name used. */
export const COOKIE_NAME = "MIT-MAGIC-COOKIE-1";
/** libXau's FamilyWild: matches any address. */
export const FAMILY_WILD = 0xffff;

/** One Xauthority record. */
export interface XauthEntry {
  /** Address family (FamilyWild by default). */
  family?: number;
  /** Address bytes (empty for FamilyWild). */
  address?: Uint8Array;
  /** Display number as text; empty matches any display. */
  display?: string;
  /** The cookie: 16 random bytes. */
  cookie: Uint8Array;
}

/** Encodes Xauthority records in the file format libXau reads. */
export function encodeXauthority(entries: XauthEntry[]): Uint8Array {
  const parts: number[] = [];
  const u16 = (n: number): void => {
    parts.push((n >> 8) & 0xff, n & 0xff);
  };
  const counted = (bytes: Uint8Array): void => {
    u16(bytes.length);
    parts.push(...bytes);
  };
  const text = new TextEncoder();
  for (const entry of entries) {
    u16(entry.family ?? FAMILY_WILD);
    counted(entry.address ?? new Uint8Array());
    counted(text.encode(entry.display ?? ""));
    counted(text.encode(COOKIE_NAME));
    counted(entry.cookie);
  }
  return new Uint8Array(parts);
}

/** Decodes an Xauthority file (used by tests and diagnostics). */
export function decodeXauthority(bytes: Uint8Array): Required<XauthEntry>[] {
  const entries: Required<XauthEntry>[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const counted = (): Uint8Array => {
    const length = view.getUint16(at);
    const out = bytes.slice(at + 2, at + 2 + length);
    if (out.length !== length) throw new Error("truncated Xauthority entry");
    at += 2 + length;
    return out;
  };
  const text = new TextDecoder();
  while (at < bytes.length) {
    const family = view.getUint16(at);
    at += 2;
    const address = counted();
    const display = text.decode(counted());
    const name = text.decode(counted());
    const cookie = counted();
    if (name === COOKIE_NAME) {
      entries.push({ family, address, display, cookie });
    }
  }
  return entries;
}

/** Sixteen random bytes for a new cookie. */
export function newCookie(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(16));
}
