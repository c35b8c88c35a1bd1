/**
 * When to stream a region as video: pure decisions from what the tile
 * encoder saw (no I/O, no clock: the time is passed in). A region in
 * sustained motion (a video, a 3D view, a full-screen animation) shows up
 * as lossy tiles — photographic content changing in most encodes — frame
 * after frame; once that has lasted {@linkcode VideoRegionOptions.startFrames}
 * encodes over at least {@linkcode VideoRegionOptions.minArea} pixels (and
 * more than the encode sent as copies: a scroll is not video), its
 * bounding box (whole tiles) goes to video. Video stops when nothing moved
 * in the region for {@linkcode VideoRegionOptions.stopAfterMs}, or when
 * sustained motion appears outside it (a moved or resized player), so a new
 * region can be found. Every decision says why.
 *
 * @module
 */
import { boundingBox, intersects, type Rect } from "../encode/tiles.ts";

/** Settings of a {@linkcode VideoRegionTracker}. */
export interface VideoRegionOptions {
  /** The screen (regions stay inside it). */
  screen: { width: number; height: number };
  /** Regions are whole tiles of this size. Default 64. */
  tileSize?: number;
  /** Encodes in a row with lossy motion before video starts. Default 8. */
  startFrames?: number;
  /** Fewest lossy pixels an encode needs to count as motion. Default 256 × 144. */
  minArea?: number;
  /** Quiet time in the region before video stops, ms. Default 600. */
  stopAfterMs?: number;
}

/** What one encode looked like. */
export interface RegionObservation {
  /** Rectangles sent lossy (JPEG) by this encode. */
  lossy: readonly Rect[];
  /**
   * Pixels this encode sent as copies of what the viewer holds. Content
   * that mostly moved (a scroll, a dragged window) is not motion for
   * video: copies carry it for far less.
   */
  copied: number;
  /** Damage this encode looked at (undefined: the whole screen). */
  damage: readonly Rect[] | undefined;
  /** Now, in ms (any monotonic clock). */
  now: number;
}

/** A decision, with the reason for logs and statistics. */
export type VideoDecision =
  | { action: "none" }
  | { action: "start"; region: Rect; reason: string }
  | { action: "stop"; region: Rect; reason: string };

/** Decides when a region of the screen is streamed as video. */
export class VideoRegionTracker {
  readonly #screen: { width: number; height: number };
  readonly #tile: number;
  readonly #startFrames: number;
  readonly #minArea: number;
  readonly #stopAfterMs: number;
  #region: Rect | undefined;
  #lastMotion = 0;
  /** Consecutive encodes with lossy motion, and their bounding box. */
  #streak = 0;
  #candidate: Rect | undefined;

  constructor(options: VideoRegionOptions) {
    this.#screen = { ...options.screen };
    this.#tile = options.tileSize ?? 64;
    this.#startFrames = options.startFrames ?? 8;
    this.#minArea = options.minArea ?? 256 * 144;
    this.#stopAfterMs = options.stopAfterMs ?? 600;
  }

  /** The region streamed as video, if any. */
  get region(): Rect | undefined {
    return this.#region && { ...this.#region };
  }

  /** Takes one encode's observation and says what to do. */
  observe(seen: RegionObservation): VideoDecision {
    const region = this.#region;
    const lossyArea = seen.lossy.reduce((n, r) => n + r.width * r.height, 0);
    const moving = lossyArea >= this.#minArea && lossyArea > seen.copied;
    this.#streak = moving ? this.#streak + 1 : 0;
    this.#candidate = moving
      ? union(this.#streak > 1 ? this.#candidate : undefined, seen.lossy)
      : undefined;
    if (!region) {
      if (this.#streak < this.#startFrames || !this.#candidate) {
        return { action: "none" };
      }
      const start = this.#align(this.#candidate);
      this.#region = start;
      this.#lastMotion = seen.now;
      this.#streak = 0;
      this.#candidate = undefined;
      return {
        action: "start",
        region: { ...start },
        reason:
          `${this.#startFrames} encodes in a row changed at least ${this.#minArea} pixels of photographic content`,
      };
    }
    const touched = seen.damage === undefined ||
      seen.damage.some((d) => intersects(d, region));
    if (touched) this.#lastMotion = seen.now;
    // The tile encoder never sends the region itself: lossy tiles are
    // motion elsewhere.
    if (this.#streak >= this.#startFrames) {
      return this.#stop("sustained motion outside the video region");
    }
    if (seen.now - this.#lastMotion >= this.#stopAfterMs) {
      return this.#stop(`no motion in the region for ${this.#stopAfterMs} ms`);
    }
    return { action: "none" };
  }

  /** Ends video now (the viewer left, the screen changed size). */
  reset(): void {
    this.#region = undefined;
    this.#streak = 0;
    this.#candidate = undefined;
  }

  #stop(reason: string): VideoDecision {
    const region = this.#region!;
    this.#region = undefined;
    this.#streak = 0;
    this.#candidate = undefined;
    return { action: "stop", region, reason };
  }

  /** `rect` grown to whole tiles, inside the screen. */
  #align(rect: Rect): Rect {
    const t = this.#tile;
    const x = Math.floor(rect.x / t) * t;
    const y = Math.floor(rect.y / t) * t;
    const right = Math.min(
      this.#screen.width,
      Math.ceil((rect.x + rect.width) / t) * t,
    );
    const bottom = Math.min(
      this.#screen.height,
      Math.ceil((rect.y + rect.height) / t) * t,
    );
    return { x, y, width: right - x, height: bottom - y };
  }
}

function union(
  base: Rect | undefined,
  rects: readonly Rect[],
): Rect | undefined {
  const all = base ? [base, ...rects] : rects;
  return all.length ? boundingBox(all) : undefined;
}
