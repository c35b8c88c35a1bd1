/**
 * The gateway's parts wired for API and launch tests, without `startGateway`:
 * a parsed configuration with a shared secret, a real HostRegistry and
 * SessionMap on an in-memory SQLite store (with a clock the test moves),
 * metrics, a Launcher and an authenticator; the user API over them; a Hono
 * app served on loopback (with a scripted host beside it); the seed's
 * register and heartbeat payloads; users with password hashes; and signing
 * in over HTTP to get the session cookie.
 *
 * @module
 */
import { type Config, parseConfig } from "../../mod/config/mod.ts";
import { userApi } from "../../mod/gateway/api/user_api.ts";
import {
  type Authenticator,
  createAuthenticator,
} from "../../mod/gateway/auth/mod.ts";
import { hashPassword } from "../../mod/gateway/auth/password.ts";
import { Launcher } from "../../mod/gateway/launch.ts";
import {
  createGatewayMetrics,
  type GatewayMetrics,
} from "../../mod/gateway/metrics.ts";
import { HostRegistry } from "../../mod/gateway/registry.ts";
import { SessionMap } from "../../mod/gateway/sessions.ts";
import { type GatewayStore, openSqliteStore } from "../../mod/gateway/store.ts";
import type { SessionRecord } from "../../mod/gateway/types.ts";
import { createLogger, type Logger } from "../../mod/log/mod.ts";
import type {
  HeartbeatPayload,
  RegisterPayload,
} from "../../mod/contract/mod.ts";
import { stopServer } from "../../mod/util/serve.ts";
import { type ScriptedHost, startScriptedHost } from "./scripted_host.ts";

/** The farm's shared secret in these tests. */
export const SECRET = "farm-secret-for-tests";

/** The admin token in these tests. */
export const ADMIN_TOKEN = "admin-token-for-tests-0123456789";

/** A logger that writes nowhere. */
export const quietLogger: Logger = createLogger({ sink: () => {} });

/**
 * A validated configuration whose `gateway` section is `gateway` (with the
 * shared secret added to `gateway.backend` unless it names its own).
 */
export function gatewayConfig(gateway: Record<string, unknown> = {}): Config {
  const backend = gateway.backend as Record<string, unknown> | undefined;
  return parseConfig({
    gateway: { ...gateway, backend: { sharedSecret: SECRET, ...backend } },
  }, { env: {} });
}

/** A `gateway.auth.users` entry whose password is `password`. */
export async function userEntry(
  name: string,
  password: string,
  extra: { groups?: string[]; admin?: boolean } = {},
): Promise<Record<string, unknown>> {
  // A cheap scrypt cost keeps sign-ins quick; the hash records its cost.
  return {
    name,
    passwordHash: await hashPassword(password, { N: 1024 }),
    groups: extra.groups ?? [],
    admin: extra.admin ?? false,
  };
}

/** A register payload with every field the seed names. */
export function registerPayload(
  serverUrl: string,
  overrides: Partial<RegisterPayload> = {},
): RegisterPayload {
  return {
    serverUrl,
    maxSessions: 10,
    instanceType: "m7i.large",
    ec2InstanceId: "i-0123456789abcdef0",
    tags: ["linux-host"],
    capabilities: ["linux"],
    version: "0.1.0",
    ...overrides,
  };
}

/** A heartbeat payload with every field the seed names. */
export function heartbeatPayload(
  serverUrl: string,
  overrides: Partial<HeartbeatPayload> = {},
): HeartbeatPayload {
  return {
    serverUrl,
    status: "ready",
    activeSessions: 0,
    maxSessions: 10,
    instanceType: "m7i.large",
    tags: ["linux-host"],
    cpuUsage: 10,
    memoryUsage: 20,
    timestamp: new Date().toISOString(),
    ...overrides,
  };
}

/** The gateway's parts, wired as `startGateway` wires them. */
export interface GatewayParts {
  /** The configuration. */
  config: Config;
  /** The in-memory store. */
  store: GatewayStore;
  /** Hosts. */
  registry: HostRegistry;
  /** Sessions. */
  sessions: SessionMap;
  /** Metrics. */
  metrics: GatewayMetrics;
  /** Launches. */
  launcher: Launcher;
  /** Sign-in. */
  auth: Authenticator;
  /** The clock the registry and session map read (ms); tests move it. */
  clock: { now: number };
  /** Closes the store. */
  close(): void;
}

/** Options for {@linkcode gatewayParts}. */
export interface GatewayPartsOptions {
  /** Decisions the launcher keeps. */
  decisionLogSize?: number;
  /**
   * A SQLite file to keep the state in (several parts on one file are
   * gateways sharing a store). Default in memory.
   */
  storePath?: string;
}

/** Wires the parts on an in-memory store (or `options.storePath`). */
export function gatewayParts(
  config: Config,
  options: GatewayPartsOptions = {},
): GatewayParts {
  const g = config.gateway;
  const clock = { now: Date.now() };
  const now = () => clock.now;
  const store = openSqliteStore(options.storePath ?? ":memory:");
  const registry = new HostRegistry({
    store,
    health: g.healthCheck,
    logger: quietLogger,
    now,
  });
  const sessions = new SessionMap({
    store,
    staleAfter: g.licence.staleAfter,
    logger: quietLogger,
    now,
  });
  const metrics = createGatewayMetrics({
    hosts: () => registry.list(),
    liveSessions: () => sessions.liveCount(),
    licenceLimit: g.licence.maxConcurrentSessions,
  });
  const launcher = new Launcher({
    config,
    registry,
    sessions,
    logger: quietLogger,
    onLaunch: (record) => metrics.launch(record),
    decisionLogSize: options.decisionLogSize,
    claims: store,
    gatewayId: "gateway-under-test",
    now,
  });
  const auth = createAuthenticator({
    settings: g.auth,
    cookieSecret: "cookie-secret-for-tests-0123456789abcdef",
    secureCookie: false,
  });
  return {
    config,
    store,
    registry,
    sessions,
    metrics,
    launcher,
    auth,
    clock,
    close: () => store.close(),
  };
}

/** Registers `serverUrl` and sends one heartbeat with `heartbeat` figures. */
export function addHost(
  registry: HostRegistry,
  serverUrl: string,
  heartbeat: Partial<HeartbeatPayload> = {},
  registration: Partial<RegisterPayload> = {},
): void {
  registry.register(registerPayload(serverUrl, registration));
  registry.heartbeat(heartbeatPayload(serverUrl, heartbeat));
}

/** A session record with sensible defaults. */
export function sessionRecord(
  overrides: Partial<SessionRecord> = {},
): SessionRecord {
  const now = Date.now();
  return {
    sessionId: crypto.randomUUID(),
    sessionUuid: crypto.randomUUID(),
    user: "alice",
    credentials: "user",
    serverUrl: "http://127.0.0.1:9005",
    host: "10.0.0.5",
    port: 9010,
    path: "/stream",
    kind: "app",
    workspaceIds: ["terminal"],
    resources: {
      clipboard: true,
      fileUpload: false,
      fileDownload: false,
      printing: false,
      audio: true,
      videoMaxKbps: 8000,
      downloadMaxBytes: 2 ** 30,
      maxPixelRatio: 2,
    },
    createdAt: now,
    lastLaunchAt: now,
    ...overrides,
  };
}

/** A Hono app served on loopback. */
export interface ServedApp {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Stops the server. */
  stop(): Promise<void>;
}

/** Serves `app` (a Hono app) on 127.0.0.1 (any free port). */
export function serveApp(app: { fetch: Deno.ServeHandler }): ServedApp {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    app.fetch,
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    stop: () => stopServer(server).then(() => {}),
  };
}

/** The browser's API over `parts`, as `startGateway` mounts it. */
export function partsUserApi(parts: GatewayParts): ReturnType<typeof userApi> {
  return userApi({
    auth: parts.auth,
    launcher: parts.launcher,
    sessions: parts.sessions,
    metrics: parts.metrics,
    sharedSecret: SECRET,
    logger: quietLogger,
  });
}

/** An app over gateway parts on loopback, with a scripted host beside it. */
export interface ServedParts {
  /** The app's base URL. */
  url: string;
  /** A scripted host to register and launch on. */
  host: ScriptedHost;
  /** Stops the server and the host, then closes the parts' store. */
  stop(): Promise<void>;
}

/** Serves `app` (over `parts`) on loopback and starts a scripted host. */
export function serveWithHost(
  parts: GatewayParts,
  app: { fetch: Deno.ServeHandler },
): ServedParts {
  const served = serveApp(app);
  const host = startScriptedHost();
  return {
    url: served.url,
    host,
    async stop() {
      await served.stop();
      await host.stop();
      parts.close();
    },
  };
}

/** POSTs `body` as JSON; resolves with the status and the parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  client?: Deno.HttpClient,
): Promise<
  { status: number; body: Record<string, unknown>; headers: Headers }
> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
    client,
  });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

/** Signs in at `base` and resolves with the `Cookie` header value to send. */
export async function signIn(
  base: string,
  user: string,
  password: string,
  client?: Deno.HttpClient,
): Promise<string> {
  const response = await fetch(`${base}/api/signin`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user, password }),
    client,
  });
  const body = await response.text();
  if (response.status !== 200) {
    throw new Error(`sign-in as ${user} answered ${response.status}: ${body}`);
  }
  const cookie = response.headers.getSetCookie()[0];
  if (!cookie) throw new Error("sign-in set no cookie");
  return cookie.split(";")[0];
}
