/**
 * The proxy benchmark's command line: where the relays run, and how much is
 * echoed per round.
 *
 * @module
 */
import { echoMib, pinsRelays } from "../../bench/proxy_bench.ts";
import { assertEquals, assertThrows } from "../support/assert.ts";

Deno.test("--echo-mib sets the bytes echoed per round, and refuses nonsense", () => {
  assertEquals(echoMib([]), undefined);
  assertEquals(echoMib(["--quick", "--echo-mib=1024"]), 1024 * 1024 * 1024);
  assertThrows(() => echoMib(["--echo-mib=lots"]), TypeError, /--echo-mib/);
  assertThrows(() => echoMib(["--echo-mib=0"]), TypeError, /--echo-mib/);
});

Deno.test("the relays are pinned unless --shared is given", () => {
  assertEquals(pinsRelays(["--shared"]), false);
  assertEquals(pinsRelays([]), navigator.hardwareConcurrency >= 2);
});
