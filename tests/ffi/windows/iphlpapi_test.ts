/**
 * Tests for `ffi/windows/iphlpapi.ts` against the fake iphlpapi: the x64
 * layouts and SDK constants, the tables read back with addresses and ports
 * in network byte order (port DWORDs with garbage in their upper half),
 * the ERROR_INSUFFICIENT_BUFFER size negotiation and its bound, and the
 * owner lookup of a connection's local end (IPv4, IPv4-mapped, IPv6).
 *
 * @module
 */
import {
  AF_INET,
  AF_INET6,
  formatIp,
  IpHlpApi,
  IPHLPAPI_SYMBOLS,
  MIB_TCP6ROW_OWNER_PID,
  MIB_TCP6TABLE_OWNER_PID,
  MIB_TCP_STATE,
  MIB_TCPROW_OWNER_PID,
  MIB_TCPTABLE_OWNER_PID,
  parseIp,
  TABLE_ATTEMPTS,
  TCP_TABLE_CLASS,
} from "../../../ffi/windows/iphlpapi.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { FakeIpHlpApi } from "../../support/windows/fake_iphlpapi.ts";

function setup() {
  const fake = new FakeIpHlpApi();
  return { fake, ip: new IpHlpApi(fake.symbols) };
}

Deno.test("iphlpapi: nothing is nonblocking; the signature", () => {
  const nonblocking = Object.entries(IPHLPAPI_SYMBOLS)
    .filter(([, s]) => "nonblocking" in s && s.nonblocking)
    .map(([name]) => name);
  assertEquals(nonblocking, []);
  assertEquals(IPHLPAPI_SYMBOLS.GetExtendedTcpTable.parameters.length, 6);
  assertEquals(IPHLPAPI_SYMBOLS.GetExtendedTcpTable.result, "u32");
});

Deno.test("iphlpapi: struct layouts match the x64 SDK", () => {
  assertEquals(MIB_TCPROW_OWNER_PID.size, 24);
  assertEquals(MIB_TCPROW_OWNER_PID.offsets, {
    dwState: 0,
    dwLocalAddr: 4,
    dwLocalPort: 8,
    dwRemoteAddr: 12,
    dwRemotePort: 16,
    dwOwningPid: 20,
  });
  assertEquals(MIB_TCPTABLE_OWNER_PID.offsets.table, 4);
  assertEquals(MIB_TCPTABLE_OWNER_PID.size, 28);
  assertEquals(MIB_TCP6ROW_OWNER_PID.size, 56);
  assertEquals(MIB_TCP6ROW_OWNER_PID.offsets, {
    ucLocalAddr: 0,
    dwLocalScopeId: 16,
    dwLocalPort: 20,
    ucRemoteAddr: 24,
    dwRemoteScopeId: 40,
    dwRemotePort: 44,
    dwState: 48,
    dwOwningPid: 52,
  });
  assertEquals(MIB_TCP6TABLE_OWNER_PID.offsets.table, 4);
  assertEquals(MIB_TCP6TABLE_OWNER_PID.size, 60);
});

Deno.test("iphlpapi: SDK constants", () => {
  assertEquals([AF_INET, AF_INET6], [2, 23]);
  assertEquals(TCP_TABLE_CLASS.TCP_TABLE_OWNER_PID_LISTENER, 3);
  assertEquals(TCP_TABLE_CLASS.TCP_TABLE_OWNER_PID_CONNECTIONS, 4);
  assertEquals(TCP_TABLE_CLASS.TCP_TABLE_OWNER_PID_ALL, 5);
  assertEquals(TCP_TABLE_CLASS.TCP_TABLE_OWNER_MODULE_ALL, 8);
  assertEquals(MIB_TCP_STATE.listen, 2);
  assertEquals(MIB_TCP_STATE.established, 5);
  assertEquals(MIB_TCP_STATE.timeWait, 11);
  assertEquals(MIB_TCP_STATE.deleteTcb, 12);
});

Deno.test("iphlpapi: addresses parse and format as Deno reports them", () => {
  assertEquals(parseIp("127.0.0.1"), {
    family: "ipv4",
    bytes: Uint8Array.of(127, 0, 0, 1),
  });
  const loop6 = new Uint8Array(16);
  loop6[15] = 1;
  assertEquals(parseIp("::1"), { family: "ipv6", bytes: loop6 });
  assertEquals(parseIp("[::1]"), { family: "ipv6", bytes: loop6 });
  assertEquals(formatIp(parseIp("::ffff:127.0.0.1").bytes), "::ffff:127.0.0.1");
  assertEquals(formatIp(parseIp("::FFFF:7f00:1").bytes), "::ffff:127.0.0.1");
  assertEquals(formatIp(parseIp("fe80::1%12").bytes), "fe80::1");
  assertEquals(
    formatIp(parseIp("2001:db8:0:0:1:0:0:1").bytes),
    "2001:db8::1:0:0:1",
  );
  assertEquals(
    formatIp(parseIp("2001:db8:0:1:1:1:1:1").bytes),
    "2001:db8:0:1:1:1:1:1",
  );
  assertEquals(formatIp(parseIp("::").bytes), "::");
  assertEquals(formatIp(Uint8Array.of(10, 0, 0, 5)), "10.0.0.5");
  for (
    const bad of [
      "",
      "localhost",
      "1.2.3",
      "256.0.0.1",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
    ]
  ) {
    assertThrows(() => parseIp(bad), TypeError, /not an IP address/);
  }
});

Deno.test("iphlpapi: the IPv4 table, ports and addresses in network order", () => {
  const { fake, ip } = setup();
  fake.addV4({
    state: 2,
    local: "0.0.0.0",
    localPort: 8443,
    remote: "0.0.0.0",
    remotePort: 0,
    pid: 1200,
  });
  fake.addV4({
    state: 5,
    local: "127.0.0.1",
    localPort: 50123,
    remote: "127.0.0.1",
    remotePort: 8443,
    pid: 4711,
  });
  fake.addV4({
    state: 11,
    local: "192.168.1.20",
    localPort: 258,
    remote: "203.0.113.9",
    remotePort: 443,
    pid: 0,
  });
  assertEquals(ip.tcpConnections({ family: "ipv4" }), [
    {
      state: "listen",
      local: { address: "0.0.0.0", port: 8443 },
      remote: { address: "0.0.0.0", port: 0 },
      pid: 1200,
    },
    {
      state: "established",
      local: { address: "127.0.0.1", port: 50123 },
      remote: { address: "127.0.0.1", port: 8443 },
      pid: 4711,
    },
    {
      state: "timeWait",
      // 258 = 0x0102: a byte swap would read 513.
      local: { address: "192.168.1.20", port: 258 },
      remote: { address: "203.0.113.9", port: 443 },
      pid: 0,
    },
  ]);
  const [call] = fake.calls;
  assertEquals(
    [call.family, call.tableClass, call.order, call.nullBuffer, call.status],
    [2, 5, 0, false, 0],
  );
  assertEquals(
    ip.tcpConnections({ family: "ipv4", table: "listeners" }).map((c) => c.pid),
    [1200],
  );
  assertEquals(
    ip.tcpConnections({ family: "ipv4", table: "connections" }).map((c) =>
      c.pid
    ),
    [4711, 0],
  );
  assertEquals(fake.calls.map((c) => c.tableClass), [5, 3, 4]);
});

Deno.test("iphlpapi: the IPv6 table", () => {
  const { fake, ip } = setup();
  fake.addV6({
    state: 5,
    local: "::1",
    localPort: 50200,
    remote: "::1",
    remotePort: 8443,
    pid: 900,
  });
  fake.addV6({
    state: 5,
    local: "fe80::5",
    localPort: 1,
    remote: "fe80::9",
    remotePort: 65535,
    pid: 901,
    localScope: 12,
  });
  assertEquals(ip.tcpConnections({ family: "ipv6" }), [
    {
      state: "established",
      local: { address: "::1", port: 50200, scopeId: 0 },
      remote: { address: "::1", port: 8443, scopeId: 0 },
      pid: 900,
    },
    {
      state: "established",
      local: { address: "fe80::5", port: 1, scopeId: 12 },
      remote: { address: "fe80::9", port: 65535, scopeId: 0 },
      pid: 901,
    },
  ]);
  assertEquals(fake.calls[0].family, 23);
});

Deno.test("iphlpapi: the buffer grows to what the call asks, a bounded number of times", () => {
  const { fake, ip } = setup();
  for (let i = 0; i < 100; i++) {
    fake.addV4({
      state: 5,
      local: "127.0.0.1",
      localPort: 40000 + i,
      remote: "127.0.0.1",
      remotePort: 8443,
      pid: 10 + i,
    });
  }
  // 100 rows do not fit the first guess (64): one more call.
  assertEquals(ip.tcpConnections({ family: "ipv4" }).length, 100);
  assertEquals(fake.calls.map((c) => c.status), [122, 0]);
  assertEquals(fake.calls[1].size >= 4 + 100 * 24, true);

  // A table that keeps growing between calls is still read…
  fake.calls.length = 0;
  fake.growth = 20;
  for (let i = 0; i < 200; i++) {
    fake.addV4({
      state: 5,
      local: "127.0.0.1",
      localPort: 20000 + i,
      remote: "127.0.0.1",
      remotePort: 80,
      pid: 1,
    });
  }
  const rows = ip.tcpConnections({ family: "ipv4" });
  assertEquals(rows.length, 300 + 20 * (fake.calls.length - 1));
  // …but not forever.
  fake.calls.length = 0;
  fake.growth = 1000;
  assertThrows(
    () => ip.tcpConnections({ family: "ipv4" }),
    Win32Error,
    /GetExtendedTcpTable failed: ERROR_INSUFFICIENT_BUFFER \(122\)/,
  );
  assertEquals(fake.calls.length, TABLE_ATTEMPTS);
});

Deno.test("iphlpapi: other failures are exact; options are validated", () => {
  const { fake, ip } = setup();
  const bad = fake.symbols.GetExtendedTcpTable(
    new Uint8Array(64),
    Uint32Array.of(64),
    0,
    10,
    5,
    0,
  );
  assertEquals(bad, 87, "AF_INET6 is 23 on Windows, not Linux's 10");
  assertThrows(
    () => ip.tcpConnections({ family: "ipx" as "ipv4" }),
    TypeError,
    /family must be ipv4 or ipv6/,
  );
  assertThrows(
    () => ip.tcpConnections({ family: "ipv4", table: "udp" as "all" }),
    TypeError,
    /table must be/,
  );
  assertThrows(
    () => ip.localEndOwner({ address: "127.0.0.1", port: 0 }),
    RangeError,
    /port/,
  );
  assertThrows(
    () => ip.localEndOwner({ address: "localhost", port: 1 }),
    TypeError,
    /not an IP address/,
  );
});

Deno.test("iphlpapi: a failing status becomes a Win32Error with its name", () => {
  const ip = new IpHlpApi({ GetExtendedTcpTable: () => 50 });
  assertThrows(
    () => ip.tcpConnections({ family: "ipv6" }),
    Win32Error,
    /GetExtendedTcpTable failed: ERROR_NOT_SUPPORTED \(50\)/,
  );
});

Deno.test("iphlpapi: the owner of a connection's local end", () => {
  const { fake, ip } = setup();
  // The session manager's listener and its end of the streamer's connection.
  fake.addV4({
    state: 2,
    local: "127.0.0.1",
    localPort: 8443,
    remote: "0.0.0.0",
    remotePort: 0,
    pid: 100,
  });
  fake.addV4({
    state: 5,
    local: "127.0.0.1",
    localPort: 8443,
    remote: "127.0.0.1",
    remotePort: 50123,
    pid: 100,
  });
  // The streamer's end: what the session manager sees as its peer.
  fake.addV4({
    state: 5,
    local: "127.0.0.1",
    localPort: 50123,
    remote: "127.0.0.1",
    remotePort: 8443,
    pid: 4711,
  });
  // An earlier connection from another port, gone to TIME_WAIT.
  fake.addV4({
    state: 11,
    local: "127.0.0.1",
    localPort: 50100,
    remote: "127.0.0.1",
    remotePort: 8443,
    pid: 0,
  });
  fake.addV6({
    state: 5,
    local: "::1",
    localPort: 50200,
    remote: "::1",
    remotePort: 8443,
    pid: 900,
  });
  fake.addV6({
    state: 5,
    local: "::ffff:127.0.0.2",
    localPort: 50300,
    remote: "::ffff:127.0.0.1",
    remotePort: 8443,
    pid: 901,
  });

  assertEquals(ip.localEndOwner({ address: "127.0.0.1", port: 50123 }), 4711);
  // A dual-stack listener reports IPv4 peers as IPv4-mapped.
  assertEquals(
    ip.localEndOwner({ address: "::ffff:127.0.0.1", port: 50123 }),
    4711,
  );
  assertEquals(ip.localEndOwner({ address: "::1", port: 50200 }), 900);
  assertEquals(ip.localEndOwner({ address: "[::1]", port: 50200 }), 900);
  // …and an IPv4-mapped socket in the IPv6 table is found from the IPv4 form.
  assertEquals(ip.localEndOwner({ address: "127.0.0.2", port: 50300 }), 901);
  assertEquals(
    ip.localEndOwner({ address: "127.0.0.1", port: 50100 }),
    undefined,
    "pid 0",
  );
  assertEquals(
    ip.localEndOwner({ address: "127.0.0.1", port: 50999 }),
    undefined,
  );
  assertEquals(
    ip.localEndOwner({ address: "127.0.0.3", port: 50123 }),
    undefined,
  );
  assertEquals(ip.localEndOwner({ address: "::1", port: 50123 }), undefined);
  // Only connected sockets are asked for.
  assertEquals(new Set(fake.calls.map((c) => c.tableClass)), new Set([4]));

  // Two processes on one local end (SO_REUSEADDR): refused, not guessed.
  fake.addV4({
    state: 5,
    local: "127.0.0.1",
    localPort: 50123,
    remote: "127.0.0.1",
    remotePort: 9000,
    pid: 666,
  });
  assertThrows(
    () => ip.localEndOwner({ address: "127.0.0.1", port: 50123 }),
    Error,
    /processes 4711, 666 all own a connection from 127\.0\.0\.1 port 50123/,
  );
});
