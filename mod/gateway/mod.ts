/**
 * `webstream -gateway`: the host registry with health probes, sign-in,
 * launches with session sharing and load balancing, the WebSocket relay to
 * streamers, the session resolver, licence check-ins, metrics and the admin
 * API — behind HTTPS (plain HTTP only when `gateway.insecureHttp` says so).
 *
 * @module
 */
import type { Hono } from "hono";
import type { Config } from "../config/mod.ts";
import type { Logger } from "../log/mod.ts";
import { registerSecret } from "../log/mod.ts";
import { stopServer } from "../util/serve.ts";
import { encodeBase64Url } from "../util/encoding.ts";
import { createAuthenticator, Revocations } from "./auth/mod.ts";
import { awaitFirstProbes, firstProbesWaitMs } from "./first_probes.ts";
import { startHealthMonitor } from "./health_monitor.ts";
import { Launcher } from "./launch.ts";
import { ProbeSharing } from "./probe_sharing.ts";
import { reconcileHost } from "./reconcile.ts";
import { gatewayApp } from "./routes.ts";
import { startPruning } from "./pruning.ts";
import { createGatewayMetrics } from "./metrics.ts";
import { HostRegistry } from "./registry.ts";
import { SessionMap } from "./sessions.ts";
import {
  type AsyncGatewayStore,
  asyncStore,
  openSqliteStore,
} from "./store.ts";
import { openPostgresStore } from "./store_postgres.ts";
import { changesOf } from "./store_changes.ts";
import { FarmSync } from "./farm_sync.ts";
import { GuardedStore } from "./store_guard.ts";
import { collectGarbage } from "../util/collect_garbage.ts";

export { type GatewayStore, openSqliteStore } from "./store.ts";
export type * from "./types.ts";

/** Options for {@linkcode startGateway}. */
export interface GatewayOptions {
  /** Logger. */
  logger: Logger;
  /** Folder of the web client. */
  staticRoot: string;
}

/** A running gateway. */
export interface GatewayHandle {
  /** The port it listens on. */
  port: number;
  /** `https` or `http`. */
  scheme: "https" | "http";
  /** Stops it, keeping its state in the store. */
  stop(): Promise<void>;
}

/** Where the state store lives when `gateway.storePath` is not set. */
export function defaultStorePath(): string {
  if (Deno.uid() === 0) return "/var/lib/webstream/gateway.sqlite";
  const home = Deno.env.get("HOME") ?? "/tmp";
  return `${home}/.local/state/webstream/gateway.sqlite`;
}

/** Options for {@linkcode createGateway}. */
export interface CreateGatewayOptions {
  /**
   * The state store (SQLite through `asyncStore`, or PostgreSQL); the
   * gateway guards it and closes it when it stops.
   */
  store: AsyncGatewayStore;
  /** Logger. */
  logger: Logger;
  /** Folder of the web client. */
  staticRoot: string;
  /** Whether the sign-in cookie is `Secure` (served over HTTPS). */
  secureCookie: boolean;
  /** Clock of the registry, the session map and `/health` (ms). */
  now?: () => number;
  /**
   * This gateway's id among the gateways on one store (what it writes as
   * its own: leases, claims, change notices). Default the id a shared
   * store names this gateway's writes with, else a fresh UUID per start.
   */
  id?: string;
}

/** A wired gateway, not yet listening. */
export interface Gateway {
  /** This gateway's id among the gateways on its store. */
  id: string;
  /** Every route of the gateway. */
  app: Hono;
  /** Hosts. */
  registry: HostRegistry;
  /** Sessions. */
  sessions: SessionMap;
  /** Launches. */
  launcher: Launcher;
  /** The guarded store. */
  store: GuardedStore;
  /** Stops its background work, writes its state and closes the store. */
  stop(): Promise<void>;
}

/**
 * Wires a gateway on `options.store`: its state read from the store, the
 * cookie secret made and stored on first start, health probes and pruning
 * started, every route on one Hono app. Resolves once the hosts restored
 * from the store are probed (bounded by `healthCheck.timeout` and a margin,
 * `first_probes.ts`), so their sessions resolve and reconnect from the first
 * request. {@linkcode startGateway} is this plus a listener; tests serve
 * `app` as they like.
 *
 * @throws whatever the store throws when it cannot be read (the store is
 * closed then).
 */
export async function createGateway(
  config: Config,
  options: CreateGatewayOptions,
): Promise<Gateway> {
  const { store: backend, logger } = options;
  const g = config.gateway;
  const now = options.now ?? Date.now;
  const changes = changesOf(backend);
  const id = options.id ?? changes?.origin ?? crypto.randomUUID();
  // A failing store must not stop reconnects, resolves or sign-outs: the
  // guard serves from memory and writes what it could not later.
  let store: GuardedStore;
  let sync: FarmSync | undefined;
  try {
    // At start the secret must reach the store, or cookies die with a
    // restart.
    if (!g.auth.cookieSecret) await persistentSecret(backend);
    // Several gateways on the store: listening before the state is read,
    // so nothing another gateway changes meanwhile is missed.
    if (changes) {
      sync = await FarmSync.listen(changes, { logger: logger.child("sync") });
    }
    store = await GuardedStore.open(backend, {
      logger: logger.child("store"),
    });
  } catch (error) {
    await sync?.stop();
    await backend.close();
    throw error;
  }
  const stop: (() => Promise<void> | void)[] = [() => store.close()];
  if (sync) stop.unshift(() => sync.stop());
  try {
    const cookieSecret = g.auth.cookieSecret ??
      store.getSetting("cookieSecret")!;
    registerSecret(cookieSecret);
    const registry = new HostRegistry({
      store,
      health: g.healthCheck,
      logger: logger.child("registry"),
      now,
    });
    const sessions = new SessionMap({
      store,
      staleAfter: g.licence.staleAfter,
      logger: logger.child("sessions"),
      now,
      // Check-ins at other gateways are heard of through the store.
      heardUntil: sync && (() => sync.heardUntil() ?? now()),
    });
    // Streamed from the store into the map: held once, however many.
    await sessions.load(store);
    // A large load's garbage collected now, before V8 sizes the heap by it.
    const bulk = isBulkLoad(registry.size, sessions.size);
    if (bulk) collectGarbage();
    const metrics = createGatewayMetrics({
      hosts: () => registry.list(),
      liveSessions: () => sessions.liveCount(),
      licenceLimit: g.licence.maxConcurrentSessions,
    });
    const launcher = new Launcher({
      config,
      registry,
      sessions,
      logger: logger.child("launch"),
      onLaunch: (record) => metrics.launch(record),
      storeState: () => store.check(),
      claims: store,
      gatewayId: id,
      now,
    });
    const revocations = new Revocations({ store });
    sync?.start({
      registry,
      sessions,
      revocations,
      store,
      source: backend,
      tickMs:
        Math.min(g.healthCheck.heartbeatInterval, g.healthCheck.interval) *
        1000,
    });
    const auth = createAuthenticator({
      settings: g.auth,
      cookieSecret,
      secureCookie: options.secureCookie,
      revocations,
    });
    // Each host probed by one gateway of those on the store at a time.
    const sharing = new ProbeSharing({
      store,
      registry,
      gatewayId: id,
      health: g.healthCheck,
      logger: logger.child("probes"),
    });
    stop.unshift(() => sharing.stop());
    await sharing.start();
    // Restored hosts no fresh probe of the others' vouches for: probed
    // first, and waited for below.
    const unheard = registry.unheard();
    const monitor = startHealthMonitor(registry, {
      health: g.healthCheck,
      gatewayId: id,
      targets: () => sharing.targets(),
      unheard,
    });
    stop.unshift(() => monitor.stop());
    const stopping = new AbortController();
    stop.unshift(() => stopping.abort());
    stop.unshift(
      startPruning({ registry, sessions, revocations }, {
        intervalMs: g.licence.checkinInterval * 1000,
        logger,
      }),
    );
    const app = gatewayApp({
      config,
      registry,
      sessions,
      launcher,
      metrics,
      auth,
      probe: (url) => void monitor.probe(url),
      reconcile: (url) =>
        void reconcileHost(url, {
          sessions,
          sharedSecret: g.backend.sharedSecret,
          logger: logger.child("hosts"),
          signal: stopping.signal,
        }),
    }, { staticRoot: options.staticRoot, logger, now });
    // Serving before hearing from them would answer their sessions' resolves
    // and reconnects with 404 until the first probes came back.
    await awaitFirstProbes(registry, {
      hosts: unheard,
      probed: monitor.firstProbes,
      boundMs: firstProbesWaitMs(g.healthCheck),
      logger: logger.child("probes"),
    });
    // And the first round's (up to 1,000 probes in flight at each young
    // collection, so promoted), before serving.
    if (bulk) collectGarbage();
    return {
      id,
      app,
      registry,
      sessions,
      launcher,
      store,
      async stop() {
        for (const step of stop) await step();
      },
    };
  } catch (error) {
    for (const step of stop) await step();
    throw error;
  }
}

/**
 * Starts the gateway: {@linkcode createGateway} on the configured store,
 * served on `gateway.port`.
 *
 * @throws {Error} when the configuration cannot run a gateway (no shared
 * secret, neither TLS nor `insecureHttp`), or the port is taken.
 */
export async function startGateway(
  config: Config,
  options: GatewayOptions,
): Promise<GatewayHandle> {
  const { logger } = options;
  const g = config.gateway;
  if (!g.backend.sharedSecret) {
    throw new Error(
      "gateway.backend.sharedSecret (or WEBSTREAM_GATEWAY_SECRET) is required: " +
        "hosts register with it and the gateway calls them with it",
    );
  }
  if (!g.tls && !g.insecureHttp) {
    throw new Error(
      "gateway.tls (certificate and key) is required; set gateway.insecureHttp: true " +
        "to serve plain HTTP",
    );
  }
  const tls = g.tls
    ? {
      cert: await Deno.readTextFile(g.tls.certificate),
      key: await Deno.readTextFile(g.tls.key),
    }
    : undefined;
  const bind = g.listenAddress ?? (tls ? "0.0.0.0" : "127.0.0.1");

  const id = crypto.randomUUID();
  const gateway = await createGateway(config, {
    id,
    store: await openBackend(config, id),
    logger,
    staticRoot: options.staticRoot,
    secureCookie: tls !== undefined,
  });
  try {
    const server = Deno.serve({
      hostname: bind,
      port: g.port,
      ...tls,
      onListen: () =>
        logger.info("gateway listening", {
          gatewayId: gateway.id,
          address: bind,
          port: g.port,
          scheme: tls ? "https" : "http",
          hosts: gateway.registry.size,
          sessions: gateway.sessions.size,
        }),
    }, gateway.app.fetch);
    return {
      port: server.addr.port,
      scheme: tls ? "https" : "http",
      async stop() {
        await stopServer(server);
        await gateway.stop();
      },
    };
  } catch (error) {
    await gateway.stop();
    throw error;
  }
}

/**
 * The gateway's store: PostgreSQL at `gateway.store.url`, else the SQLite
 * file at `storePath` (its folder made, private, when missing).
 */
async function openBackend(
  config: Config,
  gatewayId: string,
): Promise<AsyncGatewayStore> {
  const g = config.gateway;
  if (g.store) return await openPostgresStore(g.store.url, { gatewayId });
  const storePath = g.storePath ?? defaultStorePath();
  if (storePath !== ":memory:") {
    await Deno.mkdir(storePath.slice(0, storePath.lastIndexOf("/")) || "/", {
      recursive: true,
      mode: 0o700,
    });
  }
  return asyncStore(openSqliteStore(storePath));
}

/**
 * The cookie secret kept in the store, made on the first start of any
 * gateway on it (gateways starting together agree on one).
 */
function persistentSecret(store: AsyncGatewayStore): Promise<string> {
  const fresh = encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
  return store.settingOnce("cookieSecret", fresh);
}

/** Hosts and sessions from which a start-up collection pays for itself. */
const BULK = { hosts: 2_000, sessions: 100_000 };

/**
 * Whether a store this large was loaded that its garbage is worth a full
 * collection at start. Below, the garbage is a few megabytes, and the
 * collection (Deno's `gc` is V8's low-memory notification) left the relay
 * about a quarter costlier per megabyte in the proxy benchmark (see
 * docs/benchmarks.md).
 */
function isBulkLoad(hosts: number, sessions: number): boolean {
  return hosts >= BULK.hosts || sessions >= BULK.sessions;
}
