/**
 * The gateway's periodic pruning, once per licence check-in interval: hosts
 * long unregistered or silent are forgotten (and their sessions with them),
 * sessions no longer live leave the map, revocations past their cookies'
 * lifetime are dropped, and what changed is written to the store. Stopping
 * writes what is still pending.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import type { Revocations } from "./auth/mod.ts";
import type { HostRegistry } from "./registry.ts";
import type { SessionMap } from "./sessions.ts";

/** A host unregistered this long is forgotten. */
export const UNREGISTERED_AFTER_MS = 10 * 60_000;

/** A host not heard of this long is forgotten. */
export const SILENT_AFTER_MS = 24 * 3600_000;

/** What is pruned. */
export interface PrunedState {
  /** Hosts. */
  registry: HostRegistry;
  /** Sessions. */
  sessions: SessionMap;
  /** Sign-outs. */
  revocations: Revocations;
}

/** Options for {@linkcode startPruning}. */
export interface PruningOptions {
  /** How often, ms. */
  intervalMs: number;
  /** Logger. */
  logger: Logger;
}

/** One round of pruning now. */
export function prune(state: PrunedState): void {
  const gone = state.registry.sweep({
    unregisteredAfterMs: UNREGISTERED_AFTER_MS,
    silentAfterMs: SILENT_AFTER_MS,
  });
  for (const url of gone) {
    state.sessions.deleteHost(url, "its host was forgotten");
  }
  state.sessions.prune();
  state.registry.flush();
  state.revocations.prune();
}

/**
 * Prunes every `intervalMs` until the returned function is called, which
 * also writes the sessions and hosts still pending.
 */
export function startPruning(
  state: PrunedState,
  options: PruningOptions,
): () => void {
  const timer = setInterval(() => {
    try {
      prune(state);
    } catch (error) {
      // Store failures are the guard's; this is anything else.
      options.logger.error("pruning gateway state failed", { error });
    }
  }, options.intervalMs);
  return () => {
    clearInterval(timer);
    state.sessions.flush();
    state.registry.flush();
  };
}
