/**
 * Real gateways (`webstream -gateway`) on one real PostgreSQL store, for the
 * integration tests of a farm (issue 14): a private cluster with a fresh
 * database, any number of gateway configurations on it and their processes,
 * each registered with a {@linkcode Teardown} (gateways stopped by their
 * PIDs first, then their folders removed, the cluster last).
 *
 * @module
 */
import {
  type GatewayConfig,
  type GatewayConfigOptions,
  startGateway,
  type Teardown,
  type TestGateway,
  writeGatewayConfig,
} from "./gateway.ts";
import { hasPostgres, startPostgres, type TestPostgres } from "./postgres.ts";

/** A test cluster and the fresh database the gateways share. */
export interface TestStore {
  /** The cluster (it may be halted and resumed). */
  cluster: TestPostgres;
  /** `gateway.store.url`: a fresh database of `cluster`. */
  storeUrl: string;
}

/** Starts a PostgreSQL cluster with a fresh database, stopped by `teardown`. */
export async function startTestStore(teardown: Teardown): Promise<TestStore> {
  const cluster = await startPostgres();
  teardown.defer(() => cluster.stop());
  return { cluster, storeUrl: await cluster.createDatabase() };
}

/** Options for {@linkcode writeGatewayConfigs}: every config the same. */
export type GatewayConfigsOptions =
  & Omit<GatewayConfigOptions, "storePath" | "storeUrl">
  & {
    /** How many gateways. */
    count: number;
  };

/**
 * Writes `options.count` gateway configurations on `storeUrl`, each on its
 * own port and folder (removed by `teardown`).
 */
export async function writeGatewayConfigs(
  teardown: Teardown,
  storeUrl: string,
  options: GatewayConfigsOptions,
): Promise<GatewayConfig[]> {
  const { count, ...config } = options;
  const configs = await Promise.all(
    Array.from(
      { length: count },
      () => writeGatewayConfig({ ...config, storeUrl }),
    ),
  );
  for (const written of configs) teardown.defer(() => written.remove());
  return configs;
}

/**
 * Starts a gateway for each configuration, all at once; each that started is
 * stopped by `teardown` (by its PID), also when another failed to start.
 */
export async function startGateways(
  teardown: Teardown,
  configs: GatewayConfig[],
): Promise<TestGateway[]> {
  const results = await Promise.allSettled(configs.map((c) => startGateway(c)));
  for (const result of results) {
    if (result.status === "fulfilled") {
      const gateway = result.value;
      teardown.defer(() => gateway.stop());
    }
  }
  const failed = results.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<TestGateway>).value);
}

/** What {@linkcode startGatewaysOnPostgres} started. */
export interface GatewaysOnPostgres extends TestStore {
  /** The gateways, in the order of their configurations. */
  gateways: TestGateway[];
}

/**
 * Starts a PostgreSQL cluster and `options.count` gateways on one fresh
 * database of it, all registered with `teardown`.
 */
export async function startGatewaysOnPostgres(
  teardown: Teardown,
  options: GatewayConfigsOptions,
): Promise<GatewaysOnPostgres> {
  const store = await startTestStore(teardown);
  const configs = await writeGatewayConfigs(teardown, store.storeUrl, options);
  return { ...store, gateways: await startGateways(teardown, configs) };
}

/**
 * `Deno.test` options of a test of gateways on PostgreSQL: skipped where
 * PostgreSQL is not installed; the gateway processes and their sockets
 * outlive a step by design (the test's {@linkcode Teardown} stops them).
 */
export const ON_POSTGRES = {
  ignore: !hasPostgres(),
  sanitizeOps: false,
  sanitizeResources: false,
} as const;
