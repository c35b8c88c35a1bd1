/**
 * `webstream uninstall-service`: stops the "webstream" service if it runs
 * (its stop unregisters from the gateway first) and removes it.
 *
 * @module
 */
import { ServiceError, ServiceManager } from "../../ffi/windows/services.ts";
import { Win32Error } from "../../ffi/windows/errors.ts";
import {
  notWindowsMessage,
  openServiceApi,
  SERVICE_NAME,
  type ServiceCommandOptions,
  type ServiceCommandResult,
} from "./common.ts";

/** Options for {@linkcode uninstallService}. */
export interface UninstallServiceOptions extends ServiceCommandOptions {
  /** Longest wait for the service to stop, in ms. Default 120 000. */
  timeoutMs?: number;
  /** Waits between status queries (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/** Stops and removes the service; never throws for the operator's mistakes. */
export async function uninstallService(
  options: UninstallServiceOptions = {},
): Promise<ServiceCommandResult> {
  const os = options.os ?? Deno.build.os;
  if (os !== "windows") {
    return { code: 1, message: notWindowsMessage("uninstall-service") };
  }
  try {
    const api = (options.api ?? openServiceApi)();
    const result = await new ServiceManager(api.services, api.kernel32)
      .uninstall(SERVICE_NAME, {
        timeoutMs: options.timeoutMs,
        sleep: options.sleep,
      });
    const lines = [
      result.stopped
        ? `stopped and removed the "${SERVICE_NAME}" service`
        : `removed the "${SERVICE_NAME}" service`,
    ];
    if (result.alreadyMarked) {
      lines[0] = `the "${SERVICE_NAME}" service was already being removed`;
      lines.push(
        `it disappears once nothing holds it open (close services.msc)`,
      );
    }
    return { code: 0, message: lines.join("\n") };
  } catch (error) {
    if (error instanceof ServiceError && error.reason === "not-installed") {
      return {
        code: 1,
        message:
          `webstream uninstall-service: ${error.message}; nothing to remove`,
      };
    }
    if (error instanceof ServiceError || error instanceof Win32Error) {
      return {
        code: 1,
        message: `webstream uninstall-service: ${error.message}`,
      };
    }
    throw error;
  }
}
