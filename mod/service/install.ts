/**
 * `webstream install-service -backend -tags … [-config FILE]`: installs the
 * "webstream" service, which runs `webstream run-service` with the same
 * role arguments. The configuration path is made absolute (a service starts
 * in `C:\Windows\System32`) and validated first, so a service that cannot
 * start is never installed. Its preshutdown timeout is set so that a system
 * shutdown leaves the role time for a clean stop.
 *
 * @module
 */
import { posix, win32 } from "node:path";
import type { ServiceRoleCommand } from "../cli/mod.ts";
import { ConfigError, loadConfig, SECRET_ENV } from "../config/mod.ts";
import { type SelfCommand, selfCommand } from "../platform/self_command.ts";
import { ServiceError, ServiceManager } from "../../ffi/windows/services.ts";
import { Win32Error } from "../../ffi/windows/errors.ts";
import { buildCommandLine, roleArguments } from "./command_line.ts";
import {
  notWindowsMessage,
  openServiceApi,
  SERVICE_NAME,
  type ServiceCommandOptions,
  type ServiceCommandResult,
  serviceIdentity,
} from "./common.ts";

/**
 * How long Windows waits at shutdown for the service to stop (its
 * preshutdown timeout), in ms: time for `-backend` to unregister from the
 * gateway and log its sessions off, which SHUTDOWN's ~20 s may not give.
 */
export const SERVICE_PRESHUTDOWN_TIMEOUT_MS = 60_000;

/** Options for {@linkcode installService}. */
export interface InstallServiceOptions extends ServiceCommandOptions {
  /** How to run webstream again. Default: {@linkcode selfCommand}. */
  self?: SelfCommand;
  /** The directory a relative `-config` is resolved against. Default: `Deno.cwd()`. */
  cwd?: string;
  /** Validates the configuration. Default: `loadConfig`. */
  loadConfig?: (path?: string) => Promise<unknown>;
  /** This shell's environment (for the secrets warning). Default: `Deno.env`. */
  env?: Record<string, string | undefined>;
}

/** The configuration path as the service will see it: absolute, by the target OS's rules. */
export function absoluteConfigPath(
  path: string,
  options: { os: typeof Deno.build.os; cwd: string },
): string {
  return (options.os === "windows" ? win32 : posix).resolve(options.cwd, path);
}

/** The service's `binaryPathName`: webstream, `run-service`, the role's arguments. */
export function serviceCommandLine(
  self: SelfCommand,
  role: ServiceRoleCommand,
  options: { config?: string } = {},
): string {
  return buildCommandLine(self.command, [
    ...self.prefix,
    "run-service",
    ...roleArguments(role, options),
  ]);
}

/** Installs the service for `role`; never throws for the operator's mistakes. */
export async function installService(
  role: ServiceRoleCommand,
  options: InstallServiceOptions = {},
): Promise<ServiceCommandResult> {
  const os = options.os ?? Deno.build.os;
  if (os !== "windows") {
    return { code: 1, message: notWindowsMessage("install-service", role) };
  }
  const config = role.config === undefined ? undefined : absoluteConfigPath(
    role.config,
    { os, cwd: options.cwd ?? Deno.cwd() },
  );
  try {
    await (options.loadConfig ?? loadConfig)(config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return {
      code: 1,
      message: `${error.message}\nwebstream install-service: not installed; ` +
        `fix the configuration first`,
    };
  }
  const self = options.self ?? selfCommand();
  const identity = serviceIdentity(role);
  let binaryPathName: string;
  try {
    binaryPathName = serviceCommandLine(self, role, { config });
    const api = (options.api ?? openServiceApi)();
    new ServiceManager(api.services, api.kernel32).install(SERVICE_NAME, {
      ...identity,
      binaryPathName,
      preshutdownTimeoutMs: SERVICE_PRESHUTDOWN_TIMEOUT_MS,
    });
  } catch (error) {
    if (
      error instanceof ServiceError || error instanceof Win32Error ||
      error instanceof TypeError
    ) {
      return {
        code: 1,
        message: `webstream install-service: ${error.message}`,
      };
    }
    throw error;
  }
  const lines = [
    `installed the "${SERVICE_NAME}" service (${identity.displayName}), ` +
    `starting at boot as LocalSystem:`,
    `  ${binaryPathName}`,
    `start it now with: sc.exe start ${SERVICE_NAME}`,
  ];
  if (!self.compiled) {
    lines.push(
      `note: this is not a compiled webstream.exe; the service runs ` +
        `${self.command} with this checkout's main.ts`,
    );
  }
  const env = options.env ?? Deno.env.toObject();
  const inShell = Object.keys(SECRET_ENV).filter((name) => env[name]);
  if (inShell.length) {
    lines.push(
      `note: ${inShell.join(", ")} ${
        inShell.length > 1 ? "are" : "is"
      } set in this shell only; the service will not see ${
        inShell.length > 1 ? "them" : "it"
      }. Put secrets in the configuration file, or set them machine-wide ` +
        `(setx /M NAME VALUE) before starting the service.`,
    );
  }
  return { code: 0, message: lines.join("\n") };
}
