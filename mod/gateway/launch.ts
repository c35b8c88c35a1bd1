/**
 * A launch, from a signed-in user's request to a connection token: who may
 * launch what, reconnects to a known session, desktop relaunches, session
 * sharing and load balancing (through {@linkcode place}), the licence limit,
 * the farm-wide claim (claims.ts), the call to the chosen host, a second
 * host when the first fails or is full across the farm, and the session
 * record. Every launch leaves its placement explanation in the
 * decision log.
 *
 * @module
 */
import type { Config, Workspace } from "../config/mod.ts";
import type { ConnectionAnswer } from "../contract/mod.ts";
import type { Logger } from "../log/mod.ts";
import {
  claimLifetimeMs,
  type ClaimOutcome,
  type ClaimRefusal,
  licenceMessage,
  refusalMessage,
} from "./claims.ts";
import {
  getConnection,
  type HostCallOptions,
  HostError,
} from "./host_client.ts";
import { liveSince } from "./liveness.ts";
import {
  commandFor,
  hostLoad,
  place,
  type PlacementDecision,
  sharingRefusal,
} from "./placement.ts";
import { logOffHostSession } from "./host_sessions.ts";
import type { HostRegistry, LogonOutcome } from "./registry.ts";
import type { SessionMap } from "./sessions.ts";
import type { GatewayStore } from "./store.ts";
import {
  storeErrorCause,
  storeFailureMessage,
  type StoreState,
} from "./store_guard.ts";
import type { HostView, Identity, SessionRecord } from "./types.ts";

/** What a user asks for. */
export interface LaunchRequest {
  /** Who asks. */
  identity: Identity;
  /** The workspace to launch. */
  workspaceId: string;
  /** An existing session to reconnect to (or to start the app in). */
  sessionId?: string;
  /** The browser's size. */
  width?: number;
  /** The browser's size. */
  height?: number;
}

/** What the browser needs to connect. */
export interface LaunchResult {
  /** The client-facing session id; launching again with it reconnects. */
  sessionId: string;
  /** The WebSocket path on the gateway (`/ws/{sessionId}`). */
  websocketPath: string;
  /** The one-time connection token. */
  token: string;
  /** `new`, `share` or `reconnect`. */
  outcome: "new" | "share" | "reconnect";
  /** The decision log entry explaining the placement. */
  decisionId: string;
}

/** A launch that cannot be served; `status` is the HTTP status to answer. */
export class LaunchError extends Error {
  /** HTTP status. */
  readonly status: 403 | 404 | 409 | 429 | 503;
  /** The decision log entry, when placement ran. */
  readonly decisionId?: string;

  constructor(
    status: 403 | 404 | 409 | 429 | 503,
    message: string,
    decisionId?: string,
  ) {
    super(message);
    this.name = "LaunchError";
    this.status = status;
    this.decisionId = decisionId;
  }
}

/** One entry of the decision log. */
export interface DecisionRecord {
  /** Its id. */
  id: string;
  /** When. */
  at: string;
  /** Who launched. */
  user: string;
  /** What. */
  workspaceId: string;
  /** How it ended: `new`, `share`, `reconnect` or `refused`. */
  outcome: "new" | "share" | "reconnect" | "refused";
  /** The session it ended in. */
  sessionId?: string;
  /** The host it ended on. */
  serverUrl?: string;
  /** In words. */
  summary: string;
  /** Each placement round (one per host tried). */
  rounds: LoggedRound[];
  /** Placement time in milliseconds (all rounds, without host calls). */
  placementMs: number;
}

/** Options for {@linkcode Launcher}. */
export interface LauncherOptions {
  /** The validated configuration. */
  config: Config;
  /** Hosts. */
  registry: HostRegistry;
  /** Sessions. */
  sessions: SessionMap;
  /** Logger. */
  logger: Logger;
  /** Called after every launch (for metrics). */
  onLaunch?: (record: DecisionRecord) => void;
  /**
   * Whether the state store can be written, asked before a new session is
   * started: a failing store refuses it (503) before any host is called.
   * Default: always working.
   */
  storeState?: () => StoreState;
  /** Decisions kept for the admin API. Default 500. */
  decisionLogSize?: number;
  /**
   * Where new sessions are claimed against the farm-wide limits (the store
   * every gateway of the farm shares).
   */
  claims: Pick<GatewayStore, "claimSession" | "releaseClaim">;
  /** This gateway's id among the gateways on the store (`Gateway.id`). */
  gatewayId: string;
  /** Clock of the session map (ms), for the claims' counts. Default `Date.now`. */
  now?: () => number;
}

/** A new session started, or a host that the farm-wide limits refused. */
type NewSession =
  | { kind: "started"; result: Omit<LaunchResult, "decisionId"> }
  | ({ kind: "refused" } & ClaimRefusal);

/** Launches workspaces for signed-in users. */
export class Launcher {
  readonly #config: Config;
  readonly #registry: HostRegistry;
  readonly #sessions: SessionMap;
  readonly #logger: Logger;
  readonly #onLaunch?: (record: DecisionRecord) => void;
  readonly #storeState: () => StoreState;
  readonly #claims: LauncherOptions["claims"];
  readonly #gatewayId: string;
  readonly #now: () => number;
  readonly #workspaces: Map<string, Workspace>;
  readonly #log = new Map<string, DecisionRecord>();
  readonly #userQueue = new Map<string, Promise<unknown>>();
  /** New sessions being started right now (they hold a licence already). */
  #starting = 0;
  readonly #logSize: number;

  constructor(options: LauncherOptions) {
    this.#config = options.config;
    this.#registry = options.registry;
    this.#sessions = options.sessions;
    this.#logger = options.logger;
    this.#onLaunch = options.onLaunch;
    this.#storeState = options.storeState ?? (() => ({ kind: "working" }));
    this.#logSize = options.decisionLogSize ?? 500;
    this.#claims = options.claims;
    this.#gatewayId = options.gatewayId;
    this.#now = options.now ?? Date.now;
    this.#workspaces = new Map(
      options.config.gateway.workspaces.map((w) => [w.id, w]),
    );
  }

  /** How the gateway calls hosts. */
  get #hostCall(): HostCallOptions {
    return {
      sharedSecret: this.#config.gateway.backend.sharedSecret,
      timeoutMs: this.#config.gateway.placement.hostTimeout * 1000,
    };
  }

  /** The workspaces `identity` may launch. */
  workspacesFor(identity: Identity): Workspace[] {
    return [...this.#workspaces.values()].filter((w) => mayLaunch(identity, w));
  }

  /** Recent decisions, newest first. */
  decisions(): DecisionRecord[] {
    return [...this.#log.values()].reverse();
  }

  /** One decision. */
  decision(id: string): DecisionRecord | undefined {
    return this.#log.get(id);
  }

  /**
   * Launches a workspace.
   *
   * @throws {LaunchError} with the status and message to answer.
   */
  async launch(request: LaunchRequest): Promise<LaunchResult> {
    const { identity } = request;
    const workspace = this.#workspaces.get(request.workspaceId);
    if (!workspace) {
      throw new LaunchError(404, `no workspace "${request.workspaceId}"`);
    }
    if (!mayLaunch(identity, workspace)) {
      throw new LaunchError(
        403,
        `${identity.user} may not launch ${workspace.id}`,
      );
    }
    const record: DecisionRecord = {
      id: crypto.randomUUID(),
      at: new Date().toISOString(),
      user: identity.user,
      workspaceId: workspace.id,
      outcome: "refused",
      summary: "",
      rounds: [],
      placementMs: 0,
    };
    // One launch per user at a time: a double click, or two apps launched
    // together, must find the session the other one created.
    const previous = this.#userQueue.get(identity.user) ?? Promise.resolve();
    const turn = previous.catch(() => {}).then(() =>
      this.#launch(request, workspace, record)
    );
    this.#userQueue.set(identity.user, turn);
    try {
      const result = await turn;
      record.outcome = result.outcome;
      record.sessionId = result.sessionId;
      return { ...result, decisionId: record.id };
    } catch (error) {
      record.outcome = "refused";
      // A refusal is explained by why it failed, not by where it was headed.
      record.summary = (error as Error).message;
      if (error instanceof LaunchError) {
        throw new LaunchError(error.status, error.message, record.id);
      }
      if (error instanceof HostError) {
        throw new LaunchError(503, error.message, record.id);
      }
      throw error;
    } finally {
      if (this.#userQueue.get(identity.user) === turn) {
        this.#userQueue.delete(identity.user);
      }
      this.#remember(record);
      this.#onLaunch?.(record);
    }
  }

  async #launch(
    request: LaunchRequest,
    workspace: Workspace,
    record: DecisionRecord,
  ): Promise<Omit<LaunchResult, "decisionId">> {
    const user = request.identity.user;
    // A reconnect: another gateway may have placed it a moment ago.
    const known = request.sessionId
      ? await this.#sessions.find(request.sessionId)
      : this.#desktopToReuse(user, workspace);
    if (request.sessionId && (!known || known.user !== user)) {
      throw new LaunchError(
        404,
        `no session "${request.sessionId}" of ${user}`,
      );
    }
    if (known && request.sessionId) {
      const refusal = this.#intoRefusal(known, workspace);
      if (refusal) {
        throw new LaunchError(
          409,
          `${workspace.id} cannot run in session ${known.sessionId}: ${refusal}`,
        );
      }
    }
    if (known) {
      record.summary =
        `reconnects session ${known.sessionId} on ${known.serverUrl}`;
      record.serverUrl = known.serverUrl;
      try {
        return await this.#into(known, request, workspace, "reconnect");
      } catch (error) {
        if (!(error instanceof HostError)) throw error;
        if (request.sessionId) {
          throw new LaunchError(
            503,
            `the session's host did not answer: ${error.message}`,
          );
        }
        // The desktop's host is gone: place a new one instead.
        this.#sessions.delete(known.sessionId, error.message);
      }
    }

    const exclude = new Set<string>();
    const attempts = this.#config.gateway.placement.hostAttempts;
    /** Why the last host tried could not start the session. */
    let lastFailure: string | undefined;
    for (let round = 0; round < attempts; round++) {
      const started = performance.now();
      const decision = place({
        workspace,
        sessions: this.#sessions.ofUser(user),
        // A small farm is scanned whole, so every host is explained.
        hosts: this.#registry.size > FULL_SCAN_HOSTS
          ? this.#registry.index()
          : this.#registry.list(),
        settings: this.#config.gateway.placement,
        exclude,
      });
      record.placementMs += performance.now() - started;
      record.rounds.push(decision);
      record.summary = decision.summary;
      record.serverUrl = decision.serverUrl;
      if (decision.outcome === "share") {
        const session = this.#sessions.get(decision.sessionId!)!;
        try {
          return await this.#into(session, request, workspace, "share");
        } catch (error) {
          if (!(error instanceof HostError)) throw error;
          lastFailure = error.message;
          exclude.add(session.serverUrl);
          continue;
        }
      }
      if (decision.outcome === "none") break;
      this.#checkLicence();
      this.#checkStore();
      try {
        const started = await this.#newSession(
          decision.serverUrl!,
          request,
          workspace,
        );
        if (started.kind === "started") return started.result;
        // Full across the farm (or its logons at the cap): another host.
        lastFailure = refusalMessage(started);
        exclude.add(decision.serverUrl!);
        this.#logger.info("a farm-wide limit refused a host; trying another", {
          serverUrl: decision.serverUrl,
          reason: lastFailure,
        });
      } catch (error) {
        if (!(error instanceof HostError) || !error.retryable) throw error;
        lastFailure = error.message;
        exclude.add(decision.serverUrl!);
        this.#logger.warn("host failed a launch; trying another", {
          serverUrl: decision.serverUrl,
          error: error.message,
        });
      }
    }
    const last = record.rounds.at(-1);
    const reasons = [
      ...last?.hosts
        .filter((v) => v.verdict === "excluded")
        .map((v) => `${v.serverUrl}: ${v.reason}`) ?? [],
      ...Object.entries(last?.omitted ?? {})
        .map(([reason, n]) => `${n} hosts: ${reason}`),
    ].slice(0, 5);
    throw new LaunchError(
      503,
      lastFailure
        ? `no host could start the session (${lastFailure})`
        : `${last?.summary ?? "no host"}${
          reasons.length ? ` (${reasons.join("; ")})` : ""
        }`,
    );
  }

  /**
   * Why `workspace` cannot be launched into `session` when a launch names
   * the session itself: a desktop only reconnects its own session, and a new
   * app there must pass the session sharing rules.
   */
  #intoRefusal(
    session: SessionRecord,
    workspace: Workspace,
  ): string | undefined {
    if (workspace.kind === "desktop") {
      return session.kind === "desktop" &&
          session.workspaceIds[0] === workspace.id
        ? undefined
        : "it is not this desktop's session";
    }
    if (session.workspaceIds.includes(workspace.id)) return undefined;
    return sharingRefusal(workspace, session, {
      host: this.#registry.get(session.serverUrl),
      settings: this.#config.gateway.placement,
    });
  }

  /** A live desktop session of this workspace the user already has. */
  #desktopToReuse(
    user: string,
    workspace: Workspace,
  ): SessionRecord | undefined {
    if (workspace.kind !== "desktop") return undefined;
    return this.#sessions.ofUser(user).find((s) =>
      s.kind === "desktop" && s.workspaceIds[0] === workspace.id
    );
  }

  #checkLicence(): void {
    const limit = this.#config.gateway.licence.maxConcurrentSessions;
    if (limit > 0 && this.#sessions.liveCount() + this.#starting >= limit) {
      throw new LaunchError(429, licenceMessage(limit));
    }
  }

  /** A new session needs the store: refused at once while it fails. */
  #checkStore(): void {
    const state = this.#storeState();
    if (state.kind === "failing") {
      throw new LaunchError(503, storeFailureMessage(state.cause));
    }
  }

  async #newSession(
    serverUrl: string,
    request: LaunchRequest,
    workspace: Workspace,
  ): Promise<NewSession> {
    const host = this.#registry.get(serverUrl)!;
    const sessionId = crypto.randomUUID();
    const done = this.#registry.beginLogon(serverUrl);
    this.#starting++;
    let answer: ConnectionAnswer;
    let outcome: LogonOutcome = "failed";
    let claimed = false;
    try {
      const claim = await this.#claim(sessionId, host);
      if (claim.kind === "refused") {
        if (claim.limit === "licence") {
          throw new LaunchError(429, refusalMessage(claim));
        }
        return claim;
      }
      claimed = true;
      answer = await getConnection(serverUrl, {
        sessionId,
        workspace,
        command: workspace.kind === "app"
          ? commandFor(workspace, host)
          : undefined,
        resources: workspace.resources,
        width: request.width,
        height: request.height,
      }, this.#hostCall);
      const now = Date.now();
      try {
        await this.#sessions.add({
          sessionId,
          sessionUuid: answer.sessionUuid,
          user: request.identity.user,
          credentials: workspace.credentials,
          serverUrl,
          host: answer.host,
          port: answer.port,
          path: answer.path,
          kind: workspace.kind,
          workspaceIds: [workspace.id],
          resources: workspace.resources,
          createdAt: now,
          lastLaunchAt: now,
        });
      } catch (error) {
        // Nobody may be sent to a session the gateway could not record: end
        // it on its host, so it holds no slot there.
        await this.#endUnrecorded(serverUrl, answer.sessionUuid, sessionId);
        throw new LaunchError(503, storeFailureMessage(storeErrorCause(error)));
      }
      outcome = "placed";
    } finally {
      // Recording the session released its claim; otherwise release it now,
      // so the next try counts without it.
      if (claimed && outcome !== "placed") {
        await this.#claims.releaseClaim(sessionId);
      }
      // Also releases the slot reserved on the host when it was not placed.
      done(outcome);
      this.#starting--;
    }
    this.#logger.info("session launched", {
      sessionId,
      user: request.identity.user,
      workspace: workspace.id,
      serverUrl,
    });
    return {
      kind: "started",
      result: {
        sessionId,
        websocketPath: `/ws/${sessionId}`,
        token: answer.token,
        outcome: "new",
      },
    };
  }

  /**
   * Claims room for `sessionId` on `host` farm-wide (claims.ts): the
   * licence, the host's capacity as placement counts it and its logon cap.
   */
  async #claim(sessionId: string, host: HostView): Promise<ClaimOutcome> {
    const now = this.#now();
    const { licence, placement } = this.#config.gateway;
    try {
      return await this.#claims.claimSession({
        sessionId,
        gatewayId: this.#gatewayId,
        serverUrl: host.serverUrl,
        now,
        expiresAt: now + claimLifetimeMs(placement.hostTimeout * 1000),
        liveSince: liveSince(now, licence.staleAfter * 1000),
        limits: {
          licence: licence.maxConcurrentSessions,
          hostCapacity: hostLoad(host).max,
          logonCap: placement.maxConcurrentLogons,
        },
      });
    } catch (error) {
      throw new LaunchError(503, storeFailureMessage(storeErrorCause(error)));
    }
  }

  /** Logs off a session its host started but the gateway could not record. */
  async #endUnrecorded(
    serverUrl: string,
    sessionUuid: string,
    sessionId: string,
  ): Promise<void> {
    const ended = await logOffHostSession(serverUrl, sessionUuid, {
      ...this.#hostCall,
      reason: "the gateway could not record the session",
    });
    if (ended.kind === "failed") {
      // The host ends it by itself when no viewer comes.
      this.#logger.warn(
        "a session the gateway could not record is left to its host",
        {
          sessionId,
          sessionUuid,
          serverUrl,
          error: ended.detail,
        },
      );
    }
  }

  /**
   * Reconnects to `session`, starting `workspace` in it if it is a new app
   * there. An app's command goes with every launch of it (reconnects too):
   * the host starts it only when it does not run there (it may have
   * closed), and the tab is told which app it shows.
   */
  async #into(
    session: SessionRecord,
    request: LaunchRequest,
    workspace: Workspace,
    outcome: "share" | "reconnect",
  ): Promise<Omit<LaunchResult, "decisionId">> {
    const host = this.#registry.get(session.serverUrl);
    if (!host || host.state === "Unregistered") {
      throw new HostError(`${session.serverUrl} is no longer registered`);
    }
    const starting = workspace.kind === "app" &&
      !session.workspaceIds.includes(workspace.id);
    const answer = await getConnection(session.serverUrl, {
      sessionId: session.sessionId,
      workspace,
      command: workspace.kind === "app"
        ? commandFor(workspace, host)
        : undefined,
      resources: session.resources,
      width: request.width,
      height: request.height,
    }, this.#hostCall);
    const now = Date.now();
    const replaced = answer.sessionUuid !== session.sessionUuid;
    // A host that lost the session started a new one under the same id.
    this.#sessions.put({
      ...session,
      sessionUuid: answer.sessionUuid,
      host: answer.host,
      port: answer.port,
      path: answer.path,
      workspaceIds: replaced
        ? [workspace.id]
        : starting
        ? [...session.workspaceIds, workspace.id]
        : session.workspaceIds,
      createdAt: replaced ? now : session.createdAt,
      lastLaunchAt: now,
    });
    return {
      sessionId: session.sessionId,
      websocketPath: `/ws/${session.sessionId}`,
      token: answer.token,
      outcome,
    };
  }

  #remember(record: DecisionRecord): void {
    // With a thousand hosts a full explanation is large: keep what was
    // chosen, some candidates and exclusions, and count the rest by reason.
    record.rounds = record.rounds.map((round) => compactRound(round));
    this.#log.set(record.id, record);
    while (this.#log.size > this.#logSize) {
      this.#log.delete(this.#log.keys().next().value!);
    }
  }
}

/** True when `identity` may launch `workspace` (no users and no groups: everyone). */
export function mayLaunch(identity: Identity, workspace: Workspace): boolean {
  if (!workspace.users.length && !workspace.groups.length) return true;
  return workspace.users.includes(identity.user) ||
    workspace.groups.some((g) => identity.groups.includes(g));
}

/**
 * Up to this many hosts, placement scans them all and explains each; above,
 * it uses the registry's index and counts the hosts it did not look at.
 */
export const FULL_SCAN_HOSTS = 200;

/** Verdicts of each kind kept in a logged placement round. */
export const KEPT_VERDICTS = 25;

/**
 * A placement round as the decision log keeps it: `omitted` also counts the
 * verdicts left out.
 */
export type LoggedRound = PlacementDecision;

function compactRound(round: PlacementDecision): LoggedRound {
  if (round.hosts.length <= 3 * KEPT_VERDICTS) return round;
  const chosen = round.hosts.filter((v) => v.verdict === "chosen");
  const eligible = round.hosts.filter((v) => v.verdict === "eligible")
    .sort((a, b) => (a.score ?? 0) - (b.score ?? 0));
  const excluded = round.hosts.filter((v) => v.verdict === "excluded");
  const omitted: Record<string, number> = { ...round.omitted };
  for (
    const v of [
      ...eligible.slice(KEPT_VERDICTS),
      ...excluded.slice(KEPT_VERDICTS),
    ]
  ) {
    const reason = v.verdict === "eligible" ? "eligible, not chosen" : v.reason;
    omitted[reason] = (omitted[reason] ?? 0) + 1;
  }
  return {
    ...round,
    hosts: [
      ...chosen,
      ...eligible.slice(0, KEPT_VERDICTS),
      ...excluded.slice(0, KEPT_VERDICTS),
    ],
    omitted,
  };
}
