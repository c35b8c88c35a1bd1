/**
 * Tests for `ffi/windows/kernel32.ts` against the fake kernel32: failures
 * carry the last error set by the failing call, exit codes map STILL_ACTIVE
 * to "running" (the raw code keeps a real 259 after a wait), waits map WAIT_OBJECT_0 / WAIT_TIMEOUT / WAIT_FAILED (whose
 * code is not readable off-thread), environment-string expansion with its
 * buffer sizing, global memory (moveable blocks locked to real memory, freed
 * once), job objects (JOBOBJECT_EXTENDED_LIMIT_INFORMATION's layout, a
 * kill-on-close job killing its processes when its handle closes or this
 * process ends, the rights assignment needs), and only WaitForSingleObject
 * is nonblocking.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import {
  GMEM_MOVEABLE,
  GMEM_ZEROINIT,
  IO_COUNTERS,
  JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
  JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
  JOBOBJECT_BASIC_LIMIT_INFORMATION,
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
  Kernel32,
  KERNEL32_SYMBOLS,
  PROCESS_CONTROL,
  PROCESS_JOB_ASSIGN,
  PROCESS_SET_QUOTA,
  PROCESS_TERMINATE,
  STILL_ACTIVE,
  WAIT_FAILED,
  WAIT_OBJECT_0,
  WAIT_TIMEOUT,
} from "../../../ffi/windows/kernel32.ts";
import { addressOfPointer, pointerAt } from "../../../ffi/windows/struct.ts";
import {
  bufferBytes,
  CURRENT_PROCESS_PSEUDO_HANDLE,
  ERROR_DISCARDED,
  FakeKernel32,
  INFINITE,
  JOB_KILL_EXIT_CODE,
} from "../../support/windows/fake_kernel32.ts";

function setup() {
  const fake = new FakeKernel32();
  return { fake, k32: new Kernel32(fake.symbols) };
}

function nonblockingNames(table: Record<string, object>): string[] {
  return Object.entries(table)
    .filter(([, d]) => "nonblocking" in d && d.nonblocking === true)
    .map(([name]) => name)
    .sort();
}

Deno.test("kernel32: only WaitForSingleObject is nonblocking", () => {
  assertEquals(nonblockingNames(KERNEL32_SYMBOLS), ["WaitForSingleObject"]);
});

Deno.test("kernel32: SDK constants", () => {
  assertEquals(
    [WAIT_OBJECT_0, WAIT_TIMEOUT, WAIT_FAILED, STILL_ACTIVE],
    [0, 258, 0xffffffff, 259],
  );
  // PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE
  assertEquals(PROCESS_CONTROL, 0x00101001);
});

Deno.test("kernel32: fail(fn) reads the last error at once", () => {
  const { fake, k32 } = setup();
  fake.lastError = 5;
  const e = k32.fail("Something");
  assertEquals([e.function, e.code, e.codeName], [
    "Something",
    5,
    "ERROR_ACCESS_DENIED",
  ]);
  assertEquals(fake.getLastErrorCalls, 1);
});

Deno.test("kernel32: closeHandle closes, ignores null, throws on a bad handle", () => {
  const { fake, k32 } = setup();
  const h = fake.createHandle("token");
  k32.closeHandle(h);
  assert(fake.handles("token")[0].closed);
  k32.closeHandle(null);
  assertThrows(
    () => k32.closeHandle(h),
    Win32Error,
    /CloseHandle failed: ERROR_INVALID_HANDLE \(6\)/,
  );
  assertThrows(
    () => k32.closeHandle(pointerAt(0x999999n)),
    Win32Error,
    /ERROR_INVALID_HANDLE/,
  );
});

Deno.test("kernel32: localFree frees exactly once and ignores null", () => {
  const { fake, k32 } = setup();
  const block = fake.localHeap.alloc(16, "test");
  k32.localFree(null);
  k32.localFree(pointerAt(block.address));
  fake.localHeap.assertAllFreed();
  assertThrows(() => k32.localFree(pointerAt(block.address)), Error, /twice/);
});

Deno.test("kernel32: openProcess returns a handle or the last error", () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 10, sessionId: 2 });
  fake.addProcess({ pid: 11, sessionId: 0, accessDenied: true });
  const h = k32.openProcess(10);
  assertEquals(fake.handle(h, "process")?.data.pid, 10);
  assertThrows(
    () => k32.openProcess(99),
    Win32Error,
    /OpenProcess failed: ERROR_INVALID_PARAMETER \(87\)/,
  );
  assertThrows(
    () => k32.openProcess(11),
    Win32Error,
    /OpenProcess failed: ERROR_ACCESS_DENIED \(5\)/,
  );
  k32.closeHandle(h);
  fake.assertAllClosed();
});

Deno.test("kernel32: exitCode is undefined while running (STILL_ACTIVE)", () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 10, sessionId: 2 });
  const h = k32.openProcess(10);
  assertEquals(k32.exitCode(h), undefined);
  k32.terminateProcess(h, 7);
  assertEquals(k32.exitCode(h), 7);
  // A second terminate of an ended process is refused.
  assertThrows(
    () => k32.terminateProcess(h, 1),
    Win32Error,
    /TerminateProcess failed: ERROR_ACCESS_DENIED/,
  );
  k32.closeHandle(h);
  assertThrows(
    () => k32.exitCode(h),
    Win32Error,
    /GetExitCodeProcess failed: ERROR_INVALID_HANDLE/,
  );
});

Deno.test("kernel32: exitCodeRaw reports 259 as it is; exitCode cannot tell it from running", async () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 11, sessionId: 2 });
  const h = k32.openProcess(11);
  assertEquals(k32.exitCodeRaw(h), STILL_ACTIVE);
  fake.exitProcess(11, STILL_ACTIVE); // the process returned 259
  assertEquals(await k32.wait(h, 0), true);
  assertEquals(k32.exitCodeRaw(h), 259);
  assertEquals(k32.exitCode(h), undefined, "ambiguous without the wait");
  k32.closeHandle(h);
  assertThrows(
    () => k32.exitCodeRaw(h),
    Win32Error,
    /GetExitCodeProcess failed: ERROR_INVALID_HANDLE/,
  );
});

Deno.test("kernel32: wait maps WAIT_OBJECT_0, WAIT_TIMEOUT and WAIT_FAILED", async () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 10, sessionId: 2 });
  const h = k32.openProcess(10);
  assertEquals(await k32.wait(h, 50), false); // WAIT_TIMEOUT
  const waiting = k32.wait(h, Infinity);
  fake.exitProcess(10, 0);
  assertEquals(await waiting, true); // WAIT_OBJECT_0
  assertEquals(await k32.wait(h, 0), true);
  // Timeouts are clamped below INFINITE and rounded.
  assertEquals(fake.waits, [50, 0xfffffffe, 0]);
  assert(fake.waits.every((t) => t !== INFINITE));
  k32.closeHandle(h);
  fake.lastError = 0;
  const calls = fake.getLastErrorCalls;
  const e = await assertRejects(
    () => k32.wait(h, 10),
    Win32Error,
    /WaitForSingleObject failed \(its error code is not readable/,
  );
  // The code stayed on the pool thread; the wrapper did not read another's.
  assertEquals((e as Win32Error).code, undefined);
  assertEquals(fake.getLastErrorCalls, calls);
  assertEquals(fake.poolLastError, 6);
});

Deno.test("kernel32: processSessionId reads the session or fails", () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 10, sessionId: 3 });
  assertEquals(k32.processSessionId(10), 3);
  assertThrows(
    () => k32.processSessionId(11),
    Win32Error,
    /ProcessIdToSessionId failed: ERROR_INVALID_PARAMETER \(87\)/,
  );
});

Deno.test("kernel32 fake: pseudo-handle and current process id", () => {
  const { fake } = setup();
  const self = fake.symbols.GetCurrentProcess();
  assertEquals(addressOfPointer(self), CURRENT_PROCESS_PSEUDO_HANDLE);
  assertEquals(fake.symbols.CloseHandle(self), 1);
  assertEquals(fake.symbols.GetCurrentProcessId(), fake.currentProcessId);
});

Deno.test("kernel32: expandEnvironment expands %NAME% and leaves unknown names", () => {
  const { k32 } = setup();
  assertEquals(
    k32.expandEnvironment("%SystemDrive%\\Users\\webs01"),
    "C:\\Users\\webs01",
  );
  assertEquals(k32.expandEnvironment("%systemroot%"), "C:\\Windows");
  assertEquals(k32.expandEnvironment("100%"), "100%");
  assertEquals(k32.expandEnvironment("%Nope%\\x"), "%Nope%\\x");
  assertEquals(k32.expandEnvironment(""), "");
  assertEquals(k32.expandEnvironment("plain"), "plain");
  assertThrows(() => k32.expandEnvironment("a\0b"), TypeError, /NUL/);
});

Deno.test("kernel32: expandEnvironment grows the buffer to the size reported", () => {
  const { fake, k32 } = setup();
  const long = "x".repeat(1000);
  fake.environment.set("LONG", long);
  const calls: number[] = [];
  const expand = fake.symbols.ExpandEnvironmentStringsW;
  const k = new Kernel32({
    ...fake.symbols,
    ExpandEnvironmentStringsW: (source, destination, size) => {
      calls.push(size);
      return expand(source, destination, size);
    },
  });
  assertEquals(k.expandEnvironment("%LONG%%LONG%\\y"), `${long}${long}\\y`);
  // 260 characters first, then exactly what the call asked for.
  assertEquals(calls, [260, 2003]);
  assertEquals(k32.expandEnvironment("%LONG%"), long);
});

Deno.test("kernel32: a failed expandEnvironment carries its last error", () => {
  const { fake } = setup();
  const k = new Kernel32({
    ...fake.symbols,
    ExpandEnvironmentStringsW: () => fake.fail(8),
  });
  assertThrows(
    () => k.expandEnvironment("%SystemDrive%"),
    Win32Error,
    /ExpandEnvironmentStringsW failed: ERROR_NOT_ENOUGH_MEMORY \(8\)/,
  );
  // A size that keeps growing past the limit is refused.
  const growing = new Kernel32({
    ...fake.symbols,
    ExpandEnvironmentStringsW: (_s, _d, size) => size + 1,
  });
  assertThrows(
    () => growing.expandEnvironment("x"),
    RangeError,
    /ExpandEnvironmentStringsW needs/,
  );
});

Deno.test("kernel32: global memory constants and parameter types", () => {
  assertEquals([GMEM_MOVEABLE, GMEM_ZEROINIT], [0x0002, 0x0040]);
  assertEquals(KERNEL32_SYMBOLS.GlobalAlloc.parameters, ["u32", "usize"]);
  assertEquals(KERNEL32_SYMBOLS.GlobalSize.result, "usize");
  assertEquals(KERNEL32_SYMBOLS.GlobalUnlock.result, "i32");
  assertEquals(KERNEL32_SYMBOLS.GlobalFree.result, "pointer");
});

Deno.test("kernel32: a moveable block is locked to real memory and freed once", () => {
  const { fake, k32 } = setup();
  const handle = k32.globalAlloc(GMEM_MOVEABLE, 6);
  assertEquals(k32.globalSize(handle), 6);
  const pointer = k32.globalLock(handle);
  // A moveable block's handle is not its memory.
  assert(addressOfPointer(pointer) !== addressOfPointer(handle));
  new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(pointer!, 6)).set([
    1,
    2,
    3,
    4,
    5,
    6,
  ]);
  k32.globalUnlock(handle);
  const block = fake.global(handle)!;
  assertEquals([block.locks, [...block.bytes]], [0, [1, 2, 3, 4, 5, 6]]);
  // An unlock too many is only reported by GlobalUnlock: never thrown.
  k32.globalUnlock(handle);
  k32.globalFree(handle);
  assertEquals(k32.globalSize(handle), 0);
  fake.assertGlobalsFreed();
  assertThrows(() => k32.globalFree(handle), Error, /freed twice/);
  k32.globalFree(null);
});

Deno.test("kernel32: global memory failures carry their last error", () => {
  const { fake, k32 } = setup();
  assertThrows(() => k32.globalAlloc(GMEM_MOVEABLE, -1), RangeError);
  // A zero-size moveable block is discarded: it cannot be locked.
  const empty = k32.globalAlloc(GMEM_MOVEABLE, 0);
  const discarded = assertThrows(
    () => k32.globalLock(empty),
    Win32Error,
  ) as Win32Error;
  assertEquals(discarded.code, ERROR_DISCARDED);
  assertEquals(k32.globalSize(empty), 0);
  k32.globalFree(empty);
  const failing = new Kernel32({
    ...fake.symbols,
    GlobalAlloc: () => {
      fake.lastError = 8;
      return null;
    },
  });
  assertThrows(
    () => failing.globalAlloc(GMEM_MOVEABLE, 4),
    Win32Error,
    /GlobalAlloc failed: ERROR_NOT_ENOUGH_MEMORY \(8\)/,
  );
  const unknown = pointerAt(0x1234n);
  assertThrows(() => k32.globalFree(unknown), Win32Error, /GlobalFree/);
  assertEquals(k32.globalSize(unknown), 0);
});

Deno.test("kernel32: job object constants and layouts match the SDK (x64)", () => {
  assertEquals(JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, 0x2000);
  assertEquals(JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS, 9);
  assertEquals([PROCESS_TERMINATE, PROCESS_SET_QUOTA], [0x0001, 0x0100]);
  assertEquals(PROCESS_JOB_ASSIGN, 0x0101);
  assertEquals(IO_COUNTERS.size, 48);
  const basic = JOBOBJECT_BASIC_LIMIT_INFORMATION;
  assertEquals(basic.size, 64);
  assertEquals(basic.offsets, {
    PerProcessUserTimeLimit: 0,
    PerJobUserTimeLimit: 8,
    LimitFlags: 16,
    MinimumWorkingSetSize: 24,
    MaximumWorkingSetSize: 32,
    ActiveProcessLimit: 40,
    Affinity: 48,
    PriorityClass: 56,
    SchedulingClass: 60,
  });
  const extended = JOBOBJECT_EXTENDED_LIMIT_INFORMATION;
  assertEquals(extended.size, 144);
  assertEquals(extended.offsets, {
    BasicLimitInformation: 0,
    IoInfo: 64,
    ProcessMemoryLimit: 112,
    JobMemoryLimit: 120,
    PeakProcessMemoryUsed: 128,
    PeakJobMemoryUsed: 136,
  });
  assertEquals(KERNEL32_SYMBOLS.CreateJobObjectW, {
    parameters: ["pointer", "pointer"],
    result: "pointer",
  });
  assertEquals(KERNEL32_SYMBOLS.SetInformationJobObject, {
    parameters: ["pointer", "i32", "buffer", "u32"],
    result: "i32",
  });
  assertEquals(KERNEL32_SYMBOLS.AssignProcessToJobObject, {
    parameters: ["pointer", "pointer"],
    result: "i32",
  });
});

Deno.test("kernel32: createKillOnCloseJob sets only KILL_ON_JOB_CLOSE, in a 144-byte block", () => {
  const { fake } = setup();
  const seen: { infoClass: number; length: number; bytes: number[] }[] = [];
  const k = new Kernel32({
    ...fake.symbols,
    SetInformationJobObject: (job, infoClass, info, length) => {
      seen.push({ infoClass, length, bytes: [...bufferBytes(info)] });
      return fake.symbols.SetInformationJobObject(job, infoClass, info, length);
    },
  });
  const job = k.createKillOnCloseJob();
  assertEquals(fake.job(job)?.limitFlags, JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE);
  assertEquals(seen.length, 1);
  assertEquals([seen[0].infoClass, seen[0].length], [9, 144]);
  const expected = new Array(144).fill(0);
  expected[17] = 0x20; // 0x2000 little-endian at offset 16
  assertEquals(seen[0].bytes, expected);
  k.closeHandle(job);
  fake.assertAllClosed();
});

Deno.test("kernel32: a failing CreateJobObjectW carries its last error", () => {
  const { fake } = setup();
  const k = new Kernel32({
    ...fake.symbols,
    CreateJobObjectW: () => {
      fake.lastError = 8;
      return null;
    },
  });
  assertThrows(
    () => k.createKillOnCloseJob(),
    Win32Error,
    /CreateJobObjectW failed: ERROR_NOT_ENOUGH_MEMORY \(8\)/,
  );
});

Deno.test("kernel32: a failing SetInformationJobObject keeps its code and closes the job", () => {
  const { fake } = setup();
  const k = new Kernel32({
    ...fake.symbols,
    SetInformationJobObject: () => fake.fail(87),
    // A CloseHandle that leaves another last error behind.
    CloseHandle: (handle) => {
      const ok = fake.symbols.CloseHandle(handle);
      fake.lastError = 0;
      return ok;
    },
  });
  assertThrows(
    () => k.createKillOnCloseJob(),
    Win32Error,
    /SetInformationJobObject failed: ERROR_INVALID_PARAMETER \(87\)/,
  );
  assertEquals(fake.handles("job").length, 1);
  fake.assertAllClosed("job");
});

Deno.test("kernel32: openProcess asks for PROCESS_CONTROL unless told otherwise", () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 10, sessionId: 0 });
  const control = k32.openProcess(10);
  const assign = k32.openProcess(10, { access: PROCESS_JOB_ASSIGN });
  assertEquals(fake.handle(control)?.data.access, PROCESS_CONTROL);
  assertEquals(fake.handle(assign)?.data.access, PROCESS_JOB_ASSIGN);
  k32.closeHandle(control);
  k32.closeHandle(assign);
});

Deno.test("kernel32: closing a kill-on-close job kills its processes, and only them", () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 20, sessionId: 0 });
  fake.addProcess({ pid: 21, sessionId: 0 });
  fake.addProcess({ pid: 22, sessionId: 0 }); // never assigned
  const job = k32.createKillOnCloseJob();
  for (const pid of [20, 21]) {
    const process = k32.openProcess(pid, { access: PROCESS_JOB_ASSIGN });
    k32.assignToJob(job, process);
    // Membership is the process's, not the handle's.
    k32.closeHandle(process);
  }
  fake.exitProcess(21, 4); // ended on its own meanwhile
  assertEquals([...fake.job(job)!.members], [20, 21]);
  assertEquals(fake.processes.get(20)!.exitCode, undefined);
  k32.closeHandle(job);
  assertEquals(fake.job(job)!.killed, [20]);
  assertEquals(fake.processes.get(20)!.exitCode, JOB_KILL_EXIT_CODE);
  assertEquals(fake.processes.get(21)!.exitCode, 4);
  assertEquals(fake.processes.get(22)!.exitCode, undefined);
  fake.assertAllClosed();
});

Deno.test("kernel32: when this process ends, Windows closes its job handle and the job's processes die", () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 30, sessionId: 0 });
  const job = k32.createKillOnCloseJob();
  const process = k32.openProcess(30, { access: PROCESS_JOB_ASSIGN });
  k32.assignToJob(job, process);
  k32.closeHandle(process);
  // Never closed by the program: a crash.
  assertEquals(fake.endThisProcess(), [30]);
  assertEquals(fake.processes.get(30)!.exitCode, JOB_KILL_EXIT_CODE);
});

Deno.test("kernel32: a job without KILL_ON_JOB_CLOSE leaves its processes running (fake fidelity)", () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 31, sessionId: 0 });
  const job = fake.symbols.CreateJobObjectW(null, null);
  const process = k32.openProcess(31, { access: PROCESS_JOB_ASSIGN });
  k32.assignToJob(job, process);
  k32.closeHandle(process);
  k32.closeHandle(job);
  assertEquals(fake.processes.get(31)!.exitCode, undefined);
});

Deno.test("kernel32: assignToJob needs PROCESS_SET_QUOTA | PROCESS_TERMINATE, a live process, a job", () => {
  const { fake, k32 } = setup();
  fake.addProcess({ pid: 40, sessionId: 0 });
  fake.addProcess({ pid: 41, sessionId: 0 });
  const job = k32.createKillOnCloseJob();
  // PROCESS_CONTROL has PROCESS_TERMINATE but not PROCESS_SET_QUOTA.
  const control = k32.openProcess(40);
  assertThrows(
    () => k32.assignToJob(job, control),
    Win32Error,
    /AssignProcessToJobObject failed: ERROR_ACCESS_DENIED \(5\)/,
  );
  const ended = k32.openProcess(41, { access: PROCESS_JOB_ASSIGN });
  fake.exitProcess(41, 0);
  assertThrows(
    () => k32.assignToJob(job, ended),
    Win32Error,
    /AssignProcessToJobObject failed: ERROR_ACCESS_DENIED/,
  );
  const assign = k32.openProcess(40, { access: PROCESS_JOB_ASSIGN });
  assertThrows(
    () => k32.assignToJob(assign, assign),
    Win32Error,
    /AssignProcessToJobObject failed: ERROR_INVALID_HANDLE \(6\)/,
  );
  k32.closeHandle(job);
  assertThrows(
    () => k32.assignToJob(job, assign),
    Win32Error,
    /ERROR_INVALID_HANDLE/,
  );
  assertEquals(fake.job(job)!.members.size, 0);
  for (const h of [control, ended, assign]) k32.closeHandle(h);
  fake.assertAllClosed();
});
