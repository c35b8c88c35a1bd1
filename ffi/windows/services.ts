/**
 * advapi32's service control manager (SCM) API (`winsvc.h`): installing,
 * querying, stopping and removing a service ({@linkcode ServiceManager}),
 * and running this process as one ({@linkcode runAsService}).
 *
 * ## How the SCM's callbacks reach JavaScript
 *
 * A service process calls `StartServiceCtrlDispatcherW`, which connects to
 * the SCM and does not return until every service in the process has
 * reported `SERVICE_STOPPED`. It is therefore `nonblocking`: Deno runs it on
 * one of its blocking-pool threads while the event loop keeps running. The
 * SCM then calls back twice over, never on the event-loop thread:
 *
 * - `ServiceMain` on a thread the dispatcher creates for the service;
 * - the `HandlerEx` control handler on the dispatcher's own thread (the
 *   pool thread blocked in `StartServiceCtrlDispatcherW`).
 *
 * Both are `Deno.UnsafeCallback.threadSafe` callbacks. When native code
 * calls one from a thread other than the isolate's, Deno queues the call to
 * the event loop and blocks the calling thread until the JavaScript function
 * has returned (`V8CrossThreadTaskSpawner::spawn_blocking` in Deno's
 * `ext/ffi/callback.rs`); its return value goes back to the native caller.
 * Hence:
 *
 * - the JavaScript bodies run on the event-loop thread, one at a time, so
 *   they may call synchronous FFI functions (`SetServiceStatus`,
 *   `RegisterServiceCtrlHandlerExW`) and read `GetLastError` afterwards on
 *   the same thread;
 * - they must return quickly and synchronously (`HandlerEx` has to answer
 *   within 30 seconds, and a Promise is not a DWORD): the work they start
 *   continues asynchronously and reports progress with `SetServiceStatus`;
 * - they must never throw: an exception in a cross-thread callback is only
 *   logged by Deno and the native caller sees 0;
 * - the event loop must not be blocked by a synchronous FFI call that waits
 *   for the SCM to call us back, or both sides wait forever. Nothing here
 *   does: the only waiting call is the `nonblocking` dispatcher.
 *
 * What keeps the callbacks alive: `threadSafe` creates the callback and
 * `ref()`s it, so the event loop stays alive while native code may call it;
 * the native trampoline (a libffi closure) and the JavaScript function it
 * calls are held in Deno's resource table until `close()`, not by the
 * `UnsafeCallback` object. {@linkcode runAsService} closes both callbacks
 * only after the dispatcher has returned, when the SCM can no longer call
 * them. The `SERVICE_TABLE_ENTRYW` array and the service-name string it
 * points to are JavaScript buffers kept referenced until then too, since the
 * dispatcher reads them on its own thread.
 *
 * ## Last-error codes
 *
 * `StartServiceCtrlDispatcherW` runs off the event-loop thread, so its
 * `GetLastError` is not readable (see errors.ts). Its one realistic failure
 * when called once with a valid table is `ERROR_FAILED_SERVICE_CONTROLLER_CONNECT`
 * (1063): the process was not started by the SCM. {@linkcode runAsService}
 * infers that when the call fails before `ServiceMain` ran, and says so.
 * Every other call is synchronous and reads its exact code. `ControlService`
 * waits for the target's handler to return (the SCM bounds that), but it
 * stays synchronous because its codes (`ERROR_SERVICE_NOT_ACTIVE`,
 * `ERROR_SERVICE_CANNOT_ACCEPT_CTRL`) decide what uninstalling does next.
 *
 * @module
 */
import { Win32Error } from "./errors.ts";
import type { Kernel32 } from "./kernel32.ts";
import { wide, wideList } from "./strings.ts";
import {
  addressOf,
  addressOfPointer,
  defineStruct,
  encodeStruct,
  readField,
  viewOf,
  writeField,
} from "./struct.ts";

/** advapi32's service control manager symbols used by webstream. */
export const SERVICES_SYMBOLS = {
  OpenSCManagerW: {
    parameters: ["buffer", "buffer", "u32"],
    result: "pointer",
  },
  CreateServiceW: {
    parameters: [
      "pointer", // hSCManager
      "buffer", // lpServiceName
      "buffer", // lpDisplayName
      "u32", // dwDesiredAccess
      "u32", // dwServiceType
      "u32", // dwStartType
      "u32", // dwErrorControl
      "buffer", // lpBinaryPathName
      "buffer", // lpLoadOrderGroup
      "buffer", // lpdwTagId
      "buffer", // lpDependencies (double-NUL list)
      "buffer", // lpServiceStartName (NULL: LocalSystem)
      "buffer", // lpPassword
    ],
    result: "pointer",
  },
  OpenServiceW: { parameters: ["pointer", "buffer", "u32"], result: "pointer" },
  DeleteService: { parameters: ["pointer"], result: "i32" },
  ControlService: { parameters: ["pointer", "u32", "buffer"], result: "i32" },
  QueryServiceStatusEx: {
    parameters: ["pointer", "u32", "buffer", "u32", "buffer"],
    result: "i32",
  },
  ChangeServiceConfig2W: {
    parameters: ["pointer", "u32", "buffer"],
    result: "i32",
  },
  CloseServiceHandle: { parameters: ["pointer"], result: "i32" },
  // Returns only when every service of the process has stopped.
  StartServiceCtrlDispatcherW: {
    parameters: ["buffer"],
    result: "i32",
    nonblocking: true,
  },
  RegisterServiceCtrlHandlerExW: {
    parameters: ["buffer", "function", "pointer"],
    result: "pointer",
  },
  SetServiceStatus: { parameters: ["pointer", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw service control manager functions. */
export type ServicesSymbols = Deno.DynamicLibrary<
  typeof SERVICES_SYMBOLS
>["symbols"];

/** Opens advapi32.dll's service functions (Windows only). */
export function openServices(): ServicesSymbols {
  return Deno.dlopen("advapi32.dll", SERVICES_SYMBOLS).symbols;
}

// --- winsvc.h / winnt.h constants -----------------------------------------

/** `SC_MANAGER_CONNECT`. */
export const SC_MANAGER_CONNECT = 0x0001;
/** `SC_MANAGER_CREATE_SERVICE`. */
export const SC_MANAGER_CREATE_SERVICE = 0x0002;
/** `SERVICE_QUERY_CONFIG`. */
export const SERVICE_QUERY_CONFIG = 0x0001;
/** `SERVICE_CHANGE_CONFIG`. */
export const SERVICE_CHANGE_CONFIG = 0x0002;
/** `SERVICE_QUERY_STATUS`. */
export const SERVICE_QUERY_STATUS = 0x0004;
/** `SERVICE_START`. */
export const SERVICE_START = 0x0010;
/** `SERVICE_STOP`. */
export const SERVICE_STOP = 0x0020;
/** `SERVICE_INTERROGATE`. */
export const SERVICE_INTERROGATE = 0x0080;
/** `DELETE` (winnt.h standard right). */
export const DELETE = 0x00010000;
/** `SERVICE_ALL_ACCESS`. */
export const SERVICE_ALL_ACCESS = 0x000f01ff;

/** `SERVICE_WIN32_OWN_PROCESS`: the only service in its process. */
export const SERVICE_WIN32_OWN_PROCESS = 0x00000010;
/** `SERVICE_AUTO_START`: started by the SCM at boot. */
export const SERVICE_AUTO_START = 0x00000002;
/** `SERVICE_DEMAND_START`. */
export const SERVICE_DEMAND_START = 0x00000003;
/** `SERVICE_ERROR_NORMAL`: a start failure is logged, boot continues. */
export const SERVICE_ERROR_NORMAL = 0x00000001;

/** `SERVICE_STOPPED`. */
export const SERVICE_STOPPED = 1;
/** `SERVICE_START_PENDING`. */
export const SERVICE_START_PENDING = 2;
/** `SERVICE_STOP_PENDING`. */
export const SERVICE_STOP_PENDING = 3;
/** `SERVICE_RUNNING`. */
export const SERVICE_RUNNING = 4;
/** `SERVICE_CONTINUE_PENDING`. */
export const SERVICE_CONTINUE_PENDING = 5;
/** `SERVICE_PAUSE_PENDING`. */
export const SERVICE_PAUSE_PENDING = 6;
/** `SERVICE_PAUSED`. */
export const SERVICE_PAUSED = 7;

/** `SERVICE_CONTROL_STOP`. */
export const SERVICE_CONTROL_STOP = 0x00000001;
/** `SERVICE_CONTROL_PAUSE`. */
export const SERVICE_CONTROL_PAUSE = 0x00000002;
/** `SERVICE_CONTROL_CONTINUE`. */
export const SERVICE_CONTROL_CONTINUE = 0x00000003;
/** `SERVICE_CONTROL_INTERROGATE`. */
export const SERVICE_CONTROL_INTERROGATE = 0x00000004;
/** `SERVICE_CONTROL_SHUTDOWN`: the system is shutting down. */
export const SERVICE_CONTROL_SHUTDOWN = 0x00000005;
/**
 * `SERVICE_CONTROL_PRESHUTDOWN`: the system will shut down; sent before
 * SHUTDOWN to services that accept it, which then get up to their
 * preshutdown timeout (rather than SHUTDOWN's ~20 s) to stop.
 */
export const SERVICE_CONTROL_PRESHUTDOWN = 0x0000000f;

/** `SERVICE_ACCEPT_STOP`. */
export const SERVICE_ACCEPT_STOP = 0x00000001;
/** `SERVICE_ACCEPT_PAUSE_CONTINUE`. */
export const SERVICE_ACCEPT_PAUSE_CONTINUE = 0x00000002;
/** `SERVICE_ACCEPT_SHUTDOWN`. */
export const SERVICE_ACCEPT_SHUTDOWN = 0x00000004;
/** `SERVICE_ACCEPT_PRESHUTDOWN`. */
export const SERVICE_ACCEPT_PRESHUTDOWN = 0x00000100;

/** `SC_STATUS_PROCESS_INFO`: QueryServiceStatusEx's only level. */
export const SC_STATUS_PROCESS_INFO = 0;
/** `SERVICE_CONFIG_DESCRIPTION`. */
export const SERVICE_CONFIG_DESCRIPTION = 1;
/** `SERVICE_CONFIG_FAILURE_ACTIONS`. */
export const SERVICE_CONFIG_FAILURE_ACTIONS = 2;
/** `SERVICE_CONFIG_PRESHUTDOWN_INFO`: a `SERVICE_PRESHUTDOWN_INFO`. */
export const SERVICE_CONFIG_PRESHUTDOWN_INFO = 7;
/** `SC_ACTION_NONE`. */
export const SC_ACTION_NONE = 0;
/** `SC_ACTION_RESTART`. */
export const SC_ACTION_RESTART = 1;

/** `NO_ERROR`: what a control handler returns when it handled the control. */
export const NO_ERROR = 0;
/** `ERROR_CALL_NOT_IMPLEMENTED`: a control handler's "not handled". */
export const ERROR_CALL_NOT_IMPLEMENTED = 120;
/** `ERROR_SERVICE_SPECIFIC_ERROR`: see `dwServiceSpecificExitCode`. */
export const ERROR_SERVICE_SPECIFIC_ERROR = 1066;
/** `ERROR_ACCESS_DENIED`. */
export const ERROR_ACCESS_DENIED = 5;
/** `ERROR_SERVICE_DOES_NOT_EXIST`. */
export const ERROR_SERVICE_DOES_NOT_EXIST = 1060;
/** `ERROR_SERVICE_CANNOT_ACCEPT_CTRL`. */
export const ERROR_SERVICE_CANNOT_ACCEPT_CTRL = 1061;
/** `ERROR_SERVICE_NOT_ACTIVE`. */
export const ERROR_SERVICE_NOT_ACTIVE = 1062;
/** `ERROR_FAILED_SERVICE_CONTROLLER_CONNECT`: not started by the SCM. */
export const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063;
/** `ERROR_SERVICE_MARKED_FOR_DELETE`. */
export const ERROR_SERVICE_MARKED_FOR_DELETE = 1072;
/** `ERROR_SERVICE_EXISTS`. */
export const ERROR_SERVICE_EXISTS = 1073;

/** `dwServiceSpecificExitCode` when the service's start failed. */
export const SERVICE_EXIT_START_FAILED = 1;
/** `dwServiceSpecificExitCode` when stopping failed. */
export const SERVICE_EXIT_STOP_FAILED = 2;
/** `dwServiceSpecificExitCode` when starting took longer than allowed. */
export const SERVICE_EXIT_START_TIMEOUT = 3;
/** `dwServiceSpecificExitCode` when stopping took longer than allowed. */
export const SERVICE_EXIT_STOP_TIMEOUT = 4;

// --- structs ----------------------------------------------------------------

/** `SERVICE_STATUS`: seven DWORDs, 28 bytes. */
export const SERVICE_STATUS = defineStruct({
  dwServiceType: "u32",
  dwCurrentState: "u32",
  dwControlsAccepted: "u32",
  dwWin32ExitCode: "u32",
  dwServiceSpecificExitCode: "u32",
  dwCheckPoint: "u32",
  dwWaitHint: "u32",
});

/** `SERVICE_STATUS_PROCESS` (QueryServiceStatusEx): 36 bytes. */
export const SERVICE_STATUS_PROCESS = defineStruct({
  dwServiceType: "u32",
  dwCurrentState: "u32",
  dwControlsAccepted: "u32",
  dwWin32ExitCode: "u32",
  dwServiceSpecificExitCode: "u32",
  dwCheckPoint: "u32",
  dwWaitHint: "u32",
  dwProcessId: "u32",
  dwServiceFlags: "u32",
});

/** `SERVICE_TABLE_ENTRYW`: name and `ServiceMain`, 16 bytes. */
export const SERVICE_TABLE_ENTRYW = defineStruct({
  lpServiceName: "ptr",
  lpServiceProc: "ptr",
});

/** `SERVICE_DESCRIPTIONW`: 8 bytes. */
export const SERVICE_DESCRIPTIONW = defineStruct({ lpDescription: "ptr" });

/** `SERVICE_PRESHUTDOWN_INFO`: one DWORD, the timeout in milliseconds. */
export const SERVICE_PRESHUTDOWN_INFO = defineStruct({
  dwPreshutdownTimeout: "u32",
});

/** `SC_ACTION`: 8 bytes; `Delay` in milliseconds. */
export const SC_ACTION = defineStruct({ Type: "u32", Delay: "u32" });

/** `SERVICE_FAILURE_ACTIONSW`: 40 bytes on x64. */
export const SERVICE_FAILURE_ACTIONSW = defineStruct({
  dwResetPeriod: "u32",
  lpRebootMsg: "ptr",
  lpCommand: "ptr",
  cActions: "u32",
  lpsaActions: "ptr",
});

/** `LPSERVICE_MAIN_FUNCTIONW`: `void ServiceMain(DWORD argc, LPWSTR *argv)`. */
export const SERVICE_MAIN_FUNCTION = {
  parameters: ["u32", "pointer"],
  result: "void",
} as const satisfies Deno.UnsafeCallbackDefinition;

/**
 * `LPHANDLER_FUNCTION_EX`:
 * `DWORD HandlerEx(DWORD control, DWORD eventType, LPVOID eventData, LPVOID context)`.
 */
export const HANDLER_FUNCTION_EX = {
  parameters: ["u32", "u32", "pointer", "pointer"],
  result: "u32",
} as const satisfies Deno.UnsafeCallbackDefinition;

// --- validation and errors ------------------------------------------------------

/** Longest service or display name the SCM accepts. */
export const MAX_SERVICE_NAME = 256;

/**
 * Checks a service name the way the SCM will (1-256 characters, no `/` or
 * `\`), so a bad one fails here with its reason.
 *
 * @throws {TypeError} naming the problem.
 */
export function checkServiceName(name: string): void {
  if (name.length === 0 || name.length > MAX_SERVICE_NAME) {
    throw new TypeError(
      `a service name must be 1-${MAX_SERVICE_NAME} characters, got ${name.length}`,
    );
  }
  if (/[\\/\0]/.test(name)) {
    throw new TypeError(
      `a service name cannot contain "/", "\\" or NUL: ${JSON.stringify(name)}`,
    );
  }
}

/** Why a service operation failed, in terms the operator can act on. */
export type ServiceErrorReason =
  | "not-installed"
  | "exists"
  | "marked-for-delete"
  | "access-denied"
  | "stop-timeout"
  | "not-started-by-scm";

/** A service operation failed for a reason worth a clear message. */
export class ServiceError extends Error {
  /** What went wrong. */
  readonly reason: ServiceErrorReason;

  constructor(
    reason: ServiceErrorReason,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super(message, options);
    this.name = "ServiceError";
    this.reason = reason;
  }
}

/** A service's state, by name. */
export type ServiceState =
  | "stopped"
  | "start-pending"
  | "stop-pending"
  | "running"
  | "continue-pending"
  | "pause-pending"
  | "paused";

const STATE_NAMES: Record<number, ServiceState> = {
  [SERVICE_STOPPED]: "stopped",
  [SERVICE_START_PENDING]: "start-pending",
  [SERVICE_STOP_PENDING]: "stop-pending",
  [SERVICE_RUNNING]: "running",
  [SERVICE_CONTINUE_PENDING]: "continue-pending",
  [SERVICE_PAUSE_PENDING]: "pause-pending",
  [SERVICE_PAUSED]: "paused",
};

/** The name of a `dwCurrentState` value. */
export function serviceStateName(state: number): ServiceState {
  const name = STATE_NAMES[state];
  if (!name) throw new RangeError(`unknown service state ${state}`);
  return name;
}

/** An installed service's status (`SERVICE_STATUS_PROCESS`). */
export interface ServiceStatus {
  /** Its state. */
  state: ServiceState;
  /** `dwCurrentState`. */
  stateCode: number;
  /** The process running it, 0 when stopped. */
  pid: number;
  /** `dwControlsAccepted`. */
  controlsAccepted: number;
  /** `dwWin32ExitCode`. */
  win32ExitCode: number;
  /** `dwServiceSpecificExitCode`. */
  serviceSpecificExitCode: number;
  /** `dwCheckPoint`. */
  checkPoint: number;
  /** `dwWaitHint`, in milliseconds. */
  waitHint: number;
}

/**
 * Restarting the service after its process dies without reporting STOPPED
 * (a crash). A service that stops with an error exit code (a failed start)
 * is not restarted: `SERVICE_CONFIG_FAILURE_ACTIONS_FLAG` stays off, so a
 * broken configuration does not restart in a loop.
 */
export interface RestartPolicy {
  /** Delay before each restart, in ms; the last repeats. */
  delaysMs: number[];
  /** Seconds without failure after which the failure count resets. */
  resetPeriodS: number;
}

/** Options for {@linkcode ServiceManager.install}. */
export interface ServiceInstallOptions {
  /** The name shown in services.msc. */
  displayName: string;
  /** The description shown in services.msc. */
  description: string;
  /** The command line the SCM runs, executable quoted. */
  binaryPathName: string;
  /** Services that must run first (`TermService`). */
  dependencies?: string[];
  /** `auto` (at boot, the default) or `demand`. */
  startType?: "auto" | "demand";
  /** Restart after a crash; false for none. Default: 5 s, 30 s, 60 s; reset after a day. */
  restart?: RestartPolicy | false;
  /**
   * How long the SCM waits at system shutdown for the service to stop once
   * it got SERVICE_CONTROL_PRESHUTDOWN, in ms
   * (`SERVICE_CONFIG_PRESHUTDOWN_INFO`). Default: Windows' own, 10 s since
   * build 15063 (3 min before).
   */
  preshutdownTimeoutMs?: number;
}

/** The default {@linkcode RestartPolicy}. */
export const DEFAULT_RESTART: RestartPolicy = {
  delaysMs: [5_000, 30_000, 60_000],
  resetPeriodS: 86_400,
};

/** Options for {@linkcode ServiceManager.uninstall}. */
export interface ServiceUninstallOptions {
  /** How long to wait for a running service to stop, in ms. Default 120 000. */
  timeoutMs?: number;
  /** Waits `ms` between status queries (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/** What {@linkcode ServiceManager.uninstall} did. */
export interface UninstallResult {
  /** The service was running (or starting) and was stopped first. */
  stopped: boolean;
  /** It was already marked for deletion by someone else. */
  alreadyMarked: boolean;
}

/** Operations on the SCM's database: install, uninstall, status. */
export class ServiceManager {
  readonly #s: ServicesSymbols;
  readonly #k: Kernel32;

  /** Wraps the raw service functions; `kernel32` reads last-error codes. */
  constructor(symbols: ServicesSymbols, kernel32: Kernel32) {
    this.#s = symbols;
    this.#k = kernel32;
  }

  /**
   * Installs an auto-start `SERVICE_WIN32_OWN_PROCESS` service running as
   * LocalSystem, with its description and crash-restart policy.
   *
   * @throws {ServiceError} `exists`, `marked-for-delete` or `access-denied`.
   * @throws {Win32Error} for other failures (the service is removed again).
   */
  install(name: string, options: ServiceInstallOptions): void {
    checkServiceName(name);
    const preshutdown = options.preshutdownTimeoutMs;
    if (
      preshutdown !== undefined &&
      !(Number.isInteger(preshutdown) && preshutdown > 0 &&
        preshutdown <= 0xffffffff)
    ) {
      throw new TypeError(
        `the preshutdown timeout must be a whole number of ms above 0, got ${preshutdown}`,
      );
    }
    if (options.displayName.length > MAX_SERVICE_NAME) {
      throw new TypeError(
        `a display name must be at most ${MAX_SERVICE_NAME} characters`,
      );
    }
    if (!options.binaryPathName.trim()) {
      throw new TypeError("the service's binary path is empty");
    }
    // Encoded first: a NUL anywhere fails before anything is created.
    const nameW = wide(name);
    const displayW = wide(options.displayName);
    const pathW = wide(options.binaryPathName);
    const descriptionW = wide(options.description);
    const depsW = options.dependencies?.length
      ? wideList(options.dependencies)
      : null;
    const scm = this.#openManager(
      SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE,
    );
    try {
      const service = this.#s.CreateServiceW(
        scm,
        nameW,
        displayW,
        // SERVICE_START: the SCM requires it to configure SC_ACTION_RESTART.
        SERVICE_CHANGE_CONFIG | SERVICE_START | SERVICE_QUERY_STATUS | DELETE,
        SERVICE_WIN32_OWN_PROCESS,
        options.startType === "demand"
          ? SERVICE_DEMAND_START
          : SERVICE_AUTO_START,
        SERVICE_ERROR_NORMAL,
        pathW,
        null,
        null,
        depsW,
        null, // LocalSystem
        null,
      );
      if (service === null) {
        const error = this.#k.fail("CreateServiceW");
        if (error.code === ERROR_SERVICE_EXISTS) {
          throw new ServiceError(
            "exists",
            `a service named "${name}" is already installed; remove it first with uninstall-service`,
            { cause: error },
          );
        }
        if (error.code === ERROR_SERVICE_MARKED_FOR_DELETE) {
          throw new ServiceError(
            "marked-for-delete",
            `the service "${name}" is still being removed; close services.msc (and anything else holding it open) and try again`,
            { cause: error },
          );
        }
        throw accessDenied(error) ?? error;
      }
      try {
        this.#describe(service, descriptionW);
        const restart = options.restart ?? DEFAULT_RESTART;
        if (restart) this.#setRestart(service, restart);
        if (preshutdown !== undefined) {
          this.#setPreshutdownTimeout(service, preshutdown);
        }
      } catch (error) {
        // Half-configured services confuse the next install: remove it.
        this.#s.DeleteService(service);
        throw error;
      } finally {
        this.#close(service);
      }
    } finally {
      this.#close(scm);
    }
  }

  /**
   * Stops the service if it runs (waiting for `SERVICE_STOPPED`, bounded by
   * `timeoutMs`), then deletes it.
   *
   * @throws {ServiceError} `not-installed`, `access-denied` or `stop-timeout`.
   */
  async uninstall(
    name: string,
    options: ServiceUninstallOptions = {},
  ): Promise<UninstallResult> {
    checkServiceName(name);
    const timeoutMs = options.timeoutMs ?? 120_000;
    const sleep = options.sleep ??
      ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const scm = this.#openManager(SC_MANAGER_CONNECT);
    try {
      const service = this.#openService(
        scm,
        name,
        SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE,
      );
      try {
        let status = this.#query(service);
        const stopped = status.stateCode !== SERVICE_STOPPED;
        let stopSent = false;
        // Sleeps are summed rather than read from a clock: tests stay exact.
        let waited = 0;
        while (status.stateCode !== SERVICE_STOPPED) {
          if (!stopSent && status.stateCode !== SERVICE_STOP_PENDING) {
            const after = this.#sendStop(service);
            if (after) {
              stopSent = true;
              status = after;
              continue;
            }
          }
          if (waited >= timeoutMs) {
            throw new ServiceError(
              "stop-timeout",
              `the service "${name}" did not stop within ${
                Math.round(timeoutMs / 1000)
              } s (it is ${status.state}); it was not removed`,
            );
          }
          const pause = pollInterval(status.waitHint);
          await sleep(pause);
          waited += pause;
          status = this.#query(service);
        }
        let alreadyMarked = false;
        if (!this.#s.DeleteService(service)) {
          const error = this.#k.fail("DeleteService");
          if (error.code !== ERROR_SERVICE_MARKED_FOR_DELETE) {
            throw accessDenied(error) ?? error;
          }
          alreadyMarked = true;
        }
        return { stopped, alreadyMarked };
      } finally {
        this.#close(service);
      }
    } finally {
      this.#close(scm);
    }
  }

  /**
   * The service's status.
   *
   * @throws {ServiceError} `not-installed` when there is no such service.
   */
  status(name: string): ServiceStatus {
    checkServiceName(name);
    const scm = this.#openManager(SC_MANAGER_CONNECT);
    try {
      const service = this.#openService(scm, name, SERVICE_QUERY_STATUS);
      try {
        return this.#query(service);
      } finally {
        this.#close(service);
      }
    } finally {
      this.#close(scm);
    }
  }

  #openManager(access: number): Deno.PointerValue {
    const scm = this.#s.OpenSCManagerW(null, null, access);
    if (scm === null) {
      const error = this.#k.fail("OpenSCManagerW");
      throw accessDenied(error) ?? error;
    }
    return scm;
  }

  #openService(
    scm: Deno.PointerValue,
    name: string,
    access: number,
  ): Deno.PointerValue {
    const service = this.#s.OpenServiceW(scm, wide(name), access);
    if (service === null) {
      const error = this.#k.fail("OpenServiceW");
      if (error.code === ERROR_SERVICE_DOES_NOT_EXIST) {
        throw new ServiceError(
          "not-installed",
          `no service named "${name}" is installed`,
          { cause: error },
        );
      }
      throw accessDenied(error) ?? error;
    }
    return service;
  }

  #query(service: Deno.PointerValue): ServiceStatus {
    const buffer = new Uint8Array(SERVICE_STATUS_PROCESS.size);
    const needed = new Uint8Array(4);
    if (
      !this.#s.QueryServiceStatusEx(
        service,
        SC_STATUS_PROCESS_INFO,
        buffer,
        buffer.byteLength,
        needed,
      )
    ) {
      throw this.#k.fail("QueryServiceStatusEx");
    }
    return statusFrom(buffer, SERVICE_STATUS_PROCESS);
  }

  /**
   * Sends STOP: the status it left the service in, or undefined when the
   * service cannot take it yet (still starting).
   */
  #sendStop(service: Deno.PointerValue): ServiceStatus | undefined {
    const buffer = new Uint8Array(SERVICE_STATUS.size);
    if (this.#s.ControlService(service, SERVICE_CONTROL_STOP, buffer)) {
      return statusFrom(buffer, SERVICE_STATUS);
    }
    const error = this.#k.fail("ControlService");
    // It stopped by itself meanwhile.
    if (error.code === ERROR_SERVICE_NOT_ACTIVE) return this.#query(service);
    // Still starting: it accepts STOP once running; ask again next round.
    if (error.code === ERROR_SERVICE_CANNOT_ACCEPT_CTRL) return undefined;
    throw accessDenied(error) ?? error;
  }

  #describe(service: Deno.PointerValue, text: Uint8Array): void {
    const info = encodeStruct(SERVICE_DESCRIPTIONW, {
      lpDescription: addressOf(text),
    });
    if (
      !this.#s.ChangeServiceConfig2W(service, SERVICE_CONFIG_DESCRIPTION, info)
    ) {
      throw this.#k.fail("ChangeServiceConfig2W");
    }
  }

  #setRestart(service: Deno.PointerValue, policy: RestartPolicy): void {
    if (!policy.delaysMs.length) return;
    const actions = new Uint8Array(SC_ACTION.size * policy.delaysMs.length);
    const view = viewOf(actions);
    policy.delaysMs.forEach((delay, i) => {
      const base = i * SC_ACTION.size;
      writeField(view, SC_ACTION, {
        field: "Type",
        value: SC_ACTION_RESTART,
        base,
      });
      writeField(view, SC_ACTION, { field: "Delay", value: delay, base });
    });
    const info = encodeStruct(SERVICE_FAILURE_ACTIONSW, {
      dwResetPeriod: policy.resetPeriodS,
      lpRebootMsg: 0n, // NULL: leave unchanged
      lpCommand: 0n,
      cActions: policy.delaysMs.length,
      lpsaActions: addressOf(actions),
    });
    if (
      !this.#s.ChangeServiceConfig2W(
        service,
        SERVICE_CONFIG_FAILURE_ACTIONS,
        info,
      )
    ) {
      throw this.#k.fail("ChangeServiceConfig2W");
    }
    void actions;
  }

  #setPreshutdownTimeout(service: Deno.PointerValue, ms: number): void {
    const info = encodeStruct(SERVICE_PRESHUTDOWN_INFO, {
      dwPreshutdownTimeout: ms,
    });
    if (
      !this.#s.ChangeServiceConfig2W(
        service,
        SERVICE_CONFIG_PRESHUTDOWN_INFO,
        info,
      )
    ) {
      throw this.#k.fail("ChangeServiceConfig2W");
    }
  }

  #close(handle: Deno.PointerValue): void {
    if (handle !== null && !this.#s.CloseServiceHandle(handle)) {
      throw this.#k.fail("CloseServiceHandle");
    }
  }
}

function accessDenied(error: Win32Error): ServiceError | undefined {
  if (error.code !== ERROR_ACCESS_DENIED) return undefined;
  return new ServiceError(
    "access-denied",
    `${error.function} was denied: run this from an elevated prompt (Run as administrator)`,
    { cause: error },
  );
}

/** A `SERVICE_STATUS` or `SERVICE_STATUS_PROCESS` (pid 0 without it) as a {@linkcode ServiceStatus}. */
function statusFrom(
  bytes: Uint8Array,
  layout: typeof SERVICE_STATUS | typeof SERVICE_STATUS_PROCESS,
): ServiceStatus {
  const view = viewOf(bytes);
  const field = (name: keyof typeof SERVICE_STATUS_PROCESS.offsets): number =>
    name in layout.offsets
      ? Number(readField(view, SERVICE_STATUS_PROCESS, { field: name }))
      : 0;
  const stateCode = field("dwCurrentState");
  return {
    state: serviceStateName(stateCode),
    stateCode,
    pid: field("dwProcessId"),
    controlsAccepted: field("dwControlsAccepted"),
    win32ExitCode: field("dwWin32ExitCode"),
    serviceSpecificExitCode: field("dwServiceSpecificExitCode"),
    checkPoint: field("dwCheckPoint"),
    waitHint: field("dwWaitHint"),
  };
}

/** A tenth of the wait hint, between 250 ms and 5 s (as Microsoft's sample does). */
function pollInterval(waitHintMs: number): number {
  if (!waitHintMs) return 1000;
  return Math.min(5000, Math.max(250, Math.round(waitHintMs / 10)));
}

// --- running as a service ------------------------------------------------------

/** What a service needs to run: the raw SCM functions and kernel32. */
export interface ServiceApi {
  /** The raw service functions (advapi32, or a fake). */
  services: ServicesSymbols;
  /** Reads last-error codes after synchronous calls. */
  kernel32: Kernel32;
}

/** The service's work and timing, for {@linkcode runAsService}. */
export interface RunAsServiceOptions {
  /**
   * Starts the service's work; the service reports RUNNING once it
   * resolves. Call `checkpoint()` to report progress on a long start.
   */
  onStart(checkpoint: () => void): Promise<void>;
  /** Stops the service's work; STOPPED is reported once it settles. */
  onStop(checkpoint: () => void): Promise<void>;
  /** How often a pending state is re-reported with a new checkpoint. Default 5000 ms. */
  heartbeatMs?: number;
  /** Longest start before giving up (STOPPED, exit 3). Default 10 min. */
  startTimeoutMs?: number;
  /** Longest stop before giving up (STOPPED, exit 4). Default 5 min. */
  stopTimeoutMs?: number;
}

/** How the service ended. */
export interface ServiceRunResult {
  /** 0, or the `SERVICE_EXIT_*` code reported with STOPPED. */
  exitCode: number;
  /** Why it failed, if it did. */
  error?: unknown;
}

/**
 * Runs this process as the service `name` under the SCM: starts the
 * dispatcher (off the event loop), and in `ServiceMain` registers the
 * control handler and reports START_PENDING, then RUNNING once `onStart`
 * resolves. STOP, PRESHUTDOWN or SHUTDOWN reports STOP_PENDING
 * (checkpoints rising while `onStop` works), then STOPPED. Resolves when
 * the dispatcher returns.
 *
 * At system shutdown a service that accepts only SHUTDOWN gets about 20
 * seconds however it reports progress; one that accepts PRESHUTDOWN (as
 * this one does while running) gets it first, and the SCM waits for
 * STOPPED up to the service's preshutdown timeout
 * (`ServiceInstallOptions.preshutdownTimeoutMs`).
 *
 * @throws {ServiceError} `not-started-by-scm` when the process was not
 *   started by the service control manager.
 */
export async function runAsService(
  api: ServiceApi,
  name: string,
  options: RunAsServiceOptions,
): Promise<ServiceRunResult> {
  checkServiceName(name);
  const nameW = wide(name);
  const session = new ServiceSession(api, nameW, options);
  const handler = Deno.UnsafeCallback.threadSafe(
    HANDLER_FUNCTION_EX,
    (control) => session.control(control),
  );
  const serviceMain = Deno.UnsafeCallback.threadSafe(
    SERVICE_MAIN_FUNCTION,
    () => session.main(handler.pointer),
  );
  // One entry and the NULL entry that ends the table.
  const table = new Uint8Array(SERVICE_TABLE_ENTRYW.size * 2);
  const view = viewOf(table);
  writeField(view, SERVICE_TABLE_ENTRYW, {
    field: "lpServiceName",
    value: addressOf(nameW),
  });
  writeField(view, SERVICE_TABLE_ENTRYW, {
    field: "lpServiceProc",
    value: addressOfPointer(serviceMain.pointer),
  });

  let dispatcherReturned = false;
  const dispatcher = api.services.StartServiceCtrlDispatcherW(table).then(
    (ok) => {
      dispatcherReturned = true;
      return ok;
    },
  );
  try {
    const outcome = await Promise.race([
      dispatcher.then((ok) => ({ ok })),
      session.fatal.then((error) => ({ error })),
    ]);
    if ("error" in outcome) {
      // The dispatcher still runs; the caller exits the process.
      return { exitCode: session.exitCode || 1, error: outcome.error };
    }
    if (!outcome.ok) {
      if (!session.mainCalled) {
        throw new ServiceError(
          "not-started-by-scm",
          `not started by the service control manager (StartServiceCtrlDispatcherW failed, most likely ERROR_FAILED_SERVICE_CONTROLLER_CONNECT)`,
        );
      }
      throw new Win32Error("StartServiceCtrlDispatcherW", undefined);
    }
    return session.result();
  } finally {
    const release = (): void => {
      void [table, nameW]; // read by the dispatcher thread until it returned
      handler.close();
      serviceMain.close();
    };
    // The SCM calls neither callback once its dispatcher has returned; if it
    // has not (a fatal error), release them whenever it does.
    if (dispatcherReturned) release();
    else dispatcher.then(release, release);
  }
}

/**
 * The controls accepted while running. PRESHUTDOWN gives the stop the
 * preshutdown timeout at system shutdown; SHUTDOWN stays accepted for a
 * service still running when that has passed.
 */
export const RUNNING_ACCEPTS = SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
  SERVICE_ACCEPT_PRESHUTDOWN;

type Phase = "idle" | "starting" | "running" | "stopping" | "stopped";

/** One run of the service: the state machine behind the two callbacks. */
class ServiceSession {
  readonly #api: ServiceApi;
  readonly #nameW: Uint8Array;
  readonly #options: RunAsServiceOptions;
  #statusHandle: Deno.PointerValue = null;
  #phase: Phase = "idle";
  #checkPoint = 0;
  #heartbeat?: ReturnType<typeof setInterval>;
  #deadline?: ReturnType<typeof setTimeout>;
  #stopRequested = false;
  #error: unknown;
  #fatal!: (error: unknown) => void;
  /** Settles when the service can no longer report status. */
  readonly fatal: Promise<unknown> = new Promise((r) => this.#fatal = r);
  /** `ServiceMain` was called. */
  mainCalled = false;
  /** The service-specific exit code reported with STOPPED. */
  exitCode = 0;

  constructor(
    api: ServiceApi,
    nameW: Uint8Array,
    options: RunAsServiceOptions,
  ) {
    this.#api = api;
    this.#nameW = nameW;
    this.#options = options;
  }

  result(): ServiceRunResult {
    return this.#error === undefined
      ? { exitCode: this.exitCode }
      : { exitCode: this.exitCode, error: this.#error };
  }

  /** `ServiceMain`: runs on the event loop, must return at once and not throw. */
  main(handlerPointer: Deno.PointerValue): void {
    this.mainCalled = true;
    try {
      const handle = this.#api.services.RegisterServiceCtrlHandlerExW(
        this.#nameW as Uint8Array<ArrayBuffer>,
        handlerPointer,
        null,
      );
      if (handle === null) {
        throw this.#api.kernel32.fail("RegisterServiceCtrlHandlerExW");
      }
      this.#statusHandle = handle;
      this.#enter("starting");
      this.#options.onStart(() => this.#progress()).then(
        () => this.#started(),
        (error) => this.#finish(SERVICE_EXIT_START_FAILED, error),
      );
    } catch (error) {
      this.#die(error);
    }
  }

  /** `HandlerEx`: must answer at once and not throw. */
  control(control: number): number {
    try {
      switch (control) {
        case SERVICE_CONTROL_INTERROGATE:
          return NO_ERROR;
        case SERVICE_CONTROL_STOP:
        case SERVICE_CONTROL_PRESHUTDOWN:
        case SERVICE_CONTROL_SHUTDOWN:
          this.#stopRequested = true;
          if (this.#phase === "running") this.#stop();
          return NO_ERROR;
        default:
          return ERROR_CALL_NOT_IMPLEMENTED;
      }
    } catch (error) {
      this.#die(error);
      return NO_ERROR;
    }
  }

  #started(): void {
    if (this.#phase !== "starting") return; // timed out meanwhile
    this.#enter("running");
    if (this.#stopRequested) this.#stop();
  }

  #stop(): void {
    this.#enter("stopping");
    this.#options.onStop(() => this.#progress()).then(
      () => this.#finish(0),
      (error) => this.#finish(SERVICE_EXIT_STOP_FAILED, error),
    );
  }

  #enter(phase: "starting" | "running" | "stopping"): void {
    this.#clearTimers();
    this.#phase = phase;
    this.#checkPoint = 0;
    if (phase === "running") {
      this.#report(SERVICE_RUNNING);
      return;
    }
    this.#progress();
    const heartbeatMs = this.#options.heartbeatMs ?? 5000;
    this.#heartbeat = setInterval(() => this.#progress(), heartbeatMs);
    const starting = phase === "starting";
    this.#deadline = setTimeout(
      () =>
        this.#finish(
          starting ? SERVICE_EXIT_START_TIMEOUT : SERVICE_EXIT_STOP_TIMEOUT,
          new Error(
            `the service took too long to ${starting ? "start" : "stop"}`,
          ),
        ),
      starting
        ? this.#options.startTimeoutMs ?? 600_000
        : this.#options.stopTimeoutMs ?? 300_000,
    );
  }

  /** Re-reports the pending state with the next checkpoint. */
  #progress(): void {
    if (this.#phase !== "starting" && this.#phase !== "stopping") return;
    this.#checkPoint++;
    this.#report(
      this.#phase === "starting" ? SERVICE_START_PENDING : SERVICE_STOP_PENDING,
    );
  }

  #finish(exitCode: number, error?: unknown): void {
    if (this.#phase === "stopped") return;
    this.#clearTimers();
    this.#phase = "stopped";
    this.exitCode = exitCode;
    if (error !== undefined) this.#error = error;
    this.#report(SERVICE_STOPPED);
  }

  #report(state: number): void {
    if (this.#statusHandle === null) return;
    const pending = state === SERVICE_START_PENDING ||
      state === SERVICE_STOP_PENDING;
    const heartbeatMs = this.#options.heartbeatMs ?? 5000;
    const status = encodeStruct(SERVICE_STATUS, {
      dwServiceType: SERVICE_WIN32_OWN_PROCESS,
      dwCurrentState: state,
      // Controls are refused while pending, so a STOP never races a start.
      dwControlsAccepted: state === SERVICE_RUNNING ? RUNNING_ACCEPTS : 0,
      dwWin32ExitCode: this.exitCode ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR,
      dwServiceSpecificExitCode: this.exitCode,
      dwCheckPoint: pending ? this.#checkPoint : 0,
      // Three missed heartbeats before the SCM may consider us hung.
      dwWaitHint: pending ? heartbeatMs * 3 : 0,
    });
    try {
      if (!this.#api.services.SetServiceStatus(this.#statusHandle, status)) {
        throw this.#api.kernel32.fail("SetServiceStatus");
      }
    } catch (error) {
      this.#die(error);
    }
  }

  /** The SCM can no longer be told anything: give up on the dispatcher. */
  #die(error: unknown): void {
    this.#clearTimers();
    this.#phase = "stopped";
    if (this.#error === undefined) this.#error = error;
    this.#fatal(error);
  }

  #clearTimers(): void {
    clearInterval(this.#heartbeat);
    clearTimeout(this.#deadline);
    this.#heartbeat = this.#deadline = undefined;
  }
}
