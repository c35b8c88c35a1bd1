/**
 * Reconciling with a host that (re)registered: the gateway asks for the
 * host's own list of sessions (`GET /sessions`) and ends at once what the
 * host no longer has (it crashed and lost them, say); what it still has is
 * kept. A host that does not answer is asked again a few times; its
 * sessions stay meanwhile, as health probes and check-ins still judge them.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { delay } from "../util/async.ts";
import { listHostSessions } from "./host_sessions.ts";
import type { SessionMap } from "./sessions.ts";

/** Options for {@linkcode reconcileHost}. */
export interface ReconcileOptions {
  /** The gateway's sessions. */
  sessions: SessionMap;
  /** The farm's shared secret. */
  sharedSecret?: string;
  /** Logger. */
  logger: Logger;
  /** Attempts before giving up. Default 5. */
  attempts?: number;
  /** Wait between attempts, ms (doubling). Default 500. */
  retryMs?: number;
  /** Clock (ms), for tests. Default `Date.now`. */
  now?: () => number;
  /** Stops retrying (the gateway is stopping). */
  signal?: AbortSignal;
}

/** How a reconciliation ended. */
export type ReconcileOutcome =
  | { kind: "reconciled"; ended: number; kept: number }
  | { kind: "unreachable"; error: string };

/** Reconciles the gateway's sessions of `serverUrl` with the host's list. */
export async function reconcileHost(
  serverUrl: string,
  options: ReconcileOptions,
): Promise<ReconcileOutcome> {
  const { sessions, logger, attempts = 5, retryMs = 500 } = options;
  const now = options.now ?? Date.now;
  let error = "";
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (options.signal?.aborted) break;
    const since = now();
    try {
      const list = await listHostSessions(serverUrl, {
        sharedSecret: options.sharedSecret,
      });
      const live = new Set(list.map((s) => s.sessionUuid));
      const ended = sessions.reconcile(serverUrl, { live, since });
      const kept = sessions.onHost(serverUrl).length;
      if (ended) {
        logger.info("reconciled with a host", { serverUrl, ended, kept });
      }
      return { kind: "reconciled", ended, kept };
    } catch (e) {
      error = (e as Error).message;
    }
    await delay(retryMs * 2 ** attempt, { signal: options.signal }).catch(
      () => {},
    );
  }
  logger.warn("could not reconcile sessions with a host", { serverUrl, error });
  return { kind: "unreachable", error };
}
