/**
 * iphlpapi: the TCP connection tables with each connection's owning process
 * (`GetExtendedTcpTable`), which is how the session manager learns which
 * process — and so which session and user — is at the other end of a
 * streamer's control connection.
 *
 * Same shape as `kernel32.ts`: {@linkcode IPHLPAPI_SYMBOLS}, the raw
 * {@linkcode IpHlpApiSymbols}, {@linkcode openIpHlpApi}, and the
 * {@linkcode IpHlpApi} wrapper. `GetExtendedTcpTable` returns its status
 * (no `GetLastError`) and only copies the stack's table, so it is
 * synchronous: nothing here is `nonblocking`.
 *
 * Byte order (tcpmib.h): IPv4 addresses are `in_addr`s and IPv6 addresses
 * `UCHAR[16]`, both in network byte order, so their bytes in memory are the
 * address's bytes in order. Ports are in network byte order in the LOW 16
 * bits of their `DWORD`, i.e. the first two bytes in memory, big-endian;
 * the upper 16 bits "may contain uninitialized data" and are ignored.
 *
 * @module
 */
import { Win32Error } from "./errors.ts";
import { defineStruct, readField, viewOf } from "./struct.ts";

/** iphlpapi's symbols used by webstream. */
export const IPHLPAPI_SYMBOLS = {
  // (PVOID pTcpTable, PDWORD pdwSize, BOOL bOrder, ULONG ulAf,
  //  TCP_TABLE_CLASS TableClass, ULONG Reserved) -> DWORD status.
  // A copy of the stack's table: quick, no I/O; synchronous.
  GetExtendedTcpTable: {
    parameters: ["buffer", "buffer", "i32", "u32", "u32", "u32"],
    result: "u32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw iphlpapi functions. */
export type IpHlpApiSymbols = Deno.DynamicLibrary<
  typeof IPHLPAPI_SYMBOLS
>["symbols"];

/** Opens iphlpapi.dll (Windows only). */
export function openIpHlpApi(): IpHlpApiSymbols {
  return Deno.dlopen("iphlpapi.dll", IPHLPAPI_SYMBOLS).symbols;
}

// ---------------------------------------------------------------------------
// Constants (ws2def.h, iprtrmib.h, tcpmib.h, winerror.h).

/** `AF_INET`. */
export const AF_INET = 2;
/** `AF_INET6` (Windows' value; Linux's is 10). */
export const AF_INET6 = 23;

/** `TCP_TABLE_CLASS` (iprtrmib.h), in order of their values 0–8. */
export const TCP_TABLE_CLASS = {
  TCP_TABLE_BASIC_LISTENER: 0,
  TCP_TABLE_BASIC_CONNECTIONS: 1,
  TCP_TABLE_BASIC_ALL: 2,
  TCP_TABLE_OWNER_PID_LISTENER: 3,
  TCP_TABLE_OWNER_PID_CONNECTIONS: 4,
  TCP_TABLE_OWNER_PID_ALL: 5,
  TCP_TABLE_OWNER_MODULE_LISTENER: 6,
  TCP_TABLE_OWNER_MODULE_CONNECTIONS: 7,
  TCP_TABLE_OWNER_MODULE_ALL: 8,
} as const;

/** `MIB_TCP_STATE` (tcpmib.h) values by name. */
export const MIB_TCP_STATE = {
  closed: 1,
  listen: 2,
  synSent: 3,
  synReceived: 4,
  established: 5,
  finWait1: 6,
  finWait2: 7,
  closeWait: 8,
  closing: 9,
  lastAck: 10,
  timeWait: 11,
  deleteTcb: 12,
} as const;

/** A TCP connection's state (`MIB_TCP_STATE`), or `unknown` for a value not in the SDK. */
export type TcpState = keyof typeof MIB_TCP_STATE | "unknown";

/** `NO_ERROR`. */
export const NO_ERROR = 0;
/** `ERROR_INSUFFICIENT_BUFFER`: the size needed is in `*pdwSize`. */
export const ERROR_INSUFFICIENT_BUFFER = 122;

/** How many times the table is asked for before giving up (it grows between calls). */
export const TABLE_ATTEMPTS = 4;

// ---------------------------------------------------------------------------
// Struct layouts (x64; all 4-byte fields, so no padding), checked against
// the SDK in the tests.

/** `MIB_TCPROW_OWNER_PID`: 24 bytes. */
export const MIB_TCPROW_OWNER_PID = defineStruct({
  dwState: "u32",
  dwLocalAddr: "u32",
  dwLocalPort: "u32",
  dwRemoteAddr: "u32",
  dwRemotePort: "u32",
  dwOwningPid: "u32",
});
/** `MIB_TCPTABLE_OWNER_PID` (`table[ANY_SIZE]`, ANY_SIZE 1): the rows start at 4. */
export const MIB_TCPTABLE_OWNER_PID = defineStruct({
  dwNumEntries: "u32",
  table: { array: MIB_TCPROW_OWNER_PID, length: 1 },
});
/** `MIB_TCP6ROW_OWNER_PID`: 56 bytes. */
export const MIB_TCP6ROW_OWNER_PID = defineStruct({
  ucLocalAddr: { array: "u8", length: 16 },
  dwLocalScopeId: "u32",
  dwLocalPort: "u32",
  ucRemoteAddr: { array: "u8", length: 16 },
  dwRemoteScopeId: "u32",
  dwRemotePort: "u32",
  dwState: "u32",
  dwOwningPid: "u32",
});
/** `MIB_TCP6TABLE_OWNER_PID`: the rows start at 4. */
export const MIB_TCP6TABLE_OWNER_PID = defineStruct({
  dwNumEntries: "u32",
  table: { array: MIB_TCP6ROW_OWNER_PID, length: 1 },
});

// ---------------------------------------------------------------------------
// Addresses.

/** An IP version. */
export type IpFamily = "ipv4" | "ipv6";

/** One end of a TCP connection. */
export interface TcpAddress {
  /** `127.0.0.1`, `::1`, `::ffff:127.0.0.1` (IPv6 in RFC 5952 form). */
  address: string;
  /** Port (host byte order). */
  port: number;
  /** IPv6 only: the scope (zone) id; 0 when none. */
  scopeId?: number;
}

/** A row of a TCP table. */
export interface TcpConnection {
  /** The connection's state. */
  state: TcpState;
  /** This machine's end. */
  local: TcpAddress;
  /** The other end (meaningless for a listener). */
  remote: TcpAddress;
  /** The process that owns the socket (0 for TIME_WAIT remnants). */
  pid: number;
}

/** Which rows {@linkcode IpHlpApi.tcpConnections} returns. */
export type TcpTableKind = "all" | "connections" | "listeners";

/** An address parsed into its family and network-order bytes. */
export interface ParsedIp {
  /** IPv4 (4 bytes) or IPv6 (16 bytes). */
  family: IpFamily;
  /** The address's bytes in network order. */
  bytes: Uint8Array;
}

/**
 * Parses an IPv4 or IPv6 address as Deno reports a peer: `127.0.0.1`,
 * `::1`, `[::1]`, `::ffff:127.0.0.1`, `fe80::1%12` (the zone is dropped).
 * Throws a TypeError naming the text when it is neither.
 */
export function parseIp(text: string): ParsedIp {
  const host = text.replace(/^\[(.*)\]$/, "$1").replace(/%[^%]*$/, "");
  const v4 = parseIpv4(host);
  if (v4) return { family: "ipv4", bytes: v4 };
  const v6 = parseIpv6(host);
  if (v6) return { family: "ipv6", bytes: v6 };
  throw new TypeError(`not an IP address: ${JSON.stringify(text)}`);
}

function parseIpv4(host: string): Uint8Array | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  return parts.every((n) => n <= 255) ? Uint8Array.from(parts) : undefined;
}

function parseIpv6(host: string): Uint8Array | undefined {
  if (!/^[0-9a-f:.]+$/i.test(host) || host.split("::").length > 2) {
    return undefined;
  }
  const groups = (s: string): number[] | undefined => {
    if (s === "") return [];
    const out: number[] = [];
    const parts = s.split(":");
    for (const [i, part] of parts.entries()) {
      if (i === parts.length - 1 && part.includes(".")) {
        // A trailing dotted IPv4 part (`::ffff:127.0.0.1`): two groups.
        const v4 = parseIpv4(part);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-f]{1,4}$/i.test(part)) {
        out.push(parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const [head, tail] = host.split("::");
  const hi = groups(head);
  const lo = tail === undefined ? [] : groups(tail);
  if (!hi || !lo) return undefined;
  const missing = 8 - hi.length - lo.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined;
  const all = [
    ...hi,
    ...Array(tail === undefined ? 0 : missing).fill(0),
    ...lo,
  ];
  const bytes = new Uint8Array(16);
  all.forEach((g, i) => {
    bytes[2 * i] = g >> 8;
    bytes[2 * i + 1] = g & 0xff;
  });
  return bytes;
}

/** Formats network-order address bytes: dotted IPv4, or RFC 5952 IPv6 (IPv4-mapped as `::ffff:a.b.c.d`). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join(".");
  if (bytes.length !== 16) {
    throw new TypeError(`an IP address has 4 or 16 bytes, not ${bytes.length}`);
  }
  if (
    bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff &&
    bytes[11] === 0xff
  ) {
    return `::ffff:${Array.from(bytes.subarray(12)).join(".")}`;
  }
  const groups = Array.from(
    { length: 8 },
    (_, i) => (bytes[2 * i] << 8) | bytes[2 * i + 1],
  );
  // The longest run of two or more zero groups (the first on a tie) becomes "::".
  let best = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${
    hex.slice(best + bestLength).join(":")
  }`;
}

/** `::ffff:a.b.c.d` for an IPv4 address's bytes. */
function mapped(v4: Uint8Array): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

/** The IPv4 address inside an IPv4-mapped IPv6 address, if it is one. */
function unmapped(v6: Uint8Array): Uint8Array | undefined {
  return v6.subarray(0, 10).every((b) => b === 0) && v6[10] === 0xff &&
      v6[11] === 0xff
    ? v6.slice(12)
    : undefined;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A port stored in network byte order in a DWORD's low 16 bits. */
function portAt(view: DataView, offset: number): number {
  return view.getUint16(offset, false);
}

const STATE_NAMES = Object.fromEntries(
  Object.entries(MIB_TCP_STATE).map(([name, value]) => [value, name]),
) as Record<number, TcpState>;

const TABLE_CLASSES: Record<TcpTableKind, number> = {
  all: TCP_TABLE_CLASS.TCP_TABLE_OWNER_PID_ALL,
  connections: TCP_TABLE_CLASS.TCP_TABLE_OWNER_PID_CONNECTIONS,
  listeners: TCP_TABLE_CLASS.TCP_TABLE_OWNER_PID_LISTENER,
};

// ---------------------------------------------------------------------------
// The wrapper.

/** Typed iphlpapi calls (statuses are returned: no GetLastError needed). */
export class IpHlpApi {
  readonly #i: IpHlpApiSymbols;

  /** Wraps raw iphlpapi functions. */
  constructor(symbols: IpHlpApiSymbols) {
    this.#i = symbols;
  }

  /**
   * The TCP table of one IP version with each socket's owning process
   * (`GetExtendedTcpTable` with `TCP_TABLE_OWNER_PID_*`): every endpoint
   * (`all`, the default), connected ones only, or listeners only. The
   * buffer is sized from what the call reports; connections opened
   * meanwhile make it retry, at most {@linkcode TABLE_ATTEMPTS} times.
   */
  tcpConnections(
    options: { family: IpFamily; table?: TcpTableKind },
  ): TcpConnection[] {
    const { family } = options;
    if (family !== "ipv4" && family !== "ipv6") {
      throw new TypeError(`family must be ipv4 or ipv6, not ${family}`);
    }
    const kind = options.table ?? "all";
    const tableClass = TABLE_CLASSES[kind];
    if (tableClass === undefined) {
      throw new TypeError(
        `table must be all, connections or listeners, not ${kind}`,
      );
    }
    const row = family === "ipv4"
      ? MIB_TCPROW_OWNER_PID
      : MIB_TCP6ROW_OWNER_PID;
    const rowsAt =
      (family === "ipv4" ? MIB_TCPTABLE_OWNER_PID : MIB_TCP6TABLE_OWNER_PID)
        .offsets.table;
    // Room for 64 rows first; most machines need no second call.
    let size = rowsAt + 64 * row.size;
    for (let attempt = 1;; attempt++) {
      const table = new Uint8Array(size);
      const pdwSize = Uint32Array.of(size);
      const status = this.#i.GetExtendedTcpTable(
        table,
        pdwSize,
        0, // unsorted: the order does not matter here
        family === "ipv4" ? AF_INET : AF_INET6,
        tableClass,
        0,
      );
      if (status === NO_ERROR) {
        return family === "ipv4" ? readIpv4Table(table) : readIpv6Table(table);
      }
      if (status !== ERROR_INSUFFICIENT_BUFFER || attempt >= TABLE_ATTEMPTS) {
        throw new Win32Error("GetExtendedTcpTable", status);
      }
      // Room for what it asked plus connections opened meanwhile: more
      // each time, for a table that outran the last guess.
      size = Math.max(size + row.size, pdwSize[0] + (16 << attempt) * row.size);
    }
  }

  /**
   * The process owning the connected socket whose LOCAL end is `local`;
   * undefined when there is none. Seen from a server, a client's
   * `remoteAddr` is that client's local end, so this names the client
   * process. An IPv4 (or IPv4-mapped) address is looked up in the IPv4
   * table and, as `::ffff:a.b.c.d`, in the IPv6 one; an IPv6 address in
   * the IPv6 table. TIME_WAIT remnants (pid 0) do not count; two different
   * processes owning such an end is refused with an error rather than
   * guessed.
   */
  localEndOwner(local: { address: string; port: number }): number | undefined {
    const { port } = local;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new RangeError(`not a connected TCP port: ${port}`);
    }
    const ip = parseIp(local.address);
    const v4 = ip.family === "ipv4" ? ip.bytes : unmapped(ip.bytes);
    const wanted: Array<{ family: IpFamily; bytes: Uint8Array }> = v4
      ? [{ family: "ipv4", bytes: v4 }, { family: "ipv6", bytes: mapped(v4) }]
      : [{ family: "ipv6", bytes: ip.bytes }];
    const pids = new Set<number>();
    for (const { family, bytes } of wanted) {
      for (const c of this.tcpConnections({ family, table: "connections" })) {
        if (
          c.pid !== 0 && c.state !== "listen" && c.local.port === port &&
          sameBytes(parseIp(c.local.address).bytes, bytes)
        ) {
          pids.add(c.pid);
        }
      }
    }
    if (pids.size > 1) {
      throw new Error(
        `processes ${[...pids].join(", ")} all own a connection from ${
          formatIp(ip.bytes)
        } port ${port}; refusing to pick one`,
      );
    }
    return pids.values().next().value;
  }
}

/** The rows of a MIB_TCPTABLE_OWNER_PID the call filled in, bounds checked. */
function readIpv4Table(table: Uint8Array): TcpConnection[] {
  const view = viewOf(table);
  const rows = tableRows(
    view,
    MIB_TCPTABLE_OWNER_PID.offsets.table,
    MIB_TCPROW_OWNER_PID.size,
  );
  const o = MIB_TCPROW_OWNER_PID.offsets;
  return rows.map((base) => ({
    state: stateName(
      readField(view, MIB_TCPROW_OWNER_PID, {
        field: "dwState",
        base,
      }) as number,
    ),
    local: {
      address: formatIp(
        table.subarray(base + o.dwLocalAddr, base + o.dwLocalAddr + 4),
      ),
      port: portAt(view, base + o.dwLocalPort),
    },
    remote: {
      address: formatIp(
        table.subarray(base + o.dwRemoteAddr, base + o.dwRemoteAddr + 4),
      ),
      port: portAt(view, base + o.dwRemotePort),
    },
    pid: readField(view, MIB_TCPROW_OWNER_PID, {
      field: "dwOwningPid",
      base,
    }) as number,
  }));
}

/** The rows of a MIB_TCP6TABLE_OWNER_PID the call filled in, bounds checked. */
function readIpv6Table(table: Uint8Array): TcpConnection[] {
  const view = viewOf(table);
  const rows = tableRows(
    view,
    MIB_TCP6TABLE_OWNER_PID.offsets.table,
    MIB_TCP6ROW_OWNER_PID.size,
  );
  const o = MIB_TCP6ROW_OWNER_PID.offsets;
  return rows.map((base) => ({
    state: stateName(
      readField(view, MIB_TCP6ROW_OWNER_PID, {
        field: "dwState",
        base,
      }) as number,
    ),
    local: {
      address: formatIp(
        table.subarray(base + o.ucLocalAddr, base + o.ucLocalAddr + 16),
      ),
      port: portAt(view, base + o.dwLocalPort),
      // In network byte order, tcpmib.h says (informational: never matched on).
      scopeId: view.getUint32(base + o.dwLocalScopeId, false),
    },
    remote: {
      address: formatIp(
        table.subarray(base + o.ucRemoteAddr, base + o.ucRemoteAddr + 16),
      ),
      port: portAt(view, base + o.dwRemotePort),
      scopeId: view.getUint32(base + o.dwRemoteScopeId, false),
    },
    pid: readField(view, MIB_TCP6ROW_OWNER_PID, {
      field: "dwOwningPid",
      base,
    }) as number,
  }));
}

/** The byte offsets of the `dwNumEntries` rows, refusing a count the buffer cannot hold. */
function tableRows(view: DataView, first: number, rowSize: number): number[] {
  const count = view.getUint32(0, true);
  if (first + count * rowSize > view.byteLength) {
    throw new RangeError(
      `GetExtendedTcpTable reported ${count} rows; the ${view.byteLength}-byte buffer holds ${
        Math.floor((view.byteLength - first) / rowSize)
      }`,
    );
  }
  return Array.from({ length: count }, (_, i) => first + i * rowSize);
}

function stateName(value: number): TcpState {
  return STATE_NAMES[value] ?? "unknown";
}
