/**
 * The platform layer: the interface every OS implementation provides, and the
 * implementation for the OS this process runs on.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { createLinuxPlatform } from "./linux/mod.ts";
import type { Platform } from "./types.ts";
import type { WindowsApi } from "./windows/api.ts";
import {
  createWindowsPlatform,
  type WindowsPlatformOptions,
} from "./windows/mod.ts";
import type { RdpClientConfig } from "./windows/rdp_client.ts";
import { openWindowsApi } from "./windows/win32_api.ts";

export type * from "./types.ts";
export { isCompiled, selfCommand } from "./self_command.ts";

/** The Windows platform's settings (`webstreamSettings.windows`, in ms). */
export interface WindowsPlatformSettings {
  /** The loopback RDP client. Default: FreeRDP's `wfreerdp.exe`. */
  rdpClient?: RdpClientConfig;
  /** How long a logon may take. Default 60 s. */
  logonTimeoutMs?: number;
  /** How long a logged-off session may stay listed. Default 30 s. */
  logoffTimeoutMs?: number;
}

/** Options for {@linkcode createPlatform}. */
export interface CreatePlatformOptions {
  /** `webstreamSettings.poolAccounts`. */
  accountMode: "auto" | "system" | "current";
  /** `webstreamSettings.runtimeDirectory`. */
  runtimeDirectory?: string;
  /** Logger. */
  logger: Logger;
  /** `webstreamSettings.windows`: used on Windows only. */
  windows?: WindowsPlatformSettings;
}

/**
 * The platform for this OS: Linux, or Windows over the Win32 DLLs.
 *
 * @throws {Error} on an OS webstream has no session platform for, and on
 * Windows for accountMode `current`.
 */
export function createPlatform(options: CreatePlatformOptions): Platform {
  if (Deno.build.os === "linux") {
    const { accountMode, runtimeDirectory, logger } = options;
    return createLinuxPlatform({ accountMode, runtimeDirectory, logger });
  }
  if (Deno.build.os === "windows") {
    return createWindowsPlatform(
      windowsPlatformOptions(options, openWindowsApi()),
    );
  }
  throw new Error(
    `no session platform for ${Deno.build.os} in this build (Linux and Windows only)`,
  );
}

/**
 * What {@linkcode createPlatform} hands `createWindowsPlatform` for
 * `options` over `api`: the common options and the Windows settings
 * (unset ones left to the platform's defaults).
 */
export function windowsPlatformOptions(
  options: CreatePlatformOptions,
  api: WindowsApi,
): WindowsPlatformOptions {
  const { accountMode, runtimeDirectory, logger, windows = {} } = options;
  const result: WindowsPlatformOptions = { api, accountMode, logger };
  if (runtimeDirectory !== undefined) {
    result.runtimeDirectory = runtimeDirectory;
  }
  if (windows.rdpClient) result.rdpClient = windows.rdpClient;
  if (windows.logonTimeoutMs !== undefined) {
    result.logonTimeoutMs = windows.logonTimeoutMs;
  }
  if (windows.logoffTimeoutMs !== undefined) {
    result.logoffTimeoutMs = windows.logoffTimeoutMs;
  }
  return result;
}
