/**
 * A deterministic pseudo-random source (mulberry32), for tests and
 * benchmarks that must replay the same way.
 *
 * @module
 */

/** Numbers in [0, 1), the same sequence for the same `seed`. */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
