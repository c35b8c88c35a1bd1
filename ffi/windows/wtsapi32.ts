/**
 * wtsapi32: Remote Desktop Services sessions on the local server — listing
 * them, their user and connect state, logging them off or disconnecting
 * them, and the logged-on user's primary token (to start the streamer in
 * the session with CreateProcessAsUserW).
 *
 * Everything the system allocates (`WTSEnumerateSessionsW`'s array,
 * `WTSQuerySessionInformationW`'s buffers) is released with `WTSFreeMemory`
 * once, even when decoding fails. Only `WTSLogoffSession` with `bWait` is
 * `nonblocking` (it waits for the logoff to finish); the other calls are
 * local and quick, so their failures carry `GetLastError`.
 *
 * Layouts and constants are those of `wtsapi32.h` for 64-bit Windows.
 *
 * @module
 */
import type { Kernel32 } from "./kernel32.ts";
import { Win32Error } from "./errors.ts";
import { fromWide, readWide } from "./strings.ts";
import {
  copyFrom,
  defineStruct,
  OutParam,
  pointerAt,
  readStruct,
  viewOf,
} from "./struct.ts";

/** wtsapi32's symbols used by webstream. */
export const WTSAPI32_SYMBOLS = {
  // (hServer, Reserved, Version, PWTS_SESSION_INFOW*, DWORD* pCount) -> BOOL
  WTSEnumerateSessionsW: {
    parameters: ["pointer", "u32", "u32", "buffer", "buffer"],
    result: "i32",
  },
  // (hServer, SessionId, WTS_INFO_CLASS, LPWSTR* ppBuffer, DWORD* pBytesReturned)
  WTSQuerySessionInformationW: {
    parameters: ["pointer", "u32", "u32", "buffer", "buffer"],
    result: "i32",
  },
  // (hServer, SessionId, bWait): with bWait TRUE it returns once the
  // session has logged off, which takes as long as the user's programs do.
  WTSLogoffSession: {
    parameters: ["pointer", "u32", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // (hServer, SessionId, bWait): called with bWait FALSE, so it returns at once.
  WTSDisconnectSession: {
    parameters: ["pointer", "u32", "i32"],
    result: "i32",
  },
  // (SessionId, PHANDLE phToken) -> BOOL; needs SE_TCB_NAME (LocalSystem).
  WTSQueryUserToken: { parameters: ["u32", "buffer"], result: "i32" },
  WTSFreeMemory: { parameters: ["pointer"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw wtsapi32 functions. */
export type WtsApi32Symbols = Deno.DynamicLibrary<
  typeof WTSAPI32_SYMBOLS
>["symbols"];

/** Opens wtsapi32.dll (Windows only). */
export function openWtsApi32(): WtsApi32Symbols {
  return Deno.dlopen("wtsapi32.dll", WTSAPI32_SYMBOLS).symbols;
}

/** `WTS_CURRENT_SERVER_HANDLE`: NULL, the local server. */
export const WTS_CURRENT_SERVER_HANDLE: Deno.PointerValue = null;
/** `WTS_CURRENT_SESSION`: the caller's own session. */
export const WTS_CURRENT_SESSION = 0xffffffff;

/**
 * `WTS_SESSION_INFOW`: 24 bytes on x64 — SessionId @0, pWinStationName @8,
 * State @16.
 */
export const WTS_SESSION_INFOW = defineStruct({
  SessionId: "u32",
  pWinStationName: "ptr",
  State: "u32",
});

/** `WTS_CLIENT_ADDRESS`: AddressFamily @0, BYTE Address[20] @4 (24 bytes). */
export const WTS_CLIENT_ADDRESS = defineStruct({
  AddressFamily: "u32",
  Address: { array: "u8", length: 20 },
});

/** `WTS_INFO_CLASS` values used here. */
export const WTS_INFO_CLASS = {
  WTSSessionId: 4,
  WTSUserName: 5,
  WTSWinStationName: 6,
  WTSDomainName: 7,
  WTSConnectState: 8,
  WTSClientAddress: 14,
} as const;

/** `WTS_CONNECTSTATE_CLASS`: a session's connect state, by name. */
export const WTS_CONNECTSTATE = {
  WTSActive: 0,
  WTSConnected: 1,
  WTSConnectQuery: 2,
  WTSShadow: 3,
  WTSDisconnected: 4,
  WTSIdle: 5,
  WTSListen: 6,
  WTSReset: 7,
  WTSDown: 8,
  WTSInit: 9,
} as const;

/** A `WTS_CONNECTSTATE_CLASS` value. */
export type WtsConnectState =
  (typeof WTS_CONNECTSTATE)[keyof typeof WTS_CONNECTSTATE];

const STATE_NAMES: readonly string[] = Object.keys(WTS_CONNECTSTATE);

/** The SDK name of a connect state (`WTSActive`), or `WTSState<n>` when unknown. */
export function connectStateName(state: number): string {
  return STATE_NAMES[state] ?? `WTSState${state}`;
}

/** `AF_INET` (ws2def.h). */
export const AF_INET = 2;
/** `AF_INET6` (ws2def.h: 23 on Windows). */
export const AF_INET6 = 23;

/** A session as WTSEnumerateSessionsW lists it. */
export interface WtsSession {
  /** The session id. */
  id: number;
  /** Its window station name: "Console", "RDP-Tcp#3", "Services"… */
  winStation: string;
  /** Its connect state. */
  state: number;
  /** The state's SDK name (`WTSActive`). */
  stateName: string;
}

/** The client address of a session (WTSClientAddress). */
export interface WtsClientAddress {
  /** `AF_INET`, `AF_INET6`, or 0 (`AF_UNSPEC`, e.g. the console). */
  family: number;
  /** Dotted IPv4 for `AF_INET`; undefined otherwise. */
  address?: string;
  /** The raw 20 `Address` bytes. */
  bytes: Uint8Array;
}

function checkSessionId(id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) {
    throw new TypeError(`invalid session id: ${id}`);
  }
  return id;
}

/**
 * Typed wtsapi32 calls on the local server. Synchronous failures carry
 * `GetLastError` (read through the {@linkcode Kernel32} wrapper), e.g.
 * `ERROR_NO_TOKEN` from {@linkcode WtsApi32.userToken} when nobody is
 * logged on in the session.
 */
export class WtsApi32 {
  readonly #w: WtsApi32Symbols;
  readonly #k: Kernel32;

  /** Wraps raw wtsapi32 functions; `kernel32` supplies GetLastError. */
  constructor(symbols: WtsApi32Symbols, kernel32: Kernel32) {
    this.#w = symbols;
    this.#k = kernel32;
  }

  /** Every session on the server, the services session 0 included. */
  sessions(): WtsSession[] {
    const out = new OutParam();
    const count = new Uint8Array(4);
    if (
      !this.#w.WTSEnumerateSessionsW(
        WTS_CURRENT_SERVER_HANDLE,
        0,
        1,
        out.bytes,
        count,
      )
    ) {
      throw this.#k.fail("WTSEnumerateSessionsW");
    }
    const array = out.pointer();
    const n = viewOf(count).getUint32(0, true);
    try {
      if (n === 0) return [];
      if (array === null) {
        throw new Error(`WTSEnumerateSessionsW returned ${n} sessions at NULL`);
      }
      const size = WTS_SESSION_INFOW.size;
      const view = viewOf(copyFrom(array, size * n));
      const sessions: WtsSession[] = [];
      for (let i = 0; i < n; i++) {
        const s = readStruct(view, WTS_SESSION_INFOW, { base: i * size });
        const state = Number(s.State);
        sessions.push({
          id: Number(s.SessionId),
          winStation: readWide(pointerAt(s.pWinStationName), {
            maxUnits: 256,
          }),
          state,
          stateName: connectStateName(state),
        });
      }
      return sessions;
    } finally {
      if (array !== null) this.#w.WTSFreeMemory(array);
    }
  }

  /** The user logged on in a session, "" when none. */
  userName(id: number): string {
    return this.#queryString(id, WTS_INFO_CLASS.WTSUserName);
  }

  /** The domain (or computer name, for local accounts) of the session's user, "" when none. */
  domainName(id: number): string {
    return this.#queryString(id, WTS_INFO_CLASS.WTSDomainName);
  }

  /** A session's window station name. */
  winStationName(id: number): string {
    return this.#queryString(id, WTS_INFO_CLASS.WTSWinStationName);
  }

  /** A session's connect state (a {@linkcode WTS_CONNECTSTATE} value). */
  connectState(id: number): number {
    return this.#query(
      id,
      WTS_INFO_CLASS.WTSConnectState,
      (bytes) => {
        if (bytes.byteLength < 4) {
          throw new Error(
            `WTSQuerySessionInformationW(WTSConnectState) returned ${bytes.byteLength} bytes`,
          );
        }
        return viewOf(bytes).getUint32(0, true);
      },
    );
  }

  /** The address the session's client connected from. */
  clientAddress(id: number): WtsClientAddress {
    return this.#query(id, WTS_INFO_CLASS.WTSClientAddress, (bytes) => {
      if (bytes.byteLength < WTS_CLIENT_ADDRESS.size) {
        throw new Error(
          `WTSQuerySessionInformationW(WTSClientAddress) returned ${bytes.byteLength} bytes`,
        );
      }
      const family = viewOf(bytes).getUint32(0, true);
      const raw = bytes.slice(
        WTS_CLIENT_ADDRESS.offsets.Address,
        WTS_CLIENT_ADDRESS.offsets.Address + 20,
      );
      // For AF_INET the IPv4 address sits at Address[2..5] (after a port slot).
      return family === AF_INET
        ? {
          family,
          address: Array.from(raw.subarray(2, 6)).join("."),
          bytes: raw,
        }
        : { family, bytes: raw };
    });
  }

  /**
   * Logs a session off and waits until it has (bWait TRUE), off the event
   * loop. Its failure code is not readable (see errors.ts).
   */
  async logoff(id: number): Promise<void> {
    const ok = await this.#w.WTSLogoffSession(
      WTS_CURRENT_SERVER_HANDLE,
      checkSessionId(id),
      1,
    );
    if (!ok) throw new Win32Error("WTSLogoffSession", undefined);
  }

  /** Disconnects a session (its user stays logged on); returns at once. */
  disconnect(id: number): void {
    if (
      !this.#w.WTSDisconnectSession(
        WTS_CURRENT_SERVER_HANDLE,
        checkSessionId(id),
        0,
      )
    ) {
      throw this.#k.fail("WTSDisconnectSession");
    }
  }

  /**
   * The primary token of the user logged on in a session (needs
   * LocalSystem). Throws `ERROR_NO_TOKEN` when nobody is. The caller closes
   * it with `Kernel32.closeHandle`.
   */
  userToken(id: number): Deno.PointerValue {
    const out = new OutParam();
    if (!this.#w.WTSQueryUserToken(checkSessionId(id), out.bytes)) {
      throw this.#k.fail("WTSQueryUserToken");
    }
    const token = out.pointer();
    if (token === null) {
      throw new Error("WTSQueryUserToken succeeded but returned no token");
    }
    return token;
  }

  #queryString(id: number, infoClass: number): string {
    // Strings come with their byte count, NUL included: decode no further.
    return this.#query(id, infoClass, (bytes) => fromWide(bytes));
  }

  #query<T>(
    id: number,
    infoClass: number,
    decode: (bytes: Uint8Array) => T,
  ): T {
    const out = new OutParam();
    const returned = new Uint8Array(4);
    if (
      !this.#w.WTSQuerySessionInformationW(
        WTS_CURRENT_SERVER_HANDLE,
        checkSessionId(id),
        infoClass,
        out.bytes,
        returned,
      )
    ) {
      throw this.#k.fail("WTSQuerySessionInformationW");
    }
    const buffer = out.pointer();
    try {
      const length = viewOf(returned).getUint32(0, true);
      return decode(
        buffer === null ? new Uint8Array(0) : copyFrom(buffer, length),
      );
    } finally {
      if (buffer !== null) this.#w.WTSFreeMemory(buffer);
    }
  }
}
