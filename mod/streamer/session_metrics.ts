/**
 * The session's metrics figures over one reporting interval: frames, bytes
 * and frame round trips summed over the viewers' media streams, and the
 * input events counted meanwhile. {@linkcode SessionMetrics.sample} is what
 * `reporting.ts` calls every interval.
 *
 * @module
 */
import type { MetricsSample } from "./reporting.ts";

/** Frame figures one viewer's media stream hands over (and resets). */
export interface StreamStats {
  /** Frames sent. */
  frames: number;
  /** Bytes sent. */
  bytes: number;
  /** Frames acknowledged. */
  acked: number;
  /** Sum of send → acknowledgement times, ms. */
  ackMsTotal: number;
}

/** A viewer as metrics see it (a `Viewer`, whose media may not run yet). */
export interface StatsSource {
  /** The viewer's media stream, once started. */
  readonly media?: { takeStats(): StreamStats };
}

/** Options for {@linkcode SessionMetrics}. */
export interface SessionMetricsOptions {
  /** The clock, in ms. Default `performance.now`. */
  now?: () => number;
}

/** Gathers the figures of each interval. */
export class SessionMetrics {
  readonly #now: () => number;
  #sampledAt: number;
  #inputEvents = 0;

  /** Starts the first interval now. */
  constructor(options: SessionMetricsOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    this.#sampledAt = this.#now();
  }

  /** Counts one input event from a viewer. */
  countInput(): void {
    this.#inputEvents++;
  }

  /**
   * The figures since the last sample, taken (and reset) from `viewers`;
   * starts the next interval.
   */
  sample(viewers: Iterable<StatsSource>): MetricsSample {
    const now = this.#now();
    const seconds = Math.max(0.001, (now - this.#sampledAt) / 1000);
    this.#sampledAt = now;
    let frames = 0, bytes = 0, acked = 0, ackMs = 0;
    for (const viewer of viewers) {
      const stats = viewer.media?.takeStats();
      if (!stats) continue;
      frames += stats.frames;
      bytes += stats.bytes;
      acked += stats.acked;
      ackMs += stats.ackMsTotal;
    }
    const inputEvents = this.#inputEvents;
    this.#inputEvents = 0;
    return {
      fps: frames / seconds,
      bytes,
      latencyMs: acked ? ackMs / acked : undefined,
      inputEvents,
    };
  }
}
