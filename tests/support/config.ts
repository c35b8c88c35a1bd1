/**
 * Test configurations: a fresh pool account prefix and port block per test,
 * written as a YAML file in a temporary folder that the test removes; or,
 * for running a role in-process, a parsed one-slot configuration.
 *
 * @module
 */
import { stringify } from "yaml";
import { type Config, parseConfig } from "../../mod/config/mod.ts";
import { freeBasePort } from "./ports.ts";

/** A written test configuration. */
export interface TestConfig {
  /** The YAML file. */
  path: string;
  /** Temporary folder holding it (and the runtime directory). */
  dir: string;
  /** `basePortNumber`. */
  base: number;
  /** The backend's HTTP port (advertised). */
  httpPort: number;
  /** `serverSessionUsername`. */
  username: string;
  /** The raw object written. */
  raw: Record<string, unknown>;
  /** Removes the folder. */
  remove(): Promise<void>;
}

/** Options for {@linkcode writeTestConfig}. */
export interface TestConfigOptions {
  /** Pool size. Default 2. */
  slots?: number;
  /** Extra `webstreamSettings`. */
  settings?: Record<string, unknown>;
  /** Extra `gateway.backend`. */
  backend?: Record<string, unknown>;
  /** Extra top-level sections. */
  sections?: Record<string, unknown>;
}

/** A random pool account prefix such as `wtk`. */
export function testUsername(): string {
  const letters = "abcdefghijklmnopqrstuvwxyz";
  let name = "wt";
  for (let i = 0; i < 3; i++) name += letters[Math.floor(Math.random() * 26)];
  return name;
}

/** Writes a configuration for one test. */
export async function writeTestConfig(
  options: TestConfigOptions = {},
): Promise<TestConfig> {
  const slots = options.slots ?? 2;
  const base = freeBasePort(slots);
  const httpPort = base + 5;
  const username = testUsername();
  const dir = await Deno.makeTempDir({ prefix: "webstream-test-" });
  await Deno.chmod(dir, 0o755);
  const raw = {
    gateway: {
      backend: {
        advertisedUrl: `http://127.0.0.1:${httpPort}`,
        heartbeatInterval: 1,
        registrationRetryInterval: 1,
        instanceMetadata: "off",
        ...options.backend,
      },
    },
    webstreamSettings: {
      serverMaxSessionCount: slots,
      serverSessionUsername: username,
      basePortNumber: base,
      warmSessionCount: 1,
      provisioningTimeout: 20,
      reconnectGracePeriod: 30,
      removeAccountsOnExit: true,
      runtimeDirectory: `${dir}/runtime`,
      // Sessions do not grow beyond their start size, as before they could:
      // the shared-session steps of browser_session_test.ts expect a second
      // app on the first app's tab, which holds only while the screen
      // cannot make room for a second app area.
      screen: {
        width: 1024,
        height: 768,
        depth: 24,
        maxWidth: 1024,
        maxHeight: 768,
      },
      ...options.settings,
    },
    ...options.sections,
  };
  const path = `${dir}/webstream.yaml`;
  await Deno.writeTextFile(path, stringify(raw));
  return {
    path,
    dir,
    base,
    httpPort,
    username,
    raw,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/** A parsed configuration from {@linkcode inProcessConfig}. */
export interface InProcessConfig {
  /** The validated configuration. */
  config: Config;
  /** `basePortNumber`. */
  base: number;
  /** Temporary folder holding the runtime directory; the test removes it. */
  dir: string;
}

/**
 * A parsed configuration for running a role in-process: one cold slot for
 * this process's own user (no pool accounts) on a free base port, with the
 * runtime directory in a new temporary folder, and no secrets from the
 * environment. `sections(base)` adds top-level sections such as `gateway`.
 */
export async function inProcessConfig(
  sections: (base: number) => Record<string, unknown> = () => ({}),
): Promise<InProcessConfig> {
  const base = freeBasePort(1);
  const dir = await Deno.makeTempDir();
  const extra = sections(base);
  const config = parseConfig({
    ...extra,
    webstreamSettings: {
      serverMaxSessionCount: 1,
      warmSessionCount: 0,
      basePortNumber: base,
      poolAccounts: "current",
      runtimeDirectory: `${dir}/runtime`,
      ...extra.webstreamSettings as Record<string, unknown> | undefined,
    },
  }, { env: {} });
  return { config, base, dir };
}
