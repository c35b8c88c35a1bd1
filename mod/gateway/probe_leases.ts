/**
 * Health probing divided among the gateways on one store: which gateway
 * probes which host, as pure functions (the store runs them between its
 * reads and its writes, `store_postgres.ts`).
 *
 * Each gateway, once per probe interval, records itself as live and holds a
 * lease per host it probes, both for {@linkcode leaseMsOf} (a probe interval
 * and a half; the PostgreSQL store renews a gateway's leases with its
 * liveness, writing a lease only when it changes hands). A host falls to one
 * gateway by rendezvous hashing over the live gateways
 * ({@linkcode rendezvousWinner}): hosts spread evenly, and when a gateway
 * comes or goes only its share moves. Per host and round
 * ({@linkcode planLeases}):
 *
 * - the winner takes the lease, from whoever holds it: a handover with no
 *   gap (the old holder learns it lost it at its next round, before it
 *   probes again);
 * - the holder keeps it until then (or until it lapses);
 * - a lease that lapsed (its gateway died, its lease and its liveness end
 *   together) goes to the winner among those still live at its next round;
 * - a lease nobody took for a whole lease after it lapsed (the winner does
 *   not know the host yet) is anyone's; a host nobody ever held is first
 *   marked as lapsed now, to start that clock.
 *
 * @module
 */
import type { HealthCheckSettings } from "../config/mod.ts";
import type { ProbeResult } from "./types.ts";

/** A host's lease as the store holds it. */
export interface LeaseRow {
  /** The host. */
  serverUrl: string;
  /** The gateway holding it; null when only marked. */
  holder: string | null;
  /** When it lapses (the store's clock, ms). */
  expiresAt: number;
}

/** What a gateway knows at the start of its round. */
export interface LeaseState {
  /** This gateway's id. */
  self: string;
  /** The store's clock (ms). */
  now: number;
  /** {@linkcode leaseMsOf}. */
  leaseMs: number;
  /** The other gateways seen within a lease (this one counts anyway). */
  live: readonly string[];
  /** The hosts this gateway knows (its probe targets). */
  hosts: readonly string[];
  /** The stored leases of those hosts. */
  leases: readonly LeaseRow[];
}

/**
 * What to ask of the store for one host, each checked again there
 * atomically:
 *
 * - `take`: this gateway is the winner; the lease becomes its whoever holds
 *   it;
 * - `keep`: renewed if it is still this gateway's (or lapsed);
 * - `late`: taken if it lapsed a lease ago or more;
 * - `mark`: a lapsed lease without a holder is stored unless one is there.
 */
export type LeaseClaimKind = "take" | "keep" | "late" | "mark";

/** One host's claim in a round. */
export interface LeaseClaim {
  /** The host. */
  serverUrl: string;
  /** See {@linkcode LeaseClaimKind}. */
  kind: LeaseClaimKind;
}

/** A host's probe state as the gateway probing it shares it. */
export interface SharedProbe {
  /** The host. */
  serverUrl: string;
  /** Failed probes in a row. */
  failures: number;
  /** The latest probe. */
  lastProbe: ProbeResult;
}

/** One gateway's round, as the store takes it. */
export interface ProbeRound {
  /** This gateway's id. */
  gatewayId: string;
  /** {@linkcode leaseMsOf}. */
  leaseMs: number;
  /** The hosts this gateway knows (its probe targets). */
  hosts: string[];
  /** Its probe results since its last round, for hosts it held. */
  results: SharedProbe[];
  /**
   * Results stored after this time (the store's clock, ms) are returned;
   * 0 for all.
   */
  since: number;
}

/** The store's answer to a {@linkcode ProbeRound}. */
export interface ProbeShare {
  /** The store's clock at the round (ms), for the next `since`. */
  now: number;
  /** The hosts this gateway probes until its next round. */
  held: string[];
  /** Results of `hosts` stored since `since` (by whichever gateway). */
  results: SharedProbe[];
}

/**
 * How long a lease (and a gateway's liveness) lasts: a probe interval and a
 * half, so a round that comes a little late still renews it.
 */
export function leaseMsOf(
  health: Pick<HealthCheckSettings, "interval">,
): number {
  return Math.round(health.interval * 1500);
}

/**
 * The gateway among `gateways` that a host falls to: the highest weight of
 * (gateway, host). Undefined when there are none.
 */
export function rendezvousWinner(
  serverUrl: string,
  gateways: readonly string[],
): string | undefined {
  let winner: string | undefined;
  let best = -1;
  for (const gateway of gateways) {
    const weight = rendezvousWeight(gateway, serverUrl);
    if (weight > best || (weight === best && gateway < winner!)) {
      best = weight;
      winner = gateway;
    }
  }
  return winner;
}

/** A well-mixed 32-bit weight of a (gateway, host) pair. */
export function rendezvousWeight(gateway: string, serverUrl: string): number {
  // FNV-1a over both, then murmur3's finalizer to spread the bits.
  let hash = 0x811c9dc5;
  const text = `${gateway}\n${serverUrl}`;
  for (let i = 0; i < text.length; i++) {
    hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  }
  hash = Math.imul(hash ^ (hash >>> 16), 0x85ebca6b);
  hash = Math.imul(hash ^ (hash >>> 13), 0xc2b2ae35);
  return (hash ^ (hash >>> 16)) >>> 0;
}

/** This gateway's claims for its round (see the module). */
export function planLeases(state: LeaseState): LeaseClaim[] {
  const { self, now, leaseMs } = state;
  const live = state.live.includes(self) ? state.live : [...state.live, self];
  const leases = new Map(state.leases.map((row) => [row.serverUrl, row]));
  const claims: LeaseClaim[] = [];
  for (const serverUrl of state.hosts) {
    const row = leases.get(serverUrl);
    const holder = row && row.expiresAt > now ? row.holder : null;
    let kind: LeaseClaimKind | undefined;
    if (rendezvousWinner(serverUrl, live) === self) kind = "take";
    // Its own, even lapsed by a late round, unless another took it since.
    else if (row?.holder === self) kind = "keep";
    else if (holder === null) {
      if (!row) kind = "mark";
      else if (now - row.expiresAt >= leaseMs) kind = "late";
    }
    if (kind) claims.push({ serverUrl, kind });
  }
  return claims;
}
