/**
 * The platform layer: the interface every OS implementation provides, and the
 * implementation for the OS this process runs on.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { createLinuxPlatform } from "./linux/mod.ts";
import type { Platform } from "./types.ts";

export type * from "./types.ts";
export { isCompiled, selfCommand } from "./self_command.ts";

/** Options for {@linkcode createPlatform}. */
export interface CreatePlatformOptions {
  /** `webstreamSettings.poolAccounts`. */
  accountMode: "auto" | "system" | "current";
  /** `webstreamSettings.runtimeDirectory`. */
  runtimeDirectory?: string;
  /** Logger. */
  logger: Logger;
}

/**
 * The platform for this OS.
 *
 * @throws {Error} on an OS webstream has no session platform for yet.
 */
export function createPlatform(options: CreatePlatformOptions): Platform {
  if (Deno.build.os === "linux") return createLinuxPlatform(options);
  throw new Error(
    `no session platform for ${Deno.build.os} in this build (Linux only; Windows is planned)`,
  );
}
