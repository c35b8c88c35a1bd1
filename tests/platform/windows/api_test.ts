/**
 * Tests for `mod/platform/windows/api.ts`: the WTS connect states in the
 * SDK's enum order (as wtsapi32's binding has them) and the privilege names.
 *
 * @module
 */
import { WTS_CONNECTSTATE } from "../../../ffi/windows/wtsapi32.ts";
import {
  PLATFORM_PRIVILEGES,
  WTS_STATES,
} from "../../../mod/platform/windows/api.ts";
import { assertEquals } from "../../support/assert.ts";

Deno.test("WTS_CONNECTSTATE_CLASS order (WTSActive = 0 … WTSInit = 9)", () => {
  assertEquals(WTS_STATES.indexOf("active"), 0);
  assertEquals(WTS_STATES.indexOf("disconnected"), 4);
  assertEquals(WTS_STATES.indexOf("listen"), 6);
  assertEquals(WTS_STATES.indexOf("init"), 9);
  assertEquals(WTS_STATES.length, 10);
  Object.values(WTS_CONNECTSTATE).forEach((value, i) =>
    assertEquals(value, i, "the binding's values are 0…9 in this order")
  );
});

Deno.test("the platform's privileges", () => {
  assertEquals([...PLATFORM_PRIVILEGES], [
    "SeTcbPrivilege",
    "SeAssignPrimaryTokenPrivilege",
    "SeIncreaseQuotaPrivilege",
    "SeBackupPrivilege",
    "SeRestorePrivilege",
  ]);
});
