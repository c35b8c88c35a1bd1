/**
 * Keeping a number within bounds.
 *
 * @module
 */

/** `value`, raised to `min` and lowered to `max`. */
export function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}
