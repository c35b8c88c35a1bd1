/**
 * The live-count benchmark, small: the session map's tally agrees with a
 * count of every session at every simulated second (it throws otherwise),
 * and the figures it prints are there.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  formatLiveCountBench,
  runLiveCountBench,
} from "../../bench/live_count_bench.ts";

Deno.test("the tally agrees with a full count over three stale windows", () => {
  const figures = runLiveCountBench({ sessions: 2_000, countsPerSecond: 2 });
  assertEquals(figures.sessions, 2_000);
  // 5 % of the streamers never check in: silent after the first window.
  assertEquals(figures.live, 1_900);
  assert(figures.tally.count === figures.full.count);
  assertMatch(formatLiveCountBench(figures), /every session \/ tally: p50 ×/);
});
