/**
 * A real `webstream -gateway` with real `webstream -backend` hosts behind it,
 * for integration tests on loopback: a gateway configuration with users and
 * workspaces, the gateway and host processes (stopped by their PIDs), a
 * signed-in user who keeps the gateway's cookie, launches and viewer
 * connections through the gateway's `/ws/:sessionId` relay, the admin API
 * (with the admin token) and the session resolver.
 *
 * @module
 */
import { hashPassword } from "../../mod/gateway/auth/password.ts";
import type { DecisionRecord } from "../../mod/gateway/launch.ts";
import { deleteUser } from "../../mod/platform/linux/accounts.ts";
import { stringify } from "yaml";
import { assertEquals } from "./assert.ts";
import { type TestConfig, writeTestConfig } from "./config.ts";
import { poolUserProcesses, poolUsers } from "./pool_users.ts";
import { freePort } from "./ports.ts";
import { helloAndPing, openSocket, type TestSocket } from "./ws.ts";
import { waitFor, type WaitOptions } from "./wait.ts";
import { startWebstream, type WebstreamProcess } from "./webstream_process.ts";

/** The farm's shared secret in these tests. */
export const SHARED_SECRET = "gateway-tests-shared-secret";

/** `gateway.adminToken` in these tests. */
export const ADMIN_TOKEN = "gateway-tests-admin-token-0123456789";

/** The password every test user signs in with. */
export const PASSWORD = "Test-Passw0rd!";

// ---------------------------------------------------------------------------
// Cleanup

/** What a test must undo, undone last first, every step even if one fails. */
export class Teardown {
  #steps: (() => unknown)[] = [];

  /** Adds a step. */
  defer(step: () => unknown): void {
    this.#steps.push(step);
  }

  /** Runs every step, last added first; throws the first error afterwards. */
  async run(): Promise<void> {
    const steps = this.#steps.reverse();
    this.#steps = [];
    let failure: unknown;
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure) throw failure;
  }
}

// ---------------------------------------------------------------------------
// The gateway

/** A user of the gateway configuration. */
export interface GatewayUserSpec {
  /** Sign-in name. */
  name: string;
  /** Groups. */
  groups?: string[];
  /** May use the admin API. */
  admin?: boolean;
}

/** Options for {@linkcode writeGatewayConfig}. */
export interface GatewayConfigOptions {
  /** User names (all with {@linkcode PASSWORD}). Default alice and bob. */
  users?: (string | GatewayUserSpec)[];
  /** `gateway.workspaces`. */
  workspaces?: Record<string, unknown>[];
  /** Overrides of `gateway.healthCheck`. */
  healthCheck?: Record<string, unknown>;
  /**
   * Overrides of `gateway.placement` (`weights` and `overload` merged key by
   * key). The defaults weigh sessions only and set the CPU and memory
   * overload limits to 100 %, so the machine's own load (other tests, a
   * noisy CI runner) cannot steer or refuse a placement.
   */
  placement?: Record<string, unknown>;
  /** `gateway.licence`. */
  licence?: Record<string, unknown>;
  /** `gateway.storePath`. Default `gateway.sqlite` in the config's folder. */
  storePath?: string;
  /** `gateway.store.url`: a PostgreSQL store instead of `storePath`. */
  storeUrl?: string;
}

/** A written gateway configuration. */
export interface GatewayConfig {
  /** The YAML file. */
  path: string;
  /** Its temporary folder (holds the state store too). */
  dir: string;
  /** `gateway.port`. */
  port: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** `gateway.storePath`. */
  storePath: string;
  /** Removes the folder. */
  remove(): Promise<void>;
}

/** Writes a plain-HTTP gateway configuration on a free loopback port. */
export async function writeGatewayConfig(
  options: GatewayConfigOptions = {},
): Promise<GatewayConfig> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-gateway-test-" });
  const port = freePort();
  const storePath = options.storePath ?? `${dir}/gateway.sqlite`;
  // A cheap scrypt cost: sign-ins stay quick; the format is the real one.
  const hash = await hashPassword(PASSWORD, { N: 1024 });
  const users = (options.users ?? ["alice", "bob"]).map((u) => {
    const spec = typeof u === "string" ? { name: u } : u;
    return {
      name: spec.name,
      passwordHash: hash,
      groups: spec.groups ?? [],
      admin: spec.admin ?? false,
    };
  });
  const placement = options.placement ?? {};
  const raw = {
    gateway: {
      port,
      insecureHttp: true,
      adminToken: ADMIN_TOKEN,
      storePath,
      backend: { sharedSecret: SHARED_SECRET },
      healthCheck: {
        interval: 1,
        timeout: 6,
        failureThreshold: 3,
        heartbeatInterval: 1,
        missedHeartbeats: 10,
        ...options.healthCheck,
      },
      placement: {
        strategy: "breadth",
        ...placement,
        weights: {
          sessions: 1,
          cpu: 0,
          memory: 0,
          ...placement.weights as Record<string, unknown> | undefined,
        },
        overload: {
          sessionRatio: 0.9,
          cpuUsage: 100,
          memoryUsage: 100,
          ...placement.overload as Record<string, unknown> | undefined,
        },
      },
      ...(options.licence ? { licence: options.licence } : {}),
      ...(options.storeUrl ? { store: { url: options.storeUrl } } : {}),
      auth: { users },
      workspaces: options.workspaces ?? [],
    },
  };
  const path = `${dir}/gateway.yaml`;
  await Deno.writeTextFile(path, stringify(raw));
  return {
    path,
    dir,
    port,
    url: `http://127.0.0.1:${port}`,
    storePath,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/** A running gateway process. */
export interface TestGateway {
  /** Its configuration. */
  config: GatewayConfig;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** The process. */
  process: WebstreamProcess;
  /** Stops it by its PID (SIGTERM) and waits for the exit. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Options for {@linkcode startGateway}. */
export interface StartGatewayOptions {
  /** Called with the process each time it is asked for `/health`. */
  whileStarting?: (process: WebstreamProcess) => void;
}

/**
 * Starts `webstream -gateway` and waits until it answers `/health` (a
 * gateway that does not is killed by its PID).
 */
export async function startGateway(
  config: GatewayConfig,
  options: StartGatewayOptions = {},
): Promise<TestGateway> {
  const process = startWebstream(["-gateway", "-config", config.path]);
  const gateway: TestGateway = {
    config,
    url: config.url,
    process,
    stop: () => process.stop("SIGTERM"),
  };
  try {
    await waitUntilServing(process, `${config.url}/health`, {
      what: "the gateway",
      poll: options.whileStarting,
    });
  } catch (error) {
    await process.stop("SIGKILL");
    throw error;
  }
  return gateway;
}

/** A gateway started again with its host frozen, and how to thaw the host. */
export interface FrozenRestart {
  /** The gateway, answering `/health`. */
  gateway: TestGateway;
  /** Thaws the host (SIGCONT) if it is still frozen. */
  thaw(): void;
}

/**
 * Starts `config`'s gateway with `host` frozen (SIGSTOP by its PID), so it
 * answers no probe and sends no heartbeat until the gateway logs that it
 * waits for its restored hosts' first probes; then it is thawed (SIGCONT).
 * A gateway that served before hearing from its hosts serves with the host
 * still frozen. Call `thaw` when done (the host is thawed at once if the
 * start fails).
 */
export async function startGatewayWithHostFrozen(
  config: GatewayConfig,
  host: TestHost,
): Promise<FrozenRestart> {
  let frozen = true;
  const thaw = () => {
    if (!frozen) return;
    frozen = false;
    Deno.kill(host.process.pid, "SIGCONT");
  };
  Deno.kill(host.process.pid, "SIGSTOP");
  try {
    const gateway = await startGateway(config, {
      whileStarting: (process) => {
        const waiting = process.logs.some((r) =>
          r.msg === "waiting for restored hosts' first probes"
        );
        if (waiting) thaw();
      },
    });
    return { gateway, thaw };
  } catch (error) {
    thaw();
    throw error;
  }
}

/** Options for {@linkcode waitUntilServing}. */
interface ServingOptions {
  /** What is started, for errors. */
  what: string;
  /** Called with the process before each try. */
  poll?: (process: WebstreamProcess) => void;
}

/**
 * Waits until `url` answers 200; fails at once (with the process's last log
 * lines) if the process exits first.
 */
async function waitUntilServing(
  process: WebstreamProcess,
  url: string,
  options: ServingOptions,
): Promise<void> {
  const { what } = options;
  let exited: Deno.CommandStatus | undefined;
  process.status.then((s) => exited = s);
  try {
    // The bound only ends a hang: a shared CI machine may be slow to start.
    await waitFor(async () => {
      if (exited) return true;
      options.poll?.(process);
      try {
        const response = await fetch(url);
        await response.body?.cancel();
        return response.ok;
      } catch {
        return false;
      }
    }, { what: `${what} to serve`, timeoutMs: 60_000 });
  } catch (error) {
    throw new Error(
      `${(error as Error).message}; its last log records: ${
        JSON.stringify(process.logs.slice(-8))
      }`,
    );
  }
  if (exited) {
    throw new Error(
      `${what} exited (${exited.code}): ${
        JSON.stringify(process.logs.slice(-5))
      }`,
    );
  }
}

// ---------------------------------------------------------------------------
// Session hosts

/** Options for {@linkcode writeHostConfig}. */
export interface HostConfigOptions {
  /** Pool size. Default 2. */
  slots?: number;
  /** Extra `webstreamSettings` (warmSessionCount is 0 unless given). */
  settings?: Record<string, unknown>;
  /** Extra `gateway.backend`. */
  backend?: Record<string, unknown>;
  /** Extra top-level sections (`metrics`, `activityLogging`, …). */
  sections?: Record<string, unknown>;
}

/**
 * Writes a host configuration registering with `gatewayUrl`: its own pool
 * prefix and ports, heartbeats every second, accounts removed on exit.
 */
export function writeHostConfig(
  gatewayUrl: string,
  options: HostConfigOptions = {},
): Promise<TestConfig> {
  return writeTestConfig({
    slots: options.slots ?? 2,
    backend: {
      gatewayUrl,
      sharedSecret: SHARED_SECRET,
      ...options.backend,
    },
    settings: { warmSessionCount: 0, ...options.settings },
    sections: options.sections,
  });
}

/** A running `webstream -backend`. */
export interface TestHost {
  /** Its configuration. */
  config: TestConfig;
  /** Its advertised URL (the gateway's key for it). */
  serverUrl: string;
  /** The process. */
  process: WebstreamProcess;
  /** The pool slot bound to a client-facing session id, from its log. */
  slotOf(sessionId: string): number | undefined;
  /** Stops it by its PID with SIGTERM (it unregisters) and waits. */
  stop(): Promise<Deno.CommandStatus>;
  /** Kills it by its PID with SIGKILL (no goodbye) and waits. */
  kill(): Promise<Deno.CommandStatus>;
}

/** Starts `webstream -backend` with `config` and `-tags`. */
export function startHost(config: TestConfig, tags: string[] = []): TestHost {
  const backend = (config.raw.gateway as Record<string, unknown>)
    .backend as Record<string, unknown>;
  const args = ["-backend", "-config", config.path];
  if (tags.length) args.push("-tags", tags.join(","));
  const process = startWebstream(args);
  return {
    config,
    serverUrl: String(backend.advertisedUrl),
    process,
    slotOf(sessionId) {
      const record = process.logs.findLast((r) =>
        r.msg === "session allocated" && r.sessionId === sessionId
      );
      return record ? Number(record.slot) : undefined;
    },
    stop: () => process.stop("SIGTERM"),
    kill: () => process.stop("SIGKILL"),
  };
}

/**
 * Removes a host's configuration folder, and first whatever a host that
 * could not clean up left: its pool users (as root), after ending their
 * processes by PID. A host stopped with SIGTERM leaves nothing.
 */
export async function removeHostConfig(config: TestConfig): Promise<void> {
  if (Deno.uid() === 0) {
    const users = await poolUsers(config.username);
    if (users.length) {
      for (const { pid } of await poolUserProcesses(users)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      }
      await waitFor(async () => !(await poolUserProcesses(users)).length, {
        what: "left-over pool processes to end",
        timeoutMs: 10_000,
      });
      for (const user of users) await deleteUser(user.name);
    }
  }
  await config.remove();
}

/**
 * Writes a host configuration, starts the host and registers both with
 * `teardown` (stopped by PID with SIGTERM, then its folder removed).
 */
export async function launchHost(
  teardown: Teardown,
  gatewayUrl: string,
  options: HostConfigOptions & { tags?: string[] } = {},
): Promise<TestHost> {
  const config = await writeHostConfig(gatewayUrl, options);
  teardown.defer(() => removeHostConfig(config));
  const host = startHost(config, options.tags);
  teardown.defer(() => host.stop());
  return host;
}

// ---------------------------------------------------------------------------
// The admin API

/** A host as `/admin/api/hosts` shows it. */
export interface AdminHost {
  serverUrl: string;
  state: "Healthy" | "Unreachable" | "Draining" | "Unregistered";
  stateReason: string;
  draining: boolean;
  tags: string[];
  capabilities: string[];
  version: string;
  activeSessions: number;
  maxSessions: number;
  logonsInFlight: number;
  lastHeartbeat: string | null;
  lastProbe:
    | { at: number; ok: boolean; latencyMs: number; error?: string }
    | null;
  probeFailures: number;
  registeredAt: string;
}

/** A session as `/admin/api/sessions` shows it. */
export interface AdminSession {
  sessionId: string;
  sessionUuid: string;
  user: string;
  kind: "app" | "desktop";
  workspaceIds: string[];
  serverUrl: string;
  credentials: string;
  live: boolean;
  createdAt: string;
  lastLaunchAt: string;
  lastCheckinAt: string | null;
}

/** The admin API of a gateway, with the admin token. */
export class AdminClient {
  /** The gateway's URL. */
  readonly url: string;

  constructor(url: string) {
    this.url = url;
  }

  /** `GET path` with the admin token; the JSON body of a 200. */
  async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.url}${path}`, {
      headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const body = await response.json();
    assertEquals(response.status, 200, `${path}: ${JSON.stringify(body)}`);
    return body;
  }

  /** Every host. */
  hosts(): Promise<AdminHost[]> {
    return this.get("/admin/api/hosts");
  }

  /** One host (throws when the gateway does not know it). */
  async host(serverUrl: string): Promise<AdminHost> {
    const host = (await this.hosts()).find((h) => h.serverUrl === serverUrl);
    if (!host) throw new Error(`the gateway does not know ${serverUrl}`);
    return host;
  }

  /** Waits until `serverUrl` satisfies `check`; resolves with it. */
  waitForHost(
    serverUrl: string,
    check: (host: AdminHost) => boolean,
    options: WaitOptions = {},
  ): Promise<AdminHost> {
    return waitFor(async () => {
      const host = (await this.hosts()).find((h) => h.serverUrl === serverUrl);
      return host && check(host) ? host : undefined;
    }, { what: `${serverUrl} in the admin API`, ...options });
  }

  /**
   * Waits until every host is Healthy; a host that does not get there is
   * named with its last log records.
   */
  async waitForHealthy(hosts: TestHost[]): Promise<void> {
    for (const host of hosts) {
      try {
        await this.waitForHost(host.serverUrl, (h) => h.state === "Healthy", {
          what: `${host.serverUrl} to register and be Healthy`,
        });
      } catch (error) {
        throw new Error(
          `${(error as Error).message}; its last log records: ${
            JSON.stringify(host.process.logs.slice(-8))
          }`,
        );
      }
    }
  }

  /** Waits until a host's heartbeat reports `count` active sessions. */
  waitForActive(serverUrl: string, count: number): Promise<AdminHost> {
    return this.waitForHost(serverUrl, (h) => h.activeSessions === count, {
      what: `${serverUrl} to report ${count} active sessions`,
    });
  }

  /** Every session. */
  sessions(): Promise<AdminSession[]> {
    return this.get("/admin/api/sessions");
  }

  /** One session, or undefined. */
  async session(sessionId: string): Promise<AdminSession | undefined> {
    return (await this.sessions()).find((s) => s.sessionId === sessionId);
  }

  /** The decision log, newest first (summaries). */
  placements(): Promise<Partial<DecisionRecord>[]> {
    return this.get("/admin/api/placements");
  }

  /** One decision with every placement round. */
  placement(id: string): Promise<DecisionRecord> {
    return this.get(`/admin/api/placements/${id}`);
  }

  /** Drains or undrains a host; the JSON answer of a 200. */
  async drain(
    serverUrl: string,
    draining: boolean,
  ): Promise<{ serverUrl: string; state: string }> {
    const response = await fetch(`${this.url}/admin/api/hosts/drain`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${ADMIN_TOKEN}`,
        "Content-Type": "application/json",
      },
      body: JSON.stringify({ serverUrl, draining }),
    });
    const body = await response.json();
    assertEquals(response.status, 200, JSON.stringify(body));
    return body;
  }
}

/** `POST /resolveSession` (the DCV session resolver contract). */
export async function resolveSession(
  gatewayUrl: string,
  sessionId: string,
  transport = "HTTP",
): Promise<{ status: number; body: string }> {
  const query = new URLSearchParams({
    sessionId,
    transport,
    clientIpAddress: "127.0.0.1",
  });
  const response = await fetch(`${gatewayUrl}/resolveSession?${query}`, {
    method: "POST",
    headers: { Accept: "application/json" },
  });
  return { status: response.status, body: await response.text() };
}

// ---------------------------------------------------------------------------
// A signed-in user

/** A launch's answer. */
export interface LaunchAnswer {
  /** HTTP status. */
  status: number;
  /** Response headers. */
  headers: Headers;
  /** The JSON body. */
  body: Record<string, unknown>;
}

/** What a successful launch gives the browser. */
export interface Launched {
  sessionId: string;
  websocketPath: string;
  token: string;
  outcome: "new" | "share" | "reconnect";
  decisionId: string;
}

/** A user signed in to the gateway, who sends its cookie with every call. */
export class UserClient {
  /** The gateway's URL. */
  readonly url: string;
  /** User name. */
  readonly user: string;
  /** The `Cookie` header value. */
  readonly cookie: string;

  constructor(url: string, user: string, cookie: string) {
    this.url = url;
    this.user = user;
    this.cookie = cookie;
  }

  /** `fetch` on the gateway with the cookie. */
  fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Cookie", this.cookie);
    return fetch(`${this.url}${path}`, { ...init, headers });
  }

  /** `POST /api/launch`; any status. */
  async launch(
    workspaceId: string,
    sessionId?: string,
  ): Promise<LaunchAnswer> {
    const response = await this.fetch("/api/launch", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        workspaceId,
        sessionId,
        width: 1024,
        height: 768,
      }),
    });
    return {
      status: response.status,
      headers: response.headers,
      body: await response.json(),
    };
  }

  /** `POST /api/launch`, which must answer 200. */
  async launchOk(workspaceId: string, sessionId?: string): Promise<Launched> {
    const answer = await this.launch(workspaceId, sessionId);
    assertEquals(
      answer.status,
      200,
      `${this.user} launching ${workspaceId}: ${JSON.stringify(answer.body)}`,
    );
    return answer.body as unknown as Launched;
  }

  /** `POST /api/sessions/:id/logoff`, which must answer 200. */
  async logoffOk(sessionId: string): Promise<void> {
    const response = await this.fetch(`/api/sessions/${sessionId}/logoff`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    assertEquals(
      response.status,
      200,
      `${this.user} logging off ${sessionId}: ${await response.text()}`,
    );
  }

  /** Opens the gateway's relay to a session's streamer with `token`. */
  openRelay(sessionId: string, token: string): Promise<TestSocket> {
    const url = `${this.url.replace(/^http/, "ws")}/ws/${sessionId}?token=${
      encodeURIComponent(token)
    }`;
    return openSocket(url, undefined, { Cookie: this.cookie });
  }

  /**
   * Connects to a launched session through the gateway's relay, checks the
   * streamer's hello and that a ping is answered; resolves with the hello's
   * `sessionUuid` (the host's id for the session).
   */
  async ping(launched: Launched): Promise<string> {
    const ws = await this.openRelay(launched.sessionId, launched.token);
    try {
      return await pingOver(ws);
    } finally {
      await ws.close();
    }
  }
}

/** Checks a streamer's hello and a ping over `ws`; resolves with the hello's sessionUuid. */
export async function pingOver(ws: TestSocket): Promise<string> {
  const hello = await helloAndPing(ws);
  return hello.sessionUuid;
}

/**
 * Signs `user` in with {@linkcode PASSWORD}; the cookie is kept. A sign-in
 * the gateway is too busy for (503) is tried again.
 */
export async function signIn(
  gatewayUrl: string,
  user: string,
  password = PASSWORD,
): Promise<UserClient> {
  // The gateway turns away more than a few password checks at once (503,
  // Retry-After): try again, as a browser would.
  const response = await waitFor(async () => {
    const answer = await fetch(`${gatewayUrl}/api/signin`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user, password }),
    });
    if (answer.status !== 503) return answer;
    await answer.body?.cancel();
    return undefined;
  }, { what: `the gateway to check ${user}'s password`, intervalMs: 200 });
  const body = await response.json();
  assertEquals(response.status, 200, `sign-in of ${user}: ${body.error}`);
  const cookie = response.headers.getSetCookie()
    .map((c) => c.split(";")[0])
    .find((c) => c.startsWith("webstream_session="));
  if (!cookie) throw new Error("the sign-in set no session cookie");
  return new UserClient(gatewayUrl, user, cookie);
}

// ---------------------------------------------------------------------------
// Processes

/** The parent PID of a live process. */
export async function parentPid(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/^PPid:\s+(\d+)/m)![1]);
}

/** The real uid of a live process. */
export async function uidOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/^Uid:\s+(\d+)/m)![1]);
}

/** A unique `/bin/sleep` command line for an app (found later by it). */
export function sleepCommand(): string {
  return `/bin/sleep ${100_000 + Math.floor(Math.random() * 800_000)}`;
}

/**
 * A command line running `script` with `/bin/sh`, then staying open: a
 * published app lives as long as its process, so a test app that only does
 * something and exits (`xsetroot`, a script) would close its tab and end
 * its session.
 */
export function staysOpen(script: string): string {
  const line = `${script}; exec sleep 100000`;
  return `/bin/sh -c '${line.replaceAll("'", "'\\''")}'`;
}
