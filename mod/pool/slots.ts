/**
 * Slot arithmetic from the seed: slot N uses pool account
 * `serverSessionUsername` + two-digit N and streamer port
 * `basePortNumber + N × 10`.
 *
 * @module
 */

/** The pool account of slot `n` (1-based): `webs` + `01` → `webs01`. */
export function accountName(base: string, n: number): string {
  if (!Number.isInteger(n) || n < 1 || n > 99) {
    throw new RangeError(`slot ${n} is outside 1..99`);
  }
  return `${base}${String(n).padStart(2, "0")}`;
}

/** The streamer port of slot `n`: `basePortNumber + n × 10`. */
export function streamerPort(basePortNumber: number, n: number): number {
  return basePortNumber + n * 10;
}
