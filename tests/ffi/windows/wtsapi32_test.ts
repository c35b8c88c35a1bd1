/**
 * Tests for `ffi/windows/wtsapi32.ts`: wtsapi32.h layouts and constants,
 * the nonblocking set, and every `WtsApi32` method against the fake — which
 * hands out real WTS_SESSION_INFOW arrays and query buffers and checks each
 * is freed with WTSFreeMemory exactly once, also when decoding fails.
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
import { Kernel32 } from "../../../ffi/windows/kernel32.ts";
import {
  AF_INET,
  connectStateName,
  WTS_CLIENT_ADDRESS,
  WTS_CONNECTSTATE,
  WTS_CURRENT_SERVER_HANDLE,
  WTS_CURRENT_SESSION,
  WTS_INFO_CLASS,
  WTS_SESSION_INFOW,
  WtsApi32,
  WTSAPI32_SYMBOLS,
  type WtsApi32Symbols,
} from "../../../ffi/windows/wtsapi32.ts";
import { FakeKernel32, writeU32 } from "../../support/windows/fake_kernel32.ts";
import { FakeWtsApi32 } from "../../support/windows/fake_wtsapi32.ts";

function setup() {
  const k32 = new FakeKernel32();
  const fake = new FakeWtsApi32(k32);
  fake.addSession({
    id: 2,
    winStation: "RDP-Tcp#0",
    state: WTS_CONNECTSTATE.WTSActive,
    user: "ws-pool-01",
    domain: "GOLDEN",
    clientAddress: {
      family: AF_INET,
      bytes: [0, 0, 127, 0, 0, 1, ...new Array(14).fill(0)],
    },
  });
  return {
    k32,
    fake,
    wts: new WtsApi32(fake.symbols, new Kernel32(k32.symbols)),
  };
}

Deno.test("wtsapi32: struct layouts match wtsapi32.h on x64", () => {
  assertEquals(WTS_SESSION_INFOW.size, 24);
  assertEquals(WTS_SESSION_INFOW.offsets, {
    SessionId: 0,
    pWinStationName: 8,
    State: 16,
  });
  assertEquals(WTS_CLIENT_ADDRESS.size, 24);
  assertEquals(WTS_CLIENT_ADDRESS.offsets, { AddressFamily: 0, Address: 4 });
});

Deno.test("wtsapi32: SDK constants", () => {
  assertEquals(WTS_CONNECTSTATE, {
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
  });
  assertEquals(WTS_INFO_CLASS, {
    WTSSessionId: 4,
    WTSUserName: 5,
    WTSWinStationName: 6,
    WTSDomainName: 7,
    WTSConnectState: 8,
    WTSClientAddress: 14,
  });
  assertEquals(WTS_CURRENT_SERVER_HANDLE, null);
  assertEquals(WTS_CURRENT_SESSION, 0xffffffff);
  assertEquals(connectStateName(4), "WTSDisconnected");
  assertEquals(connectStateName(42), "WTSState42");
});

Deno.test("wtsapi32: only WTSLogoffSession is nonblocking", () => {
  const nonblocking = Object.entries(WTSAPI32_SYMBOLS)
    .filter(([, d]) => "nonblocking" in d && d.nonblocking)
    .map(([n]) => n);
  assertEquals(nonblocking, ["WTSLogoffSession"]);
});

Deno.test("wtsapi32: sessions decodes WTS_SESSION_INFOW and frees the array", () => {
  const { fake, wts } = setup();
  fake.addSession({
    id: 3,
    winStation: "RDP-Tcp#1 ü",
    state: WTS_CONNECTSTATE.WTSConnected,
  });
  assertEquals(wts.sessions(), [
    { id: 0, winStation: "Services", state: 4, stateName: "WTSDisconnected" },
    { id: 1, winStation: "Console", state: 1, stateName: "WTSConnected" },
    { id: 65536, winStation: "RDP-Tcp", state: 6, stateName: "WTSListen" },
    { id: 2, winStation: "RDP-Tcp#0", state: 0, stateName: "WTSActive" },
    { id: 3, winStation: "RDP-Tcp#1 ü", state: 1, stateName: "WTSConnected" },
  ]);
  fake.assertAllFreed();
  assertEquals(fake.heap.all().map((b) => b.frees), [1]);
});

Deno.test("wtsapi32: sessions with none still frees", () => {
  const { fake, wts } = setup();
  fake.sessions = [];
  assertEquals(wts.sessions(), []);
  fake.assertAllFreed();
});

Deno.test("wtsapi32: sessions frees the array even when decoding throws", () => {
  const { fake } = setup();
  const k32 = new FakeKernel32();
  const symbols: WtsApi32Symbols = {
    ...fake.symbols,
    WTSEnumerateSessionsW: (server, reserved, version, out, count) => {
      const ok = fake.symbols.WTSEnumerateSessionsW(
        server,
        reserved,
        version,
        out,
        count,
      );
      writeU32(count, 0xffffffff); // an impossible count: copying it throws
      return ok;
    },
  };
  const wts = new WtsApi32(symbols, new Kernel32(k32.symbols));
  assertThrows(() => wts.sessions(), RangeError);
  fake.assertAllFreed();
});

Deno.test("wtsapi32: sessions failure carries GetLastError", () => {
  const { k32, fake } = setup();
  const symbols: WtsApi32Symbols = {
    ...fake.symbols,
    WTSEnumerateSessionsW: () => k32.fail(5),
  };
  const wts = new WtsApi32(symbols, new Kernel32(k32.symbols));
  assertThrows(
    () => wts.sessions(),
    Win32Error,
    /WTSEnumerateSessionsW failed: ERROR_ACCESS_DENIED \(5\)/,
  );
});

Deno.test("wtsapi32: user, domain, station and state of a session", () => {
  const { fake, wts } = setup();
  assertEquals(wts.userName(2), "ws-pool-01");
  assertEquals(wts.domainName(2), "GOLDEN");
  assertEquals(wts.winStationName(2), "RDP-Tcp#0");
  assertEquals(wts.connectState(2), WTS_CONNECTSTATE.WTSActive);
  assertEquals(wts.userName(1), "");
  assertEquals(wts.domainName(1), "");
  assertEquals(wts.connectState(65536), WTS_CONNECTSTATE.WTSListen);
  fake.assertAllFreed();
  assert(fake.heap.all().every((b) => b.frees === 1));
  assertEquals(fake.heap.all().length, 7);
});

Deno.test("wtsapi32: clientAddress decodes AF_INET at Address[2..5]", () => {
  const { fake, wts } = setup();
  const a = wts.clientAddress(2);
  assertEquals([a.family, a.address, a.bytes.length], [
    AF_INET,
    "127.0.0.1",
    20,
  ]);
  assertEquals(wts.clientAddress(1), { family: 0, bytes: new Uint8Array(20) });
  fake.assertAllFreed();
});

Deno.test("wtsapi32: queries of an unknown session carry the last error", () => {
  const { fake, wts } = setup();
  assertThrows(
    () => wts.userName(77),
    Win32Error,
    /WTSQuerySessionInformationW failed: ERROR_CTX_WINSTATION_NOT_FOUND \(7022\)/,
  );
  assertThrows(() => wts.connectState(77), Win32Error, /7022/);
  assertThrows(() => wts.userName(-1), TypeError, /invalid session id: -1/);
  assertThrows(() => wts.userName(1.5), TypeError, /invalid session id/);
  assertEquals(fake.heap.all(), []);
});

Deno.test("wtsapi32: a short WTSConnectState buffer is an error, still freed", () => {
  const { k32, fake } = setup();
  const symbols: WtsApi32Symbols = {
    ...fake.symbols,
    WTSQuerySessionInformationW: (server, id, infoClass, out, returned) => {
      const ok = fake.symbols.WTSQuerySessionInformationW(
        server,
        id,
        infoClass,
        out,
        returned,
      );
      writeU32(returned, 2);
      return ok;
    },
  };
  const wts = new WtsApi32(symbols, new Kernel32(k32.symbols));
  assertThrows(() => wts.connectState(2), Error, /returned 2 bytes/);
  fake.assertAllFreed();
});

Deno.test("wtsapi32: logoff waits for the session to end, off the event loop", async () => {
  const { k32, fake, wts } = setup();
  const pending = wts.logoff(2);
  assert(pending instanceof Promise);
  await pending;
  assertEquals(fake.logoffs, [{ id: 2, wait: 1 }]);
  assertEquals(fake.session(2), undefined);
  const calls = k32.getLastErrorCalls;
  const e = await assertRejects(
    () => wts.logoff(2),
    Win32Error,
    /WTSLogoffSession failed \(its error code is not readable/,
  );
  assertEquals((e as Win32Error).code, undefined);
  assertEquals(k32.getLastErrorCalls, calls);
  assertEquals(k32.poolLastError, 7022);
});

Deno.test("wtsapi32: disconnect leaves the user logged on", () => {
  const { fake, wts } = setup();
  wts.disconnect(2);
  assertEquals(fake.session(2)?.state, WTS_CONNECTSTATE.WTSDisconnected);
  assertEquals(fake.session(2)?.user, "ws-pool-01");
  assertThrows(
    () => wts.disconnect(9),
    Win32Error,
    /WTSDisconnectSession failed: ERROR_CTX_WINSTATION_NOT_FOUND \(7022\)/,
  );
});

Deno.test("wtsapi32: userToken returns a token handle the caller closes", () => {
  const { k32, wts } = setup();
  const token = wts.userToken(2);
  const handle = k32.handle(token, "token");
  assertEquals(handle?.data.user, "ws-pool-01");
  assertEquals(handle?.data.sessionId, 2);
  new Kernel32(k32.symbols).closeHandle(token);
  k32.assertAllClosed();
});

Deno.test("wtsapi32: userToken errors: ERROR_NO_TOKEN, privilege, unknown", () => {
  const { fake, wts } = setup();
  assertThrows(
    () => wts.userToken(1),
    Win32Error,
    /WTSQueryUserToken failed: ERROR_NO_TOKEN \(1008\)/,
  );
  assertThrows(() => wts.userToken(0), Win32Error, /ERROR_NO_TOKEN/);
  assertThrows(
    () => wts.userToken(9),
    Win32Error,
    /ERROR_CTX_WINSTATION_NOT_FOUND \(7022\)/,
  );
  fake.privileged = false;
  assertThrows(
    () => wts.userToken(2),
    Win32Error,
    /WTSQueryUserToken failed: ERROR_PRIVILEGE_NOT_HELD \(1314\)/,
  );
});
