/**
 * The streamer's armed connection tokens: SHA-256 hashes with an expiry, each
 * with what came with it (the viewer's settings). A token is accepted once;
 * afterwards, or after it expires, it is refused.
 *
 * @module
 */

interface Armed<T> {
  expires: number;
  value?: T;
}

/** Armed one-time tokens, each optionally carrying a value. */
export class TokenStore<T = unknown> {
  readonly #armed = new Map<string, Armed<T>>();
  readonly #now: () => number;

  /** `now` is injectable for tests of expiry. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Arms a token hash for `ttlSeconds`, with an optional value. */
  arm(tokenHash: string, ttlSeconds: number, value?: T): void {
    this.#prune();
    this.#armed.set(tokenHash, {
      expires: this.#now() + ttlSeconds * 1000,
      value,
    });
  }

  /** Accepts and forgets an armed, unexpired token hash. */
  consume(tokenHash: string): boolean {
    return this.redeem(tokenHash) !== undefined;
  }

  /**
   * Like {@linkcode TokenStore.consume}, returning what the token was armed
   * with (`{ value }`), or undefined when refused.
   */
  redeem(tokenHash: string): { value?: T } | undefined {
    const armed = this.#armed.get(tokenHash);
    this.#armed.delete(tokenHash);
    if (!armed || armed.expires <= this.#now()) return undefined;
    return { value: armed.value };
  }

  /** Number of tokens still armed. */
  get size(): number {
    this.#prune();
    return this.#armed.size;
  }

  #prune(): void {
    const now = this.#now();
    for (const [hash, armed] of this.#armed) {
      if (armed.expires <= now) this.#armed.delete(hash);
    }
  }
}
