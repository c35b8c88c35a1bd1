/**
 * A gateway's part in health probing divided among the gateways on one
 * store (the rules are `probe_leases.ts`): once per probe interval, before
 * the health monitor probes, one round with the store shares this gateway's
 * latest probe results for the hosts it holds, takes or renews its leases,
 * and brings in the others' results for the rest, so every gateway judges
 * every host from the same probes. The monitor then probes the hosts held.
 *
 * While the store cannot be asked (down, or slower than a probe interval)
 * the gateway probes the hosts it holds until its leases would have lapsed,
 * and then every host it knows: a gateway cut off from the others must still
 * know its hosts' health. On SQLite the store gives every host to its one
 * gateway, so nothing changes.
 *
 * @module
 */
import type { HealthCheckSettings } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { delay } from "../util/async.ts";
import {
  leaseMsOf,
  rendezvousWeight,
  type SharedProbe,
} from "./probe_leases.ts";
import type { HostRegistry } from "./registry.ts";
import type { GatewayStore } from "./store.ts";
import { storeErrorCause } from "./store_guard.ts";

/** Options for {@linkcode ProbeSharing}. */
export interface ProbeSharingOptions {
  /** The store the gateways share. */
  store: Pick<GatewayStore, "shareProbes" | "leaveProbing">;
  /** This gateway's hosts. */
  registry: HostRegistry;
  /** This gateway's id on the store. */
  gatewayId: string;
  /** `gateway.healthCheck`. */
  health: HealthCheckSettings;
  /** Logger. */
  logger: Logger;
  /** Local clock (ms), for tests. Default `performance.now`. */
  now?: () => number;
}

/** The leases a round brought, and when (local clock). */
interface Held {
  hosts: Set<string>;
  at: number;
}

/** One gateway's rounds with the store (see the module). */
export class ProbeSharing {
  readonly #options: ProbeSharingOptions;
  readonly #leaseMs: number;
  readonly #now: () => number;
  #held?: Held;
  /** Each host's last probe shared. */
  readonly #shared = new Map<string, SharedProbe>();
  #since = 0;
  #round?: Promise<void>;
  #failing?: string;

  constructor(options: ProbeSharingOptions) {
    this.#options = options;
    this.#leaseMs = leaseMsOf(options.health);
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * Runs a round (unless one is still under way) and resolves with the
   * hosts to probe now: those held, or every registered host while the
   * store cannot be asked. Waits for the store at most a probe interval.
   */
  async targets(): Promise<string[]> {
    const hosts = this.#options.registry.probeTargets();
    this.#round ??= this.#share(hosts).finally(() => this.#round = undefined);
    const waited = new AbortController();
    await Promise.race([
      this.#round,
      delay(this.#options.health.interval * 1000, { signal: waited.signal }),
    ]);
    waited.abort();
    const held = this.#held;
    // Leases not renewed within their length have lapsed: others may hold
    // them now, or no one, if the store is gone for all.
    if (!held || this.#now() - held.at >= this.#leaseMs) return hosts;
    return hosts.filter((url) => held.hosts.has(url));
  }

  /**
   * The first round, so the gateway serves knowing what the others probed
   * (a host restored from the store is verified by their latest good
   * probe, if recent: `HostRegistry.applyProbe`). Waits for the store at
   * most a probe interval.
   */
  async start(): Promise<void> {
    await this.targets();
  }

  /**
   * Waits for a round under way, then gives this gateway's leases up (the
   * others take its hosts at their next round); before the store closes.
   */
  async stop(): Promise<void> {
    await this.#round;
    try {
      await this.#options.store.leaveProbing(this.#options.gatewayId);
    } catch (error) {
      // Its leases lapse instead.
      this.#options.logger.debug("probe leases not given up", {
        cause: storeErrorCause(error),
      });
    }
  }

  async #share(hosts: string[]): Promise<void> {
    const { store, registry, gatewayId, logger } = this.#options;
    const results = this.#results();
    const started = this.#now();
    try {
      const share = await store.shareProbes({
        gatewayId,
        leaseMs: this.#leaseMs,
        hosts,
        results,
        since: this.#since,
      });
      for (const result of results) this.#shared.set(result.serverUrl, result);
      // Results stored a little before the store's clock read them may
      // have been committed after: read again a lease's worth back.
      this.#since = Math.max(0, share.now - this.#leaseMs);
      const held = new Set(share.held);
      // Newer than this gateway's own only: its own come back unchanged.
      for (const result of share.results) {
        registry.applyProbe(result.serverUrl, result);
      }
      const before = this.#held?.hosts.size;
      this.#held = { hosts: held, at: started };
      if (held.size !== before) {
        logger.debug("hosts probed by this gateway", {
          held: held.size,
          hosts: hosts.length,
        });
      }
      if (this.#failing !== undefined) {
        logger.info("probe leases work again");
        this.#failing = undefined;
      }
    } catch (error) {
      const cause = storeErrorCause(error);
      if (this.#failing === undefined) {
        logger.warn(
          "probe leases cannot be shared through the store; this gateway " +
            "probes every host once its leases lapse",
          { cause },
        );
      }
      this.#failing = cause;
    }
  }

  /** This gateway's probe results to share, for hosts it holds. */
  #results(): SharedProbe[] {
    const held = this.#held?.hosts ?? new Set();
    const latest: SharedProbe[] = [];
    for (const url of held) {
      const view = this.#options.registry.get(url);
      const lastProbe = view?.lastProbe;
      if (!lastProbe) continue;
      latest.push({ serverUrl: url, failures: view.probeFailures, lastProbe });
    }
    for (const url of this.#shared.keys()) {
      if (!held.has(url)) this.#shared.delete(url);
    }
    return resultsToShare(latest, this.#shared, {
      intervalMs: this.#options.health.interval * 1000,
    });
  }
}

/** Options for {@linkcode resultsToShare}. */
export interface ShareOptions {
  /** The probe interval (ms). */
  intervalMs: number;
}

/** Probe intervals after which an unchanged result is shared again. */
export const REFRESH_INTERVALS = 12;

/**
 * Which of the `latest` probe results (one per host held) a round shares,
 * given what was `shared` last per host: a host's first, one whose outcome
 * changed (answered or not, failures in a row, the error), and an unchanged
 * one once every {@linkcode REFRESH_INTERVALS} intervals or so (so the
 * others' view of a good host never grows old), each host at its own time
 * so these spread over rounds. At 10,000 hosts answering, a round then
 * sends and reads a few hundred rows instead of all (bench/probe_round_bench.ts).
 */
export function resultsToShare(
  latest: readonly SharedProbe[],
  shared: ReadonlyMap<string, SharedProbe>,
  options: ShareOptions,
): SharedProbe[] {
  const refreshMs = REFRESH_INTERVALS * options.intervalMs;
  return latest.filter(({ serverUrl, failures, lastProbe }) => {
    const last = shared.get(serverUrl);
    if (!last) return true;
    if (last.lastProbe.at >= lastProbe.at) return false;
    if (
      last.failures !== failures || last.lastProbe.ok !== lastProbe.ok ||
      last.lastProbe.error !== lastProbe.error
    ) return true;
    // Between one and two refresh periods, by host.
    const due = refreshMs + rendezvousWeight("refresh", serverUrl) % refreshMs;
    return lastProbe.at - last.lastProbe.at >= due;
  });
}
