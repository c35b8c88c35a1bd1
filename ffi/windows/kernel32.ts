/**
 * kernel32: the last-error value, handles, local and global memory,
 * processes, and job objects.
 *
 * Every binding module in `ffi/windows/` follows the same shape: a
 * `…_SYMBOLS` table (exported, so tests can check parameter types and
 * which calls are `nonblocking`), a `…Symbols` type for the raw functions,
 * an `open…()` that `Deno.dlopen`s the DLL (Windows only), and typed
 * wrappers that take the raw functions — the real DLL's or, in tests, a fake
 * that implements the same C contract over real memory.
 *
 * @module
 */
import { Win32Error } from "./errors.ts";
import { fromWide, wide } from "./strings.ts";
import { defineStruct, viewOf, writeField } from "./struct.ts";

/** kernel32's symbols used by webstream. */
export const KERNEL32_SYMBOLS = {
  GetLastError: { parameters: [], result: "u32" },
  CloseHandle: { parameters: ["pointer"], result: "i32" },
  LocalFree: { parameters: ["pointer"], result: "pointer" },
  OpenProcess: { parameters: ["u32", "i32", "u32"], result: "pointer" },
  TerminateProcess: { parameters: ["pointer", "u32"], result: "i32" },
  GetExitCodeProcess: { parameters: ["pointer", "buffer"], result: "i32" },
  // Waits: blocks for up to its timeout.
  WaitForSingleObject: {
    parameters: ["pointer", "u32"],
    result: "u32",
    nonblocking: true,
  },
  ProcessIdToSessionId: { parameters: ["u32", "buffer"], result: "i32" },
  GetCurrentProcess: { parameters: [], result: "pointer" },
  GetCurrentProcessId: { parameters: [], result: "u32" },
  // (LPCWSTR lpSrc, LPWSTR lpDst, DWORD nSize) -> DWORD characters.
  ExpandEnvironmentStringsW: {
    parameters: ["buffer", "buffer", "u32"],
    result: "u32",
  },
  // Global memory, for clipboard data: (UINT uFlags, SIZE_T dwBytes) -> HGLOBAL.
  GlobalAlloc: { parameters: ["u32", "usize"], result: "pointer" },
  GlobalLock: { parameters: ["pointer"], result: "pointer" },
  GlobalUnlock: { parameters: ["pointer"], result: "i32" },
  // NULL on success, the handle itself on failure.
  GlobalFree: { parameters: ["pointer"], result: "pointer" },
  GlobalSize: { parameters: ["pointer"], result: "usize" },
  // Job objects (jobapi2.h). All three return at once.
  // (LPSECURITY_ATTRIBUTES, LPCWSTR lpName) -> HANDLE; both NULL here.
  CreateJobObjectW: { parameters: ["pointer", "pointer"], result: "pointer" },
  // (HANDLE hJob, JOBOBJECTINFOCLASS, LPVOID info, DWORD length) -> BOOL.
  SetInformationJobObject: {
    parameters: ["pointer", "i32", "buffer", "u32"],
    result: "i32",
  },
  // (HANDLE hJob, HANDLE hProcess) -> BOOL.
  AssignProcessToJobObject: {
    parameters: ["pointer", "pointer"],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw kernel32 functions. */
export type Kernel32Symbols = Deno.DynamicLibrary<
  typeof KERNEL32_SYMBOLS
>["symbols"];

/** `WAIT_OBJECT_0`: the object was signalled. */
export const WAIT_OBJECT_0 = 0;
/** `WAIT_TIMEOUT`. */
export const WAIT_TIMEOUT = 258;
/** `WAIT_FAILED`. */
export const WAIT_FAILED = 0xffffffff;
/** `STILL_ACTIVE`: a running process's exit code. */
export const STILL_ACTIVE = 259;
/** Longest string ExpandEnvironmentStringsW returns, its NUL included. */
export const MAX_EXPANDED_CHARS = 32767;
/** `PROCESS_TERMINATE` (winnt.h). */
export const PROCESS_TERMINATE = 0x0001;
/** `PROCESS_SET_QUOTA` (winnt.h). */
export const PROCESS_SET_QUOTA = 0x0100;
/** `PROCESS_TERMINATE | PROCESS_QUERY_LIMITED_INFORMATION | SYNCHRONIZE`. */
export const PROCESS_CONTROL = 0x0001 | 0x1000 | 0x00100000;
/**
 * The rights `AssignProcessToJobObject` needs on the process handle:
 * `PROCESS_SET_QUOTA | PROCESS_TERMINATE`.
 */
export const PROCESS_JOB_ASSIGN = PROCESS_SET_QUOTA | PROCESS_TERMINATE;

/**
 * `JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE` (winnt.h): every process in the job
 * is terminated when the job's last handle is closed.
 */
export const JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000;
/**
 * `JobObjectExtendedLimitInformation` (winnt.h `JOBOBJECTINFOCLASS`): the
 * information is a `JOBOBJECT_EXTENDED_LIMIT_INFORMATION`.
 */
export const JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9;

/** `IO_COUNTERS` (winnt.h): six ULONGLONG counters, 48 bytes. */
export const IO_COUNTERS = defineStruct({
  ReadOperationCount: "u64",
  WriteOperationCount: "u64",
  OtherOperationCount: "u64",
  ReadTransferCount: "u64",
  WriteTransferCount: "u64",
  OtherTransferCount: "u64",
});

/**
 * `JOBOBJECT_BASIC_LIMIT_INFORMATION` (winnt.h): 64 bytes on x64,
 * `LimitFlags` at 16 (after two LARGE_INTEGER time limits).
 */
export const JOBOBJECT_BASIC_LIMIT_INFORMATION = defineStruct({
  PerProcessUserTimeLimit: "i64",
  PerJobUserTimeLimit: "i64",
  LimitFlags: "u32",
  MinimumWorkingSetSize: "u64", // SIZE_T
  MaximumWorkingSetSize: "u64", // SIZE_T
  ActiveProcessLimit: "u32",
  Affinity: "u64", // ULONG_PTR
  PriorityClass: "u32",
  SchedulingClass: "u32",
});

/** `JOBOBJECT_EXTENDED_LIMIT_INFORMATION` (winnt.h): 144 bytes on x64. */
export const JOBOBJECT_EXTENDED_LIMIT_INFORMATION = defineStruct({
  BasicLimitInformation: JOBOBJECT_BASIC_LIMIT_INFORMATION,
  IoInfo: IO_COUNTERS,
  ProcessMemoryLimit: "u64", // SIZE_T
  JobMemoryLimit: "u64",
  PeakProcessMemoryUsed: "u64",
  PeakJobMemoryUsed: "u64",
});

/** `GMEM_MOVEABLE` (winbase.h): a handle, not a pointer; `GlobalLock` maps it. */
export const GMEM_MOVEABLE = 0x0002;
/** `GMEM_ZEROINIT` (winbase.h). */
export const GMEM_ZEROINIT = 0x0040;

/** Opens kernel32.dll (Windows only). */
export function openKernel32(): Kernel32Symbols {
  return Deno.dlopen("kernel32.dll", KERNEL32_SYMBOLS).symbols;
}

/**
 * Typed kernel32 calls. `fail(fn)` builds the error for a synchronous call
 * that failed, reading `GetLastError` at once on the same thread.
 */
export class Kernel32 {
  readonly #k: Kernel32Symbols;

  /** Wraps raw kernel32 functions. */
  constructor(symbols: Kernel32Symbols) {
    this.#k = symbols;
  }

  /** The error for a failed synchronous call, with its last-error code. */
  fail(fn: string): Win32Error {
    return new Win32Error(fn, this.#k.GetLastError());
  }

  /** Closes a handle (null is ignored). */
  closeHandle(handle: Deno.PointerValue): void {
    if (handle === null) return;
    if (!this.#k.CloseHandle(handle)) throw this.fail("CloseHandle");
  }

  /** Frees memory the system allocated with LocalAlloc (null is ignored). */
  localFree(pointer: Deno.PointerValue): void {
    if (pointer !== null) this.#k.LocalFree(pointer);
  }

  /**
   * Opens a process (not inheritable) with `access`: by default
   * {@linkcode PROCESS_CONTROL}, to wait for, query and terminate it;
   * {@linkcode PROCESS_JOB_ASSIGN} to put it in a job.
   */
  openProcess(
    pid: number,
    options: { access?: number } = {},
  ): Deno.PointerValue {
    const handle = this.#k.OpenProcess(
      options.access ?? PROCESS_CONTROL,
      0,
      pid,
    );
    if (handle === null) throw this.fail("OpenProcess");
    return handle;
  }

  /**
   * A new anonymous job object whose processes are all terminated when its
   * last handle is closed — explicitly, or by Windows when this process
   * ends, however it ends. The handle is not inheritable (NULL security
   * attributes), so no child keeps the job alive; close it only to kill
   * the job's processes.
   */
  createKillOnCloseJob(): Deno.PointerValue {
    const job = this.#k.CreateJobObjectW(null, null);
    if (job === null) throw this.fail("CreateJobObjectW");
    const info = new Uint8Array(JOBOBJECT_EXTENDED_LIMIT_INFORMATION.size);
    writeField(viewOf(info), JOBOBJECT_BASIC_LIMIT_INFORMATION, {
      field: "LimitFlags",
      value: JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
      base: JOBOBJECT_EXTENDED_LIMIT_INFORMATION.offsets
        .BasicLimitInformation,
    });
    if (
      !this.#k.SetInformationJobObject(
        job,
        JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
        info,
        info.byteLength,
      )
    ) {
      // Read the code before CloseHandle can overwrite it.
      const error = this.fail("SetInformationJobObject");
      this.#k.CloseHandle(job);
      throw error;
    }
    return job;
  }

  /**
   * Puts a process in a job: from then on it (and every process it starts)
   * lives no longer than the job. `processHandle` needs
   * {@linkcode PROCESS_JOB_ASSIGN}; it may be closed afterwards.
   */
  assignToJob(job: Deno.PointerValue, processHandle: Deno.PointerValue): void {
    if (!this.#k.AssignProcessToJobObject(job, processHandle)) {
      throw this.fail("AssignProcessToJobObject");
    }
  }

  /** Ends a process with `exitCode`. */
  terminateProcess(handle: Deno.PointerValue, exitCode: number): void {
    if (!this.#k.TerminateProcess(handle, exitCode)) {
      throw this.fail("TerminateProcess");
    }
  }

  /**
   * The process's exit code, undefined while it runs. A process that ended
   * with code 259 looks running here: once a wait has seen its handle
   * signalled, read {@linkcode Kernel32.exitCodeRaw} instead.
   */
  exitCode(handle: Deno.PointerValue): number | undefined {
    const code = this.exitCodeRaw(handle);
    return code === STILL_ACTIVE ? undefined : code;
  }

  /**
   * The DWORD GetExitCodeProcess reports, as it is: `STILL_ACTIVE` (259)
   * both for a running process and for one that returned 259. After
   * {@linkcode Kernel32.wait} returned true it is the real exit code.
   */
  exitCodeRaw(handle: Deno.PointerValue): number {
    const out = new Uint8Array(4);
    if (!this.#k.GetExitCodeProcess(handle, out)) {
      throw this.fail("GetExitCodeProcess");
    }
    return new DataView(out.buffer).getUint32(0, true);
  }

  /**
   * Waits up to `timeoutMs` for a handle to be signalled, off the event
   * loop; true when it was, false on timeout.
   */
  async wait(handle: Deno.PointerValue, timeoutMs: number): Promise<boolean> {
    const result = await this.#k.WaitForSingleObject(
      handle,
      Math.max(0, Math.min(0xfffffffe, Math.round(timeoutMs))),
    );
    if (result === WAIT_OBJECT_0) return true;
    if (result === WAIT_TIMEOUT) return false;
    // WAIT_FAILED's code is on the pool thread that waited.
    throw new Win32Error("WaitForSingleObject", undefined);
  }

  /**
   * `text` with each `%NAME%` replaced by this process's environment
   * variable (names compare case-insensitively; unknown ones stay as they
   * are): for REG_EXPAND_SZ data such as `%SystemDrive%\Users\x`.
   */
  expandEnvironment(text: string): string {
    const source = wide(text);
    // Expansion usually lengthens: start with room for that.
    let chars = Math.min(
      MAX_EXPANDED_CHARS,
      Math.max(260, text.length * 2 + 1),
    );
    for (let attempt = 1;; attempt++) {
      const out = new Uint8Array(chars * 2);
      const result = this.#k.ExpandEnvironmentStringsW(source, out, chars);
      if (result === 0) throw this.fail("ExpandEnvironmentStringsW");
      // Success: the characters stored, NUL included; else the size needed.
      if (result <= chars) return fromWide(out);
      if (result > MAX_EXPANDED_CHARS || attempt >= 3) {
        throw new RangeError(
          `ExpandEnvironmentStringsW needs ${result} characters for ${
            JSON.stringify(text)
          }`,
        );
      }
      chars = result;
    }
  }

  /** The Remote Desktop Services session a process runs in. */
  processSessionId(pid: number): number {
    const out = new Uint8Array(4);
    if (!this.#k.ProcessIdToSessionId(pid, out)) {
      throw this.fail("ProcessIdToSessionId");
    }
    return new DataView(out.buffer).getUint32(0, true);
  }

  /**
   * `GlobalAlloc(flags, bytes)`: a global memory block, e.g. for
   * `SetClipboardData` (which wants `GMEM_MOVEABLE`). Free it with
   * {@linkcode Kernel32.globalFree} unless the system took it over.
   */
  globalAlloc(flags: number, bytes: number): Deno.PointerValue {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new RangeError(`GlobalAlloc: bad size ${bytes}`);
    }
    const handle = this.#k.GlobalAlloc(flags, BigInt(bytes));
    if (handle === null) throw this.fail("GlobalAlloc");
    return handle;
  }

  /** Maps a global block to its memory (locks a moveable one once more). */
  globalLock(handle: Deno.PointerValue): Deno.PointerValue {
    const pointer = this.#k.GlobalLock(handle);
    if (pointer === null) throw this.fail("GlobalLock");
    return pointer;
  }

  /**
   * Drops one lock of a global block. Never throws: its failure and "now
   * unlocked" both return 0, told apart only by a last-error value that
   * may be stale by the time it is read (see `errors.ts`), and neither
   * leaves the caller anything to do.
   */
  globalUnlock(handle: Deno.PointerValue): void {
    this.#k.GlobalUnlock(handle);
  }

  /** Frees a global block (null is ignored). */
  globalFree(handle: Deno.PointerValue): void {
    if (handle === null) return;
    if (this.#k.GlobalFree(handle) !== null) throw this.fail("GlobalFree");
  }

  /**
   * The size of a global block in bytes (at least what was asked for); 0
   * for an invalid or discarded one.
   */
  globalSize(handle: Deno.PointerValue): number {
    return Number(this.#k.GlobalSize(handle));
  }
}
