/**
 * A fake service control manager: {@linkcode FakeServices.symbols}
 * implements advapi32's service functions ({@linkcode ServicesSymbols}) over
 * real memory, with the SCM's state machine and error codes:
 *
 * - `CreateServiceW` on an existing name → `ERROR_SERVICE_EXISTS`, on one
 *   marked for deletion → `ERROR_SERVICE_MARKED_FOR_DELETE`; `OpenServiceW`
 *   on a missing one → `ERROR_SERVICE_DOES_NOT_EXIST`; `ControlService(STOP)`
 *   on a stopped one → `ERROR_SERVICE_NOT_ACTIVE`, on one that does not
 *   accept it (starting, stopping) → `ERROR_SERVICE_CANNOT_ACCEPT_CTRL`;
 *   missing access rights → `ERROR_ACCESS_DENIED` (and an unelevated caller
 *   cannot create, stop or delete); a STOP_PENDING service reaches STOPPED
 *   after `stopAfterQueries` status queries; a service marked for deletion
 *   disappears once stopped with no handle open.
 * - Every string and struct the wrapper passes is decoded from memory (the
 *   pointers inside `SERVICE_DESCRIPTIONW`, `SERVICE_FAILURE_ACTIONSW`, the
 *   `SERVICE_PRESHUTDOWN_INFO`, the dispatch table) and every SC handle must
 *   be closed exactly once. A control reaches the handler only when the
 *   service's last status accepted it (PRESHUTDOWN needs
 *   `SERVICE_ACCEPT_PRESHUTDOWN`).
 * - `StartServiceCtrlDispatcherW` plays the SCM starting a service: it reads
 *   `SERVICE_TABLE_ENTRYW`s from the table, calls the `ServiceMain` function
 *   pointer found there, waits for RUNNING, delivers the scripted controls
 *   to the registered `HandlerEx`, and returns TRUE once STOPPED is
 *   reported. It calls both through `Deno.UnsafeFnPointer` with
 *   `nonblocking: true`: the call leaves from a Deno pool thread, so the
 *   wrapper's `threadSafe` callbacks are entered from a foreign thread and
 *   hop to the event loop exactly as they do when the real SCM calls them.
 *   Every `SetServiceStatus` is recorded (decoded from the 28 bytes passed).
 *
 * Last-error codes go through a shared {@linkcode FakeKernel32}: synchronous
 * failures set `lastError`; the dispatcher's failure (it is `nonblocking`)
 * only sets `poolLastError`.
 *
 * @module
 */
import {
  DELETE,
  ERROR_ACCESS_DENIED,
  ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
  ERROR_SERVICE_CANNOT_ACCEPT_CTRL,
  ERROR_SERVICE_DOES_NOT_EXIST,
  ERROR_SERVICE_EXISTS,
  ERROR_SERVICE_MARKED_FOR_DELETE,
  ERROR_SERVICE_NOT_ACTIVE,
  HANDLER_FUNCTION_EX,
  SC_ACTION,
  SC_ACTION_RESTART,
  SC_MANAGER_CREATE_SERVICE,
  SC_STATUS_PROCESS_INFO,
  SERVICE_ACCEPT_PAUSE_CONTINUE,
  SERVICE_ACCEPT_PRESHUTDOWN,
  SERVICE_ACCEPT_SHUTDOWN,
  SERVICE_ACCEPT_STOP,
  SERVICE_CHANGE_CONFIG,
  SERVICE_CONFIG_DESCRIPTION,
  SERVICE_CONFIG_FAILURE_ACTIONS,
  SERVICE_CONFIG_PRESHUTDOWN_INFO,
  SERVICE_CONTROL_INTERROGATE,
  SERVICE_CONTROL_PRESHUTDOWN,
  SERVICE_CONTROL_SHUTDOWN,
  SERVICE_CONTROL_STOP,
  SERVICE_DESCRIPTIONW,
  SERVICE_FAILURE_ACTIONSW,
  SERVICE_INTERROGATE,
  SERVICE_MAIN_FUNCTION,
  SERVICE_PRESHUTDOWN_INFO,
  SERVICE_QUERY_STATUS,
  SERVICE_RUNNING,
  SERVICE_START,
  SERVICE_START_PENDING,
  SERVICE_STATUS,
  SERVICE_STATUS_PROCESS,
  SERVICE_STOP,
  SERVICE_STOP_PENDING,
  SERVICE_STOPPED,
  SERVICE_TABLE_ENTRYW,
  SERVICE_WIN32_OWN_PROCESS,
  type ServiceApi,
  type ServicesSymbols,
} from "../../../ffi/windows/services.ts";
import { Kernel32 } from "../../../ffi/windows/kernel32.ts";
import { readWide, readWideList, wide } from "../../../ffi/windows/strings.ts";
import {
  addressOf,
  addressOfPointer,
  copyFrom,
  encodeStruct,
  pointerAt,
  readField,
  readStruct,
  viewOf,
} from "../../../ffi/windows/struct.ts";
import {
  type BufferArg,
  bufferBytes,
  ERROR_INVALID_HANDLE,
  ERROR_INVALID_PARAMETER,
  FakeKernel32,
  writeU32,
} from "./fake_kernel32.ts";

/** `ERROR_INVALID_DATA`. */
export const ERROR_INVALID_DATA = 13;
/** `ERROR_INVALID_NAME`. */
export const ERROR_INVALID_NAME = 123;
/** `ERROR_INVALID_LEVEL`. */
export const ERROR_INVALID_LEVEL = 124;
/** `ERROR_INSUFFICIENT_BUFFER`. */
export const ERROR_INSUFFICIENT_BUFFER = 122;
/** `ERROR_INVALID_SERVICE_CONTROL`. */
export const ERROR_INVALID_SERVICE_CONTROL = 1052;
/** `ERROR_DUPLICATE_SERVICE_NAME`: the display name is taken. */
export const ERROR_DUPLICATE_SERVICE_NAME = 1078;
/** `ERROR_SERVICE_NOT_IN_EXE`. */
export const ERROR_SERVICE_NOT_IN_EXE = 1083;
/** `ERROR_SERVICE_ALREADY_RUNNING`: the dispatcher was started twice. */
export const ERROR_SERVICE_ALREADY_RUNNING = 1056;

/** A failure action as configured. */
export interface FakeFailureActions {
  /** `dwResetPeriod`, seconds. */
  resetPeriod: number;
  /** `lpRebootMsg` (null: unchanged). */
  rebootMsg: string | null;
  /** `lpCommand` (null: unchanged). */
  command: string | null;
  /** The `SC_ACTION`s. */
  actions: { type: number; delay: number }[];
}

/** An installed service in the fake SCM database. */
export interface FakeService {
  /** Its key name. */
  name: string;
  /** Its display name. */
  displayName: string;
  /** The command line the SCM would run. */
  binaryPathName: string;
  /** `dwServiceType`. */
  serviceType: number;
  /** `dwStartType`. */
  startType: number;
  /** `dwErrorControl`. */
  errorControl: number;
  /** `lpDependencies`, decoded. */
  dependencies: string[];
  /** `lpServiceStartName` (null: LocalSystem). */
  account: string | null;
  /** `lpPassword` was given. */
  password: string | null;
  /** `lpLoadOrderGroup`. */
  loadOrderGroup: string | null;
  /** From `SERVICE_CONFIG_DESCRIPTION`. */
  description?: string;
  /** From `SERVICE_CONFIG_FAILURE_ACTIONS`. */
  failureActions?: FakeFailureActions;
  /** From `SERVICE_CONFIG_PRESHUTDOWN_INFO`: `dwPreshutdownTimeout`, ms. */
  preshutdownTimeout?: number;
  /** `dwCurrentState`. */
  state: number;
  /** `dwControlsAccepted`. */
  controlsAccepted: number;
  /** `dwWin32ExitCode`. */
  win32ExitCode: number;
  /** `dwServiceSpecificExitCode`. */
  serviceSpecificExitCode: number;
  /** `dwCheckPoint`. */
  checkPoint: number;
  /** `dwWaitHint`. */
  waitHint: number;
  /** Its process, 0 when stopped. */
  pid: number;
  /** DeleteService was called. */
  markedForDelete: boolean;
  /** Status queries a STOP_PENDING (or START_PENDING) service takes to settle. */
  settleAfterQueries: number;
  /** Queries left before it settles. */
  queriesLeft: number;
}

/** One `SetServiceStatus` call, decoded from the `SERVICE_STATUS` passed. */
export interface StatusReport {
  /** `dwServiceType`. */
  serviceType: number;
  /** `dwCurrentState`. */
  state: number;
  /** `dwControlsAccepted`. */
  controlsAccepted: number;
  /** `dwWin32ExitCode`. */
  win32ExitCode: number;
  /** `dwServiceSpecificExitCode`. */
  serviceSpecificExitCode: number;
  /** `dwCheckPoint`. */
  checkPoint: number;
  /** `dwWaitHint`. */
  waitHint: number;
}

interface ScHandle {
  kind: "manager" | "service" | "status";
  access: number;
  service?: FakeService;
  closed: boolean;
}

/** Options for {@linkcode FakeServices}. */
export interface FakeServicesOptions {
  /** Shared last-error state. Default: a new one. */
  kernel32?: FakeKernel32;
}

/** A fake SCM; see the module doc. */
export class FakeServices {
  /** The shared fake kernel32 (last error). */
  readonly fakeKernel32: FakeKernel32;
  /** A `Kernel32` wrapper over it, as the wrappers under test take. */
  readonly kernel32: Kernel32;
  /** The raw functions, as the wrapper sees them. */
  readonly symbols: ServicesSymbols;
  /** `symbols` and `kernel32` together, for `runAsService`. */
  readonly api: ServiceApi;
  /** The database, by lower-cased name (names are case-insensitive). */
  readonly services: Map<string, FakeService> = new Map();
  /** Every `SetServiceStatus`, in order. */
  readonly statusReports: StatusReport[] = [];
  /** Every control the dispatcher delivered and the handler's answer. */
  readonly controlResults: { control: number; result: number }[] = [];
  /** A log shared with tests: status reports appear as `status:<STATE>`. */
  readonly events: string[] = [];
  /** Contract violations (things that would misbehave on Windows). */
  readonly violations: string[] = [];
  /** Names passed to `RegisterServiceCtrlHandlerExW`. */
  readonly handlerRegistrations: string[] = [];
  /** Whether the caller is an elevated administrator. */
  elevated = true;
  /** Whether this process was started by the SCM (else the dispatcher fails). */
  startedByScm = true;
  /** Controls the dispatcher delivers, in order, once the service runs. */
  dispatchControls: number[] = [SERVICE_CONTROL_STOP];
  /** Called with each status report (after it is recorded). */
  onStatus?: (report: StatusReport) => void;

  readonly #handles = new Map<bigint, ScHandle>();
  #nextHandle = 0x5c000n;
  #dispatching?: FakeService;
  #dispatcherCalls = 0;
  #handler: Deno.PointerValue = null;
  #handlerContext: Deno.PointerValue = null;
  #waiters: Array<() => void> = [];
  #aborted = false;

  constructor(options: FakeServicesOptions = {}) {
    this.fakeKernel32 = options.kernel32 ?? new FakeKernel32();
    this.kernel32 = new Kernel32(this.fakeKernel32.symbols);
    this.symbols = this.#makeSymbols();
    this.api = { services: this.symbols, kernel32: this.kernel32 };
  }

  /** Adds an installed service (stopped unless `state` says otherwise). */
  addService(name: string, fields: Partial<FakeService> = {}): FakeService {
    const service: FakeService = {
      name,
      displayName: name,
      binaryPathName: `"C:\\Program Files\\${name}\\${name}.exe"`,
      serviceType: SERVICE_WIN32_OWN_PROCESS,
      startType: 2,
      errorControl: 1,
      dependencies: [],
      account: null,
      password: null,
      loadOrderGroup: null,
      state: SERVICE_STOPPED,
      controlsAccepted: 0,
      win32ExitCode: 0,
      serviceSpecificExitCode: 0,
      checkPoint: 0,
      waitHint: 0,
      pid: 0,
      markedForDelete: false,
      settleAfterQueries: 2,
      queriesLeft: 0,
      ...fields,
    };
    if (service.state === SERVICE_RUNNING && !fields.controlsAccepted) {
      service.controlsAccepted = SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN;
    }
    if (service.state !== SERVICE_STOPPED && !service.pid) service.pid = 3100;
    if (service.state === SERVICE_START_PENDING) {
      service.queriesLeft = service.settleAfterQueries;
    }
    this.services.set(name.toLowerCase(), service);
    return service;
  }

  /** The installed service `name`, if any. */
  service(name: string): FakeService | undefined {
    return this.services.get(name.toLowerCase());
  }

  /** SC handles not closed yet. */
  openHandles(): number {
    return [...this.#handles.values()].filter((h) =>
      !h.closed && h.kind !== "status"
    ).length;
  }

  /** The states reported, in order (`SERVICE_*` values). */
  states(): number[] {
    return this.statusReports.map((r) => r.state);
  }

  #fail(code: number): 0 {
    return this.fakeKernel32.fail(code);
  }

  #failNull(code: number): null {
    this.fakeKernel32.fail(code);
    return null;
  }

  #newHandle(handle: Omit<ScHandle, "closed">): Deno.PointerValue {
    const address = this.#nextHandle;
    this.#nextHandle += 0x10n;
    this.#handles.set(address, { ...handle, closed: false });
    return pointerAt(address);
  }

  #handle(pointer: Deno.PointerValue, kind: ScHandle["kind"]) {
    const h = this.#handles.get(addressOfPointer(pointer));
    return h && !h.closed && h.kind === kind ? h : undefined;
  }

  /** Removes a service marked for deletion once stopped and unreferenced. */
  #collect(service: FakeService): void {
    if (!service.markedForDelete || service.state !== SERVICE_STOPPED) return;
    const referenced = [...this.#handles.values()].some((h) =>
      !h.closed && h.service === service
    );
    if (!referenced) this.services.delete(service.name.toLowerCase());
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    waiters.forEach((wake) => wake());
  }

  /**
   * Makes a waiting dispatcher return FALSE, so a test can end a service
   * that can no longer report STOPPED (on Windows its process just exits).
   */
  abortDispatcher(): void {
    this.#aborted = true;
    this.#wake();
  }

  async #until(predicate: () => boolean): Promise<void> {
    while (!predicate()) {
      if (this.#aborted) throw new DispatcherAborted();
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Writes a service's status as `SERVICE_STATUS` or `_PROCESS` into `out`. */
  #writeStatus(service: FakeService, out: BufferArg, full: boolean): void {
    const layout = full ? SERVICE_STATUS_PROCESS : SERVICE_STATUS;
    const bytes = encodeStruct(SERVICE_STATUS_PROCESS, {
      dwServiceType: service.serviceType,
      dwCurrentState: service.state,
      dwControlsAccepted: service.controlsAccepted,
      dwWin32ExitCode: service.win32ExitCode,
      dwServiceSpecificExitCode: service.serviceSpecificExitCode,
      dwCheckPoint: service.checkPoint,
      dwWaitHint: service.waitHint,
      dwProcessId: service.pid,
      dwServiceFlags: 0,
    });
    bufferBytes(out).set(bytes.subarray(0, layout.size));
  }

  /** Advances a pending service by one status query. */
  #settle(service: FakeService): void {
    if (
      service.state !== SERVICE_STOP_PENDING &&
      service.state !== SERVICE_START_PENDING
    ) return;
    if (--service.queriesLeft > 0) {
      service.checkPoint++;
      return;
    }
    if (service.state === SERVICE_STOP_PENDING) {
      Object.assign(service, {
        state: SERVICE_STOPPED,
        controlsAccepted: 0,
        checkPoint: 0,
        waitHint: 0,
        pid: 0,
      });
      this.#collect(service);
    } else {
      Object.assign(service, {
        state: SERVICE_RUNNING,
        controlsAccepted: SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN,
        checkPoint: 0,
        waitHint: 0,
      });
    }
  }

  /** Calls the registered `HandlerEx` from a pool thread, as the SCM's dispatcher thread would. */
  async deliver(control: number): Promise<number> {
    const service = this.#dispatching;
    if (!service || this.#handler === null) {
      throw new Error("fake: no control handler registered");
    }
    const refusal = refuseControl(service, control);
    if (refusal) {
      // The SCM answers the controller itself and never calls the handler.
      this.controlResults.push({ control, result: refusal });
      return refusal;
    }
    // A function pointer carries no type: the definition gives it one.
    const handler = new Deno.UnsafeFnPointer(
      this.#handler as Deno.PointerObject<never>,
      {
        ...HANDLER_FUNCTION_EX,
        nonblocking: true,
      },
    );
    const result = await handler.call(control, 0, null, this.#handlerContext);
    this.controlResults.push({ control, result });
    return result;
  }

  #makeSymbols(): ServicesSymbols {
    return {
      OpenSCManagerW: (machine, database, access) => {
        if (machine !== null || database !== null) {
          this.violations.push(
            "OpenSCManagerW: expected the local, active database",
          );
        }
        if (!this.elevated && (access & SC_MANAGER_CREATE_SERVICE)) {
          return this.#failNull(ERROR_ACCESS_DENIED);
        }
        return this.#newHandle({ kind: "manager", access });
      },

      CreateServiceW: (
        manager,
        name,
        displayName,
        access,
        serviceType,
        startType,
        errorControl,
        binaryPathName,
        loadOrderGroup,
        tagId,
        dependencies,
        account,
        password,
      ) => {
        const scm = this.#handle(manager, "manager");
        if (!scm) return this.#failNull(ERROR_INVALID_HANDLE);
        if (!(scm.access & SC_MANAGER_CREATE_SERVICE)) {
          return this.#failNull(ERROR_ACCESS_DENIED);
        }
        const key = readBufferString(name);
        if (!key || key.length > 256 || /[\\/]/.test(key)) {
          return this.#failNull(ERROR_INVALID_NAME);
        }
        const path = readBufferString(binaryPathName);
        if (
          !path || serviceType !== SERVICE_WIN32_OWN_PROCESS ||
          startType > 4 || errorControl > 3 || tagId !== null
        ) {
          return this.#failNull(ERROR_INVALID_PARAMETER);
        }
        const existing = this.service(key);
        if (existing) {
          return this.#failNull(
            existing.markedForDelete
              ? ERROR_SERVICE_MARKED_FOR_DELETE
              : ERROR_SERVICE_EXISTS,
          );
        }
        const display = displayName === null
          ? key
          : readBufferString(displayName);
        const taken = [...this.services.values()].some((s) =>
          s.displayName.toLowerCase() === display.toLowerCase() ||
          s.name.toLowerCase() === display.toLowerCase()
        );
        if (taken) return this.#failNull(ERROR_DUPLICATE_SERVICE_NAME);
        const service = this.addService(key, {
          displayName: display,
          binaryPathName: path,
          serviceType,
          startType,
          errorControl,
          dependencies: dependencies === null
            ? []
            : readWideList(Deno.UnsafePointer.of(dependencies)),
          account: account === null ? null : readBufferString(account),
          password: password === null ? null : readBufferString(password),
          loadOrderGroup: loadOrderGroup === null
            ? null
            : readBufferString(loadOrderGroup),
        });
        return this.#newHandle({ kind: "service", access, service });
      },

      OpenServiceW: (manager, name, access) => {
        if (!this.#handle(manager, "manager")) {
          return this.#failNull(ERROR_INVALID_HANDLE);
        }
        const service = this.service(readBufferString(name));
        if (!service) return this.#failNull(ERROR_SERVICE_DOES_NOT_EXIST);
        const privileged = SERVICE_STOP | SERVICE_CHANGE_CONFIG | DELETE;
        if (!this.elevated && (access & privileged)) {
          return this.#failNull(ERROR_ACCESS_DENIED);
        }
        return this.#newHandle({ kind: "service", access, service });
      },

      DeleteService: (handle) => {
        const h = this.#handle(handle, "service");
        if (!h) return this.#fail(ERROR_INVALID_HANDLE);
        if (!(h.access & DELETE)) return this.#fail(ERROR_ACCESS_DENIED);
        const service = h.service!;
        if (service.markedForDelete) {
          return this.#fail(ERROR_SERVICE_MARKED_FOR_DELETE);
        }
        service.markedForDelete = true;
        this.events.push(`delete:${service.name}`);
        return 1;
      },

      ControlService: (handle, control, status) => {
        const h = this.#handle(handle, "service");
        if (!h) return this.#fail(ERROR_INVALID_HANDLE);
        const service = h.service!;
        if (status === null) return this.#fail(ERROR_INVALID_PARAMETER);
        const right = control === SERVICE_CONTROL_STOP
          ? SERVICE_STOP
          : control === SERVICE_CONTROL_INTERROGATE
          ? SERVICE_INTERROGATE
          : 0;
        if (!right) return this.#fail(ERROR_INVALID_SERVICE_CONTROL);
        if (!(h.access & right)) return this.#fail(ERROR_ACCESS_DENIED);
        const refusal = refuseControl(service, control);
        if (refusal) return this.#fail(refusal);
        if (control === SERVICE_CONTROL_STOP) {
          Object.assign(service, {
            state: SERVICE_STOP_PENDING,
            controlsAccepted: 0,
            checkPoint: 1,
            waitHint: 3000,
            queriesLeft: service.settleAfterQueries,
          });
          this.events.push(`stop:${service.name}`);
        }
        this.#writeStatus(service, status, false);
        return 1;
      },

      QueryServiceStatusEx: (handle, level, buffer, size, needed) => {
        const h = this.#handle(handle, "service");
        if (!h) return this.#fail(ERROR_INVALID_HANDLE);
        if (!(h.access & SERVICE_QUERY_STATUS)) {
          return this.#fail(ERROR_ACCESS_DENIED);
        }
        if (level !== SC_STATUS_PROCESS_INFO) {
          return this.#fail(ERROR_INVALID_LEVEL);
        }
        if (needed === null) return this.#fail(ERROR_INVALID_PARAMETER);
        if (
          buffer === null || size < SERVICE_STATUS_PROCESS.size ||
          bufferBytes(buffer).byteLength < size
        ) {
          writeU32(needed, SERVICE_STATUS_PROCESS.size);
          return this.#fail(ERROR_INSUFFICIENT_BUFFER);
        }
        this.#writeStatus(h.service!, buffer, true);
        this.#settle(h.service!);
        return 1;
      },

      ChangeServiceConfig2W: (handle, level, info) => {
        const h = this.#handle(handle, "service");
        if (!h) return this.#fail(ERROR_INVALID_HANDLE);
        if (!(h.access & SERVICE_CHANGE_CONFIG)) {
          return this.#fail(ERROR_ACCESS_DENIED);
        }
        if (info === null) return this.#fail(ERROR_INVALID_PARAMETER);
        const at = Deno.UnsafePointer.of(info);
        if (level === SERVICE_CONFIG_DESCRIPTION) {
          const struct = viewOf(copyFrom(at, SERVICE_DESCRIPTIONW.size));
          const text = readField(struct, SERVICE_DESCRIPTIONW, {
            field: "lpDescription",
          });
          // NULL leaves the description unchanged.
          if (text) h.service!.description = readWide(pointerAt(text));
          return 1;
        }
        if (level === SERVICE_CONFIG_FAILURE_ACTIONS) {
          const s = readStruct(
            viewOf(copyFrom(at, SERVICE_FAILURE_ACTIONSW.size)),
            SERVICE_FAILURE_ACTIONSW,
          );
          const count = Number(s.cActions);
          const raw = count
            ? viewOf(copyFrom(pointerAt(s.lpsaActions), SC_ACTION.size * count))
            : undefined;
          const actions = Array.from({ length: count }, (_, i) => ({
            type: Number(
              readField(raw!, SC_ACTION, {
                field: "Type",
                base: i * SC_ACTION.size,
              }),
            ),
            delay: Number(
              readField(raw!, SC_ACTION, {
                field: "Delay",
                base: i * SC_ACTION.size,
              }),
            ),
          }));
          if (
            actions.some((a) => a.type === SC_ACTION_RESTART) &&
            !(h.access & SERVICE_START)
          ) {
            return this.#fail(ERROR_ACCESS_DENIED);
          }
          h.service!.failureActions = {
            resetPeriod: Number(s.dwResetPeriod),
            rebootMsg: s.lpRebootMsg
              ? readWide(pointerAt(s.lpRebootMsg))
              : null,
            command: s.lpCommand ? readWide(pointerAt(s.lpCommand)) : null,
            actions,
          };
          return 1;
        }
        if (level === SERVICE_CONFIG_PRESHUTDOWN_INFO) {
          const timeout = Number(
            readField(
              viewOf(copyFrom(at, SERVICE_PRESHUTDOWN_INFO.size)),
              SERVICE_PRESHUTDOWN_INFO,
              { field: "dwPreshutdownTimeout" },
            ),
          );
          h.service!.preshutdownTimeout = timeout;
          return 1;
        }
        return this.#fail(ERROR_INVALID_LEVEL);
      },

      CloseServiceHandle: (handle) => {
        const h = this.#handles.get(addressOfPointer(handle));
        if (!h || h.closed || h.kind === "status") {
          this.violations.push(
            `CloseServiceHandle(0x${
              addressOfPointer(handle).toString(16)
            }): not an open SC handle`,
          );
          return this.#fail(ERROR_INVALID_HANDLE);
        }
        h.closed = true;
        if (h.service) this.#collect(h.service);
        return 1;
      },

      StartServiceCtrlDispatcherW: async (table) => {
        await Promise.resolve(); // runs on a pool thread: never synchronously
        if (++this.#dispatcherCalls > 1) {
          return this.fakeKernel32.failOffThread(ERROR_SERVICE_ALREADY_RUNNING);
        }
        if (!this.startedByScm) {
          return this.fakeKernel32.failOffThread(
            ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
          );
        }
        if (table === null) {
          return this.fakeKernel32.failOffThread(ERROR_INVALID_DATA);
        }
        const entries = readTable(bufferBytes(table));
        if (!entries) {
          this.violations.push("dispatch table has no NULL terminator entry");
          return this.fakeKernel32.failOffThread(ERROR_INVALID_DATA);
        }
        if (entries.length !== 1) {
          this.violations.push(`dispatch table has ${entries.length} entries`);
        }
        const service = this.service(entries[0].name);
        if (!service) {
          // The SCM only starts installed services.
          this.violations.push(
            `dispatching "${entries[0].name}": not installed`,
          );
          return this.fakeKernel32.failOffThread(ERROR_SERVICE_DOES_NOT_EXIST);
        }
        Object.assign(service, {
          state: SERVICE_START_PENDING,
          pid: this.fakeKernel32.currentProcessId,
          controlsAccepted: 0,
        });
        this.#dispatching = service;
        // argv[0] is the service name, in memory the SCM owns.
        const argv0 = wide(service.name);
        const argv = new BigUint64Array([addressOf(argv0)]);
        if (entries[0].proc === null) {
          this.violations.push("dispatch table entry without ServiceMain");
          return this.fakeKernel32.failOffThread(ERROR_INVALID_DATA);
        }
        const serviceMain = new Deno.UnsafeFnPointer(
          entries[0].proc as Deno.PointerObject<never>,
          {
            ...SERVICE_MAIN_FUNCTION,
            nonblocking: true,
          },
        );
        await serviceMain.call(1, Deno.UnsafePointer.of(argv));
        void argv0;
        try {
          await this.#until(() =>
            service.state === SERVICE_RUNNING ||
            service.state === SERVICE_STOPPED
          );
          for (const control of this.dispatchControls) {
            if (service.state === SERVICE_STOPPED) break;
            await this.deliver(control);
          }
          await this.#until(() => service.state === SERVICE_STOPPED);
        } catch (error) {
          if (!(error instanceof DispatcherAborted)) throw error;
          return this.fakeKernel32.failOffThread(ERROR_INVALID_HANDLE);
        } finally {
          this.#dispatching = undefined;
        }
        return 1;
      },

      RegisterServiceCtrlHandlerExW: (name, handler, context) => {
        const service = this.#dispatching;
        if (!service) return this.#failNull(ERROR_SERVICE_NOT_IN_EXE);
        if (name === null || handler === null) {
          return this.#failNull(ERROR_INVALID_PARAMETER);
        }
        this.handlerRegistrations.push(readBufferString(name));
        this.#handler = handler;
        this.#handlerContext = context;
        return this.#newHandle({ kind: "status", access: 0, service });
      },

      SetServiceStatus: (handle, status) => {
        const h = this.#handle(handle, "status");
        if (!h) {
          this.violations.push("SetServiceStatus: not a status handle");
          return this.#fail(ERROR_INVALID_HANDLE);
        }
        if (status === null) return this.#fail(ERROR_INVALID_PARAMETER);
        const service = h.service!;
        if (service.state === SERVICE_STOPPED) {
          this.violations.push("SetServiceStatus after SERVICE_STOPPED");
          return this.#fail(ERROR_INVALID_HANDLE);
        }
        const s = readStruct(
          viewOf(copyFrom(Deno.UnsafePointer.of(status), SERVICE_STATUS.size)),
          SERVICE_STATUS,
        );
        const report: StatusReport = {
          serviceType: Number(s.dwServiceType),
          state: Number(s.dwCurrentState),
          controlsAccepted: Number(s.dwControlsAccepted),
          win32ExitCode: Number(s.dwWin32ExitCode),
          serviceSpecificExitCode: Number(s.dwServiceSpecificExitCode),
          checkPoint: Number(s.dwCheckPoint),
          waitHint: Number(s.dwWaitHint),
        };
        if (
          report.serviceType !== SERVICE_WIN32_OWN_PROCESS ||
          report.state < SERVICE_STOPPED || report.state > 7
        ) {
          return this.#fail(ERROR_INVALID_DATA);
        }
        this.statusReports.push(report);
        this.events.push(`status:${STATE_LABELS[report.state]}`);
        Object.assign(service, {
          state: report.state,
          controlsAccepted: report.controlsAccepted,
          win32ExitCode: report.win32ExitCode,
          serviceSpecificExitCode: report.serviceSpecificExitCode,
          checkPoint: report.checkPoint,
          waitHint: report.waitHint,
          pid: report.state === SERVICE_STOPPED ? 0 : service.pid,
        });
        this.onStatus?.(report);
        this.#wake();
        return 1;
      },
    };
  }
}

class DispatcherAborted extends Error {}

/**
 * Why the SCM refuses to send `control` to `service` (its error code), or 0:
 * nothing reaches a stopped service (`ERROR_SERVICE_NOT_ACTIVE`) or one that
 * is starting or stopping (`ERROR_SERVICE_CANNOT_ACCEPT_CTRL`); a running
 * one gets INTERROGATE, user-defined controls (128-255) and the controls it
 * accepts, anything else is `ERROR_INVALID_SERVICE_CONTROL`.
 */
function refuseControl(service: FakeService, control: number): number {
  if (service.state === SERVICE_STOPPED) return ERROR_SERVICE_NOT_ACTIVE;
  if (
    service.state === SERVICE_START_PENDING ||
    service.state === SERVICE_STOP_PENDING
  ) return ERROR_SERVICE_CANNOT_ACCEPT_CTRL;
  if (control === SERVICE_CONTROL_INTERROGATE) return 0;
  if (control >= 128 && control <= 255) return 0;
  const needs: Record<number, number> = {
    [SERVICE_CONTROL_STOP]: SERVICE_ACCEPT_STOP,
    [SERVICE_CONTROL_SHUTDOWN]: SERVICE_ACCEPT_SHUTDOWN,
    [SERVICE_CONTROL_PRESHUTDOWN]: SERVICE_ACCEPT_PRESHUTDOWN,
    2: SERVICE_ACCEPT_PAUSE_CONTINUE, // PAUSE
    3: SERVICE_ACCEPT_PAUSE_CONTINUE, // CONTINUE
  };
  const bit = needs[control];
  return bit && (service.controlsAccepted & bit)
    ? 0
    : ERROR_INVALID_SERVICE_CONTROL;
}

/** Short labels of the `SERVICE_*` states for {@linkcode FakeServices.events}. */
export const STATE_LABELS: Record<number, string> = {
  1: "STOPPED",
  2: "START_PENDING",
  3: "STOP_PENDING",
  4: "RUNNING",
  5: "CONTINUE_PENDING",
  6: "PAUSE_PENDING",
  7: "PAUSED",
};

/** A `LPCWSTR` passed as a `buffer`, read from its memory. */
function readBufferString(buffer: BufferArg): string {
  if (buffer === null) throw new TypeError("fake: NULL string");
  return readWide(Deno.UnsafePointer.of(bufferBytes(buffer)));
}

/** The entries of a `SERVICE_TABLE_ENTRYW` array, or undefined without its NULL entry. */
function readTable(
  bytes: Uint8Array,
): { name: string; proc: Deno.PointerValue }[] | undefined {
  const view = viewOf(bytes);
  const entries = [];
  for (
    let base = 0;
    base + SERVICE_TABLE_ENTRYW.size <= bytes.byteLength;
    base += SERVICE_TABLE_ENTRYW.size
  ) {
    const name = readField(view, SERVICE_TABLE_ENTRYW, {
      field: "lpServiceName",
      base,
    }) as bigint;
    const proc = readField(view, SERVICE_TABLE_ENTRYW, {
      field: "lpServiceProc",
      base,
    }) as bigint;
    if (name === 0n && proc === 0n) return entries;
    entries.push({ name: readWide(pointerAt(name)), proc: pointerAt(proc) });
  }
  return undefined;
}
