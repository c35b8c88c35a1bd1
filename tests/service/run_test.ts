/**
 * Tests for `run-service` under the fake SCM, whose dispatcher calls
 * `ServiceMain` and the control handler from a foreign thread: the status
 * sequence the SCM sees, a clean stop that runs the role's `stop()` (for a
 * real `-backend`: unregistered from the gateway) before STOPPED, a failed
 * start's exit code, the message when not started by the SCM, and Linux;
 * and the service's logs: JSON lines in a file (by default under
 * `%ProgramData%\webstream\logs`), uncaught errors included, in a folder
 * created and restricted to SYSTEM and Administrators (advapi32's
 * `protectFolder` over the fake advapi32) once the SCM has started the
 * service, with a warning when that fails.
 *
 * @module
 */
import { createLogger } from "../../mod/log/mod.ts";
import type { RoleHandle } from "../../mod/roles/common.ts";
import { startBackend } from "../../mod/roles/backend.ts";
import { runService, serviceLogPath } from "../../mod/service/run.ts";
import {
  ERROR_SERVICE_SPECIFIC_ERROR,
  SERVICE_EXIT_START_FAILED,
  SERVICE_RUNNING,
  SERVICE_START_PENDING,
  SERVICE_STOP_PENDING,
  SERVICE_STOPPED,
} from "../../ffi/windows/services.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { inProcessConfig } from "../support/config.ts";
import { startFakeGateway } from "../support/fake_gateway.ts";
import { FakeServices } from "../support/windows/fake_services.ts";
import { Advapi32 } from "../../ffi/windows/advapi32.ts";
import { Win32Error } from "../../ffi/windows/errors.ts";
import { Kernel32 } from "../../ffi/windows/kernel32.ts";
import { FakeAdvapi32 } from "../support/windows/fake_advapi32.ts";
import { FakeKernel32 } from "../support/windows/fake_kernel32.ts";

const logger = createLogger({ sink: () => {} });

/** A fake SCM about to start the installed "webstream" service. */
function scm(): FakeServices {
  const fake = new FakeServices();
  fake.addService("webstream");
  return fake;
}

/**
 * advapi32's `protectFolder` over the fake advapi32, which learns of each
 * folder when asked (run-service creates it on disk first). `calls` records
 * each folder and whether `logFile` existed yet.
 */
function fakeProtect(logFile: string) {
  const kernel = new FakeKernel32();
  const fake = new FakeAdvapi32(kernel);
  const advapi = new Advapi32(fake.symbols, new Kernel32(kernel.symbols));
  const calls: { folder: string; logExisted: boolean }[] = [];
  const exists = (path: string): boolean => {
    try {
      Deno.statSync(path);
      return true;
    } catch {
      return false;
    }
  };
  return {
    fake,
    kernel,
    calls,
    protectFolder(folder: string): Promise<void> {
      calls.push({ folder, logExisted: exists(logFile) });
      if (Deno.statSync(folder).isDirectory) {
        fake.addFile(folder, { directory: true });
      }
      return advapi.protectFolder(folder);
    },
  };
}

/** A role whose start and stop write to `log` (stop: unregister first). */
function fakeRole(log: string[]): RoleHandle {
  log.push("role:started");
  return {
    port: 9005,
    async stop() {
      log.push("role:unregister");
      await Promise.resolve();
      log.push("role:pool-shutdown");
      log.push("role:http-closed");
    },
  };
}

Deno.test("run-service: START_PENDING → RUNNING → STOP_PENDING → STOPPED around the role", async () => {
  const fake = scm();
  const result = await runService({ kind: "backend", tags: ["gpu"] }, {
    os: "windows",
    api: () => fake.api,
    logger,
    start: () => Promise.resolve(fakeRole(fake.events)),
  });
  assertEquals(result, { code: 0, message: "" });
  assertEquals(fake.events, [
    "status:START_PENDING",
    "role:started",
    "status:RUNNING",
    "status:STOP_PENDING",
    "role:unregister",
    "role:pool-shutdown",
    "role:http-closed",
    "status:STOPPED",
  ]);
  assertEquals(fake.statusReports.at(-1)!.win32ExitCode, 0);
  assertEquals(fake.violations, []);
});

Deno.test({
  name:
    "run-service -backend: a real session host unregisters from the gateway before STOPPED",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const gateway = startFakeGateway();
    const made = await inProcessConfig((base) => ({
      gateway: {
        backend: {
          gatewayUrl: gateway.url,
          advertisedUrl: `http://127.0.0.1:${base + 5}`,
          instanceMetadata: "off",
          heartbeatInterval: 1,
        },
      },
    }));
    const fake = scm();
    // Hold the STOP until the host has registered.
    fake.dispatchControls = [];
    let unregisteredAtStopped: number | undefined;
    fake.onStatus = (report) => {
      if (report.state === SERVICE_STOPPED) {
        unregisteredAtStopped = gateway.of("unregister").length;
      }
    };
    try {
      const running = runService({ kind: "backend", tags: ["gpu"] }, {
        os: "windows",
        api: () => fake.api,
        logger,
        start: (log) =>
          startBackend(made.config, { tags: ["gpu"], logger: log }),
      });
      while (
        !fake.states().includes(SERVICE_RUNNING) ||
        gateway.of("register").length === 0
      ) await new Promise((r) => setTimeout(r, 20));
      assertEquals(gateway.of("register")[0].body.tags, ["gpu"]);
      await fake.deliver(1); // SERVICE_CONTROL_STOP
      assertEquals(await running, { code: 0, message: "" });
      assertEquals(unregisteredAtStopped, 1, "unregistered before STOPPED");
      assertEquals(fake.states().slice(0, 3), [
        SERVICE_START_PENDING,
        SERVICE_RUNNING,
        SERVICE_STOP_PENDING,
      ]);
    } finally {
      await gateway.stop();
      await Deno.remove(made.dir, { recursive: true });
    }
  },
});

Deno.test("run-service: a role that cannot start ends STOPPED with exit code 1", async () => {
  const fake = scm();
  const result = await runService({ kind: "sm" }, {
    os: "windows",
    api: () => fake.api,
    logger,
    start: () => Promise.reject(new Error("port 9005 in use")),
  });
  assertEquals(result, {
    code: 1,
    message: "webstream run-service: port 9005 in use (service exit code 1)",
  });
  assertEquals(fake.states(), [SERVICE_START_PENDING, SERVICE_STOPPED]);
  const last = fake.statusReports.at(-1)!;
  assertEquals(
    [last.win32ExitCode, last.serviceSpecificExitCode],
    [ERROR_SERVICE_SPECIFIC_ERROR, SERVICE_EXIT_START_FAILED],
  );
});

Deno.test("run-service by hand (not from the SCM) says to use install-service", async () => {
  const fake = scm();
  fake.startedByScm = false;
  let started = false;
  const result = await runService({ kind: "backend", tags: ["gpu", "cad"] }, {
    os: "windows",
    api: () => fake.api,
    logger,
    start: () => {
      started = true;
      return Promise.resolve(fakeRole([]));
    },
  });
  assertEquals(result.code, 1);
  assertMatch(result.message, /not started by the service control manager/);
  assertMatch(
    result.message,
    /webstream install-service -backend -tags gpu,cad" and start it with "sc\.exe start webstream"/,
  );
  assert(!started);
});

Deno.test("run-service on Linux only says what to do there", async () => {
  const fake = scm();
  const result = await runService({ kind: "backend", tags: [] }, {
    os: "linux",
    api: () => fake.api,
    start: () => Promise.reject(new Error("not reached")),
  });
  assertEquals(result.code, 1);
  assertMatch(
    result.message,
    /^webstream run-service is what the Windows service control manager runs/,
  );
  assertEquals(fake.statusReports, []);
});

Deno.test("run-service without a logger writes JSON lines to its log file", async () => {
  await withTempDir(async (dir) => {
    const logFile = `${dir}/logs/webstream.log`;
    const fake = scm();
    const protect = fakeProtect(logFile);
    const result = await runService({ kind: "backend", tags: [] }, {
      os: "windows",
      api: () => fake.api,
      logFile,
      protectFolder: protect.protectFolder,
      start: (log) => {
        log.child("pool").info("pool ready", { slots: 2 });
        return Promise.resolve(fakeRole([]));
      },
    });
    assertEquals(result, { code: 0, message: "" });
    const records = (await Deno.readTextFile(logFile)).trimEnd().split("\n")
      .map((line) => JSON.parse(line));
    assertEquals(
      records.map(({ component, msg }) => `${component}: ${msg}`),
      [
        "backend: service starting",
        "backend.pool: pool ready",
        "backend: service running",
        "backend: service stopping",
        "backend: service stopped",
      ],
    );
    assertEquals(records[1].slots, 2);
    // The folder was created and restricted before the first line.
    assertEquals(protect.calls, [
      { folder: `${dir}/logs`, logExisted: false },
    ]);
    assertEquals(
      protect.fake.explicitAccess.map((e) => [e.sid, e.mask, e.mode]),
      [["S-1-5-18", 0x1f01ff, 2], ["S-1-5-32-544", 0x1f01ff, 2]],
    );
    assertEquals(protect.fake.securityWrites.map((w) => w.info), [
      0x80000004,
    ]);
    protect.kernel.localHeap.assertAllFreed();
  });
});

Deno.test("run-service: a log folder that cannot be restricted is warned about; the service runs", async () => {
  await withTempDir(async (dir) => {
    const logFile = `${dir}/logs/webstream.log`;
    const fake = scm();
    const result = await runService({ kind: "backend", tags: [] }, {
      os: "windows",
      api: () => fake.api,
      logFile,
      protectFolder: () =>
        Promise.reject(new Win32Error("SetNamedSecurityInfoW", 5)),
      start: () => Promise.resolve(fakeRole([])),
    });
    assertEquals(result, { code: 0, message: "" });
    const records = (await Deno.readTextFile(logFile)).trimEnd().split("\n")
      .map((line) => JSON.parse(line));
    assertEquals(records[0].level, "warn");
    assertEquals(
      records[0].msg,
      "could not restrict the log folder to SYSTEM and Administrators",
    );
    assertEquals(records[0].folder, `${dir}/logs`);
    assertMatch(records[0].error.message, /ERROR_ACCESS_DENIED/);
    assertEquals(records[1].msg, "service starting");
  });
});

Deno.test("run-service logs a failed start and uncaught errors to the file", async () => {
  await withTempDir(async (dir) => {
    const logFile = `${dir}/webstream.log`;
    const fake = scm();
    const result = await runService({ kind: "sm" }, {
      os: "windows",
      api: () => fake.api,
      logFile,
      protectFolder: () => Promise.resolve(),
      start: () => {
        // What the runtime dispatches for an uncaught error: logged, and
        // not prevented (the process still ends on a real one).
        const event = new ErrorEvent("error", {
          error: new Error("boom in a timer"),
          cancelable: true,
        });
        globalThis.dispatchEvent(event);
        assert(!event.defaultPrevented);
        return Promise.reject(new Error("port 9001 in use"));
      },
    });
    assertEquals(result.code, 1);
    const records = (await Deno.readTextFile(logFile)).trimEnd().split("\n")
      .map((line) => JSON.parse(line));
    const uncaught = records.find((r) => r.msg === "uncaught error");
    assertEquals(uncaught?.error.message, "boom in a timer");
    const failed = records.find((r) => r.msg === "service failed");
    assertEquals(failed?.level, "error");
    assertEquals(failed?.error.message, "port 9001 in use");
    // The listener is gone once run-service returns.
    globalThis.dispatchEvent(
      new ErrorEvent("error", { error: new Error("after the service") }),
    );
    assert(!(await Deno.readTextFile(logFile)).includes("after the service"));
  });
});

Deno.test("run-service with a given logger writes no file; by hand, no file either", async () => {
  await withTempDir(async (dir) => {
    const logFile = `${dir}/logs/webstream.log`;
    const protected_: string[] = [];
    const protectFolder = (folder: string) => {
      protected_.push(folder);
      return Promise.resolve();
    };
    const fake = scm();
    await runService({ kind: "sm" }, {
      os: "windows",
      api: () => fake.api,
      logger,
      logFile,
      protectFolder,
      start: () => Promise.resolve(fakeRole([])),
    });
    const byHand = scm();
    byHand.startedByScm = false;
    await runService({ kind: "sm" }, {
      os: "windows",
      api: () => byHand.api,
      logFile,
      protectFolder,
      start: () => Promise.resolve(fakeRole([])),
    });
    // No folder created or restricted: not the service's own log, or not
    // started by the SCM.
    assertEquals([...Deno.readDirSync(dir)], []);
    assertEquals(protected_, []);
  });
});

Deno.test("the service log file: %ProgramData%\\webstream\\logs\\webstream.log", () => {
  assertEquals(
    serviceLogPath({ ProgramData: "C:\\ProgramData" }),
    "C:\\ProgramData\\webstream\\logs\\webstream.log",
  );
  assertEquals(
    serviceLogPath({ ProgramData: "D:\\Data\\" }),
    "D:\\Data\\webstream\\logs\\webstream.log",
  );
  // Not set (or not readable): the documented default.
  assertEquals(
    serviceLogPath({}),
    "C:\\ProgramData\\webstream\\logs\\webstream.log",
  );
  assertEquals(
    serviceLogPath({ ProgramData: "" }),
    "C:\\ProgramData\\webstream\\logs\\webstream.log",
  );
});
