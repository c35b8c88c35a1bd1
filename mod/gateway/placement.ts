/**
 * Placement: which session, or which host, takes a launch. Session sharing
 * comes first, as `session_sharing.txt` describes it: for a published app,
 * the user's live app sessions are filtered to those whose resource profile
 * satisfies the app, whose host has the app (tags and capabilities), which run
 * under the same credentials and whose host is not overloaded; the one on the
 * least-loaded host is reused. Published desktops never share. Otherwise load
 * balancing picks among Healthy hosts with free capacity that carry every
 * required tag: least loaded (breadth-first) or fullest first (depth-first),
 * ties broken at random, with a cap on concurrent logons per host.
 *
 * Every decision carries its explanation: each session and host considered,
 * and why it was chosen or excluded. This module is pure: no I/O, no clock.
 *
 * Hosts come either as a list, scanned in full (the reference), or as a
 * {@linkcode HostIndex}: groups of hosts with the same tags and capabilities,
 * each ranked by load for the settings. The indexed path looks only at groups
 * that have what the workspace needs, walks their ranking from the best host
 * and stops after the winner; the hosts it did not look at are counted by
 * reason. Both paths choose the same host.
 *
 * @module
 */
import type { PlacementSettings, Resources, Workspace } from "../config/mod.ts";
import type { HostView, SessionRecord } from "./types.ts";

/** What placement decides on. */
export interface PlacementInput {
  /** The workspace being launched. */
  workspace: Workspace;
  /** The user's live sessions. */
  sessions: readonly SessionRecord[];
  /** Every known host: a list (scanned in full) or an index. */
  hosts: readonly HostView[] | HostIndex;
  /** `gateway.placement`. */
  settings: PlacementSettings;
  /** Hosts that already failed this launch. */
  exclude?: ReadonlySet<string>;
  /** Random source for ties. Default `Math.random`. */
  random?: () => number;
}

/** Why one session or host was or was not chosen. */
export interface Verdict {
  /** The session (sharing) considered, if this is about a session. */
  sessionId?: string;
  /** The host considered. */
  serverUrl: string;
  /** `chosen`, `eligible` (a candidate not chosen) or `excluded`. */
  verdict: "chosen" | "eligible" | "excluded";
  /** The reason, in words. */
  reason: string;
  /** The load score, for eligible hosts (lower is less loaded). */
  score?: number;
}

/** A placement decision with its explanation. */
export interface PlacementDecision {
  /** `share` (reuse a session), `new` (a new session on a host) or `none`. */
  outcome: "share" | "new" | "none";
  /** The session reused, for `share`. */
  sessionId?: string;
  /** The host chosen, for `share` and `new`. */
  serverUrl?: string;
  /** One sentence that sums the decision up. */
  summary: string;
  /** Sessions considered for sharing (empty when sharing does not apply). */
  sessions: Verdict[];
  /** Hosts considered for a new session (empty when a session was shared). */
  hosts: Verdict[];
  /** Hosts an index did not look at one by one, counted by reason. */
  omitted?: Record<string, number>;
}

/** What a group of hosts offers: the same tags and capabilities. */
export interface HostProfile {
  /** Tags, sorted. */
  tags: readonly string[];
  /** Capabilities, sorted. */
  capabilities: readonly string[];
}

/** Hosts of one profile, ranked for one set of placement settings. */
export interface RankedGroup {
  /** What every host of the group offers. */
  profile: HostProfile;
  /** How many hosts the group has. */
  size: number;
  /**
   * The hosts that were Healthy and within the load limits for new sessions
   * (room, logon cap, CPU and memory) when last heard of, lowest
   * {@linkcode rankKey} first, ties by `serverUrl`. Placement checks each
   * again: a host may have fallen silent since.
   */
  ranked(): Iterable<HostView>;
  /** The other hosts, counted by why not (their state or load limit). */
  unranked: ReadonlyMap<string, number>;
}

/** Hosts indexed for placement (see {@linkcode HostRegistry.index}). */
export interface HostIndex {
  /** How many hosts are known. */
  size: number;
  /** One host, with its state now. */
  get(serverUrl: string): HostView | undefined;
  /** Every group of hosts, ranked for `settings`. */
  groups(settings: PlacementSettings): Iterable<RankedGroup>;
}

/** Eligible hosts explained one by one after the winner, on the indexed path. */
export const RUNNERS_UP = 10;

/** The platform a host runs, from its capabilities. */
export function hostPlatform(host: HostView): "windows" | "linux" {
  return platformOf(host.registration);
}

function platformOf(profile: HostProfile): "windows" | "linux" {
  return profile.capabilities.includes("windows") ? "windows" : "linux";
}

/** The command line of `workspace` for `host`'s platform, if it has one. */
export function commandFor(
  workspace: Workspace,
  host: HostView,
): string | undefined {
  return workspace.command[hostPlatform(host)];
}

/** Load figures of a host: session ratio, CPU and memory (0–1 each). */
export function hostLoad(host: HostView): {
  sessionRatio: number;
  cpu: number;
  memory: number;
  active: number;
  max: number;
} {
  const max = host.heartbeat?.maxSessions ?? host.registration.maxSessions;
  // Sessions placed since the last heartbeat are not in its figures yet.
  const active = (host.heartbeat?.activeSessions ?? 0) +
    host.placedSinceHeartbeat + host.logonsInFlight;
  return {
    sessionRatio: max > 0 ? active / max : 1,
    cpu: (host.heartbeat?.cpuUsage ?? 0) / 100,
    memory: (host.heartbeat?.memoryUsage ?? 0) / 100,
    active,
    max,
  };
}

/** Options for {@linkcode overloadOf}. */
export interface OverloadOptions {
  /** Count the session ratio too (sharing does; new sessions only need room). */
  sessions?: boolean;
}

/** Why a host is overloaded, or undefined when it is not. */
export function overloadOf(
  host: HostView,
  settings: PlacementSettings,
  options: OverloadOptions = {},
): string | undefined {
  const load = hostLoad(host);
  const limits = settings.overload;
  if (options.sessions !== false && load.sessionRatio >= limits.sessionRatio) {
    return `overloaded: ${load.active}/${load.max} sessions ≥ ${
      Math.round(limits.sessionRatio * 100)
    }%`;
  }
  // 100 % switches a limit off: a fully busy host still takes sessions.
  if (limits.cpuUsage < 100 && load.cpu * 100 >= limits.cpuUsage) {
    return `overloaded: CPU ${
      Math.round(load.cpu * 100)
    }% ≥ ${limits.cpuUsage}%`;
  }
  if (limits.memoryUsage < 100 && load.memory * 100 >= limits.memoryUsage) {
    return `overloaded: memory ${
      Math.round(load.memory * 100)
    }% ≥ ${limits.memoryUsage}%`;
  }
  return undefined;
}

/** The load score used by breadth-first placement (lower is better). */
export function loadScore(host: HostView, settings: PlacementSettings): number {
  const load = hostLoad(host);
  const w = settings.weights;
  return w.sessions * load.sessionRatio + w.cpu * load.cpu +
    w.memory * load.memory;
}

/** What a host lacks of a workspace's tags and capabilities, if anything. */
export function missingFor(
  workspace: Workspace,
  host: HostView,
): string | undefined {
  return missingFrom(workspace, host.registration);
}

/** What a host profile lacks of a workspace's tags and capabilities. */
export function missingFrom(
  workspace: Workspace,
  profile: HostProfile,
): string | undefined {
  const tags = workspace.requiredTags.filter((t) => !profile.tags.includes(t));
  if (tags.length) return `lacks tags ${tags.join(", ")}`;
  const caps = workspace.requiredCapabilities.filter((c) =>
    !profile.capabilities.includes(c)
  );
  if (caps.length) return `lacks capabilities ${caps.join(", ")}`;
  const platform = platformOf(profile);
  if (workspace.kind === "app" && !workspace.command[platform]) {
    return `no ${platform} command for ${workspace.id}`;
  }
  return undefined;
}

/**
 * Why a host cannot take a new session for its load alone (full, too many
 * logons, CPU or memory over the limit), or undefined. An index keeps such
 * hosts out of its ranking.
 */
export function overLimitOf(
  host: HostView,
  settings: PlacementSettings,
): string | undefined {
  const load = hostLoad(host);
  if (load.active >= load.max) {
    return `full: ${load.active}/${load.max} sessions`;
  }
  if (host.logonsInFlight >= settings.maxConcurrentLogons) {
    return `${host.logonsInFlight} logons in progress (cap ${settings.maxConcurrentLogons})`;
  }
  return overloadOf(host, settings, { sessions: false });
}

/**
 * What load balancing minimises: the load score (breadth-first) or minus the
 * session ratio (depth-first: fullest first).
 */
export function rankKey(host: HostView, settings: PlacementSettings): number {
  return settings.strategy === "breadth"
    ? loadScore(host, settings)
    : -hostLoad(host).sessionRatio;
}

/**
 * The resources `needed` asks for that `offered` does not allow: a flag the
 * session lacks, or a limit (`videoMaxKbps`, `downloadMaxBytes`,
 * `maxPixelRatio`) below the app's.
 */
export function missingResources(
  needed: Resources,
  offered: Resources,
): string[] {
  return (Object.keys(needed) as (keyof Resources)[]).filter((key) => {
    const want = needed[key];
    const have = offered[key];
    // A session recorded before a limit existed has that limit's default.
    if (typeof want === "number") {
      return typeof have === "number" && want > have;
    }
    return want && !have;
  });
}

/** Decides where a launch goes. */
export function place(input: PlacementInput): PlacementDecision {
  const hosts = input.hosts;
  const lookup = isIndex(hosts) ? hosts : byUrl(hosts);
  const { overloaded, ...shared } = shareSession(input, lookup);
  if (shared.outcome === "share") return shared;
  // A session not shared because its host is overloaded means a new session
  // on a different server (session_sharing.txt).
  const fresh = isIndex(hosts)
    ? chooseIndexed(input, hosts, overloaded)
    : chooseHost(input, hosts, overloaded);
  return { ...fresh, sessions: shared.sessions };
}

function isIndex(hosts: readonly HostView[] | HostIndex): hosts is HostIndex {
  return !Array.isArray(hosts);
}

function byUrl(hosts: readonly HostView[]): Pick<HostIndex, "get"> {
  const map = new Map(hosts.map((h) => [h.serverUrl, h]));
  return { get: (url) => map.get(url) };
}

/**
 * Why `session` cannot host the app `workspace` (the sharing rules), or
 * undefined when it can. Also used when a launch names a session itself.
 */
export function sharingRefusal(
  workspace: Workspace,
  session: SessionRecord,
  options: { host: HostView | undefined; settings: PlacementSettings },
): string | undefined {
  const { host, settings } = options;
  if (workspace.kind === "desktop") {
    return "published desktops never share a session";
  }
  if (session.kind !== "app") {
    return "a desktop session is not shared with apps";
  }
  const missing = missingResources(workspace.resources, session.resources);
  if (missing.length) {
    return `incompatible resources: the app needs ${missing.join(", ")}`;
  }
  if (session.credentials !== workspace.credentials) {
    return `other credentials (${session.credentials}, the app uses ${workspace.credentials})`;
  }
  if (!host) return "its host is not registered";
  if (host.state !== "Healthy") {
    return `its host is ${host.state}: ${host.stateReason}`;
  }
  const lacks = missingFor(workspace, host);
  if (lacks) return `the app is not on its host: ${lacks}`;
  const overload = overloadOf(host, settings);
  if (overload) return `its host is ${overload}`;
  return undefined;
}

function shareSession(
  input: PlacementInput,
  hostsByUrl: Pick<HostIndex, "get">,
): PlacementDecision & { overloaded: Set<string> } {
  const { workspace, settings } = input;
  const overloaded = new Set<string>();
  if (workspace.kind === "desktop") {
    return {
      outcome: "none",
      summary: "published desktops never share a session",
      sessions: [],
      hosts: [],
      overloaded,
    };
  }
  const verdicts: Verdict[] = [];
  let best: { verdict: Verdict; score: number } | undefined;
  for (const session of input.sessions) {
    const host = hostsByUrl.get(session.serverUrl);
    const verdict: Verdict = {
      sessionId: session.sessionId,
      serverUrl: session.serverUrl,
      verdict: "excluded",
      reason: "",
    };
    verdicts.push(verdict);
    const refusal = input.exclude?.has(session.serverUrl)
      ? "its host failed this launch"
      : sharingRefusal(workspace, session, { host, settings });
    if (refusal) {
      verdict.reason = refusal;
      // Only a refusal for the load itself keeps the host out of the new
      // round; other reasons leave load balancing as if it had no session.
      const overload = host && overloadOf(host, settings);
      if (overload && refusal === `its host is ${overload}`) {
        overloaded.add(host.serverUrl);
      }
      continue;
    }
    const score = loadScore(host!, settings);
    verdict.verdict = "eligible";
    verdict.score = round(score);
    verdict.reason = "compatible";
    if (!best || score < best.score) best = { verdict, score };
  }
  if (!best) {
    return {
      outcome: "none",
      summary: input.sessions.length
        ? "no session of the user can host the app"
        : "the user has no session to share",
      sessions: verdicts,
      hosts: [],
      overloaded,
    };
  }
  best.verdict.verdict = "chosen";
  best.verdict.reason = "compatible, on the least-loaded host";
  return {
    outcome: "share",
    sessionId: best.verdict.sessionId,
    serverUrl: best.verdict.serverUrl,
    summary:
      `shares session ${best.verdict.sessionId} on ${best.verdict.serverUrl}`,
    sessions: verdicts,
    hosts: [],
    overloaded,
  };
}

/** Why a host cannot take the new session, or undefined when it can. */
function exclusionOf(
  input: PlacementInput,
  host: HostView,
  overloadedForSharing: ReadonlySet<string>,
): string | undefined {
  const { workspace, settings } = input;
  if (host.state !== "Healthy") return `${host.state}: ${host.stateReason}`;
  if (input.exclude?.has(host.serverUrl)) {
    return "failed to start a session for this launch";
  }
  if (overloadedForSharing.has(host.serverUrl)) {
    return `${
      overloadOf(host, settings)
    }: the user's session there was not shared, so not here either`;
  }
  return missingFor(workspace, host) ?? overLimitOf(host, settings);
}

interface Candidate {
  verdict: Verdict;
  key: number;
}

function eligibleVerdict(
  host: HostView,
  settings: PlacementSettings,
): Candidate {
  const score = round(loadScore(host, settings));
  return {
    verdict: {
      serverUrl: host.serverUrl,
      verdict: "eligible",
      reason: `load score ${score}`,
      score,
    },
    key: rankKey(host, settings),
  };
}

/** Two keys closer than this are a tie. */
const TIE = 1e-9;

/** The reference: every host looked at and explained. */
function chooseHost(
  input: PlacementInput,
  hosts: readonly HostView[],
  overloadedForSharing: ReadonlySet<string>,
): PlacementDecision {
  const { settings } = input;
  const verdicts: Verdict[] = [];
  const eligible: Candidate[] = [];
  let best = Infinity;
  for (const host of hosts) {
    const reason = exclusionOf(input, host, overloadedForSharing);
    if (reason) {
      verdicts.push({ serverUrl: host.serverUrl, verdict: "excluded", reason });
      continue;
    }
    const candidate = eligibleVerdict(host, settings);
    verdicts.push(candidate.verdict);
    eligible.push(candidate);
    best = Math.min(best, candidate.key);
  }
  const tied = eligible.filter((c) => c.key <= best + TIE);
  return decide(input, { tied, verdicts, hostCount: hosts.length });
}

/**
 * The indexed path: groups that lack what the workspace needs are counted,
 * not visited; in the others, hosts are visited best first until the winner
 * and its ties are known, then {@linkcode RUNNERS_UP} more candidates.
 */
function chooseIndexed(
  input: PlacementInput,
  index: HostIndex,
  overloadedForSharing: ReadonlySet<string>,
): PlacementDecision {
  const { workspace, settings } = input;
  const omitted: Record<string, number> = {};
  const count = (reason: string, n: number): void => {
    if (n > 0) omitted[reason] = (omitted[reason] ?? 0) + n;
  };
  const rankings: Iterator<HostView>[] = [];
  let inRankings = 0;
  for (const group of index.groups(settings)) {
    const lacks = missingFrom(workspace, group.profile);
    if (lacks) {
      count(lacks, group.size);
      continue;
    }
    let rankedCount = group.size;
    for (const [reason, n] of group.unranked) {
      count(reason, n);
      rankedCount -= n;
    }
    inRankings += rankedCount;
    rankings.push(group.ranked()[Symbol.iterator]());
  }
  // Merge the groups' rankings, best first.
  const heads = rankings.flatMap((it) => {
    const next = it.next();
    return next.done ? [] : [{ it, host: next.value, key: 0 }];
  });
  for (const head of heads) head.key = rankKey(head.host, settings);
  const verdicts: Verdict[] = [];
  const tied: Candidate[] = [];
  let best = Infinity;
  let runnersUp = 0;
  while (heads.length) {
    let at = 0;
    for (let i = 1; i < heads.length; i++) {
      const a = heads[i], b = heads[at];
      if (
        a.key < b.key ||
        (a.key === b.key && a.host.serverUrl < b.host.serverUrl)
      ) at = i;
    }
    const head = heads[at];
    if (head.key > best + TIE && runnersUp >= RUNNERS_UP) break;
    const host = head.host;
    const reason = exclusionOf(input, host, overloadedForSharing);
    if (reason) {
      verdicts.push({ serverUrl: host.serverUrl, verdict: "excluded", reason });
    } else {
      const candidate = eligibleVerdict(host, settings);
      verdicts.push(candidate.verdict);
      if (best === Infinity) best = candidate.key;
      if (candidate.key <= best + TIE) tied.push(candidate);
      else runnersUp++;
    }
    const next = head.it.next();
    if (next.done) heads.splice(at, 1);
    else {
      head.host = next.value;
      head.key = rankKey(next.value, settings);
    }
  }
  count(
    "not looked at: ranked after the chosen host",
    inRankings - verdicts.length,
  );
  const decision = decide(input, { tied, verdicts, hostCount: index.size });
  return Object.keys(omitted).length ? { ...decision, omitted } : decision;
}

/** The winner among the tied best candidates: one random draw. */
function decide(
  input: PlacementInput,
  options: { tied: Candidate[]; verdicts: Verdict[]; hostCount: number },
): PlacementDecision {
  const { workspace, settings } = input;
  const { tied, verdicts } = options;
  if (!tied.length) {
    return {
      outcome: "none",
      summary: options.hostCount
        ? `no host can take ${workspace.id}`
        : "no host is registered",
      sessions: [],
      hosts: verdicts,
    };
  }
  // Ties in URL order, so that both paths draw from the same list.
  tied.sort((a, b) =>
    a.verdict.serverUrl < b.verdict.serverUrl
      ? -1
      : a.verdict.serverUrl > b.verdict.serverUrl
      ? 1
      : 0
  );
  const random = input.random ?? Math.random;
  const winner =
    tied[Math.min(tied.length - 1, Math.floor(random() * tied.length))];
  winner.verdict.verdict = "chosen";
  winner.verdict.reason = settings.strategy === "breadth"
    ? `least loaded (score ${winner.verdict.score})`
    : `fullest with room (depth-first, score ${winner.verdict.score})`;
  return {
    outcome: "new",
    serverUrl: winner.verdict.serverUrl,
    summary:
      `new session on ${winner.verdict.serverUrl} (${settings.strategy}-first)`,
    sessions: [],
    hosts: verdicts,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
