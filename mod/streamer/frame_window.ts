/**
 * How many frames one viewer may have waiting for an acknowledgement: the
 * streamer's flow control. Two frames at any distance, as before; more when
 * the viewer is far enough that two per round trip would hold the frame rate
 * back (at 30 frames a second, beyond 66 ms), and the path has the bandwidth
 * for them. The window is sized like BBR's: frames for the shortest round
 * trip at the frame rate, and bytes at most 1.25 times what the path
 * delivered in that round trip at its best. The shortest round trip, not
 * the latest, so frames queued on a slow link never widen the window that
 * queued them; and while frames queue (a round trip beyond the shortest by
 * more than an allowance), it is back to two. A frame much larger than the
 * one that set the shortest round trip counts its own extra time on a slow
 * path as queueing too: the window then closes to two, as it always was.
 *
 * Pure: the clock is passed in.
 *
 * @module
 */

/**
 * A frame that queued longer than this (ms), or this share of the shortest
 * round trip if more, closes the window down to `minFrames` until one does
 * not: jitter on a fast path is not a queue.
 */
const QUEUE_ALLOWANCE_MS = 10;
const QUEUE_ALLOWANCE_SHARE = 0.25;

/**
 * Bytes in flight allowed, as a multiple of what the path delivered in the
 * shortest round trip at its best: a little over one, so the window grows
 * a frame or so a round trip while the path keeps up.
 */
const BYTES_GAIN = 1.25;

/** Options for {@linkcode FrameWindow}. */
export interface FrameWindowOptions {
  /**
   * Frames a second the stream sends at most; `Infinity` for a stream that
   * sends whenever the window is open.
   */
  maxFps: number;
  /** Frames always allowed in flight. Default 2. */
  minFrames?: number;
  /** Frames in flight at most, however far the viewer. Default 12. */
  maxFrames?: number;
  /** How long a round-trip or delivery-rate sample counts, ms. Default 10 s. */
  sampleMs?: number;
}

/** One frame's acknowledgement. */
export interface FrameAcknowledgement {
  /** Send → acknowledgement, ms. */
  rttMs: number;
  /** Of that, beyond the shortest round trip: time it queued, ms. */
  queueMs: number;
}

/** What the window allows now, and why. */
export interface WindowLimits {
  /** Frames in flight allowed. */
  frames: number;
  /** Bytes in flight allowed (the first `minFrames` frames go out whatever their size). */
  bytes: number;
  /** The shortest round trip sampled, ms (undefined before the first). */
  minRttMs: number | undefined;
  /** The best delivery rate sampled, bytes per ms (0 before the first). */
  bytesPerMs: number;
}

/** A frame sent and not yet acknowledged. */
interface Flight {
  id: number;
  bytes: number;
  sentAt: number;
  /** Bytes delivered when it was sent. */
  deliveredThen: number;
  /** Where its delivery-rate interval starts. */
  intervalStart: number;
}

/** A windowed extreme: the best sample of the last `spanMs`. */
class WindowedBest {
  /** Samples that may still become the best, best first. */
  readonly #samples: { at: number; value: number }[] = [];
  readonly #spanMs: number;
  readonly #better: (a: number, b: number) => boolean;

  constructor(spanMs: number, better: (a: number, b: number) => boolean) {
    this.#spanMs = spanMs;
    this.#better = better;
  }

  add(value: number, at: number): void {
    const s = this.#samples;
    // A sample no better than a newer one can never be the best again.
    while (s.length && !this.#better(s[s.length - 1].value, value)) s.pop();
    s.push({ at, value });
  }

  best(now: number): number | undefined {
    const s = this.#samples;
    while (s.length > 1 && s[0].at < now - this.#spanMs) s.shift();
    return s[0]?.value;
  }
}

/** The flow-control window of one viewer's frames. */
export class FrameWindow {
  readonly #maxFps: number;
  readonly #minFrames: number;
  readonly #maxFrames: number;
  readonly #flights: Flight[] = [];
  readonly #minRtt: WindowedBest;
  readonly #maxRate: WindowedBest;
  #delivered = 0;
  #deliveredAt = 0;
  #bytesInFlight = 0;
  /** How long the last frame acknowledged queued, ms. */
  #lastQueueMs = 0;

  constructor(options: FrameWindowOptions) {
    this.#maxFps = options.maxFps;
    this.#minFrames = options.minFrames ?? 2;
    this.#maxFrames = Math.max(this.#minFrames, options.maxFrames ?? 12);
    const sampleMs = options.sampleMs ?? 10_000;
    this.#minRtt = new WindowedBest(sampleMs, (a, b) => a < b);
    this.#maxRate = new WindowedBest(sampleMs, (a, b) => a > b);
  }

  /** Frames waiting for an acknowledgement. */
  get inFlight(): number {
    return this.#flights.length;
  }

  /** Bytes of those frames. */
  get bytesInFlight(): number {
    return this.#bytesInFlight;
  }

  /** Frame `id` (greater than any before) of `bytes` went out at `now`. */
  sent(id: number, bytes: number, now: number): void {
    // An empty pipe delivers nothing until this frame arrives: its rate
    // (and the next frame's) is measured from its own send.
    if (!this.#flights.length) this.#deliveredAt = now;
    this.#flights.push({
      id,
      bytes,
      sentAt: now,
      deliveredThen: this.#delivered,
      intervalStart: this.#deliveredAt,
    });
    this.#bytesInFlight += bytes;
  }

  /**
   * The viewer drew frame `id` (and so every frame before it). Undefined
   * for a frame not in flight (acknowledged already, or never sent).
   */
  acked(id: number, now: number): FrameAcknowledgement | undefined {
    const flights = this.#flights;
    const at = flights.findIndex((f) => f.id === id);
    if (at < 0) return undefined;
    const frame = flights[at];
    for (const done of flights.splice(0, at + 1)) {
      this.#delivered += done.bytes;
      this.#bytesInFlight -= done.bytes;
    }
    this.#deliveredAt = now;
    const rttMs = Math.max(0, now - frame.sentAt);
    this.#minRtt.add(rttMs, now);
    const interval = now - frame.intervalStart;
    if (interval > 0) {
      this.#maxRate.add(
        (this.#delivered - frame.deliveredThen) / interval,
        now,
      );
    }
    const queueMs = rttMs - this.#minRtt.best(now)!;
    this.#lastQueueMs = queueMs;
    return { rttMs, queueMs };
  }

  /** What the window allows at `now`. */
  limits(now: number): WindowLimits {
    const minRttMs = this.#minRtt.best(now);
    const bytesPerMs = this.#maxRate.best(now) ?? 0;
    if (minRttMs === undefined) {
      return { frames: this.#minFrames, bytes: 0, minRttMs, bytesPerMs };
    }
    // Frames sent in the shortest round trip at the frame rate, plus the
    // one being acknowledged.
    const perRtt = Number.isFinite(this.#maxFps)
      ? Math.ceil(minRttMs * this.#maxFps / 1000) + 1
      : Infinity;
    return {
      frames: Math.max(this.#minFrames, Math.min(this.#maxFrames, perRtt)),
      bytes: BYTES_GAIN * bytesPerMs * minRttMs,
      minRttMs,
      bytesPerMs,
    };
  }

  /** Whether another frame may go out at `now`. */
  open(now: number): boolean {
    const inFlight = this.#flights.length;
    if (inFlight < this.#minFrames) return true;
    const limits = this.limits(now);
    // Frames queue on the way: the path is full, and more would only wait
    // behind them (and keep the shortest round trip from being seen again).
    const allowance = Math.max(
      QUEUE_ALLOWANCE_MS,
      (limits.minRttMs ?? 0) * QUEUE_ALLOWANCE_SHARE,
    );
    if (this.#lastQueueMs > allowance) return false;
    return inFlight < limits.frames && this.#bytesInFlight < limits.bytes;
  }
}
