/**
 * Farm-wide limits for new sessions, held by claims in the shared store.
 * Placement runs in each gateway's memory; before a new session's logon
 * starts, its gateway takes a claim in the store, which counts under one
 * lock what every gateway on the store has: the live sessions (liveness.ts)
 * farm-wide and on the chosen host, plus the claims not yet expired. The
 * claim is granted, and recorded, only if the licence limit, the host's
 * capacity and its logon cap all leave room; otherwise it is refused naming
 * the limit, its value and the count. Recording the session releases its
 * claim in the same transaction (the claim's id is the session's id), a
 * failed logon releases it, and a claim left by a gateway that died expires
 * by itself a little after the host call's timeout.
 *
 * This module is the pure part: what a claim asks, what it may get, and the
 * verdict from the counts, which both stores apply.
 *
 * @module
 */

/** The limits a new session must fit in. */
export interface ClaimLimits {
  /** `licence.maxConcurrentSessions`: live sessions farm-wide (0: none). */
  licence: number;
  /** The host's capacity: its session limit as placement uses it. */
  hostCapacity: number;
  /** `placement.maxConcurrentLogons`: logons in flight on the host. */
  logonCap: number;
}

/** A claim for one new session on one host. */
export interface SessionClaim {
  /** The new session's id: recording the session releases the claim. */
  sessionId: string;
  /** The gateway that claims (`Gateway.id`). */
  gatewayId: string;
  /** The host chosen. */
  serverUrl: string;
  /** The claimer's clock (ms): claims expired by then are dropped. */
  now: number;
  /** When the claim expires by itself (ms). */
  expiresAt: number;
  /** Sessions seen at or after this are live (`liveSince`, liveness.ts). */
  liveSince: number;
  /** The limits to fit in. */
  limits: ClaimLimits;
}

/** What the store counted for a claim, before it. */
export interface ClaimCounts {
  /**
   * Live sessions farm-wide, counted up to the licence limit (0 when there
   * is none), plus every unexpired claim.
   */
  farm: number;
  /** Live sessions on the host plus its unexpired claims. */
  host: number;
  /** Unexpired claims on the host: logons in flight there. */
  logons: number;
}

/** A limit a claim did not fit in. */
export type ClaimRefusal =
  | {
    limit: "licence";
    /** The limit. */
    value: number;
    /** Sessions and claims counted farm-wide (up to the limit). */
    count: number;
  }
  | {
    limit: "hostCapacity" | "logonCap";
    /** The host. */
    serverUrl: string;
    /** The limit. */
    value: number;
    /** Sessions and claims (capacity) or claims (logons) on the host. */
    count: number;
  };

/** What a claim got. */
export type ClaimOutcome =
  | { kind: "granted" }
  | ({ kind: "refused" } & ClaimRefusal);

/** Margin of a claim's lifetime over the host call's timeout (ms). */
export const CLAIM_MARGIN_MS = 10_000;

/** How long a claim lives when the host call times out after `hostTimeoutMs`. */
export function claimLifetimeMs(hostTimeoutMs: number): number {
  return hostTimeoutMs + CLAIM_MARGIN_MS;
}

/**
 * The verdict on `claim` given what the store `counts`: the first limit it
 * does not fit in (licence, then capacity, then logons), or granted.
 */
export function claimVerdict(
  claim: Pick<SessionClaim, "serverUrl" | "limits">,
  counts: ClaimCounts,
): ClaimOutcome {
  const { limits, serverUrl } = claim;
  if (limits.licence > 0 && counts.farm >= limits.licence) {
    return {
      kind: "refused",
      limit: "licence",
      value: limits.licence,
      count: counts.farm,
    };
  }
  if (counts.host >= limits.hostCapacity) {
    return {
      kind: "refused",
      limit: "hostCapacity",
      serverUrl,
      value: limits.hostCapacity,
      count: counts.host,
    };
  }
  if (counts.logons >= limits.logonCap) {
    return {
      kind: "refused",
      limit: "logonCap",
      serverUrl,
      value: limits.logonCap,
      count: counts.logons,
    };
  }
  return { kind: "granted" };
}

/** The licence refusal's message (HTTP 429), as a launch answers it. */
export function licenceMessage(limit: number): string {
  return `the licence allows ${limit} concurrent sessions and all are in use; try again later`;
}

/** A refusal in words, naming the limit. */
export function refusalMessage(refusal: ClaimRefusal): string {
  switch (refusal.limit) {
    case "licence":
      return licenceMessage(refusal.value);
    case "hostCapacity":
      return `${refusal.serverUrl} is full across the farm: ${refusal.count}/${refusal.value} sessions`;
    case "logonCap":
      return `${refusal.serverUrl} has ${refusal.count} logons in progress across the farm (cap ${refusal.value})`;
  }
}
