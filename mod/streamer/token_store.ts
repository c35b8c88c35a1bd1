/**
 * The streamer's armed connection tokens: SHA-256 hashes with an expiry. A
 * token is accepted once; afterwards, or after it expires, it is refused.
 *
 * @module
 */

/** Armed one-time tokens. */
export class TokenStore {
  readonly #expiry = new Map<string, number>();
  readonly #now: () => number;

  /** `now` is injectable for tests of expiry. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Arms a token hash for `ttlSeconds`. */
  arm(tokenHash: string, ttlSeconds: number): void {
    this.#prune();
    this.#expiry.set(tokenHash, this.#now() + ttlSeconds * 1000);
  }

  /** Accepts and forgets an armed, unexpired token hash. */
  consume(tokenHash: string): boolean {
    const expires = this.#expiry.get(tokenHash);
    this.#expiry.delete(tokenHash);
    return expires !== undefined && expires > this.#now();
  }

  /** Number of tokens still armed. */
  get size(): number {
    this.#prune();
    return this.#expiry.size;
  }

  #prune(): void {
    const now = this.#now();
    for (const [hash, expires] of this.#expiry) {
      if (expires <= now) this.#expiry.delete(hash);
    }
  }
}
