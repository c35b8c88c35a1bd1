/**
 * The restart benchmark's command line: the variants it starts on the
 * seeded store, in order (the "before" tree first, the ratios' baseline).
 *
 * @module
 */
import { variantsOf } from "../../bench/restart_bench.ts";
import { probeFarmAddress } from "../../bench/probe_farm_server.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("variants: before, this tree, each environment and V8 flags", () => {
  assertEquals(variantsOf([]), [{ label: "this tree" }]);
  assertEquals(
    variantsOf([
      "--v8-flags=--optimize-for-size",
      "--before=/tmp/old/",
      "--env=MALLOC_ARENA_MAX=2",
    ]),
    [
      { label: "before", run: { main: "/tmp/old/main.ts" } },
      { label: "this tree" },
      { label: "MALLOC_ARENA_MAX=2", run: { env: { MALLOC_ARENA_MAX: "2" } } },
      {
        label: "--optimize-for-size",
        run: { denoFlags: ["--v8-flags=--optimize-for-size"] },
      },
    ],
  );
});

Deno.test("the probe farm gives each host an address of its own", () => {
  assertEquals(probeFarmAddress(0), "127.1.0.0");
  assertEquals(probeFarmAddress(258), "127.1.1.2");
  assertEquals(probeFarmAddress(65_535), "127.1.255.255");
});
