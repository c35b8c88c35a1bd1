/**
 * Password hashes for gateway users: scrypt (memory-hard, in `node:crypto`),
 * stored as `scrypt$N$r$p$salt$hash` with base64 salt and hash. The
 * `webstream hash-password` command prints one for the configuration file.
 *
 * @module
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/** scrypt cost parameters. */
export interface ScryptParams {
  /** CPU/memory cost (a power of two). Default 16384. */
  N: number;
  /** Block size. Default 8. */
  r: number;
  /** Parallelism. Default 1. */
  p: number;
}

const DEFAULTS: ScryptParams = { N: 16384, r: 8, p: 1 };
const KEY_LENGTH = 32;

function derive(
  password: string,
  salt: Uint8Array,
  params: ScryptParams,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LENGTH, {
      N: params.N,
      r: params.r,
      p: params.p,
      maxmem: 256 * params.N * params.r,
    }, (error, key) => error ? reject(error) : resolve(new Uint8Array(key)));
  });
}

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function unb64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** Hashes a password with a fresh random salt. */
export async function hashPassword(
  password: string,
  params: Partial<ScryptParams> = {},
): Promise<string> {
  const p = { ...DEFAULTS, ...params };
  const salt = new Uint8Array(randomBytes(16));
  const key = await derive(password, salt, p);
  return `scrypt$${p.N}$${p.r}$${p.p}$${b64(salt)}$${b64(key)}`;
}

/** True when `password` matches `hash`; false for a malformed hash too. */
export async function verifyPassword(
  password: string,
  hash: string,
): Promise<boolean> {
  const parts = hash.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  // scrypt needs N a power of two above 1 and r, p of at least 1 (node
  // silently takes 0 as its default, so a hash saying r=0 would still match).
  if (![N, r, p].every(Number.isInteger) || N < 2 || N > 1 << 20) return false;
  if ((N & (N - 1)) !== 0 || r < 1 || p < 1) return false;
  let salt: Uint8Array, expected: Uint8Array;
  try {
    salt = unb64(parts[4]);
    expected = unb64(parts[5]);
  } catch {
    return false;
  }
  let key: Uint8Array;
  try {
    key = await derive(password, salt, { N, r, p });
  } catch {
    return false; // Parameters scrypt refuses (such as a huge p).
  }
  return key.length === expected.length && timingSafeEqual(key, expected);
}
