/**
 * Revoked sign-ins: a cookie signed out, or every cookie of a user issued
 * before a time (signed out everywhere by an administrator). They are kept in
 * the gateway's store, so a restarted gateway, or another gateway on the same
 * store, honours them; this gateway also keeps its own in memory, so they
 * hold while the store cannot be written or read. Each is forgotten once the
 * cookies it covers have expired anyway.
 *
 * @module
 */
import type { GatewayStore, Revocation, SignInRef } from "../store.ts";

export type { Revocation, SignInRef } from "../store.ts";

/** Options for {@linkcode Revocations}. */
export interface RevocationsOptions {
  /** Where revocations are shared; without one they live in memory only. */
  store?: Pick<
    GatewayStore,
    "putRevocation" | "isRevoked" | "pruneRevocations"
  >;
  /** Clock (ms). Default `Date.now`. */
  now?: () => number;
  /** Revocations kept in memory at most (the oldest go first). Default 100,000. */
  memoryLimit?: number;
}

/** The revoked sign-ins. */
export class Revocations {
  readonly #store?: RevocationsOptions["store"];
  readonly #now: () => number;
  readonly #limit: number;
  /** This gateway's own: sign-in id → when it expires. */
  readonly #signIns = new Map<string, number>();
  /** This gateway's own: user → cutoff and when it expires. */
  readonly #users = new Map<string, { before: number; expiresAt: number }>();

  constructor(options: RevocationsOptions = {}) {
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.#limit = options.memoryLimit ?? 100_000;
  }

  /** Revokes a sign-in, or a user's sign-ins issued before a time. */
  revoke(revocation: Revocation): void {
    this.applyRemote(revocation);
    this.#store?.putRevocation(revocation);
  }

  /**
   * Keeps a revocation another gateway on the same store made, in memory
   * only (so it holds here while the store cannot be read).
   */
  applyRemote(revocation: Revocation): void {
    if (revocation.kind === "signin") {
      this.#signIns.set(revocation.id, revocation.expiresAt);
      while (this.#signIns.size > this.#limit) {
        this.#signIns.delete(this.#signIns.keys().next().value!);
      }
    } else {
      const known = this.#users.get(revocation.user);
      this.#users.set(revocation.user, {
        before: Math.max(known?.before ?? 0, revocation.before),
        expiresAt: Math.max(known?.expiresAt ?? 0, revocation.expiresAt),
      });
    }
  }

  /** True when `signIn` was revoked (here, or by a gateway on the store). */
  async isRevoked(signIn: SignInRef): Promise<boolean> {
    if (this.#signIns.has(signIn.id)) return true;
    const user = this.#users.get(signIn.user);
    if (user && signIn.issuedAt < user.before) return true;
    return await this.#store?.isRevoked(signIn) ?? false;
  }

  /** Forgets revocations whose cookies have all expired. */
  prune(): void {
    const now = this.#now();
    for (const [id, expiresAt] of this.#signIns) {
      if (expiresAt < now) this.#signIns.delete(id);
    }
    for (const [user, { expiresAt }] of this.#users) {
      if (expiresAt < now) this.#users.delete(user);
    }
    this.#store?.pruneRevocations(now);
  }
}
