/**
 * A starting gateway waits, bounded, for the first probes of the hosts it
 * restored from the store and has not heard from (no fresh probe shared by
 * another gateway, `registry.ts`): until then they are Unreachable, and a
 * gateway serving then would answer 404 to `/resolveSession` and refuse
 * reconnects of their sessions. The health monitor probes them first in its
 * first round, as fast as its slots allow (`health_monitor.ts`); the bound
 * is the probe timeout and a margin ({@linkcode firstProbesWaitMs}), so a
 * farm of hosts that do not answer delays a start that long at most, and
 * those stay Unreachable.
 *
 * @module
 */
import type { HealthCheckSettings } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { delay } from "../util/async.ts";
import type { HostRegistry } from "./registry.ts";

/** What the wait allows beyond `healthCheck.timeout` (ms): a probe started late. */
export const FIRST_PROBES_MARGIN_MS = 1000;

/** The bound of the wait (ms): `healthCheck.timeout` and a margin. */
export function firstProbesWaitMs(
  health: Pick<HealthCheckSettings, "timeout">,
): number {
  return health.timeout * 1000 + FIRST_PROBES_MARGIN_MS;
}

/** Options for {@linkcode awaitFirstProbes}. */
export interface FirstProbesOptions {
  /** The hosts waited for: `registry.unheard()` when the gateway started. */
  hosts: readonly string[];
  /** Settles once they are probed (`HealthMonitor.firstProbes`). */
  probed: Promise<void>;
  /** The bound (ms), {@linkcode firstProbesWaitMs}. */
  boundMs: number;
  /** Where the wait is told. */
  logger: Logger;
}

/** How a wait ended. */
export interface FirstProbesOutcome {
  /** Hosts waited for. */
  hosts: number;
  /** Of those, heard from by the end of the wait. */
  heard: number;
  /** Whether every one was probed within the bound. */
  complete: boolean;
}

/**
 * Waits until `options.probed` settles or `options.boundMs` passes, and
 * logs what it waited for and how many hosts were heard from. At once when
 * there are none.
 */
export async function awaitFirstProbes(
  registry: Pick<HostRegistry, "unheard">,
  options: FirstProbesOptions,
): Promise<FirstProbesOutcome> {
  const { hosts, logger, boundMs } = options;
  if (!hosts.length) return { hosts: 0, heard: 0, complete: true };
  logger.info("waiting for restored hosts' first probes", {
    hosts: hosts.length,
    boundMs,
  });
  const started = performance.now();
  const bound = new AbortController();
  const complete = await Promise.race([
    options.probed.then(() => true),
    delay(boundMs, { signal: bound.signal }).then(() => false),
  ]);
  bound.abort();
  const unheard = new Set(registry.unheard());
  const heard = hosts.filter((url) => !unheard.has(url)).length;
  logger.info("restored hosts probed", {
    hosts: hosts.length,
    heard,
    // Unreachable until they are heard from.
    notHeard: hosts.length - heard,
    complete,
    waitedMs: Math.round(performance.now() - started),
  });
  return { hosts: hosts.length, heard, complete };
}
