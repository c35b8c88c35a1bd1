/**
 * `webstream run-service -backend …`: what the service control manager
 * runs. Starts the role as `webstream -backend …` does, under
 * {@linkcode runAsService}: the SCM sees START_PENDING until the role
 * serves, RUNNING, and on STOP (or system shutdown) STOP_PENDING while the
 * role's `stop()` runs (for `-backend`: unregister from the gateway first,
 * then end the sessions, then close HTTP), then STOPPED.
 *
 * A service has no console, so its logs go to a file (JSON lines,
 * {@linkcode serviceLogPath}, rotated at 10 MiB with three old files
 * kept), and so do uncaught errors, before the process ends on them. Once
 * the SCM has started the service, the log folder is created and given a
 * protected DACL (SYSTEM and Administrators only): under `%ProgramData%`
 * every local user, pool accounts included, could otherwise read the logs
 * and plant files there. If that fails the service still runs (its logs
 * are how the operator learns of problems) and logs a warning.
 *
 * @module
 */
import type { ServiceRoleCommand } from "../cli/mod.ts";
import { createFileSink, type FileSink } from "../log/file_sink.ts";
import { createLogger, type Logger } from "../log/mod.ts";
import type { RoleHandle } from "../roles/common.ts";
import { Advapi32, openAdvapi32 } from "../../ffi/windows/advapi32.ts";
import { Kernel32, openKernel32 } from "../../ffi/windows/kernel32.ts";
import {
  runAsService,
  type RunAsServiceOptions,
  ServiceError,
} from "../../ffi/windows/services.ts";
import { roleArguments } from "./command_line.ts";
import {
  notWindowsMessage,
  openServiceApi,
  SERVICE_NAME,
  type ServiceCommandOptions,
  type ServiceCommandResult,
} from "./common.ts";

/** Options for {@linkcode runService}. */
export interface RunServiceOptions extends ServiceCommandOptions {
  /** Starts the role (main.ts's `startRole`). */
  start(logger: Logger): Promise<RoleHandle>;
  /**
   * The role's logger. Default: one for the role's component writing JSON
   * lines to `logFile`.
   */
  logger?: Logger;
  /** The log file when `logger` is not given. Default {@linkcode serviceLogPath}. */
  logFile?: string;
  /**
   * Restricts the log folder to SYSTEM and Administrators (used when
   * `logger` is not given). Default: advapi32's `protectFolder`.
   */
  protectFolder?: (path: string) => Promise<void>;
  /** Heartbeat and time limits passed to {@linkcode runAsService}. */
  timing?: Pick<
    RunAsServiceOptions,
    "heartbeatMs" | "startTimeoutMs" | "stopTimeoutMs"
  >;
}

/** Runs `role` as the service until the SCM stops it. */
export async function runService(
  role: ServiceRoleCommand,
  options: RunServiceOptions,
): Promise<ServiceCommandResult> {
  const os = options.os ?? Deno.build.os;
  if (os !== "windows") {
    return { code: 1, message: notWindowsMessage("run-service", role) };
  }
  let logger = options.logger;
  let sink: FileSink | undefined;
  let prepareLogs: (() => Promise<void>) | undefined;
  if (!logger) {
    const logFile = options.logFile ?? serviceLogPath();
    sink = createFileSink(logFile);
    const fileLogger = createLogger({
      component: role.kind,
      format: "json",
      sink: sink.write,
    });
    const protect = options.protectFolder ?? protectWithAdvapi32;
    prepareLogs = () => protectLogFolder(logFile, protect, fileLogger);
    logger = fileLogger;
  }
  const stopLoggingCrashes = logUncaughtErrors(logger);
  try {
    return await serveUntilStopped(role, options, { logger, prepareLogs });
  } finally {
    stopLoggingCrashes();
    sink?.close();
  }
}

/**
 * The service's log file: `%ProgramData%\webstream\logs\webstream.log`
 * (`C:\ProgramData` when the variable is not set or cannot be read).
 */
export function serviceLogPath(
  env: Record<string, string | undefined> = readEnv(),
): string {
  const base = env.ProgramData || env.PROGRAMDATA || "C:\\ProgramData";
  return `${base.replace(/[\\/]+$/, "")}\\webstream\\logs\\webstream.log`;
}

/**
 * Creates the folder of `logFile` and restricts it to SYSTEM and
 * Administrators; a failure is logged, not thrown. A bare file name (the
 * current folder) is left alone.
 */
async function protectLogFolder(
  logFile: string,
  protect: (path: string) => Promise<void>,
  logger: Logger,
): Promise<void> {
  const cut = Math.max(logFile.lastIndexOf("/"), logFile.lastIndexOf("\\"));
  if (cut <= 0) return;
  const folder = logFile.slice(0, cut);
  try {
    await Deno.mkdir(folder, { recursive: true });
    await protect(folder);
  } catch (error) {
    logger.warn(
      "could not restrict the log folder to SYSTEM and Administrators",
      { folder, error },
    );
  }
}

/** advapi32's `protectFolder` (Windows only: it opens the DLLs). */
function protectWithAdvapi32(path: string): Promise<void> {
  const advapi32 = new Advapi32(openAdvapi32(), new Kernel32(openKernel32()));
  return advapi32.protectFolder(path);
}

function readEnv(): Record<string, string | undefined> {
  try {
    return { ProgramData: Deno.env.get("ProgramData") };
  } catch {
    return {};
  }
}

/**
 * Logs uncaught errors and unhandled rejections (which otherwise only
 * reach the missing console) without preventing the process from ending
 * on them. Returns the function that stops it.
 */
function logUncaughtErrors(logger: Logger): () => void {
  const onError = (event: ErrorEvent): void =>
    logger.error("uncaught error", { error: event.error ?? event.message });
  const onRejection = (event: PromiseRejectionEvent): void =>
    logger.error("unhandled promise rejection", { error: event.reason });
  globalThis.addEventListener("error", onError);
  globalThis.addEventListener("unhandledrejection", onRejection);
  return () => {
    globalThis.removeEventListener("error", onError);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  };
}

async function serveUntilStopped(
  role: ServiceRoleCommand,
  options: RunServiceOptions,
  logging: { logger: Logger; prepareLogs?: () => Promise<void> },
): Promise<ServiceCommandResult> {
  const { logger, prepareLogs } = logging;
  let handle: RoleHandle | undefined;
  let result;
  try {
    result = await runAsService(
      (options.api ?? openServiceApi)(),
      SERVICE_NAME,
      {
        ...options.timing,
        onStart: async () => {
          // Only now: run by hand (not by the SCM), nothing is created.
          await prepareLogs?.();
          logger.info("service starting", { role: role.kind });
          handle = await options.start(logger);
          logger.info("service running", { port: handle.port });
        },
        onStop: async () => {
          logger.info("service stopping");
          await handle?.stop();
          logger.info("service stopped");
        },
      },
    );
  } catch (error) {
    if (
      error instanceof ServiceError && error.reason === "not-started-by-scm"
    ) {
      const args = roleArguments(role).join(" ");
      return {
        code: 1,
        message: `webstream run-service: ${error.message}.\n` +
          `run-service is what the Windows service runs. Install the service ` +
          `with "webstream install-service ${args}" and start it with ` +
          `"sc.exe start ${SERVICE_NAME}"; to run the role in this console, ` +
          `use "webstream ${args}".`,
      };
    }
    throw error;
  }
  if (result.exitCode === 0) return { code: 0, message: "" };
  logger.error("service failed", {
    exitCode: result.exitCode,
    error: result.error,
  });
  const reason = result.error instanceof Error
    ? result.error.message
    : String(result.error);
  return {
    code: 1,
    message:
      `webstream run-service: ${reason} (service exit code ${result.exitCode})`,
  };
}
