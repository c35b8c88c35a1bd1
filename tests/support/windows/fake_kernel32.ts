/**
 * A fake kernel32 for the Windows binding tests, and the pieces every fake
 * DLL shares: {@linkcode FakeHeap} (memory a fake hands out, with the one
 * function allowed to free it, checked exactly-once), buffer helpers for
 * out-parameters, and {@linkcode FakeKernel32} with a settable last-error
 * value and a handle table other fakes put their objects in (tokens,
 * processes, services…), and job objects that kill their processes when
 * their handle is closed (`JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE`).
 *
 * Fakes implement the same C contract as the DLL over real memory: `buffer`
 * arguments arrive as the caller's `Uint8Array`, pointers as
 * `Deno.PointerValue`, and memory handed out is a live `Uint8Array` whose
 * address is written where the caller reads it.
 *
 * ## Last error and `nonblocking`
 *
 * A synchronous fake failure sets {@linkcode FakeKernel32.lastError} (what
 * `GetLastError` returns next). A `nonblocking` fake failure must NOT touch
 * it: on Windows the code lands on a pool thread, so fakes record it with
 * {@linkcode FakeKernel32.failOffThread} in `poolLastError`, where no
 * wrapper can read it.
 *
 * @module
 */
import type { Kernel32Symbols } from "../../../ffi/windows/kernel32.ts";
import {
  JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
  PROCESS_SET_QUOTA,
  PROCESS_TERMINATE,
  STILL_ACTIVE,
  WAIT_FAILED,
  WAIT_OBJECT_0,
  WAIT_TIMEOUT,
} from "../../../ffi/windows/kernel32.ts";
import { readWide } from "../../../ffi/windows/strings.ts";
import {
  addressOf,
  addressOfPointer,
  pointerAt,
} from "../../../ffi/windows/struct.ts";

/** `ERROR_INVALID_HANDLE`. */
export const ERROR_INVALID_HANDLE = 6;
/** `ERROR_ACCESS_DENIED`. */
export const ERROR_ACCESS_DENIED = 5;
/** `ERROR_INVALID_PARAMETER`. */
export const ERROR_INVALID_PARAMETER = 87;
/** `INFINITE` for waits. */
export const INFINITE = 0xffffffff;
/** The address `GetCurrentProcess()` returns: the pseudo-handle `(HANDLE)-1`. */
export const CURRENT_PROCESS_PSEUDO_HANDLE = 0xffffffffffffffffn;

/** `ERROR_BAD_LENGTH`: an information block of the wrong size. */
export const ERROR_BAD_LENGTH = 24;
/** `JobObjectExtendedLimitInformation`, written out independently of the binding. */
const EXTENDED_LIMIT_CLASS = 9;
/** `sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION)` on x64 (winnt.h). */
const EXTENDED_LIMIT_SIZE = 144;
/** Offset of `BasicLimitInformation.LimitFlags` in it. */
const LIMIT_FLAGS_OFFSET = 16;
/** `JOB_OBJECT_EXTENDED_LIMIT_VALID_FLAGS` (winnt.h). */
const EXTENDED_LIMIT_VALID_FLAGS = 0x00003fff;
/**
 * The exit code the fake gives processes a closing job kills (the code
 * Windows uses is not part of any contract webstream relies on).
 */
export const JOB_KILL_EXIT_CODE = 0;

/** `ERROR_NOT_LOCKED`: GlobalUnlock of a block not locked. */
export const ERROR_NOT_LOCKED = 158;
/** `ERROR_DISCARDED`: GlobalLock of a discarded (zero-size moveable) block. */
export const ERROR_DISCARDED = 157;

/** What a fake receives for a `buffer` parameter. */
export type BufferArg = Deno.ToNativeType<"buffer">;

/** The bytes of a `buffer` argument (a fake receives the caller's own view). */
export function bufferBytes(buffer: BufferArg): Uint8Array {
  if (buffer === null) {
    throw new TypeError("fake: NULL where a buffer is required");
  }
  if (buffer instanceof Uint8Array) return buffer;
  if (ArrayBuffer.isView(buffer)) {
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  }
  return new Uint8Array(buffer);
}

/** The string of an `LPCWSTR` passed as a `buffer` argument (up to its NUL or end). */
export function readWideArg(buffer: BufferArg): string {
  const b = bufferBytes(buffer);
  return readWide(pointerAt(addressOf(b)), { maxUnits: b.byteLength >> 1 });
}

/** Writes a `DWORD` at `offset` of a `buffer` argument (a `DWORD*` out-parameter). */
export function writeU32(
  buffer: BufferArg,
  value: number,
  options: { offset?: number } = {},
): void {
  const b = bufferBytes(buffer);
  new DataView(b.buffer, b.byteOffset, b.byteLength).setUint32(
    options.offset ?? 0,
    value,
    true,
  );
}

/** Reads a `DWORD` at `offset` of a `buffer` argument (an in/out `DWORD*`). */
export function readU32(
  buffer: BufferArg,
  options: { offset?: number } = {},
): number {
  const b = bufferBytes(buffer);
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(
    options.offset ?? 0,
    true,
  );
}

/** Writes a pointer (an address) into a `T**` / `HANDLE*` out-parameter. */
export function writeAddress(
  buffer: BufferArg,
  address: bigint,
  options: { offset?: number } = {},
): void {
  const b = bufferBytes(buffer);
  if (b.byteLength < (options.offset ?? 0) + 8) {
    throw new RangeError("fake: pointer out-parameter shorter than 8 bytes");
  }
  new DataView(b.buffer, b.byteOffset, b.byteLength).setBigUint64(
    options.offset ?? 0,
    address,
    true,
  );
}

/**
 * Lets the event loop turn once: a `nonblocking` call finishes later, on
 * another thread. Under `--v8-flags=--expose-gc` it also collects garbage
 * first, so a wrapper that let go of a buffer the call still reads is
 * caught.
 */
export async function offThread(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
  (globalThis as { gc?: () => void }).gc?.();
}

/** One block a fake handed out. */
export interface FakeAllocation {
  /** The memory (kept referenced so its address stays valid). */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** Its address. */
  readonly address: bigint;
  /** What it was for (the function that allocated it), for messages. */
  readonly what: string;
  /** How many times it was freed. */
  frees: number;
}

/**
 * Memory a fake DLL hands to its caller, which must be released with one
 * particular function (`LocalFree`, `WTSFreeMemory`, `NetApiBufferFree`…)
 * exactly once. Freeing anything else, or twice, throws at once (on Windows
 * it would corrupt the heap); {@linkcode FakeHeap.assertAllFreed} reports
 * leaks.
 */
export class FakeHeap {
  /** The function that frees this heap's blocks. */
  readonly freeFunction: string;
  readonly #blocks = new Map<bigint, FakeAllocation>();

  /** A heap whose blocks `freeFunction` releases. */
  constructor(freeFunction: string) {
    this.freeFunction = freeFunction;
  }

  /** Allocates `size` zeroed bytes (or a copy of `init`) for `what`. */
  alloc(size: number | Uint8Array, what: string): FakeAllocation {
    const bytes = typeof size === "number"
      ? new Uint8Array(Math.max(1, size))
      : Uint8Array.from(size.byteLength ? size : [0]);
    const block: FakeAllocation = {
      bytes,
      address: addressOf(bytes),
      what,
      frees: 0,
    };
    this.#blocks.set(block.address, block);
    return block;
  }

  /** The live block at `pointer`, if any. */
  find(pointer: Deno.PointerValue): FakeAllocation | undefined {
    const block = this.#blocks.get(addressOfPointer(pointer));
    return block && block.frees === 0 ? block : undefined;
  }

  /** Frees the block at `pointer`; throws for a foreign or already freed one. */
  free(pointer: Deno.PointerValue): void {
    const address = addressOfPointer(pointer);
    const block = this.#blocks.get(address);
    if (!block) {
      throw new Error(
        `${this.freeFunction}(0x${
          address.toString(16)
        }): not memory this fake handed out`,
      );
    }
    if (block.frees > 0) {
      throw new Error(
        `${this.freeFunction}: ${block.what}'s block freed twice`,
      );
    }
    block.frees++;
    block.bytes.fill(0xdd); // poison: a read after free shows up
  }

  /** Blocks not freed yet. */
  outstanding(): FakeAllocation[] {
    return [...this.#blocks.values()].filter((b) => b.frees === 0);
  }

  /** Every block ever handed out. */
  all(): FakeAllocation[] {
    return [...this.#blocks.values()];
  }

  /** Throws unless every block was freed (exactly once: double frees throw earlier). */
  assertAllFreed(): void {
    const leaked = this.outstanding();
    if (leaked.length) {
      throw new Error(
        `${leaked.length} block(s) not freed with ${this.freeFunction}: ${
          leaked.map((b) => b.what).join(", ")
        }`,
      );
    }
  }
}

/**
 * A `GlobalAlloc` block of the fake. `GMEM_MOVEABLE` blocks have a handle
 * of their own that `GlobalLock` maps to the memory (counting locks);
 * fixed ones are their own address. Whoever owns a block frees it: the
 * application with `GlobalFree`, or the system once `SetClipboardData`
 * took it (then a `GlobalFree` by the application is a bug, and throws).
 */
export interface FakeGlobal {
  /** The `HGLOBAL` value. */
  readonly handle: bigint;
  /** The memory (kept referenced so its address stays valid). */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** `GMEM_MOVEABLE`. */
  readonly moveable: boolean;
  /** A zero-size moveable block: discarded (`GlobalLock` fails). */
  readonly discarded: boolean;
  /** What allocated it, for messages. */
  readonly what: string;
  /** The lock count of a moveable block. */
  locks: number;
  /** Who frees it. */
  owner: "app" | "system";
  /** Freed already. */
  freed: boolean;
}

/** An object in the fake handle table. */
export interface FakeHandle {
  /** The handle value. */
  readonly address: bigint;
  /** What it is: "process", "token", "service"… */
  readonly kind: string;
  /** Whatever the creating fake attaches (a token's user and session…). */
  readonly data: Record<string, unknown>;
  /** Whether CloseHandle was called on it. */
  closed: boolean;
}

/** A process the fake knows. */
export interface FakeProcess {
  /** Its id. */
  pid: number;
  /** Its Remote Desktop Services session. */
  sessionId: number;
  /** Its exit code once it ended; undefined while it runs. */
  exitCode?: number;
  /** OpenProcess fails with ERROR_ACCESS_DENIED (a protected process). */
  accessDenied?: boolean;
}

/** A job object of the fake (the `data` of its `"job"` handle). */
export interface FakeJob {
  /** `BasicLimitInformation.LimitFlags` as last set. */
  limitFlags: number;
  /** Pids ever assigned (ended ones included). */
  readonly members: Set<number>;
  /** Pids terminated because the job's handle was closed. */
  readonly killed: number[];
}

/**
 * A fake kernel32: `symbols` implements {@linkcode Kernel32Symbols}. Other
 * fakes share one instance: they set `lastError` on synchronous failures,
 * put handles in its table with {@linkcode FakeKernel32.createHandle}, and
 * allocate `LocalAlloc` memory from {@linkcode FakeKernel32.localHeap}.
 */
export class FakeKernel32 {
  /** What `GetLastError` returns on the event-loop thread. */
  lastError = 0;
  /**
   * When set, what `GetLastError` returns instead of `lastError`: the value
   * left by whatever ran on the thread between the failed call and the
   * read (Deno does not capture the last error after an FFI call, so the
   * runtime may overwrite it). Wrappers must not base decisions on it.
   */
  overwrittenLastError: number | undefined;
  /** The last error of the (fake) pool thread a `nonblocking` call ran on. */
  poolLastError = 0;
  /** How many times `GetLastError` was called. */
  getLastErrorCalls = 0;
  /** Memory released by `LocalFree`. */
  readonly localHeap: FakeHeap = new FakeHeap("LocalFree");
  /** Processes by id. */
  readonly processes: Map<number, FakeProcess> = new Map();
  /** The calling process's id. */
  currentProcessId = 4242;
  /** This process's environment, for `ExpandEnvironmentStringsW`. */
  readonly environment: Map<string, string> = new Map([
    ["SystemDrive", "C:"],
    ["SystemRoot", "C:\\Windows"],
    ["ProgramData", "C:\\ProgramData"],
  ]);
  /** Every `WaitForSingleObject` timeout passed, in order. */
  readonly waits: number[] = [];
  /** Misuses of global memory seen (they also throw at once). */
  readonly globalViolations: string[] = [];
  /** The raw functions, as the wrapper sees them. */
  readonly symbols: Kernel32Symbols;

  readonly #handles = new Map<bigint, FakeHandle>();
  #nextHandle = 0x100n;
  readonly #waiters = new Map<number, Array<() => void>>();
  readonly #globals = new Map<bigint, FakeGlobal>();
  // Far from the other fake handle ranges, and 16-aligned like real ones.
  #nextGlobal = 0x5_0000_0010n;

  constructor() {
    this.symbols = this.#makeSymbols();
  }

  /** Sets the last error as a failed synchronous call does; returns 0 (FALSE). */
  fail(code: number): 0 {
    this.lastError = code;
    return 0;
  }

  /** Records a failed `nonblocking` call's error off the event-loop thread; returns 0. */
  failOffThread(code: number): 0 {
    this.poolLastError = code;
    return 0;
  }

  /** Puts an object in the handle table and returns its new handle. */
  createHandle(
    kind: string,
    data: Record<string, unknown> = {},
  ): Deno.PointerValue {
    const address = this.#nextHandle;
    this.#nextHandle += 4n; // real handles are multiples of 4
    this.#handles.set(address, { address, kind, data, closed: false });
    return pointerAt(address);
  }

  /** The open handle `pointer` names (optionally of `kind`), if any. */
  handle(pointer: Deno.PointerValue, kind?: string): FakeHandle | undefined {
    const h = this.#handles.get(addressOfPointer(pointer));
    if (!h || h.closed || (kind !== undefined && h.kind !== kind)) {
      return undefined;
    }
    return h;
  }

  /** Every handle ever created (of `kind`), closed ones included. */
  handles(kind?: string): FakeHandle[] {
    return [...this.#handles.values()].filter((h) =>
      kind === undefined || h.kind === kind
    );
  }

  /** Throws unless every handle (of `kind`) was closed. */
  assertAllClosed(kind?: string): void {
    const open = this.handles(kind).filter((h) => !h.closed);
    if (open.length) {
      throw new Error(
        `${open.length} handle(s) not closed: ${
          open.map((h) => `${h.kind}@0x${h.address.toString(16)}`).join(", ")
        }`,
      );
    }
  }

  /** Allocates a global block as `GlobalAlloc(flags, size)` does. */
  allocGlobal(
    size: number,
    options: { moveable?: boolean; what?: string; owner?: "app" | "system" } =
      {},
  ): FakeGlobal {
    const moveable = options.moveable ?? true;
    const bytes = new Uint8Array(Math.max(1, size));
    const handle = moveable ? this.#nextGlobal : addressOf(bytes);
    if (moveable) this.#nextGlobal += 16n;
    const block: FakeGlobal = {
      handle,
      bytes: size === 0 && moveable ? new Uint8Array(0) : bytes,
      moveable,
      discarded: size === 0 && moveable,
      what: options.what ?? "GlobalAlloc",
      locks: 0,
      owner: options.owner ?? "app",
      freed: false,
    };
    this.#globals.set(handle, block);
    return block;
  }

  /** The live (not freed) global block `pointer` names, if any. */
  global(pointer: Deno.PointerValue): FakeGlobal | undefined {
    if (pointer === null) return undefined;
    const block = this.#globals.get(addressOfPointer(pointer));
    return block && !block.freed ? block : undefined;
  }

  /** Every global block ever allocated. */
  globals(): FakeGlobal[] {
    return [...this.#globals.values()];
  }

  /** The system frees a block it owns (the clipboard was emptied). */
  systemFreeGlobal(handle: bigint): void {
    const block = this.#globals.get(handle);
    if (!block || block.freed || block.owner !== "system") {
      throw new Error(
        `fake: the system frees 0x${handle.toString(16)}, not its block`,
      );
    }
    block.freed = true;
    block.bytes.fill(0xdd); // poison: a read after free shows up
  }

  /** Throws unless every block the application owns was freed. */
  assertGlobalsFreed(): void {
    const leaked = this.globals().filter((b) => b.owner === "app" && !b.freed);
    if (leaked.length) {
      throw new Error(
        `${leaked.length} global block(s) not freed: ${
          leaked.map((b) => b.what).join(", ")
        }`,
      );
    }
  }

  #globalViolation(message: string): never {
    this.globalViolations.push(message);
    throw new Error(`fake: ${message}`);
  }

  /** Adds a running process. */
  addProcess(process: FakeProcess): FakeProcess {
    this.processes.set(process.pid, process);
    return process;
  }

  /** The job behind a `"job"` handle (closed ones included), if any. */
  job(pointer: Deno.PointerValue): FakeJob | undefined {
    const h = this.#handles.get(addressOfPointer(pointer));
    return h?.kind === "job" ? h.data as unknown as FakeJob : undefined;
  }

  /**
   * This process ends (a crash included): Windows closes every handle it
   * held, so each kill-on-close job kills its processes. Returns the pids
   * killed.
   */
  endThisProcess(): number[] {
    const killed: number[] = [];
    for (const h of this.handles()) {
      if (h.closed) continue;
      h.closed = true;
      if (h.kind === "job") killed.push(...this.#jobClosed(h));
    }
    return killed;
  }

  #jobClosed(h: FakeHandle): number[] {
    const job = h.data as unknown as FakeJob;
    if (!(job.limitFlags & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE)) return [];
    const killed: number[] = [];
    for (const pid of job.members) {
      const p = this.processes.get(pid);
      if (p && p.exitCode === undefined) {
        this.exitProcess(pid, JOB_KILL_EXIT_CODE);
        killed.push(pid);
      }
    }
    job.killed.push(...killed);
    return killed;
  }

  /** Ends a process: sets its exit code and signals its waiters. */
  exitProcess(pid: number, exitCode: number): void {
    const p = this.processes.get(pid);
    if (!p) throw new Error(`fake: no process ${pid}`);
    p.exitCode = exitCode;
    for (const wake of this.#waiters.get(pid) ?? []) wake();
    this.#waiters.delete(pid);
  }

  /** `%NAME%` replaced when NAME is set (case-insensitively), else kept. */
  #expand(text: string): string {
    let out = "";
    let i = 0;
    while (i < text.length) {
      const start = text.indexOf("%", i);
      const end = start < 0 ? -1 : text.indexOf("%", start + 1);
      if (end < 0) return out + text.slice(i);
      out += text.slice(i, start);
      const name = text.slice(start + 1, end).toLowerCase();
      const value = [...this.environment].find(([n]) =>
        n.toLowerCase() === name
      )?.[1];
      if (value === undefined) {
        // Not a variable: keep the first % and look again from the second.
        out += text.slice(start, end);
        i = end;
      } else {
        out += value;
        i = end + 1;
      }
    }
    return out;
  }

  #processOf(handle: Deno.PointerValue): FakeProcess | undefined {
    const h = this.handle(handle, "process");
    return h ? this.processes.get(h.data.pid as number) : undefined;
  }

  #makeSymbols(): Kernel32Symbols {
    return {
      GetLastError: () => {
        this.getLastErrorCalls++;
        return this.overwrittenLastError ?? this.lastError;
      },
      CloseHandle: (handle) => {
        if (addressOfPointer(handle) === CURRENT_PROCESS_PSEUDO_HANDLE) {
          return 1; // closing the pseudo-handle is a no-op
        }
        const h = this.handle(handle);
        if (!h) return this.fail(ERROR_INVALID_HANDLE);
        h.closed = true;
        // The fake never duplicates handles: this was the job's last one.
        if (h.kind === "job") this.#jobClosed(h);
        return 1;
      },
      LocalFree: (pointer) => {
        if (pointer === null) return null;
        this.localHeap.free(pointer);
        return null;
      },
      OpenProcess: (access, _inherit, pid) => {
        const p = this.processes.get(pid);
        if (!p) {
          this.fail(ERROR_INVALID_PARAMETER);
          return null;
        }
        if (p.accessDenied) {
          this.fail(ERROR_ACCESS_DENIED);
          return null;
        }
        return this.createHandle("process", { pid, access });
      },
      TerminateProcess: (handle, exitCode) => {
        const p = this.#processOf(handle);
        if (!p) return this.fail(ERROR_INVALID_HANDLE);
        // Terminating a process that already ended is refused.
        if (p.exitCode !== undefined) return this.fail(ERROR_ACCESS_DENIED);
        this.exitProcess(p.pid, exitCode);
        return 1;
      },
      GetExitCodeProcess: (handle, out) => {
        const p = this.#processOf(handle);
        if (!p) return this.fail(ERROR_INVALID_HANDLE);
        writeU32(out, p.exitCode ?? STILL_ACTIVE);
        return 1;
      },
      WaitForSingleObject: async (handle, timeout) => {
        this.waits.push(timeout);
        await offThread();
        const p = this.#processOf(handle);
        if (!p) {
          this.failOffThread(ERROR_INVALID_HANDLE);
          return WAIT_FAILED;
        }
        if (p.exitCode !== undefined) return WAIT_OBJECT_0;
        // Fake time: a finite timeout elapses at once.
        if (timeout !== INFINITE) return WAIT_TIMEOUT;
        await new Promise<void>((resolve) => {
          const list = this.#waiters.get(p.pid) ?? [];
          list.push(resolve);
          this.#waiters.set(p.pid, list);
        });
        return WAIT_OBJECT_0;
      },
      ProcessIdToSessionId: (pid, out) => {
        const p = this.processes.get(pid);
        if (!p) return this.fail(ERROR_INVALID_PARAMETER);
        writeU32(out, p.sessionId);
        return 1;
      },
      GlobalAlloc: (flags, size) => {
        const block = this.allocGlobal(Number(size), {
          moveable: (flags & 0x0002) !== 0,
        });
        return pointerAt(block.handle);
      },
      GlobalLock: (handle) => {
        const block = this.global(handle);
        if (!block) {
          this.fail(ERROR_INVALID_HANDLE);
          return null;
        }
        if (block.discarded) {
          this.fail(ERROR_DISCARDED);
          return null;
        }
        if (block.moveable) block.locks++;
        return pointerAt(addressOf(block.bytes));
      },
      GlobalUnlock: (handle) => {
        const block = this.global(handle);
        if (!block) return this.fail(ERROR_INVALID_HANDLE);
        if (!block.moveable || block.locks === 0) {
          return this.fail(ERROR_NOT_LOCKED);
        }
        block.locks--;
        if (block.locks > 0) return 1;
        // Unlocked: 0, and the last error says NO_ERROR.
        this.lastError = 0;
        return 0;
      },
      GlobalFree: (handle) => {
        if (handle === null) return null;
        const block = this.#globals.get(addressOfPointer(handle));
        if (!block) {
          this.fail(ERROR_INVALID_HANDLE);
          return handle;
        }
        if (block.freed) {
          this.#globalViolation(
            `GlobalFree: ${block.what}'s block freed twice`,
          );
        }
        if (block.owner === "system") {
          this.#globalViolation(
            `GlobalFree of ${block.what}'s block, which the system owns since SetClipboardData`,
          );
        }
        block.freed = true;
        block.bytes.fill(0xdd);
        return null;
      },
      GlobalSize: (handle) => {
        const block = this.global(handle);
        if (!block) {
          this.fail(ERROR_INVALID_HANDLE);
          return 0n;
        }
        return BigInt(block.discarded ? 0 : block.bytes.byteLength);
      },
      CreateJobObjectW: (attributes, name) => {
        // webstream creates anonymous, non-inheritable jobs only.
        if (attributes !== null || name !== null) {
          throw new Error("fake: CreateJobObjectW wants NULL, NULL");
        }
        const job: FakeJob = { limitFlags: 0, members: new Set(), killed: [] };
        return this.createHandle(
          "job",
          job as unknown as Record<string, unknown>,
        );
      },
      SetInformationJobObject: (handle, infoClass, info, length) => {
        const job = this.handle(handle, "job");
        if (!job) return this.fail(ERROR_INVALID_HANDLE);
        if (infoClass !== EXTENDED_LIMIT_CLASS) {
          return this.fail(ERROR_INVALID_PARAMETER);
        }
        const bytes = bufferBytes(info);
        if (length !== EXTENDED_LIMIT_SIZE || bytes.byteLength < length) {
          return this.fail(ERROR_BAD_LENGTH);
        }
        const flags = readU32(bytes, { offset: LIMIT_FLAGS_OFFSET });
        if (flags & ~EXTENDED_LIMIT_VALID_FLAGS) {
          return this.fail(ERROR_INVALID_PARAMETER);
        }
        (job.data as unknown as FakeJob).limitFlags = flags;
        return 1;
      },
      AssignProcessToJobObject: (jobHandle, processHandle) => {
        const job = this.handle(jobHandle, "job");
        const h = this.handle(processHandle, "process");
        if (!job || !h) return this.fail(ERROR_INVALID_HANDLE);
        // Handles made by CreateProcess* carry every right (no `access`).
        const access = (h.data.access as number | undefined) ??
          0x001fffff;
        const needed = PROCESS_SET_QUOTA | PROCESS_TERMINATE;
        if ((access & needed) !== needed) return this.fail(ERROR_ACCESS_DENIED);
        const p = this.processes.get(h.data.pid as number);
        // A process that has ended cannot join a job.
        if (!p || p.exitCode !== undefined) {
          return this.fail(ERROR_ACCESS_DENIED);
        }
        (job.data as unknown as FakeJob).members.add(p.pid);
        return 1;
      },
      GetCurrentProcess: () => pointerAt(CURRENT_PROCESS_PSEUDO_HANDLE),
      GetCurrentProcessId: () => this.currentProcessId,
      ExpandEnvironmentStringsW: (source, destination, size) => {
        if (source === null) return this.fail(ERROR_INVALID_PARAMETER);
        const expanded = this.#expand(readWideArg(source));
        const needed = expanded.length + 1;
        if (destination === null) {
          if (size !== 0) return this.fail(ERROR_INVALID_PARAMETER);
          return needed;
        }
        const out = bufferBytes(destination);
        if (size * 2 > out.byteLength) {
          throw new Error(
            `fake: nSize ${size} characters, the buffer holds ${
              out.byteLength >> 1
            }`,
          );
        }
        const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
        // Too small: what fits is written, unterminated; the size needed returned.
        const units = Math.min(expanded.length, size);
        for (let i = 0; i < units; i++) {
          dv.setUint16(i * 2, expanded.charCodeAt(i), true);
        }
        if (needed > size) return needed;
        dv.setUint16(expanded.length * 2, 0, true);
        return needed;
      },
    };
  }
}
