/**
 * Command-line parsing: the first argument selects the role. Single-dash long
 * options (`-backend`, `-tags gpu`) are accepted as well as double-dash ones.
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  STREAMER_FLAG_NAMES,
  type StreamerFlag,
} from "../contract/streamer_launch.ts";

/**
 * `parseArgs` options for the streamer's launch parameters: strings, and
 * `-gateway-url` once per gateway (`gateway.backend.gatewayUrl` as a list).
 */
const STREAMER_OPTIONS = {
  ...Object.fromEntries(
    STREAMER_FLAG_NAMES.map((name) => [name, { type: "string" as const }]),
  ) as Record<StreamerFlag, { type: "string" }>,
  "gateway-url": { type: "string", multiple: true },
} as const;

/** The streamer's licence check-in flags, parsed. */
export interface StreamerLicenceFlags {
  /** `-gateway-url`, each gateway in order (failing over between them). */
  gatewayUrl: string[];
  /** `-server-url`. */
  serverUrl: string;
  /** `-gateway-ca`. */
  caCertificate?: string;
}

/** A server role with its options (`-backend -tags gpu -config FILE`). */
export type RoleCommand =
  | { kind: "backend"; config?: string; tags: string[] }
  | { kind: "sm"; config?: string }
  | { kind: "gateway"; config?: string }
  | { kind: "farm"; config?: string };

/**
 * The roles that can run as a Windows service. `-farm` cannot: it is the
 * try-it-out mode, gateway and host in one process with defaults.
 */
export type ServiceRoleCommand = Exclude<RoleCommand, { kind: "farm" }>;

/** A parsed command line: which role to run, with its options. */
export type CliCommand =
  | { kind: "help" }
  | { kind: "version" }
  | RoleCommand
  | { kind: "install-service"; role: ServiceRoleCommand }
  | { kind: "uninstall-service" }
  | { kind: "run-service"; role: ServiceRoleCommand }
  | { kind: "config-check"; file: string }
  | { kind: "hash-password" }
  | {
    kind: "store-migrate";
    config?: string;
    /** `-from-sqlite PATH`: a SQLite store to copy once. */
    fromSqlite?: string;
  }
  | {
    kind: "streamer";
    control: string;
    port: number;
    bind: string;
    user?: string;
    licence?: StreamerLicenceFlags;
    /** `-reporting JSON`: the host's metrics and activity settings. */
    reporting?: string;
    /** `-orphan-timeout S`: how long the session outlives its manager. */
    orphanTimeout?: number;
  }
  | { kind: "file-dialog"; title?: string; timeout?: number }
  | { kind: "download"; file: string };

/** A command line that cannot be understood; the CLI prints it and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The usage text printed by `-help` and after a usage error. */
export const USAGE = `Usage:
  webstream -backend [-config FILE] [-tags TAG,TAG…]  session host behind a gateway
  webstream -sm [-config FILE]                         standalone session manager
  webstream -gateway [-config FILE]                    gateway: sign-in, placement, proxy
  webstream -farm [-config FILE]                       gateway + one host on this machine, to try it out
  webstream streamer -control URL -port N [-bind ADDR] [-user NAME]
                     [-gateway-url URL… -server-url URL [-gateway-ca FILE]]
                     [-reporting JSON] [-orphan-timeout S]
                                                       streamer (started by the session manager)
  webstream file-dialog [-title TEXT] [-timeout S]     inside a session: ask the browser for a
                                                       file, print where the upload landed
  webstream download FILE                              inside a session: send FILE to the browser
  webstream config check FILE                          validate a configuration file
  webstream hash-password                              hash a password read from stdin
  webstream store migrate [-config FILE] [-from-sqlite PATH]
                                                       create or upgrade the PostgreSQL schema at
                                                       gateway.store.url; copy a SQLite store once
  webstream install-service -backend [-tags TAG,TAG…] [-config FILE]
                                                       Windows: install the "webstream" service
                                                       (also -sm or -gateway instead of -backend)
  webstream uninstall-service                          Windows: stop and remove the service
  webstream run-service -backend …                     what the Windows service runs (not by hand)
  webstream -help | -version

Options may be written with one dash or two (-backend, --backend).`;

const SUBCOMMANDS = [
  "streamer",
  "config",
  "hash-password",
  "store",
  "file-dialog",
  "download",
];
/** Subcommands that take a role flag. */
const SERVICE_SUBCOMMANDS = ["install-service", "run-service"];
const TAG = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Turns `-backend` into `--backend`; leaves `-h`, values and `--x` alone. */
function normalize(args: readonly string[]): string[] {
  return args.map((arg) =>
    /^-[A-Za-z][A-Za-z-]+(=.*)?$/.test(arg) ? `-${arg}` : arg
  );
}

/**
 * Parses `args` (without the program name).
 *
 * @throws {UsageError} for unknown options, missing values or a missing role.
 */
export function parseCli(args: readonly string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: normalize(args),
      allowPositionals: true,
      strict: true,
      options: {
        backend: { type: "boolean" },
        sm: { type: "boolean" },
        gateway: { type: "boolean" },
        farm: { type: "boolean" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
        config: { type: "string" },
        tags: { type: "string" },
        "from-sqlite": { type: "string" },
        ...STREAMER_OPTIONS,
        title: { type: "string" },
        timeout: { type: "string" },
      },
    });
  } catch (error) {
    throw new UsageError(describeParseError(error as Error));
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };

  const roles = (["backend", "sm", "gateway", "farm"] as const).filter((r) =>
    values[r]
  );
  const sub = positionals[0];
  if (sub && SERVICE_SUBCOMMANDS.includes(sub)) {
    return parseServiceCommand(sub as "install-service" | "run-service", {
      values,
      positionals,
    });
  }
  if (sub === "uninstall-service") {
    const extra = [...roles, ...Object.keys(values)][0];
    if (extra) {
      throw new UsageError(`-${extra} does not apply to uninstall-service`);
    }
    noPositionals(positionals.slice(1));
    return { kind: "uninstall-service" };
  }
  if (roles.length === 1 && sub && !SUBCOMMANDS.includes(sub)) {
    throw new UsageError(`unexpected argument "${sub}"`);
  }
  if (roles.length + (sub ? 1 : 0) > 1) {
    throw new UsageError(
      `choose one role, got ${
        [...roles.map((r) => `-${r}`), ...positionals.slice(0, 1)].join(" and ")
      }`,
    );
  }
  const only = (allowed: string[]): void => {
    const extra = Object.keys(values).filter((k) => !allowed.includes(k));
    if (extra.length) {
      throw new UsageError(
        `-${extra[0]} does not apply to ${roles[0] ? `-${roles[0]}` : sub}`,
      );
    }
  };

  if (roles[0] === "backend") {
    only(["backend", "config", "tags"]);
    noPositionals(positionals);
    return {
      kind: "backend",
      config: values.config,
      tags: parseTags(values.tags),
    };
  }
  if (roles[0] === "sm" || roles[0] === "gateway" || roles[0] === "farm") {
    only([roles[0], "config"]);
    noPositionals(positionals);
    return { kind: roles[0], config: values.config };
  }
  if (sub === "streamer") {
    only([...STREAMER_FLAG_NAMES]);
    noPositionals(positionals.slice(1));
    if (!values.control) throw new UsageError("streamer needs -control URL");
    if (!values.port) throw new UsageError("streamer needs -port N");
    return {
      kind: "streamer",
      control: parseWsUrl(values.control),
      port: parsePort(values.port),
      bind: values.bind ?? "127.0.0.1",
      user: values.user,
      licence: parseLicence(
        values["gateway-url"],
        values["server-url"],
        values["gateway-ca"],
      ),
      reporting: values.reporting,
      ...(values["orphan-timeout"] === undefined ? {} : {
        orphanTimeout: parseSeconds(
          "-orphan-timeout",
          values["orphan-timeout"],
        ),
      }),
    };
  }
  if (sub === "file-dialog") {
    only(["title", "timeout"]);
    noPositionals(positionals.slice(1));
    let timeout: number | undefined;
    if (values.timeout !== undefined) {
      timeout = Number(values.timeout);
      if (!Number.isInteger(timeout) || timeout < 1 || timeout > 86_400) {
        throw new UsageError(
          `-timeout must be whole seconds from 1 to 86400, got "${values.timeout}"`,
        );
      }
    }
    return { kind: "file-dialog", title: values.title, timeout };
  }
  if (sub === "download") {
    only([]);
    if (!positionals[1]) throw new UsageError("download needs a FILE");
    noPositionals(positionals.slice(2));
    return { kind: "download", file: positionals[1] };
  }
  if (sub === "hash-password") {
    only([]);
    noPositionals(positionals.slice(1));
    return { kind: "hash-password" };
  }
  if (sub === "store") {
    only(["config", "from-sqlite"]);
    if (positionals[1] !== "migrate") {
      throw new UsageError(
        `unknown store command "${
          positionals[1] ?? ""
        }" (try: store migrate [-config FILE] [-from-sqlite PATH])`,
      );
    }
    noPositionals(positionals.slice(2));
    if (values["from-sqlite"] === "") {
      throw new UsageError("-from-sqlite needs the path of a SQLite store");
    }
    return {
      kind: "store-migrate",
      config: values.config,
      fromSqlite: values["from-sqlite"],
    };
  }
  if (sub === "config") {
    only([]);
    if (positionals[1] !== "check") {
      throw new UsageError(
        `unknown config command "${
          positionals[1] ?? ""
        }" (try: config check FILE)`,
      );
    }
    if (!positionals[2]) throw new UsageError("config check needs a FILE");
    noPositionals(positionals.slice(3));
    return { kind: "config-check", file: positionals[2] };
  }
  if (sub) throw new UsageError(`unknown command "${sub}"`);
  throw new UsageError("no role given");
}

/** What `parseArgs` returned, for the subcommand parsers. */
interface Parsed {
  values: Record<string, string | string[] | boolean | undefined>;
  positionals: string[];
}

/** `install-service` / `run-service` with exactly one service role. */
function parseServiceCommand(
  kind: "install-service" | "run-service",
  { values, positionals }: Parsed,
): CliCommand {
  noPositionals(positionals.slice(1));
  if (values.farm) {
    throw new UsageError(
      `-farm cannot run as a service (it is for trying webstream out); ` +
        `use -backend, -sm or -gateway with ${kind}`,
    );
  }
  const roles = (["backend", "sm", "gateway"] as const).filter((r) =>
    values[r]
  );
  if (roles.length === 0) {
    throw new UsageError(`${kind} needs a role: -backend, -sm or -gateway`);
  }
  if (roles.length > 1) {
    throw new UsageError(
      `choose one role, got ${roles.map((r) => `-${r}`).join(" and ")}`,
    );
  }
  const role = roles[0];
  const allowed = [role, "config", ...(role === "backend" ? ["tags"] : [])];
  const extra = Object.keys(values).find((k) => !allowed.includes(k));
  if (extra) {
    throw new UsageError(`-${extra} does not apply to ${kind} -${role}`);
  }
  const config = values.config as string | undefined;
  const parsedRole: ServiceRoleCommand = role === "backend"
    ? { kind: "backend", config, tags: parseTags(values.tags as string) }
    : { kind: role, config };
  return { kind, role: parsedRole };
}

function noPositionals(rest: readonly string[]): void {
  if (rest.length) throw new UsageError(`unexpected argument "${rest[0]}"`);
}

function parseTags(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  const tags = raw.split(",").map((t) => t.trim()).filter(Boolean);
  const bad = tags.find((t) => !TAG.test(t));
  if (bad !== undefined) {
    throw new UsageError(
      `-tags: "${bad}" is not a tag (letters, digits, '.', '_' or '-')`,
    );
  }
  return [...new Set(tags)];
}

function parseLicence(
  gatewayUrl: string[] | undefined,
  serverUrl: string | undefined,
  caCertificate: string | undefined,
): StreamerLicenceFlags | undefined {
  if (!gatewayUrl?.length && !serverUrl) return undefined;
  const urls = gatewayUrl?.length ? gatewayUrl : [undefined];
  for (
    const [flag, value] of [
      ...urls.map((url) => ["gateway-url", url]),
      ["server-url", serverUrl],
    ]
  ) {
    if (
      !value || !URL.canParse(value) ||
      !/^https?:$/.test(new URL(value).protocol)
    ) {
      throw new UsageError(
        `-${flag}: expected an http(s) URL, got "${value ?? ""}"`,
      );
    }
  }
  return { gatewayUrl: gatewayUrl!, serverUrl: serverUrl!, caCertificate };
}

/** Seconds, more than 0 and at most 86400 (a day); decimals allowed. */
function parseSeconds(option: string, raw: string): number {
  const seconds = Number(raw);
  if (!/^\d+(\.\d+)?$/.test(raw) || seconds <= 0 || seconds > 86_400) {
    throw new UsageError(
      `${option} must be seconds above 0 and at most 86400, got "${raw}"`,
    );
  }
  return seconds;
}

function parsePort(raw: string): number {
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) {
    throw new UsageError(`-port: expected a port 1-65535, got "${raw}"`);
  }
  return port;
}

function parseWsUrl(raw: string): string {
  if (!URL.canParse(raw) || !/^wss?:$/.test(new URL(raw).protocol)) {
    throw new UsageError(`-control: expected a ws:// URL, got "${raw}"`);
  }
  return raw;
}

function describeParseError(error: Error): string {
  const code = (error as { code?: string }).code;
  const option = error.message.match(/'(-[^' ]+)/)?.[1]?.replace(/^--/, "-");
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    return `unknown option ${option ?? error.message}`;
  }
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") {
    return `option ${option ?? ""} needs a value`.replace("  ", " ");
  }
  return error.message;
}
