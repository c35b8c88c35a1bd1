/**
 * Tests for slot arithmetic: pool account names `webs01`…`webs99` (always two
 * digits), the streamer port formula `basePortNumber + N × 10`, and
 * `slotOfAccount` round trips and rejections.
 *
 * @module
 */
import {
  accountName,
  slotOfAccount,
  streamerPort,
} from "../../mod/pool/slots.ts";
import { assertEquals, assertThrows } from "../support/assert.ts";

Deno.test("accountName: base plus a two-digit slot number", () => {
  assertEquals(accountName("webs", 1), "webs01");
  assertEquals(accountName("webs", 2), "webs02");
  assertEquals(accountName("webs", 9), "webs09");
  assertEquals(accountName("webs", 10), "webs10");
  assertEquals(accountName("webs", 99), "webs99");
  assertEquals(accountName("pool_", 7), "pool_07");
});

Deno.test("accountName refuses slots outside 1..99 and non-integers", () => {
  for (const n of [0, -1, 100, 1.5, NaN, Infinity]) {
    assertThrows(() => accountName("webs", n), RangeError, /outside 1\.\.99/);
  }
});

Deno.test("streamerPort: basePortNumber + N × 10", () => {
  assertEquals(streamerPort(9000, 1), 9010);
  assertEquals(streamerPort(9000, 2), 9020);
  assertEquals(streamerPort(9000, 99), 9990);
  assertEquals(streamerPort(20000, 4), 20040);
});

Deno.test("slotOfAccount round-trips every slot", () => {
  for (const base of ["webs", "wtabc", "a"]) {
    for (let n = 1; n <= 99; n++) {
      assertEquals(slotOfAccount(base, accountName(base, n)), n);
    }
  }
});

Deno.test("slotOfAccount rejects names that are not pool accounts", () => {
  const notAccounts = [
    "webs", // no number
    "webs1", // one digit
    "webs001", // three digits
    "webs00", // slot 0
    "webs1a",
    "webs-1",
    "other01", // another base
    "xwebs01",
    "WEBS01",
    "",
  ];
  for (const account of notAccounts) {
    assertEquals(slotOfAccount("webs", account), undefined, account);
  }
});
