/**
 * A fake iphlpapi implementing {@linkcode IpHlpApiSymbols}:
 * `GetExtendedTcpTable` over a list of TCP sockets, writing
 * `MIB_TCPTABLE_OWNER_PID` / `MIB_TCP6TABLE_OWNER_PID` into the caller's
 * buffer with the SDK's x64 offsets written out here independently of the
 * module under test, addresses and ports in network byte order, and
 * garbage in the upper 16 bits of every port DWORD (tcpmib.h says they
 * "may contain uninitialized data").
 *
 * Documented behaviour modelled: `ERROR_INSUFFICIENT_BUFFER` with the size
 * needed in `*pdwSize` for a NULL or short buffer; `ERROR_INVALID_PARAMETER`
 * for a NULL `pdwSize`, an unknown family or table class, or a non-zero
 * `Reserved`; listener / connection / all filtering by table class. The
 * table can grow between the sizing call and the next one ({@linkcode
 * FakeIpHlpApi.growth}), as a busy machine's does.
 *
 * Stricter than Windows, to catch wrapper mistakes: a `*pdwSize` larger
 * than the buffer passed throws (on Windows it would overrun the heap); the
 * `TCP_TABLE_BASIC_*` and `TCP_TABLE_OWNER_MODULE_*` classes are not
 * modelled and throw.
 *
 * @module
 */
import type { IpHlpApiSymbols } from "../../../ffi/windows/iphlpapi.ts";
import {
  type BufferArg,
  bufferBytes,
  readU32,
  writeU32,
} from "./fake_kernel32.ts";

/** `ERROR_INVALID_PARAMETER`. */
export const ERROR_INVALID_PARAMETER = 87;
/** `ERROR_INSUFFICIENT_BUFFER`. */
export const ERROR_INSUFFICIENT_BUFFER = 122;

// SDK x64 offsets, written out here on purpose (not imported).
const ROW4 = {
  size: 24,
  state: 0,
  localAddr: 4,
  localPort: 8,
  remoteAddr: 12,
  remotePort: 16,
  pid: 20,
};
const ROW6 = {
  size: 56,
  localAddr: 0,
  localScope: 16,
  localPort: 20,
  remoteAddr: 24,
  remoteScope: 40,
  remotePort: 44,
  state: 48,
  pid: 52,
};
/** Rows follow `DWORD dwNumEntries`. */
const ROWS_AT = 4;
/** MIB_TCP_STATE_LISTEN. */
const LISTEN = 2;

/** A socket in the fake's TCP tables. */
export interface FakeSocket {
  /** 4 (IPv4) or 6 (IPv6). */
  version: 4 | 6;
  /** MIB_TCP_STATE (2 listen, 5 established, 11 time-wait…). */
  state: number;
  /** Local address bytes, network order (4 or 16). */
  localAddr: number[];
  /** Local port. */
  localPort: number;
  /** Remote address bytes, network order. */
  remoteAddr: number[];
  /** Remote port. */
  remotePort: number;
  /** Owning process (0 for TIME_WAIT). */
  pid: number;
  /** IPv6 scope ids (written in network order, as documented). */
  localScope?: number;
  /** The remote end's scope id. */
  remoteScope?: number;
}

/** One GetExtendedTcpTable call as the fake saw it. */
export interface FakeTableCall {
  /** ulAf. */
  family: number;
  /** TableClass. */
  tableClass: number;
  /** bOrder. */
  order: number;
  /** `*pdwSize` on entry (0 when NULL). */
  size: number;
  /** Whether pTcpTable was NULL. */
  nullBuffer: boolean;
  /** The status returned. */
  status: number;
}

/** `a.b.c.d` as bytes. */
export function v4(address: string): number[] {
  return address.split(".").map(Number);
}

/** IPv6 bytes for the few forms tests use: `::1`, `::ffff:a.b.c.d`, `fe80::n`. */
export function v6(address: string): number[] {
  const out = new Array(16).fill(0);
  const mappedV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mappedV4) {
    out[10] = out[11] = 0xff;
    out.splice(12, 4, ...v4(mappedV4[1]));
    return out;
  }
  const [head, tail = ""] = address.split("::");
  const groups = (
    s: string,
  ) => (s ? s.split(":").map((g) => parseInt(g, 16)) : []);
  const hi = groups(head);
  const lo = groups(tail);
  const all = [...hi, ...new Array(8 - hi.length - lo.length).fill(0), ...lo];
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** The fake iphlpapi. */
export class FakeIpHlpApi {
  /** Every socket, both families (mutable). */
  sockets: FakeSocket[] = [];
  /** Sockets opened after each call, before the next one reads the table. */
  growth = 0;
  /** Every call, in order. */
  readonly calls: FakeTableCall[] = [];
  /** The raw functions, as the wrapper sees them. */
  readonly symbols: IpHlpApiSymbols;

  #nextPort = 60000;

  constructor() {
    this.symbols = {
      GetExtendedTcpTable: (
        table,
        size,
        order,
        family,
        tableClass,
        reserved,
      ) => {
        const status = this.#table(table, size, family, tableClass, reserved);
        this.calls.push({
          family,
          tableClass,
          order,
          size: size === null ? 0 : readU32(size),
          nullBuffer: table === null,
          status,
        });
        // Connections come and go between calls.
        for (let i = 0; i < this.growth; i++) this.#churn();
        return status;
      },
    };
  }

  /** Adds an IPv4 socket. */
  addV4(
    socket: {
      state: number;
      local: string;
      localPort: number;
      remote: string;
      remotePort: number;
      pid: number;
    },
  ): FakeSocket {
    const s: FakeSocket = {
      version: 4,
      state: socket.state,
      localAddr: v4(socket.local),
      localPort: socket.localPort,
      remoteAddr: v4(socket.remote),
      remotePort: socket.remotePort,
      pid: socket.pid,
    };
    this.sockets.push(s);
    return s;
  }

  /** Adds an IPv6 socket. */
  addV6(
    socket: {
      state: number;
      local: string;
      localPort: number;
      remote: string;
      remotePort: number;
      pid: number;
      localScope?: number;
    },
  ): FakeSocket {
    const s: FakeSocket = {
      version: 6,
      state: socket.state,
      localAddr: v6(socket.local),
      localPort: socket.localPort,
      remoteAddr: v6(socket.remote),
      remotePort: socket.remotePort,
      pid: socket.pid,
      localScope: socket.localScope,
    };
    this.sockets.push(s);
    return s;
  }

  #churn(): void {
    this.addV4({
      state: 5,
      local: "10.0.0.5",
      localPort: this.#nextPort++,
      remote: "192.0.2.1",
      remotePort: 443,
      pid: 777,
    });
  }

  #table(
    table: BufferArg,
    size: BufferArg,
    family: number,
    tableClass: number,
    reserved: number,
  ): number {
    if (size === null || reserved !== 0) return ERROR_INVALID_PARAMETER;
    if (family !== 2 && family !== 23) return ERROR_INVALID_PARAMETER;
    if (tableClass > 8) return ERROR_INVALID_PARAMETER;
    if (tableClass < 3 || tableClass > 5) {
      throw new Error(`fake: TCP_TABLE_CLASS ${tableClass} not modelled`);
    }
    const version = family === 2 ? 4 : 6;
    const rows = this.sockets.filter((s) =>
      s.version === version &&
      (tableClass === 5 || (tableClass === 3) === (s.state === LISTEN))
    );
    const layout = version === 4 ? ROW4 : ROW6;
    const needed = ROWS_AT + rows.length * layout.size;
    const capacity = readU32(size);
    if (table === null || capacity < needed) {
      writeU32(size, needed);
      return ERROR_INSUFFICIENT_BUFFER;
    }
    const bytes = bufferBytes(table);
    if (capacity > bytes.byteLength) {
      throw new Error(
        `fake: *pdwSize says ${capacity} bytes, the buffer has ${bytes.byteLength}`,
      );
    }
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    dv.setUint32(0, rows.length, true);
    rows.forEach((s, i) => {
      const at = ROWS_AT + i * layout.size;
      if (version === 4) {
        dv.setUint32(at + ROW4.state, s.state, true);
        bytes.set(s.localAddr, at + ROW4.localAddr);
        port(dv, at + ROW4.localPort, s.localPort);
        bytes.set(s.remoteAddr, at + ROW4.remoteAddr);
        port(dv, at + ROW4.remotePort, s.remotePort);
        dv.setUint32(at + ROW4.pid, s.pid, true);
      } else {
        bytes.set(s.localAddr, at + ROW6.localAddr);
        dv.setUint32(at + ROW6.localScope, s.localScope ?? 0, false);
        port(dv, at + ROW6.localPort, s.localPort);
        bytes.set(s.remoteAddr, at + ROW6.remoteAddr);
        dv.setUint32(at + ROW6.remoteScope, s.remoteScope ?? 0, false);
        port(dv, at + ROW6.remotePort, s.remotePort);
        dv.setUint32(at + ROW6.state, s.state, true);
        dv.setUint32(at + ROW6.pid, s.pid, true);
      }
    });
    return 0;
  }
}

/** A port in network byte order in the DWORD's low 16 bits, garbage above. */
function port(dv: DataView, at: number, value: number): void {
  dv.setUint16(at, value, false);
  dv.setUint16(at + 2, 0xcdcd, true);
}
