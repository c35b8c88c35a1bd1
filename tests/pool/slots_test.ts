/**
 * Tests for slot arithmetic: pool account names `webs01`…`webs99` (always two
 * digits) and the streamer port formula `basePortNumber + N × 10`.
 *
 * @module
 */
import { accountName, streamerPort } from "../../mod/pool/slots.ts";
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
