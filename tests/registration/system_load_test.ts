/**
 * Host load figures for heartbeats: both are percentages in 0..100 with at
 * most one decimal; memory use agrees with `Deno.systemMemoryInfo`; CPU use
 * covers the interval since the previous sample, agreeing with an
 * independent reading of `/proc/stat` over the same interval (on Linux).
 * No assertion depends on how fast the machine is.
 *
 * @module
 */
import {
  createLoadSampler,
  memoryUsage,
} from "../../mod/registration/system_load.ts";
import { assert, assertGreater } from "../support/assert.ts";
import { cpuUsage as processCpuUsage } from "node:process";

function assertPercent(value: number, what: string): void {
  assert(typeof value === "number" && Number.isFinite(value), what);
  assert(value >= 0 && value <= 100, `${what} ${value} is outside 0..100`);
  assert(
    Math.abs(value * 10 - Math.round(value * 10)) < 1e-9,
    `${what} ${value} has more than one decimal`,
  );
}

/** Busy and total CPU time over all cores, counted as the sampler does. */
function procStatTotals(): { busy: number; total: number } {
  let busy = 0, total = 0;
  for (const line of Deno.readTextFileSync("/proc/stat").split("\n")) {
    if (!/^cpu\d+ /.test(line)) continue;
    const [user, nice, sys, idle, _iowait, irq] = line.split(/\s+/).slice(1)
      .map(Number);
    busy += user + nice + sys + irq;
    total += user + nice + sys + irq + idle;
  }
  return { busy, total };
}

/** Spins until this process has used `ms` of CPU time (not wall time). */
function spin(ms: number): void {
  const start = processCpuUsage();
  let x = 0;
  while (true) {
    for (let i = 0; i < 100_000; i++) x = (x + i * 7) % 1_000_003;
    const used = processCpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) break;
  }
  if (x < 0) console.log(x);
}

Deno.test("system load: memoryUsage is a percentage matching the system", () => {
  const usage = memoryUsage();
  assertPercent(usage, "memoryUsage");
  const { total, available } = Deno.systemMemoryInfo();
  const expected = ((total - available) / total) * 100;
  assert(
    Math.abs(usage - expected) < 3,
    `memoryUsage ${usage} vs ${expected.toFixed(1)} from systemMemoryInfo`,
  );
  assertGreater(usage, 0);
});

Deno.test("system load: samples are percentages with one decimal", () => {
  const sample = createLoadSampler();
  for (let i = 0; i < 5; i++) {
    spin(20);
    const { cpuUsage, memoryUsage: memory, ...rest } = sample();
    assertPercent(cpuUsage, "cpuUsage");
    assertPercent(memory, "memoryUsage");
    assert(Object.keys(rest).length === 0, "no other fields");
  }
});

Deno.test({
  name: "system load: cpuUsage covers the interval since the last sample",
  ignore: Deno.build.os !== "linux",
  fn() {
    const sample = createLoadSampler();
    // Bracket the sampler's interval with independent /proc/stat readings.
    const before = procStatTotals();
    spin(400);
    const after = procStatTotals();
    const { cpuUsage } = sample();
    assertPercent(cpuUsage, "cpuUsage");
    // This process alone kept a core busy, so the figure cannot be zero.
    assertGreater(cpuUsage, 0);
    const expected = ((after.busy - before.busy) /
      (after.total - before.total)) * 100;
    // The readings are microseconds apart: a tick or two of difference.
    assert(
      Math.abs(cpuUsage - expected) < 5,
      `cpuUsage ${cpuUsage} vs ${expected.toFixed(1)} from /proc/stat`,
    );
  },
});
