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
  /** Every known host. */
  hosts: readonly HostView[];
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
}

/** The platform a host runs, from its capabilities. */
export function hostPlatform(host: HostView): "windows" | "linux" {
  return host.registration.capabilities.includes("windows")
    ? "windows"
    : "linux";
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
  const tags = workspace.requiredTags.filter((t) =>
    !host.registration.tags.includes(t)
  );
  if (tags.length) return `lacks tags ${tags.join(", ")}`;
  const caps = workspace.requiredCapabilities.filter((c) =>
    !host.registration.capabilities.includes(c)
  );
  if (caps.length) return `lacks capabilities ${caps.join(", ")}`;
  if (workspace.kind === "app" && !commandFor(workspace, host)) {
    return `no ${hostPlatform(host)} command for ${workspace.id}`;
  }
  return undefined;
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
  const hostsByUrl = new Map(input.hosts.map((h) => [h.serverUrl, h]));
  const { overloaded, ...shared } = shareSession(input, hostsByUrl);
  if (shared.outcome === "share") return shared;
  // A session not shared because its host is overloaded means a new session
  // on a different server (session_sharing.txt).
  const fresh = chooseHost(input, overloaded);
  return { ...fresh, sessions: shared.sessions };
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
  hostsByUrl: Map<string, HostView>,
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

function chooseHost(
  input: PlacementInput,
  overloadedForSharing: ReadonlySet<string>,
): PlacementDecision {
  const { workspace, settings } = input;
  const random = input.random ?? Math.random;
  const verdicts: Verdict[] = [];
  const eligible: { verdict: Verdict; key: number; tie: number }[] = [];
  for (const host of input.hosts) {
    const verdict: Verdict = {
      serverUrl: host.serverUrl,
      verdict: "excluded",
      reason: "",
    };
    verdicts.push(verdict);
    const load = hostLoad(host);
    const lacks = host.state === "Healthy" ? missingFor(workspace, host) : "";
    if (host.state !== "Healthy") {
      verdict.reason = `${host.state}: ${host.stateReason}`;
    } else if (input.exclude?.has(host.serverUrl)) {
      verdict.reason = "failed to start a session for this launch";
    } else if (overloadedForSharing.has(host.serverUrl)) {
      verdict.reason = `${
        overloadOf(host, settings)
      }: the user's session there was not shared, so not here either`;
    } else if (lacks) {
      verdict.reason = lacks;
    } else if (load.active >= load.max) {
      verdict.reason = `full: ${load.active}/${load.max} sessions`;
    } else if (host.logonsInFlight >= settings.maxConcurrentLogons) {
      verdict.reason =
        `${host.logonsInFlight} logons in progress (cap ${settings.maxConcurrentLogons})`;
    } else {
      const overload = overloadOf(host, settings, { sessions: false });
      if (overload) verdict.reason = overload;
      else {
        const score = loadScore(host, settings);
        verdict.verdict = "eligible";
        verdict.score = round(score);
        verdict.reason = `load score ${verdict.score}`;
        // Breadth: least loaded first. Depth: fullest (by sessions) first.
        const key = settings.strategy === "breadth"
          ? score
          : -load.sessionRatio;
        eligible.push({ verdict, key, tie: random() });
      }
    }
  }
  if (!eligible.length) {
    return {
      outcome: "none",
      summary: input.hosts.length
        ? `no host can take ${workspace.id}`
        : "no host is registered",
      sessions: [],
      hosts: verdicts,
    };
  }
  let winner = eligible[0];
  for (const candidate of eligible) {
    const better = candidate.key < winner.key - 1e-9 ||
      (Math.abs(candidate.key - winner.key) <= 1e-9 &&
        candidate.tie < winner.tie);
    if (better) winner = candidate;
  }
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
