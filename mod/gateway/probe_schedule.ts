/**
 * When the health monitor starts each probe of a round (pure, with the
 * clock passed in): the round's hosts spread evenly over the probe
 * interval, in their order, and never more than a bound of probes in flight
 * at once. Started all together, 10,000 probes opened 10,000 connections at
 * once every interval and grew a gateway by 130–200 MB; spread over a 5 s
 * interval, hosts that answer in a few milliseconds keep a handful in
 * flight.
 *
 * The bound is for hosts that do not answer: each holds a slot until its
 * probe's timeout. While every slot is held the round waits for one, and
 * the hosts after it start late (never earlier than their place); a probe
 * still in flight when its host's next turn comes is left alone, as before.
 *
 * @module
 */
import { delay } from "../util/async.ts";

/** `healthCheck.maxConcurrentProbes` when not set. */
export const DEFAULT_MAX_CONCURRENT_PROBES = 1000;

/** The time a round runs on: real in the gateway, virtual in tests. */
export interface RoundClock {
  /** Now, ms. */
  now(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

/** `performance.now` and timers. */
export const realClock: RoundClock = {
  now: () => performance.now(),
  sleep: (ms, signal) => delay(ms, { signal }),
};

/**
 * Each of `count` probes' start in a round of `intervalMs`, ms from its
 * start: evenly spaced, the first at 0, all before the interval ends.
 */
export function probeOffsets(count: number, intervalMs: number): number[] {
  const step = count > 0 ? intervalMs / count : 0;
  return Array.from({ length: count }, (_, n) => n * step);
}

/** At most `size` probes in flight; the others wait their turn in order. */
export class ProbeSlots {
  /** How many may be in flight. */
  readonly size: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  /** `size`: at least 1. */
  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1) {
      throw new RangeError(`probe slots: ${size} is not a whole number ≥ 1`);
    }
    this.size = size;
  }

  /** Probes in flight. */
  get active(): number {
    return this.#active;
  }

  /**
   * Takes a slot: at once when one is free (synchronously counted), else
   * when one is released. False when `signal` aborts first.
   */
  take(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.#active < this.size) {
      this.#active++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const granted = (): void => {
        signal.removeEventListener("abort", aborted);
        resolve(true);
      };
      const aborted = (): void => {
        const at = this.#waiting.indexOf(granted);
        if (at >= 0) this.#waiting.splice(at, 1);
        resolve(false);
      };
      this.#waiting.push(granted);
      signal.addEventListener("abort", aborted, { once: true });
    });
  }

  /** Gives a slot back: to the first waiting, if any. */
  release(): void {
    const next = this.#waiting.shift();
    // The slot passes on still counted.
    if (next) next();
    else this.#active--;
  }
}

/** Options for {@linkcode runProbeRound}. */
export interface ProbeRoundOptions {
  /**
   * The probe interval, ms: the round's hosts start within it (0: as fast
   * as slots free up).
   */
  intervalMs: number;
  /** The slots every probe of the monitor takes. */
  slots: ProbeSlots;
  /**
   * Probes a host holding a slot (released when it settles); bounded by the
   * probe timeout, and never rejects.
   */
  probe(serverUrl: string): Promise<void>;
  /** Whether a host's probe is still in flight (it is then left alone). */
  busy(serverUrl: string): boolean;
  /** Ends the round (probes started run on). */
  signal: AbortSignal;
  /** Default {@linkcode realClock}. */
  clock?: RoundClock;
}

/**
 * Starts each host's probe at its place in the interval
 * ({@linkcode probeOffsets}) once a slot is free; resolves when the last has
 * started (probes run on).
 */
export async function runProbeRound(
  targets: readonly string[],
  options: ProbeRoundOptions,
): Promise<void> {
  const { slots, signal } = options;
  const clock = options.clock ?? realClock;
  const start = clock.now();
  const offsets = probeOffsets(targets.length, options.intervalMs);
  for (let n = 0; n < targets.length; n++) {
    const wait = start + offsets[n] - clock.now();
    if (wait > 0) await clock.sleep(wait, signal);
    if (signal.aborted) return;
    const serverUrl = targets[n];
    if (options.busy(serverUrl)) continue;
    if (!await slots.take(signal)) return;
    // Probed meanwhile (a registration's probe, say).
    if (options.busy(serverUrl)) {
      slots.release();
      continue;
    }
    options.probe(serverUrl).finally(() => slots.release());
  }
}
