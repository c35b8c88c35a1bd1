/**
 * What the service commands share: the service's name and how it presents
 * itself per role, the messages on systems other than Windows, the result
 * type, and opening the real service API.
 *
 * @module
 */
import type { ServiceRoleCommand } from "../cli/mod.ts";
import { Kernel32, openKernel32 } from "../../ffi/windows/kernel32.ts";
import { openServices, type ServiceApi } from "../../ffi/windows/services.ts";
import { roleArguments } from "./command_line.ts";

/** The service's key name (`sc.exe start webstream`). */
export const SERVICE_NAME = "webstream";

/** What a service command prints and exits with. */
export interface ServiceCommandResult {
  /** Process exit code. */
  code: number;
  /** Printed on stdout when `code` is 0, else on stderr; may be empty. */
  message: string;
}

/** Options every service command takes (tests replace both). */
export interface ServiceCommandOptions {
  /** The OS. Default: `Deno.build.os`. */
  os?: typeof Deno.build.os;
  /** Opens the service API. Default: advapi32 and kernel32. */
  api?: () => ServiceApi;
}

/** The real service API (Windows only). */
export function openServiceApi(): ServiceApi {
  return {
    services: openServices(),
    kernel32: new Kernel32(openKernel32()),
  };
}

/** How the installed service presents itself, and what it needs running first. */
export interface ServiceIdentity {
  /** Shown in services.msc. */
  displayName: string;
  /** Shown in services.msc. */
  description: string;
  /** Services started first. */
  dependencies: string[];
}

/**
 * The service's display name, description and dependencies for `role`.
 * Session-hosting roles depend on Remote Desktop Services (`TermService`):
 * every session is an RDP session.
 */
export function serviceIdentity(role: ServiceRoleCommand): ServiceIdentity {
  switch (role.kind) {
    case "backend":
      return {
        displayName: "webstream session host",
        description:
          "webstream session host (-backend): streams Windows applications " +
          "and desktops to the browser, with sessions placed on it by a " +
          "webstream gateway.",
        dependencies: ["TermService"],
      };
    case "sm":
      return {
        displayName: "webstream session manager",
        description:
          "webstream standalone session manager (-sm): streams Windows " +
          "applications and desktops to the browser.",
        dependencies: ["TermService"],
      };
    case "gateway":
      return {
        displayName: "webstream gateway",
        description:
          "webstream gateway (-gateway): sign-in, placement of sessions on " +
          "webstream session hosts, and the proxy to them.",
        dependencies: [],
      };
  }
}

/** The message for a service command run on another OS, with what to do there instead. */
export function notWindowsMessage(
  command: "install-service" | "uninstall-service" | "run-service",
  role?: ServiceRoleCommand,
): string {
  const roleArgs = role ? roleArguments(role).join(" ") : "-backend";
  switch (command) {
    case "install-service":
      // KillMode=process: a crashed host's sessions are left running for
      // the restarted one to take back (systemd would otherwise end them).
      return `webstream install-service is for Windows; on Linux use a systemd ` +
        `unit (ExecStart=/usr/local/bin/webstream ${roleArgs}, ` +
        `Restart=on-failure, KillMode=process).`;
    case "uninstall-service":
      return `webstream uninstall-service is for Windows; on Linux stop and ` +
        `disable the systemd unit instead (systemctl disable --now webstream).`;
    case "run-service":
      return `webstream run-service is what the Windows service control ` +
        `manager runs; on Linux run the role itself (webstream ${roleArgs}) ` +
        `from a systemd unit.`;
  }
}
