/**
 * A fake wtsapi32 over a list of sessions, implementing
 * {@linkcode WtsApi32Symbols}: `WTSEnumerateSessionsW` hands out a real
 * `WTS_SESSION_INFOW` array with its UTF-16 station names in the same block,
 * `WTSQuerySessionInformationW` hands out a `DWORD` (WTSConnectState,
 * WTSSessionId), a `WTS_CLIENT_ADDRESS` or a NUL-terminated string with its
 * byte count; every block must be released with `WTSFreeMemory` exactly once
 * ({@linkcode FakeWtsApi32.assertAllFreed}).
 *
 * Synchronous failures set the shared {@linkcode FakeKernel32}'s last error:
 * `ERROR_CTX_WINSTATION_NOT_FOUND` for an unknown session, `ERROR_NO_TOKEN`
 * from WTSQueryUserToken when nobody is logged on (and always for session
 * 0), `ERROR_PRIVILEGE_NOT_HELD` without SE_TCB_NAME. `WTSLogoffSession`
 * (nonblocking) records its error off-thread. Tokens are handles of kind
 * `"token"` in the fake kernel32's table, carrying the session's user and
 * `environment` (read by the fake userenv), and marked `primary` (the fake
 * advapi32's CreateProcessAsUserW refuses any other).
 *
 * @module
 */
import {
  WTS_CLIENT_ADDRESS,
  WTS_CONNECTSTATE,
  WTS_INFO_CLASS,
  WTS_SESSION_INFOW,
  type WtsApi32Symbols,
} from "../../../ffi/windows/wtsapi32.ts";
import { wide } from "../../../ffi/windows/strings.ts";
import { encodeStruct, viewOf } from "../../../ffi/windows/struct.ts";
import {
  ERROR_INVALID_HANDLE,
  ERROR_INVALID_PARAMETER,
  FakeHeap,
  type FakeKernel32,
  offThread,
  writeAddress,
  writeU32,
} from "./fake_kernel32.ts";

/** `ERROR_NO_TOKEN`. */
export const ERROR_NO_TOKEN = 1008;
/** `ERROR_PRIVILEGE_NOT_HELD`. */
export const ERROR_PRIVILEGE_NOT_HELD = 1314;
/** `ERROR_CTX_WINSTATION_NOT_FOUND`. */
export const ERROR_CTX_WINSTATION_NOT_FOUND = 7022;

/** A session in the fake. */
export interface FakeSession {
  /** Its id. */
  id: number;
  /** Its window station name. */
  winStation: string;
  /** Its connect state (WTS_CONNECTSTATE). */
  state: number;
  /** The logged-on user, if any. */
  user?: string;
  /** The user's domain. */
  domain?: string;
  /** The client's address family and 20 address bytes. */
  clientAddress?: { family: number; bytes: number[] };
  /** The user's environment (NAME=value), attached to its token. */
  environment?: string[];
}

/** A fake wtsapi32; pass `symbols` and a Kernel32 over `kernel32.symbols` to `WtsApi32`. */
export class FakeWtsApi32 {
  /** The sessions, in enumeration order (mutable). */
  sessions: FakeSession[] = [
    { id: 0, winStation: "Services", state: WTS_CONNECTSTATE.WTSDisconnected },
    { id: 1, winStation: "Console", state: WTS_CONNECTSTATE.WTSConnected },
    { id: 65536, winStation: "RDP-Tcp", state: WTS_CONNECTSTATE.WTSListen },
  ];
  /** Whether the caller holds SE_TCB_NAME (runs as LocalSystem). */
  privileged = true;
  /** Memory released by WTSFreeMemory. */
  readonly heap: FakeHeap = new FakeHeap("WTSFreeMemory");
  /** Sessions logged off, with the bWait each call passed. */
  readonly logoffs: Array<{ id: number; wait: number }> = [];
  /** The raw functions. */
  readonly symbols: WtsApi32Symbols;
  readonly #k: FakeKernel32;

  /** A fake that keeps last errors and token handles in `kernel32`. */
  constructor(kernel32: FakeKernel32) {
    this.#k = kernel32;
    this.symbols = this.#makeSymbols();
  }

  /** The session with `id`. */
  session(id: number): FakeSession | undefined {
    return this.sessions.find((s) => s.id === id);
  }

  /** Adds a session (e.g. an RDP session with a logged-on user). */
  addSession(session: FakeSession): FakeSession {
    this.sessions.push(session);
    return session;
  }

  /** Throws unless every block handed out was freed with WTSFreeMemory exactly once. */
  assertAllFreed(): void {
    this.heap.assertAllFreed();
  }

  #makeSymbols(): WtsApi32Symbols {
    const k = this.#k;
    return {
      WTSEnumerateSessionsW: (server, reserved, version, out, count) => {
        if (server !== null) return k.fail(ERROR_INVALID_HANDLE);
        if (reserved !== 0 || version !== 1) {
          return k.fail(ERROR_INVALID_PARAMETER);
        }
        const size = WTS_SESSION_INFOW.size;
        const names = this.sessions.map((s) => wide(s.winStation));
        const block = this.heap.alloc(
          size * this.sessions.length +
            names.reduce((n, s) => n + s.byteLength, 0),
          "WTSEnumerateSessionsW",
        );
        let offset = size * this.sessions.length;
        this.sessions.forEach((s, i) => {
          block.bytes.set(names[i], offset);
          block.bytes.set(
            encodeStruct(WTS_SESSION_INFOW, {
              SessionId: s.id,
              pWinStationName: block.address + BigInt(offset),
              State: s.state,
            }),
            i * size,
          );
          offset += names[i].byteLength;
        });
        writeAddress(out, block.address);
        writeU32(count, this.sessions.length);
        return 1;
      },
      WTSQuerySessionInformationW: (server, id, infoClass, out, returned) => {
        if (server !== null) return k.fail(ERROR_INVALID_HANDLE);
        const s = this.session(id);
        if (!s) return k.fail(ERROR_CTX_WINSTATION_NOT_FOUND);
        let bytes: Uint8Array;
        switch (infoClass) {
          case WTS_INFO_CLASS.WTSUserName:
            bytes = wide(s.user ?? "");
            break;
          case WTS_INFO_CLASS.WTSDomainName:
            bytes = wide(s.user ? s.domain ?? "" : "");
            break;
          case WTS_INFO_CLASS.WTSWinStationName:
            bytes = wide(s.winStation);
            break;
          case WTS_INFO_CLASS.WTSConnectState:
          case WTS_INFO_CLASS.WTSSessionId:
            bytes = new Uint8Array(4);
            viewOf(bytes).setUint32(
              0,
              infoClass === WTS_INFO_CLASS.WTSSessionId ? s.id : s.state,
              true,
            );
            break;
          case WTS_INFO_CLASS.WTSClientAddress: {
            bytes = new Uint8Array(WTS_CLIENT_ADDRESS.size);
            const a = s.clientAddress ?? { family: 0, bytes: [] };
            viewOf(bytes).setUint32(0, a.family, true);
            bytes.set(a.bytes.slice(0, 20), WTS_CLIENT_ADDRESS.offsets.Address);
            break;
          }
          default:
            return k.fail(ERROR_INVALID_PARAMETER); // not modelled
        }
        const block = this.heap.alloc(
          bytes,
          `WTSQuerySessionInformationW(${infoClass})`,
        );
        writeAddress(out, block.address);
        writeU32(returned, bytes.byteLength);
        return 1;
      },
      WTSLogoffSession: async (server, id, wait) => {
        await offThread();
        if (server !== null) return k.failOffThread(ERROR_INVALID_HANDLE);
        const s = this.session(id);
        if (!s) return k.failOffThread(ERROR_CTX_WINSTATION_NOT_FOUND);
        this.logoffs.push({ id, wait });
        // A logged-off remote session goes away.
        this.sessions = this.sessions.filter((x) => x !== s);
        return 1;
      },
      WTSDisconnectSession: (server, id, _wait) => {
        if (server !== null) return k.fail(ERROR_INVALID_HANDLE);
        const s = this.session(id);
        if (!s) return k.fail(ERROR_CTX_WINSTATION_NOT_FOUND);
        s.state = WTS_CONNECTSTATE.WTSDisconnected;
        return 1;
      },
      WTSQueryUserToken: (id, out) => {
        if (!this.privileged) return k.fail(ERROR_PRIVILEGE_NOT_HELD);
        const s = this.session(id);
        if (!s) return k.fail(ERROR_CTX_WINSTATION_NOT_FOUND);
        if (id === 0 || !s.user) return k.fail(ERROR_NO_TOKEN);
        // WTSQueryUserToken hands out a primary token (CreateProcessAsUser's).
        const token = k.createHandle("token", {
          sessionId: id,
          user: s.user,
          domain: s.domain,
          environment: s.environment,
          primary: true,
        });
        writeAddress(out, BigInt(Deno.UnsafePointer.value(token)));
        return 1;
      },
      WTSFreeMemory: (pointer) => {
        this.heap.free(pointer);
      },
    };
  }
}
