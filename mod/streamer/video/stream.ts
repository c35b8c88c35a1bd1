/**
 * Video mode for one viewer: decides with a {@linkcode VideoRegionTracker}
 * which region of the screen is in sustained motion, encodes that region
 * of each captured frame as H.264 while it is, and adapts the bitrate to
 * what the viewer acknowledges. The tile pipeline (`../media.ts`) sends
 * everything else and paints the region over, lossless, when video stops.
 *
 * Bitrate: it starts at the cap and follows the viewer's acknowledgements
 * (additive increase, multiplicative decrease): an acknowledgement slower
 * than {@linkcode SLOW_ACK_MS} cuts it by a fifth (at most every 500 ms),
 * a steady run of fast ones raises it by 15 % (at most every 2 s), always
 * between {@linkcode MIN_KBPS} and the cap. With constant-quality coding
 * under that cap, a quiet picture spends far less than the cap.
 *
 * @module
 */
import { intersects, type Rect } from "../encode/tiles.ts";
import { type EncodedVideo, H264Encoder } from "./encoder.ts";
import {
  type RegionObservation,
  type VideoDecision,
  type VideoRegionOptions,
  VideoRegionTracker,
} from "./region.ts";

/** Lowest bitrate the adaptation goes down to, kbit/s. */
export const MIN_KBPS = 300;

/** An acknowledgement slower than this (ms) means the viewer falls behind. */
export const SLOW_ACK_MS = 200;

/** Acknowledgements faster than this (ms) let the bitrate grow. */
const FAST_ACK_MS = 80;

/**
 * The default bitrate cap for a region, kbit/s: about 0.1 bit per pixel
 * at 30 frames/s (6.2 Mbit/s for 1080p, 2.8 for 720p), from 1 to 8 Mbit/s.
 */
export function defaultVideoCap(
  size: { width: number; height: number },
): number {
  const kbps = size.width * size.height * 30 * 0.1 / 1000;
  return Math.round(Math.min(8000, Math.max(1000, kbps)));
}

/** The encoder a video stream drives (libx264's by default). */
export interface VideoEncoderPort {
  /** The codec string of what it makes. */
  readonly codec: string;
  /**
   * Encodes `region` of `frame`, off the event loop; `frame` is read
   * before the promise exists, so it may change at once.
   */
  encodeAsync(
    frame: { width: number; height: number; stride: number; data: Uint8Array },
    region: Rect,
    options: { keyframe?: boolean },
  ): Promise<EncodedVideo | undefined>;
  /** Changes the bitrate cap, kbit/s. */
  setBitrate(kbps: number): void;
  /** Frees it. */
  close(): void;
}

/** Options for {@linkcode VideoStream}. */
export interface VideoStreamOptions extends VideoRegionOptions {
  /** Codec strings the viewer decodes (from its `CAPS`). */
  codecs: readonly string[];
  /**
   * Most kbit/s (the workspace's policy). The cap is the lower of this and
   * {@linkcode defaultVideoCap} of the region.
   */
  maxKbps?: number;
  /**
   * Video frames per second. Default 30: smooth motion at half the CPU and
   * decoding of 60 (a 60 fps clock took a 1080p animation's streamer from
   * 36 to about 70 % of a core and the browser's CPU by half again).
   */
  maxFps?: number;
  /** Opens an encoder for a region. Default: libx264 (`H264Encoder`). */
  openEncoder?: (
    size: { width: number; height: number },
    options: { kbps: number; fps: number },
  ) => VideoEncoderPort;
}

/** One encoded video frame, ready for a `VIDEO` message (less its id). */
export interface VideoOut {
  /** Where it goes on the screen. */
  region: Rect;
  /** Keyframe (IDR with SPS and PPS). */
  keyframe: boolean;
  /** Its codec string. */
  codec: string;
  /** The access unit (Annex B). */
  data: Uint8Array;
}

/** Video mode of one viewer's stream. */
export class VideoStream {
  readonly #tracker: VideoRegionTracker;
  readonly #codecs: readonly string[];
  readonly #maxKbps: number | undefined;
  readonly #minInterval: number;
  readonly #fps: number;
  readonly #open: NonNullable<VideoStreamOptions["openEncoder"]>;
  #encoder: VideoEncoderPort | undefined;
  #region: Rect | undefined;
  #kbps = 0;
  #cap = 0;
  #keyframe = false;
  /** When the next video frame is due (a frame clock, so lateness evens out). */
  #nextDue = -Infinity;
  #lastChange = -Infinity;
  #fastSince = -Infinity;
  /** Frames sent as video since the start. */
  frames = 0;

  constructor(options: VideoStreamOptions) {
    this.#tracker = new VideoRegionTracker(options);
    this.#codecs = options.codecs;
    this.#maxKbps = options.maxKbps;
    this.#fps = options.maxFps ?? 30;
    // Timers fire late, never early: aiming 2 % above the rate keeps the
    // frames delivered at the rate, not a little under it.
    this.#minInterval = 1000 / (this.#fps * 1.02);
    this.#open = options.openEncoder ?? openH264;
  }

  /** The region streamed as video, if any. */
  get region(): Rect | undefined {
    return this.#region && { ...this.#region };
  }

  /** The current bitrate cap, kbit/s (0 when not streaming). */
  get kbps(): number {
    return this.#encoder ? this.#kbps : 0;
  }

  /**
   * Takes what the tile encoder sent lossy and the damage it looked at;
   * starts or stops video. A "start" whose encoder cannot open, or whose
   * codec the viewer cannot decode, is turned into "none" (and the error
   * rethrown, for the caller to log once and stop offering video).
   */
  observe(
    seen: Omit<RegionObservation, "now">,
    now: number,
  ): VideoDecision {
    const decision = this.#tracker.observe({ ...seen, now });
    if (decision.action === "start") {
      this.#start(decision.region);
    } else if (decision.action === "stop") {
      this.#close();
    }
    return decision;
  }

  /**
   * Encodes the region of `frame` if it is due: something moved in it (or
   * a keyframe is wanted) and the last video frame is at least a frame
   * interval old. The frame is read before the promise exists; the
   * encoding itself runs off the event loop (about 10 ms for 1080p).
   */
  async encode(
    frame: { width: number; height: number; stride: number; data: Uint8Array },
    options: { damage: readonly Rect[] | undefined; now: number },
  ): Promise<VideoOut | undefined> {
    const region = this.#region;
    const encoder = this.#encoder;
    if (!region || !encoder) return undefined;
    if (
      region.x + region.width > frame.width ||
      region.y + region.height > frame.height
    ) {
      // The screen shrank under the region.
      this.stop();
      return undefined;
    }
    const moved = options.damage === undefined ||
      options.damage.some((d) => intersects(d, region));
    if (!moved && !this.#keyframe) return undefined;
    if (this.dueIn(options.now) > 0) return undefined;
    const keyframe = this.#keyframe;
    this.#keyframe = false;
    // On time or a little late: the next is one interval after this one
    // was due, so the rate holds; far behind: start the clock again.
    const due = this.#nextDue === -Infinity ? options.now : this.#nextDue;
    this.#nextDue = Math.max(
      due + this.#minInterval,
      options.now + this.#minInterval / 2,
    );
    const out = await encoder.encodeAsync(frame, region, { keyframe });
    if (!out) return undefined;
    this.frames++;
    return {
      region: { ...region },
      keyframe: out.keyframe,
      codec: encoder.codec,
      data: out.data,
    };
  }

  /** Ms until the next video frame may go (0: now, or no video). */
  dueIn(now: number): number {
    if (!this.#encoder) return 0;
    // Within a millisecond counts as due: timers fire a little late or early.
    const wait = this.#nextDue - now;
    return wait > 1 ? wait : 0;
  }

  /** The viewer needs a keyframe (a new decoder, a decoding error). */
  requestKeyframe(): void {
    this.#keyframe = true;
  }

  /** A video frame was acknowledged `ms` after it was sent. */
  acknowledged(ms: number, now: number): void {
    if (!this.#encoder) return;
    if (ms > SLOW_ACK_MS) {
      this.#fastSince = -Infinity;
      if (now - this.#lastChange >= 500) {
        this.#setKbps(Math.max(MIN_KBPS, Math.round(this.#kbps * 0.8)), now);
      }
      return;
    }
    if (ms > FAST_ACK_MS) {
      this.#fastSince = -Infinity;
      return;
    }
    if (this.#fastSince === -Infinity) this.#fastSince = now;
    if (
      this.#kbps < this.#cap && now - this.#fastSince >= 2000 &&
      now - this.#lastChange >= 2000
    ) {
      this.#setKbps(Math.min(this.#cap, Math.round(this.#kbps * 1.15)), now);
    }
  }

  /** Ends video at once (the screen changed, the viewer left). */
  stop(): void {
    this.#tracker.reset();
    this.#close();
  }

  #start(region: Rect): void {
    this.#cap = Math.max(
      MIN_KBPS,
      Math.min(this.#maxKbps ?? Infinity, defaultVideoCap(region)),
    );
    this.#kbps = this.#cap;
    let encoder: VideoEncoderPort;
    try {
      encoder = this.#open(region, { kbps: this.#kbps, fps: this.#fps });
    } catch (error) {
      this.#tracker.reset();
      throw error;
    }
    if (!decodable(encoder.codec, this.#codecs)) {
      encoder.close();
      this.#tracker.reset();
      throw new Error(
        `the viewer cannot decode ${encoder.codec} (it offered ${
          this.#codecs.join(", ") || "nothing"
        })`,
      );
    }
    this.#encoder = encoder;
    this.#region = { ...region };
    this.#keyframe = true;
    this.#nextDue = -Infinity;
    this.#lastChange = -Infinity;
    this.#fastSince = -Infinity;
  }

  #setKbps(kbps: number, now: number): void {
    if (kbps === this.#kbps) return;
    this.#encoder?.setBitrate(kbps);
    this.#kbps = kbps;
    this.#lastChange = now;
  }

  #close(): void {
    this.#encoder?.close();
    this.#encoder = undefined;
    this.#region = undefined;
  }
}

/**
 * Whether a viewer offering `codecs` decodes `codec`: the same profile and
 * constraints at the same or a higher level (`avc1.PPCCLL`).
 */
export function decodable(codec: string, codecs: readonly string[]): boolean {
  const want = /^avc1\.([0-9a-f]{4})([0-9a-f]{2})$/i.exec(codec);
  if (!want) return codecs.includes(codec);
  return codecs.some((offer) => {
    const has = /^avc1\.([0-9a-f]{4})([0-9a-f]{2})$/i.exec(offer);
    return has !== null && has[1].toLowerCase() === want[1].toLowerCase() &&
      parseInt(has[2], 16) >= parseInt(want[2], 16);
  });
}

function openH264(
  size: { width: number; height: number },
  options: { kbps: number; fps: number },
): VideoEncoderPort {
  return new H264Encoder({ ...size, bitrate: options.kbps, fps: options.fps });
}
