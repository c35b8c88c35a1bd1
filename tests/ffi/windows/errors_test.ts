/**
 * Tests for `ffi/windows/errors.ts`: codes carry their SDK names, unknown
 * codes still read clearly, NET_API_STATUS names fall back to Win32 names,
 * and the status checks throw only on failure.
 *
 * @module
 */
import { assertEquals, assertThrows } from "../../support/assert.ts";
import {
  checkNetStatus,
  checkStatus,
  NetApiError,
  netApiStatusName,
  Win32Error,
  win32ErrorName,
} from "../../../ffi/windows/errors.ts";

Deno.test("Win32 and NET_API_STATUS codes carry their names", () => {
  assertEquals(win32ErrorName(5), "ERROR_ACCESS_DENIED");
  assertEquals(win32ErrorName(1008), "ERROR_NO_TOKEN");
  assertEquals(win32ErrorName(99999), "ERROR_99999");
  assertEquals(netApiStatusName(2224), "NERR_UserExists");
  assertEquals(netApiStatusName(2221), "NERR_UserNotFound");
  assertEquals(netApiStatusName(5), "ERROR_ACCESS_DENIED");
  assertEquals(netApiStatusName(2999), "NERR_2999");
});

Deno.test("errors say which function failed, with what", () => {
  const e = new Win32Error("WTSQueryUserToken", 1008);
  assertEquals(e.message, "WTSQueryUserToken failed: ERROR_NO_TOKEN (1008)");
  assertEquals([e.function, e.code, e.codeName], [
    "WTSQueryUserToken",
    1008,
    "ERROR_NO_TOKEN",
  ]);
  const unknown = new Win32Error("LogonUserW", undefined);
  assertEquals(unknown.code, undefined);
  assertEquals(unknown.codeName, "unknown");
  const n = new NetApiError("NetUserAdd", 2224);
  assertEquals(n.message, "NetUserAdd failed: NERR_UserExists (2224)");
  checkStatus("RegLoadKeyW", 0);
  checkNetStatus("NetUserDel", 0);
  assertThrows(
    () => checkStatus("RegLoadKeyW", 32),
    Win32Error,
    /ERROR_SHARING_VIOLATION \(32\)/,
  );
  assertThrows(
    () => checkNetStatus("NetUserDel", 2221),
    NetApiError,
    /NERR_UserNotFound \(2221\)/,
  );
});
