/**
 * Reads a YAML or JSON configuration file, overlays secrets from the
 * environment, and validates the result. Errors name the property path, what
 * was expected and what was found (secrets shown as `[redacted]`).
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import { redact, registerSecret } from "../log/mod.ts";
import { describeValue, formatIssues } from "../util/zod_issues.ts";
import { type Config, type ConfigInput, configSchema } from "./schema.ts";

/** Environment variables that may supply secrets instead of the file. */
export const SECRET_ENV = {
  WEBSTREAM_SESSION_PWD: ["webstreamSettings", "serverSessionPwd"],
  WEBSTREAM_GATEWAY_SECRET: ["gateway", "backend", "sharedSecret"],
  WEBSTREAM_COOKIE_SECRET: ["gateway", "auth", "cookieSecret"],
  WEBSTREAM_STORE_URL: ["gateway", "store", "url"],
  WEBSTREAM_ADMIN_TOKEN: ["gateway", "adminToken"],
} as const;

/** A configuration that could not be read or did not validate. */
export class ConfigError extends Error {
  /** One line per problem, each starting with the property path. */
  readonly problems: string[];

  constructor(source: string, problems: string[]) {
    super(`invalid configuration (${source}):\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** Options for {@linkcode loadConfig} and {@linkcode parseConfig}. */
export interface LoadConfigOptions {
  /** Environment to read secrets from. Default: `Deno.env.toObject()`. */
  env?: Record<string, string | undefined>;
}

/**
 * Loads and validates the configuration. Without a path, the embedded
 * defaults are used (still overlaid with secrets from the environment).
 *
 * @throws {ConfigError} when the file is unreadable, unparsable or invalid.
 */
export async function loadConfig(
  path?: string,
  options: LoadConfigOptions = {},
): Promise<Config> {
  if (!path) return parseConfig({}, { ...options, source: "defaults" });
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new ConfigError(path, [
      `cannot read the file: ${(error as Error).message}`,
    ]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError(path, [
      `not valid YAML or JSON: ${(error as Error).message.split("\n")[0]}`,
    ]);
  }
  return parseConfig(raw, { ...options, source: path });
}

/**
 * Validates an already-parsed configuration object.
 *
 * @throws {ConfigError} naming every invalid property.
 */
export function parseConfig(
  raw: unknown,
  options: LoadConfigOptions & { source?: string } = {},
): Config {
  const source = options.source ?? "configuration";
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(source, [
      `(top level): expected a mapping of sections, got ${describeValue(raw)}`,
    ]);
  }
  const input = structuredClone(raw) as Record<string, unknown>;
  const env = options.env ?? Deno.env.toObject();
  for (const [name, path] of Object.entries(SECRET_ENV)) {
    const value = env[name];
    if (value) setPath(input, path, value);
  }
  const result = configSchema.safeParse(input as ConfigInput);
  if (!result.success) {
    throw new ConfigError(source, formatIssues(result.error.issues, input));
  }
  registerSecret(result.data.webstreamSettings.serverSessionPwd);
  registerSecret(result.data.gateway.backend.sharedSecret);
  registerSecret(result.data.gateway.auth.cookieSecret);
  registerSecret(result.data.gateway.adminToken);
  // The password in a connection string (`postgres://user:PASSWORD@host/db`).
  registerSecret(
    result.data.gateway.store?.url.match(/^[^:]+:\/\/[^:@/]*:([^@]+)@/)?.[1],
  );
  return result.data;
}

/** Returns the configuration with every secret replaced by `[redacted]`. */
export function redactConfig(config: Config): unknown {
  return redact(config);
}

function setPath(
  root: Record<string, unknown>,
  path: readonly string[],
  value: unknown,
): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === undefined) {
      node[key] = {};
    } else if (
      next === null || typeof next !== "object" || Array.isArray(next)
    ) {
      // A section of the wrong type stays as written, so validation reports
      // it instead of the secret silently replacing it.
      return;
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
}
