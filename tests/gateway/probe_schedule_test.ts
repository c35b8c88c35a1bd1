/**
 * The probe schedule on a virtual clock (no wall-clock assertions): the
 * offsets spread every host once over the interval; a round starts each
 * host's probe at its place, never more than the slots allow in flight; a
 * host that does not answer holds its slot until its probe times out and
 * delays the others by no more than that; a host still in flight is left
 * alone; slots are handed on in order and a wait ends when its signal
 * aborts.
 *
 * @module
 */
import {
  probeOffsets,
  ProbeSlots,
  type RoundClock,
  runProbeRound,
} from "../../mod/gateway/probe_schedule.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";

/** Timers on a clock that moves only when every task has settled. */
class VirtualClock implements RoundClock {
  #now = 0;
  #timers: { at: number; fire: () => void }[] = [];

  now(): number {
    return this.#now;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const timer = { at: this.#now + ms, fire: resolve };
      this.#timers.push(timer);
      signal?.addEventListener("abort", () => {
        this.#timers = this.#timers.filter((t) => t !== timer);
        resolve();
      }, { once: true });
    });
  }

  /** Fires timers in time order until `work` settles. */
  async run<T>(work: Promise<T>): Promise<T> {
    let settled = false;
    work.finally(() => settled = true).catch(() => {});
    while (true) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (settled) return work;
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers.shift();
      if (!next) throw new Error("the round waits for nothing");
      this.#now = next.at;
      next.fire();
    }
  }
}

/** Probes that take `latencyMs(url)` on the clock, recorded. */
function recordingProbes(
  clock: VirtualClock,
  latencyMs: (url: string) => number,
) {
  const starts = new Map<string, number[]>();
  let active = 0;
  let maxActive = 0;
  const running: Promise<void>[] = [];
  return {
    starts,
    get maxActive() {
      return maxActive;
    },
    /** Resolves when every probe started has ended. */
    ended: () => Promise.all(running),
    probe(url: string): Promise<void> {
      starts.set(url, [...starts.get(url) ?? [], clock.now()]);
      active++;
      maxActive = Math.max(maxActive, active);
      const done = clock.sleep(latencyMs(url)).then(() => {
        active--;
      });
      running.push(done);
      return done;
    },
  };
}

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);

Deno.test("offsets spread every host once, evenly, within the interval", () => {
  assertEquals(probeOffsets(0, 5000), []);
  assertEquals(probeOffsets(1, 5000), [0]);
  assertEquals(probeOffsets(4, 5000), [0, 1250, 2500, 3750]);
  const offsets = probeOffsets(10_000, 5000);
  assertEquals(offsets.length, 10_000);
  assert(
    offsets.every((at, n) =>
      at >= 0 && at < 5000 && (n === 0 || at > offsets[n - 1])
    ),
  );
});

Deno.test("a round starts each host once, at its place", async () => {
  const clock = new VirtualClock();
  const probes = recordingProbes(clock, () => 10);
  const targets = hosts(8);
  await clock.run(runProbeRound(targets, {
    intervalMs: 4000,
    slots: new ProbeSlots(2),
    probe: probes.probe,
    busy: () => false,
    signal: new AbortController().signal,
    clock,
  }));
  // The round ends once the last has started, before the interval does.
  assert(clock.now() < 4000, `the round ended at ${clock.now()}`);
  await clock.run(probes.ended());
  assertEquals(
    targets.map((url) => probes.starts.get(url)),
    probeOffsets(8, 4000).map((at) => [at]),
  );
  assertEquals(probes.maxActive, 1);
});

Deno.test("never more probes in flight than slots", async () => {
  const clock = new VirtualClock();
  // Each probe takes a whole interval: unbounded, all 50 would overlap.
  const probes = recordingProbes(clock, () => 1000);
  const slots = new ProbeSlots(4);
  const targets = hosts(50);
  await clock.run(runProbeRound(targets, {
    intervalMs: 1000,
    slots,
    probe: probes.probe,
    busy: () => false,
    signal: new AbortController().signal,
    clock,
  }));
  await clock.run(probes.ended());
  assertEquals(probes.maxActive, 4);
  assertEquals(slots.active, 0);
  assert(targets.every((url) => probes.starts.get(url)?.length === 1));
  // Each start waited for a slot, never started before its place.
  const offsets = probeOffsets(50, 1000);
  assert(targets.every((url, n) => probes.starts.get(url)![0] >= offsets[n]));
});

Deno.test("a host not answering delays the others by its timeout at most", async (t) => {
  const timeoutMs = 6000;
  const targets = ["silent", "a", "b", "c"];
  const offsets = probeOffsets(targets.length, 4000);
  for (const size of [1, 2]) {
    await t.step(`${size} slot(s)`, async () => {
      const clock = new VirtualClock();
      // The monitor's probe ends at its timeout.
      const probes = recordingProbes(
        clock,
        (url) => url === "silent" ? timeoutMs : 10,
      );
      await clock.run(runProbeRound(targets, {
        intervalMs: 4000,
        slots: new ProbeSlots(size),
        probe: probes.probe,
        busy: () => false,
        signal: new AbortController().signal,
        clock,
      }));
      await clock.run(probes.ended());
      const starts = targets.map((url) => probes.starts.get(url)![0]);
      assert(
        starts.every((at, n) => at <= offsets[n] + timeoutMs),
        `started at ${starts}`,
      );
      if (size === 1) {
        // The one slot is the silent host's until its timeout.
        assertEquals(starts[1], timeoutMs);
      } else {
        assertEquals(starts, offsets);
      }
    });
  }
});

Deno.test("a host whose probe is still in flight is left alone", async () => {
  const clock = new VirtualClock();
  const probes = recordingProbes(clock, () => 10);
  await clock.run(runProbeRound(["a", "b", "c"], {
    intervalMs: 300,
    slots: new ProbeSlots(10),
    probe: probes.probe,
    busy: (url) => url === "b",
    signal: new AbortController().signal,
    clock,
  }));
  await clock.run(probes.ended());
  assertEquals([...probes.starts.keys()], ["a", "c"]);
});

Deno.test("a round ends when its signal aborts", async () => {
  const clock = new VirtualClock();
  const probes = recordingProbes(clock, () => 10);
  const stopping = new AbortController();
  const round = runProbeRound(hosts(4), {
    intervalMs: 4000,
    slots: new ProbeSlots(10),
    probe: (url) => {
      if (url === "h1") stopping.abort();
      return probes.probe(url);
    },
    busy: () => false,
    signal: stopping.signal,
    clock,
  });
  await clock.run(round);
  await clock.run(probes.ended());
  assertEquals([...probes.starts.keys()], ["h0", "h1"]);
});

Deno.test("slots go to those waiting in order; a wait ends on abort", async () => {
  assertThrows(() => new ProbeSlots(0), RangeError);
  const slots = new ProbeSlots(1);
  const never = new AbortController().signal;
  assertEquals(await slots.take(never), true);
  const order: string[] = [];
  const first = slots.take(never).then((ok) => order.push(`first ${ok}`));
  const gaveUp = new AbortController();
  const second = slots.take(gaveUp.signal).then((ok) =>
    order.push(`second ${ok}`)
  );
  const third = slots.take(never).then((ok) => order.push(`third ${ok}`));
  gaveUp.abort();
  await second;
  slots.release();
  await first;
  assertEquals(slots.active, 1);
  slots.release();
  await third;
  slots.release();
  assertEquals(slots.active, 0);
  assertEquals(order, ["second false", "first true", "third true"]);
  const aborted = AbortSignal.abort();
  assertEquals(await slots.take(aborted), false);
  assertEquals(slots.active, 0);
});

Deno.test("a round of 0 ms starts hosts as fast as slots free up", async () => {
  const clock = new VirtualClock();
  const probes = recordingProbes(clock, () => 10);
  const targets = hosts(6);
  await clock.run(runProbeRound(targets, {
    intervalMs: 0,
    slots: new ProbeSlots(2),
    probe: probes.probe,
    busy: () => false,
    signal: new AbortController().signal,
    clock,
  }));
  await clock.run(probes.ended());
  assertEquals(
    targets.map((url) => probes.starts.get(url)),
    [[0], [0], [10], [10], [20], [20]],
  );
  assertEquals(probes.maxActive, 2);
});
