/**
 * Host load for heartbeats: CPU use over the interval since the last sample
 * (from the per-core time counters, so it works on Linux and Windows alike)
 * and memory in use, both as percentages with one decimal.
 *
 * @module
 */
import { cpus } from "node:os";

/** One load reading. */
export interface LoadSample {
  /** Percent of all cores busy since the previous sample (0–100). */
  cpuUsage: number;
  /** Percent of physical memory in use (0–100). */
  memoryUsage: number;
}

interface CpuTotals {
  busy: number;
  total: number;
}

function cpuTotals(): CpuTotals {
  let busy = 0, total = 0;
  for (const { times } of cpus()) {
    const all = times.user + times.nice + times.sys + times.irq + times.idle;
    total += all;
    busy += all - times.idle;
  }
  return { busy, total };
}

/** Memory in use, as a percentage. */
export function memoryUsage(): number {
  const { total, available } = Deno.systemMemoryInfo();
  return round1(total ? ((total - available) / total) * 100 : 0);
}

/** A sampler: each call reports CPU use since the previous call. */
export function createLoadSampler(): () => LoadSample {
  let last = cpuTotals();
  return () => {
    const now = cpuTotals();
    const total = now.total - last.total;
    const busy = now.busy - last.busy;
    last = now;
    return {
      cpuUsage: round1(total > 0 ? (busy / total) * 100 : 0),
      memoryUsage: memoryUsage(),
    };
  };
}

function round1(n: number): number {
  return Math.round(Math.min(100, Math.max(0, n)) * 10) / 10;
}
