/**
 * A worker that takes claims on a SQLite store file through its own
 * connection, for tests of claims from several threads at once: given
 * `{ path, claims }`, it opens the store, waits for `go` on a shared flag,
 * takes each claim in turn and posts back the outcomes.
 *
 * @module
 */
import type { SessionClaim } from "../../mod/gateway/claims.ts";
import { openSqliteStore } from "../../mod/gateway/store.ts";

/** What the worker is given. */
export interface ClaimWork {
  /** The store file. */
  path: string;
  /** The claims to take. */
  claims: SessionClaim[];
  /** Set to 1 (and notified) when every worker may start. */
  go: SharedArrayBuffer;
}

/** The worker side of the global scope (this file runs only in a worker). */
const scope = globalThis as unknown as {
  onmessage: (event: MessageEvent<ClaimWork>) => void;
  postMessage(message: unknown): void;
};

scope.onmessage = async (event: MessageEvent<ClaimWork>) => {
  const { path, claims, go } = event.data;
  const store = openSqliteStore(path);
  try {
    const flag = new Int32Array(go);
    scope.postMessage({ ready: true });
    Atomics.wait(flag, 0, 0);
    const outcomes = [];
    for (const claim of claims) outcomes.push(await store.claimSession(claim));
    scope.postMessage({ outcomes });
  } finally {
    store.close();
  }
};
