/**
 * Tests for the service control manager bindings: struct layouts and
 * constants against the Windows SDK, the symbol table (which calls are
 * `nonblocking`, callback parameter types), {@linkcode ServiceManager}
 * install / uninstall / status against the fake SCM (strings and structs
 * decoded from memory, every handle closed once, the SCM's error codes
 * turned into clear messages), and {@linkcode runAsService} driven by the
 * fake dispatcher, which calls `ServiceMain` and `HandlerEx` from a foreign
 * thread as the SCM does.
 *
 * @module
 */
import {
  checkServiceName,
  DEFAULT_RESTART,
  DELETE,
  ERROR_CALL_NOT_IMPLEMENTED,
  ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
  ERROR_SERVICE_CANNOT_ACCEPT_CTRL,
  ERROR_SERVICE_DOES_NOT_EXIST,
  ERROR_SERVICE_EXISTS,
  ERROR_SERVICE_SPECIFIC_ERROR,
  HANDLER_FUNCTION_EX,
  NO_ERROR,
  runAsService,
  RUNNING_ACCEPTS,
  SC_ACTION,
  SC_ACTION_RESTART,
  SC_MANAGER_CONNECT,
  SC_MANAGER_CREATE_SERVICE,
  SERVICE_ACCEPT_PRESHUTDOWN,
  SERVICE_ACCEPT_SHUTDOWN,
  SERVICE_ACCEPT_STOP,
  SERVICE_ALL_ACCESS,
  SERVICE_AUTO_START,
  SERVICE_CONFIG_DESCRIPTION,
  SERVICE_CONFIG_FAILURE_ACTIONS,
  SERVICE_CONFIG_PRESHUTDOWN_INFO,
  SERVICE_CONTROL_INTERROGATE,
  SERVICE_CONTROL_PAUSE,
  SERVICE_CONTROL_PRESHUTDOWN,
  SERVICE_CONTROL_SHUTDOWN,
  SERVICE_CONTROL_STOP,
  SERVICE_DESCRIPTIONW,
  SERVICE_ERROR_NORMAL,
  SERVICE_EXIT_START_FAILED,
  SERVICE_EXIT_STOP_FAILED,
  SERVICE_EXIT_STOP_TIMEOUT,
  SERVICE_FAILURE_ACTIONSW,
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
  ServiceError,
  ServiceManager,
  SERVICES_SYMBOLS,
  type ServicesSymbols,
} from "../../../ffi/windows/services.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import {
  ERROR_INVALID_SERVICE_CONTROL,
  FakeServices,
} from "../../support/windows/fake_services.ts";

const NAME = "webstream";
const PATH =
  `"C:\\Program Files\\webstream\\webstream.exe" run-service -backend -tags gpu,autocad`;

function manager(fake: FakeServices): ServiceManager {
  return new ServiceManager(fake.symbols, fake.kernel32);
}

function install(fake: FakeServices): void {
  manager(fake).install(NAME, {
    displayName: "webstream session host",
    description: "webstream: apps and desktops in the browser",
    binaryPathName: PATH,
    dependencies: ["TermService"],
  });
}

/** Records each sleep instead of sleeping. */
function fakeSleep(): { sleeps: number[]; sleep(ms: number): Promise<void> } {
  const sleeps: number[] = [];
  return {
    sleeps,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  };
}

Deno.test("struct layouts match the x64 SDK", () => {
  assertEquals(SERVICE_STATUS.size, 28);
  assertEquals(SERVICE_STATUS.offsets, {
    dwServiceType: 0,
    dwCurrentState: 4,
    dwControlsAccepted: 8,
    dwWin32ExitCode: 12,
    dwServiceSpecificExitCode: 16,
    dwCheckPoint: 20,
    dwWaitHint: 24,
  });
  assertEquals(SERVICE_STATUS_PROCESS.size, 36);
  assertEquals(SERVICE_STATUS_PROCESS.offsets.dwProcessId, 28);
  assertEquals(SERVICE_STATUS_PROCESS.offsets.dwServiceFlags, 32);
  assertEquals(SERVICE_TABLE_ENTRYW.size, 16);
  assertEquals(SERVICE_TABLE_ENTRYW.offsets, {
    lpServiceName: 0,
    lpServiceProc: 8,
  });
  assertEquals(SERVICE_DESCRIPTIONW.size, 8);
  // One DWORD: dwPreshutdownTimeout.
  assertEquals(SERVICE_PRESHUTDOWN_INFO.size, 4);
  assertEquals(SERVICE_PRESHUTDOWN_INFO.offsets, { dwPreshutdownTimeout: 0 });
  assertEquals(SC_ACTION.size, 8);
  assertEquals(SC_ACTION.offsets, { Type: 0, Delay: 4 });
  assertEquals(SERVICE_FAILURE_ACTIONSW.size, 40);
  assertEquals(SERVICE_FAILURE_ACTIONSW.offsets, {
    dwResetPeriod: 0,
    lpRebootMsg: 8,
    lpCommand: 16,
    cActions: 24,
    lpsaActions: 32,
  });
});

Deno.test("constants are winsvc.h's", () => {
  assertEquals(SC_MANAGER_CONNECT, 0x1);
  assertEquals(SC_MANAGER_CREATE_SERVICE, 0x2);
  assertEquals(SERVICE_QUERY_STATUS, 0x4);
  assertEquals(SERVICE_START, 0x10);
  assertEquals(SERVICE_STOP, 0x20);
  assertEquals(DELETE, 0x10000);
  assertEquals(SERVICE_ALL_ACCESS, 0xf01ff);
  assertEquals(SERVICE_WIN32_OWN_PROCESS, 0x10);
  assertEquals(SERVICE_AUTO_START, 2);
  assertEquals(SERVICE_ERROR_NORMAL, 1);
  assertEquals(
    [
      SERVICE_STOPPED,
      SERVICE_START_PENDING,
      SERVICE_STOP_PENDING,
      SERVICE_RUNNING,
    ],
    [1, 2, 3, 4],
  );
  assertEquals(
    [
      SERVICE_CONTROL_STOP,
      SERVICE_CONTROL_INTERROGATE,
      SERVICE_CONTROL_SHUTDOWN,
    ],
    [1, 4, 5],
  );
  assertEquals([SERVICE_ACCEPT_STOP, SERVICE_ACCEPT_SHUTDOWN], [1, 4]);
  assertEquals(
    [SERVICE_ACCEPT_PRESHUTDOWN, SERVICE_CONTROL_PRESHUTDOWN],
    [0x100, 0xf],
  );
  assertEquals(RUNNING_ACCEPTS, 0x105);
  assertEquals(
    [
      SERVICE_CONFIG_DESCRIPTION,
      SERVICE_CONFIG_FAILURE_ACTIONS,
      SERVICE_CONFIG_PRESHUTDOWN_INFO,
    ],
    [1, 2, 7],
  );
  assertEquals(SC_ACTION_RESTART, 1);
  assertEquals(ERROR_SERVICE_SPECIFIC_ERROR, 1066);
  assertEquals(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT, 1063);
  assertEquals(ERROR_CALL_NOT_IMPLEMENTED, 120);
});

Deno.test("symbol table: only the dispatcher is nonblocking; callbacks typed", () => {
  const nonblocking = Object.entries(SERVICES_SYMBOLS)
    .filter(([, def]) => "nonblocking" in def && def.nonblocking)
    .map(([name]) => name);
  assertEquals(nonblocking, ["StartServiceCtrlDispatcherW"]);
  assertEquals(SERVICES_SYMBOLS.CreateServiceW.parameters.length, 13);
  assertEquals(SERVICES_SYMBOLS.RegisterServiceCtrlHandlerExW.parameters, [
    "buffer",
    "function",
    "pointer",
  ]);
  assertEquals(SERVICES_SYMBOLS.SetServiceStatus.parameters, [
    "pointer",
    "buffer",
  ]);
  assertEquals(SERVICE_MAIN_FUNCTION, {
    parameters: ["u32", "pointer"],
    result: "void",
  });
  assertEquals(HANDLER_FUNCTION_EX, {
    parameters: ["u32", "u32", "pointer", "pointer"],
    result: "u32",
  });
});

Deno.test("checkServiceName refuses what the SCM refuses, naming why", () => {
  checkServiceName("webstream");
  assertThrows(() => checkServiceName(""), TypeError, /1-256 characters/);
  assertThrows(
    () => checkServiceName("x".repeat(257)),
    TypeError,
    /1-256 characters, got 257/,
  );
  assertThrows(() => checkServiceName("a\\b"), TypeError, /cannot contain/);
  assertThrows(() => checkServiceName("a/b"), TypeError, /cannot contain/);
});

Deno.test("install: an auto-start own-process LocalSystem service, decoded from memory", () => {
  const fake = new FakeServices();
  install(fake);
  const service = fake.service(NAME)!;
  assertEquals(service.displayName, "webstream session host");
  assertEquals(service.binaryPathName, PATH);
  assertEquals(service.serviceType, SERVICE_WIN32_OWN_PROCESS);
  assertEquals(service.startType, SERVICE_AUTO_START);
  assertEquals(service.errorControl, SERVICE_ERROR_NORMAL);
  assertEquals(service.account, null);
  assertEquals(service.password, null);
  assertEquals(service.dependencies, ["TermService"]);
  assertEquals(
    service.description,
    "webstream: apps and desktops in the browser",
  );
  assertEquals(service.failureActions, {
    resetPeriod: DEFAULT_RESTART.resetPeriodS,
    rebootMsg: null,
    command: null,
    actions: DEFAULT_RESTART.delaysMs.map((delay) => ({
      type: SC_ACTION_RESTART,
      delay,
    })),
  });
  assertEquals(fake.openHandles(), 0);
  assertEquals(fake.violations, []);
});

Deno.test("install without restart or dependencies sets neither", () => {
  const fake = new FakeServices();
  manager(fake).install(NAME, {
    displayName: "w",
    description: "d",
    binaryPathName: PATH,
    restart: false,
    startType: "demand",
  });
  assertEquals(fake.service(NAME)!.failureActions, undefined);
  assertEquals(fake.service(NAME)!.dependencies, []);
  assertEquals(fake.service(NAME)!.startType, 3);
});

Deno.test("install writes SERVICE_PRESHUTDOWN_INFO when a preshutdown timeout is given", () => {
  const fake = new FakeServices();
  manager(fake).install(NAME, {
    displayName: "w",
    description: "d",
    binaryPathName: PATH,
    preshutdownTimeoutMs: 60_000,
  });
  // Decoded by the fake from the struct passed to ChangeServiceConfig2W.
  assertEquals(fake.service(NAME)!.preshutdownTimeout, 60_000);
  assertEquals(fake.openHandles(), 0);
  const other = new FakeServices();
  install(other);
  assertEquals(other.service(NAME)!.preshutdownTimeout, undefined);
  for (const bad of [0, -1, 1.5, 2 ** 32]) {
    assertThrows(
      () =>
        manager(new FakeServices()).install(NAME, {
          displayName: "w",
          description: "d",
          binaryPathName: PATH,
          preshutdownTimeoutMs: bad,
        }),
      TypeError,
      /preshutdown timeout/,
    );
  }
});

Deno.test("install over an existing service: ERROR_SERVICE_EXISTS as a clear error", () => {
  const fake = new FakeServices();
  fake.addService("WebStream");
  const error = assertThrows(
    () => install(fake),
    ServiceError,
    /a service named "webstream" is already installed; remove it first with uninstall-service/,
  ) as ServiceError;
  assertEquals(error.reason, "exists");
  assertEquals((error.cause as Win32Error).code, ERROR_SERVICE_EXISTS);
  assertEquals(fake.openHandles(), 0);
});

Deno.test("install over a service being deleted says so", () => {
  const fake = new FakeServices();
  fake.addService(NAME, { markedForDelete: true });
  const error = assertThrows(
    () => install(fake),
    ServiceError,
    /still being removed/,
  ) as ServiceError;
  assertEquals(error.reason, "marked-for-delete");
});

Deno.test("install unelevated: access denied tells the user to elevate", () => {
  const fake = new FakeServices();
  fake.elevated = false;
  const error = assertThrows(
    () => install(fake),
    ServiceError,
    /OpenSCManagerW was denied: run this from an elevated prompt/,
  ) as ServiceError;
  assertEquals(error.reason, "access-denied");
  assertEquals(fake.services.size, 0);
});

Deno.test("install: a failed configuration step removes the half-made service", () => {
  const fake = new FakeServices();
  const symbols: ServicesSymbols = {
    ...fake.symbols,
    ChangeServiceConfig2W: () => fake.fakeKernel32.fail(87),
  };
  assertThrows(
    () =>
      new ServiceManager(symbols, fake.kernel32).install(NAME, {
        displayName: "w",
        description: "d",
        binaryPathName: PATH,
      }),
    Win32Error,
    /ChangeServiceConfig2W failed: ERROR_INVALID_PARAMETER \(87\)/,
  );
  assertEquals(fake.services.size, 0, "marked for delete and gone once closed");
  assertEquals(fake.openHandles(), 0);
});

Deno.test("install validates its inputs", () => {
  const fake = new FakeServices();
  assertThrows(
    () =>
      manager(fake).install(NAME, {
        displayName: "w",
        description: "d",
        binaryPathName: "  ",
      }),
    TypeError,
    /binary path is empty/,
  );
  assertThrows(
    () =>
      manager(fake).install(NAME, {
        displayName: "w",
        description: "d\0x",
        binaryPathName: PATH,
      }),
    TypeError,
    /NUL/,
  );
  assertEquals(fake.services.size, 0);
  assertEquals(fake.openHandles(), 0);
});

Deno.test("uninstall a running service: STOP, poll to STOPPED, then delete", async () => {
  const fake = new FakeServices();
  install(fake);
  Object.assign(fake.service(NAME)!, {
    state: SERVICE_RUNNING,
    controlsAccepted: SERVICE_ACCEPT_STOP,
    pid: 77,
    settleAfterQueries: 3,
  });
  const { sleeps, sleep } = fakeSleep();
  const result = await manager(fake).uninstall(NAME, { sleep });
  assertEquals(result, { stopped: true, alreadyMarked: false });
  assertEquals(fake.events, [`stop:${NAME}`, `delete:${NAME}`]);
  // Wait hint 3000 ms: a tenth of it between queries.
  assertEquals(sleeps, [300, 300, 300, 300]);
  assertEquals(fake.service(NAME), undefined, "gone once its handles closed");
  assertEquals(fake.openHandles(), 0);
});

Deno.test("uninstall a stopped service deletes it without STOP", async () => {
  const fake = new FakeServices();
  install(fake);
  const result = await manager(fake).uninstall(NAME, fakeSleep());
  assertEquals(result, { stopped: false, alreadyMarked: false });
  assertEquals(fake.events, [`delete:${NAME}`]);
  assertEquals(fake.services.size, 0);
});

Deno.test("uninstall a starting service: STOP is retried once it accepts it", async () => {
  const fake = new FakeServices();
  fake.addService(NAME, {
    state: SERVICE_START_PENDING,
    settleAfterQueries: 2,
  });
  const controls: number[] = [];
  const symbols: ServicesSymbols = {
    ...fake.symbols,
    ControlService: (h, c, s) => {
      const ok = fake.symbols.ControlService(h, c, s);
      controls.push(ok ? 0 : fake.fakeKernel32.lastError);
      return ok;
    },
  };
  const result = await new ServiceManager(symbols, fake.kernel32).uninstall(
    NAME,
    fakeSleep(),
  );
  assertEquals(result.stopped, true);
  assertEquals(controls, [ERROR_SERVICE_CANNOT_ACCEPT_CTRL, 0]);
  assertEquals(fake.services.size, 0);
});

Deno.test("uninstall a missing service: a clear not-installed error", async () => {
  const fake = new FakeServices();
  const error = await assertRejects(
    () => manager(fake).uninstall(NAME, fakeSleep()),
    ServiceError,
    /no service named "webstream" is installed/,
  ) as ServiceError;
  assertEquals(error.reason, "not-installed");
  assertEquals((error.cause as Win32Error).code, ERROR_SERVICE_DOES_NOT_EXIST);
  assertEquals(fake.openHandles(), 0);
});

Deno.test("uninstall gives up on a service that does not stop, leaving it installed", async () => {
  const fake = new FakeServices();
  fake.addService(NAME, { state: SERVICE_RUNNING, settleAfterQueries: 1e9 });
  const { sleeps, sleep } = fakeSleep();
  const error = await assertRejects(
    () => manager(fake).uninstall(NAME, { sleep, timeoutMs: 1000 }),
    ServiceError,
    /did not stop within 1 s \(it is stop-pending\); it was not removed/,
  ) as ServiceError;
  assertEquals(error.reason, "stop-timeout");
  assertEquals(sleeps.reduce((a, b) => a + b, 0), 1200);
  assert(fake.service(NAME), "still installed");
  assertEquals(fake.service(NAME)!.markedForDelete, false);
  assertEquals(fake.openHandles(), 0);
});

Deno.test("uninstall a service already marked for deletion reports it", async () => {
  const fake = new FakeServices();
  fake.addService(NAME, { markedForDelete: true });
  const result = await manager(fake).uninstall(NAME, fakeSleep());
  assertEquals(result, { stopped: false, alreadyMarked: true });
});

Deno.test("status reads SERVICE_STATUS_PROCESS", () => {
  const fake = new FakeServices();
  fake.addService(NAME, {
    state: SERVICE_RUNNING,
    pid: 4711,
    controlsAccepted: SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN,
  });
  assertEquals(manager(fake).status(NAME), {
    state: "running",
    stateCode: SERVICE_RUNNING,
    pid: 4711,
    controlsAccepted: 5,
    win32ExitCode: 0,
    serviceSpecificExitCode: 0,
    checkPoint: 0,
    waitHint: 0,
  });
  assertThrows(() => manager(fake).status("other"), ServiceError, /no service/);
  assertEquals(fake.openHandles(), 0);
});

/** A fake SCM with the service installed, ready to dispatch it. */
function dispatching(): FakeServices {
  const fake = new FakeServices();
  fake.addService(NAME);
  return fake;
}

Deno.test("runAsService: START_PENDING → RUNNING → STOP_PENDING (rising checkpoints) → STOPPED", async () => {
  const fake = dispatching();
  const log = fake.events;
  const result = await runAsService(fake.api, NAME, {
    onStart: (checkpoint) => {
      log.push("onStart");
      checkpoint();
      return Promise.resolve();
    },
    onStop: async (checkpoint) => {
      log.push("onStop:unregister");
      checkpoint();
      await Promise.resolve();
      checkpoint();
      log.push("onStop:done");
    },
  });
  assertEquals(result, { exitCode: 0 });
  assertEquals(fake.handlerRegistrations, [NAME]);
  const reports = fake.statusReports;
  assertEquals(reports.map((r) => [r.state, r.checkPoint]), [
    [SERVICE_START_PENDING, 1],
    [SERVICE_START_PENDING, 2],
    [SERVICE_RUNNING, 0],
    [SERVICE_STOP_PENDING, 1],
    [SERVICE_STOP_PENDING, 2],
    [SERVICE_STOP_PENDING, 3],
    [SERVICE_STOPPED, 0],
  ]);
  // Pending states accept nothing and promise a next checkpoint.
  for (const r of reports) {
    assertEquals(r.serviceType, SERVICE_WIN32_OWN_PROCESS);
    const pending = r.state === SERVICE_START_PENDING ||
      r.state === SERVICE_STOP_PENDING;
    assertEquals(r.waitHint > 0, pending);
    assertEquals(
      r.controlsAccepted,
      r.state === SERVICE_RUNNING
        ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
          SERVICE_ACCEPT_PRESHUTDOWN
        : 0,
    );
  }
  assertEquals(reports.at(-1)!.win32ExitCode, NO_ERROR);
  assertEquals(fake.controlResults, [{
    control: SERVICE_CONTROL_STOP,
    result: NO_ERROR,
  }]);
  assertEquals(
    log.indexOf("onStop:done") < log.indexOf("status:STOPPED"),
    true,
  );
  assertEquals(log.filter((e) => e.startsWith("onStop:")), [
    "onStop:unregister",
    "onStop:done",
  ]);
  assertEquals(fake.violations, []);
});

Deno.test("runAsService: heartbeats raise the checkpoint while onStop works", async () => {
  const fake = dispatching();
  await runAsService(fake.api, NAME, {
    heartbeatMs: 1,
    onStart: () => Promise.resolve(),
    onStop: async () => {
      // Until the timer has re-reported STOP_PENDING twice.
      while (
        fake.statusReports.filter((r) => r.state === SERVICE_STOP_PENDING)
          .length < 3
      ) await new Promise((r) => setTimeout(r, 1));
    },
  });
  const checkpoints = fake.statusReports
    .filter((r) => r.state === SERVICE_STOP_PENDING)
    .map((r) => r.checkPoint);
  assertEquals(checkpoints.slice(0, 3), [1, 2, 3]);
  assertEquals(fake.states().at(-1), SERVICE_STOPPED);
});

Deno.test("runAsService: INTERROGATE, unknown controls, SHUTDOWN and a second STOP", async () => {
  const fake = dispatching();
  fake.dispatchControls = [
    SERVICE_CONTROL_INTERROGATE,
    SERVICE_CONTROL_PAUSE, // not accepted: the SCM refuses it
    200, // user-defined: reaches the handler, which does not know it
    SERVICE_CONTROL_SHUTDOWN,
  ];
  let stops = 0;
  let finishStop!: () => void;
  const result = runAsService(fake.api, NAME, {
    onStart: () => Promise.resolve(),
    onStop: () => {
      stops++;
      return new Promise((resolve) => finishStop = resolve);
    },
  });
  while (stops === 0) await new Promise((r) => setTimeout(r, 0));
  // STOP while stopping: refused by the SCM, the handler never sees it.
  assertEquals(
    await fake.deliver(SERVICE_CONTROL_STOP),
    ERROR_SERVICE_CANNOT_ACCEPT_CTRL,
  );
  finishStop();
  assertEquals(await result, { exitCode: 0 });
  assertEquals(stops, 1);
  // By control: the test's STOP may be recorded before SHUTDOWN's answer.
  assertEquals(
    Object.fromEntries(fake.controlResults.map((c) => [c.control, c.result])),
    {
      [SERVICE_CONTROL_INTERROGATE]: NO_ERROR,
      [SERVICE_CONTROL_PAUSE]: ERROR_INVALID_SERVICE_CONTROL,
      200: ERROR_CALL_NOT_IMPLEMENTED,
      [SERVICE_CONTROL_SHUTDOWN]: NO_ERROR,
      [SERVICE_CONTROL_STOP]: ERROR_SERVICE_CANNOT_ACCEPT_CTRL,
    },
  );
});

Deno.test("runAsService: PRESHUTDOWN is accepted and stops the service like STOP", async () => {
  const fake = dispatching();
  // SHUTDOWN's ~20 s is not enough for a clean stop: the SCM sends
  // PRESHUTDOWN first to a service that accepts it. A STOP follows only so
  // that a service refusing PRESHUTDOWN would still end.
  fake.dispatchControls = [SERVICE_CONTROL_PRESHUTDOWN, SERVICE_CONTROL_STOP];
  const log = fake.events;
  const result = await runAsService(fake.api, NAME, {
    onStart: () => Promise.resolve(),
    onStop: async (checkpoint) => {
      log.push("onStop");
      checkpoint();
      await Promise.resolve();
    },
  });
  assertEquals(result, { exitCode: 0 });
  assertEquals(fake.controlResults[0], {
    control: SERVICE_CONTROL_PRESHUTDOWN,
    result: NO_ERROR,
  });
  assertEquals(
    fake.statusReports.find((r) => r.state === SERVICE_RUNNING)!
      .controlsAccepted & SERVICE_ACCEPT_PRESHUTDOWN,
    SERVICE_ACCEPT_PRESHUTDOWN,
  );
  assertEquals(fake.statusReports.map((r) => [r.state, r.checkPoint]), [
    [SERVICE_START_PENDING, 1],
    [SERVICE_RUNNING, 0],
    [SERVICE_STOP_PENDING, 1],
    [SERVICE_STOP_PENDING, 2],
    [SERVICE_STOPPED, 0],
  ]);
  assertEquals(log.filter((e) => e === "onStop"), ["onStop"]);
  assert(log.indexOf("onStop") < log.indexOf("status:STOPPED"));
  assertEquals(fake.violations, []);
});

Deno.test("runAsService: a failed start reports STOPPED with a service-specific exit code", async () => {
  const fake = dispatching();
  let stopped = false;
  const failure = new Error("config broken");
  const result = await runAsService(fake.api, NAME, {
    onStart: () => Promise.reject(failure),
    onStop: () => {
      stopped = true;
      return Promise.resolve();
    },
  });
  assertEquals(result, { exitCode: SERVICE_EXIT_START_FAILED, error: failure });
  assertEquals(stopped, false);
  assertEquals(fake.states(), [SERVICE_START_PENDING, SERVICE_STOPPED]);
  const last = fake.statusReports.at(-1)!;
  assertEquals(last.win32ExitCode, ERROR_SERVICE_SPECIFIC_ERROR);
  assertEquals(last.serviceSpecificExitCode, SERVICE_EXIT_START_FAILED);
  assertEquals(fake.controlResults, [], "no STOP sent to a stopped service");
});

Deno.test("runAsService: a failed stop still reports STOPPED, with its exit code", async () => {
  const fake = dispatching();
  const result = await runAsService(fake.api, NAME, {
    onStart: () => Promise.resolve(),
    onStop: () => Promise.reject(new Error("pool stuck")),
  });
  assertEquals(result.exitCode, SERVICE_EXIT_STOP_FAILED);
  assertEquals((result.error as Error).message, "pool stuck");
  const last = fake.statusReports.at(-1)!;
  assertEquals(
    [last.state, last.win32ExitCode, last.serviceSpecificExitCode],
    [SERVICE_STOPPED, ERROR_SERVICE_SPECIFIC_ERROR, SERVICE_EXIT_STOP_FAILED],
  );
});

Deno.test("runAsService: a stop that never ends is cut off by stopTimeoutMs", async () => {
  const fake = dispatching();
  const result = await runAsService(fake.api, NAME, {
    stopTimeoutMs: 1,
    onStart: () => Promise.resolve(),
    onStop: () => new Promise(() => {}),
  });
  assertEquals(result.exitCode, SERVICE_EXIT_STOP_TIMEOUT);
  assertEquals(fake.states().at(-1), SERVICE_STOPPED);
  assertEquals(fake.violations, []);
});

Deno.test("runAsService outside the SCM: not-started-by-scm, GetLastError not read", async () => {
  const fake = dispatching();
  fake.startedByScm = false;
  const before = fake.fakeKernel32.getLastErrorCalls;
  let started = false;
  const error = await assertRejects(
    () =>
      runAsService(fake.api, NAME, {
        onStart: () => {
          started = true;
          return Promise.resolve();
        },
        onStop: () => Promise.resolve(),
      }),
    ServiceError,
    /not started by the service control manager/,
  ) as ServiceError;
  assertEquals(error.reason, "not-started-by-scm");
  assertEquals(started, false);
  assertEquals(fake.fakeKernel32.getLastErrorCalls, before);
  assertEquals(
    fake.fakeKernel32.poolLastError,
    ERROR_FAILED_SERVICE_CONTROLLER_CONNECT,
  );
});

Deno.test("runAsService: a handler that cannot be registered ends the run with its error", async () => {
  const fake = dispatching();
  const symbols: ServicesSymbols = {
    ...fake.symbols,
    RegisterServiceCtrlHandlerExW: () => {
      fake.fakeKernel32.fail(1083);
      return null;
    },
  };
  const result = await runAsService(
    { services: symbols, kernel32: fake.kernel32 },
    NAME,
    { onStart: () => Promise.resolve(), onStop: () => Promise.resolve() },
  );
  assertEquals(result.exitCode, 1);
  assert(result.error instanceof Win32Error);
  assertEquals(
    (result.error as Win32Error).codeName,
    "ERROR_SERVICE_NOT_IN_EXE",
  );
  // On Windows the process now exits; here the fake dispatcher is ended so
  // the callbacks it holds are released.
  fake.abortDispatcher();
  await new Promise((r) => setTimeout(r, 0));
});
