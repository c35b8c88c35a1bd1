/**
 * The screen pipeline of one viewer: poll the capture for damage, grab,
 * encode the changed tiles, send a frame. Flow control: the frames waiting
 * for the viewer's acknowledgement fit a {@linkcode FrameWindow} (two, more
 * for a distant viewer) and the socket holds at most `maxBuffered` bytes;
 * while either is full, damage only accumulates (as a bounded list of
 * rectangles), so a slow viewer gets fewer, newer frames and never a growing
 * queue.
 *
 * The viewer sees a top-left viewport of the X screen: the screen itself
 * when RandR can resize it, otherwise the requested size within it.
 *
 * With video enabled (the viewer decodes H.264), a region in sustained
 * motion goes out as `VIDEO` frames from a {@linkcode VideoStream} while the
 * tiles carry the rest; both share the frame ids and the flow control.
 *
 * @module
 */
import type { CapturedFrame, Rect, ScreenCapture } from "../devices/capture.ts";
import { encodeStreamerMessage } from "../../httpdocs/session/protocol.js";
import type { TileEncoder } from "./encode/mod.ts";
import { boundingBox, contains, intersects } from "./encode/tiles.ts";
import { ENCODING } from "../../httpdocs/session/protocol.js";
import { VideoStream, type VideoStreamOptions } from "./video/stream.ts";
import { FrameWindow } from "./frame_window.ts";

export { boundingBox };

/** Damage rectangles kept before they are merged into their bounding box. */
const MAX_RECTS = 64;

/** Grabs failing in a row before the stream gives up. */
const MAX_GRAB_FAILURES = 10;

/** Quiet time before lossy tiles are refined to lossless. */
const REFINE_AFTER_MS = 150;

/** Options for {@linkcode MediaStream}. */
export interface MediaStreamOptions {
  /** The session's screen. */
  capture: ScreenCapture;
  /** The tile encoder (owned by the caller). */
  encoder: TileEncoder;
  /** Sends one protocol message to the viewer. */
  send: (bytes: Uint8Array) => void;
  /** Bytes waiting in the viewer's socket. */
  buffered: () => number;
  /**
   * Frames sent but not acknowledged, at most, however far the viewer.
   * Default 12; at least 2, which are always allowed (more only as the
   * viewer's round trip and bandwidth call for, see {@linkcode FrameWindow}).
   */
  maxInFlight?: number;
  /** Socket bytes waiting, at most, before a new frame. Default 4 MiB. */
  maxBuffered?: number;
  /** Polls per second. Default 60. */
  pollRate?: number;
  /**
   * Frames per second at most. Default 30: changes that come faster (a
   * terminal scrolling line by line, an app drawing in several steps) are
   * sent together, which costs less than each step on its own; the first
   * change after a quiet moment still goes out at once.
   */
  maxFps?: number;
  /** Whole-screen comparisons when idle, one every this many ms. Default 1000. */
  fullCheckMs?: number;
  /** The X clipboard changed. */
  onClipboardChange?: () => void;
  /** Video starts, stops, or cannot be used (for logs). */
  onVideo?: (event: { action: string; reason: string }) => void;
  /** Reports an error that stopped the stream. */
  onError?: (error: Error) => void;
  /**
   * The viewport changed because the screen did: the capture saw the size
   * it had been asked for only after {@linkcode MediaStream.setViewport}.
   */
  onViewport?: (viewport: { width: number; height: number }) => void;
}

/** Frame statistics, read and reset by {@linkcode MediaStream.takeStats}. */
export interface MediaStats {
  /** Frames sent. */
  frames: number;
  /** Bytes sent (frames and cursors). */
  bytes: number;
  /** Frames acknowledged. */
  acked: number;
  /** Sum of send → acknowledgement times, ms. */
  ackMsTotal: number;
  /** Tiles sent lossy, lossless and solid. */
  lossy: number;
  lossless: number;
  solid: number;
  /** `COPY` tiles sent. */
  copies: number;
  /** `VIDEO` frames sent. */
  videoFrames: number;
}

function emptyStats(): MediaStats {
  return {
    frames: 0,
    bytes: 0,
    acked: 0,
    ackMsTotal: 0,
    lossy: 0,
    lossless: 0,
    solid: 0,
    copies: 0,
    videoFrames: 0,
  };
}

/** Streams one screen to one viewer. */
export class MediaStream {
  readonly #o: Required<
    Omit<
      MediaStreamOptions,
      "onClipboardChange" | "onError" | "onVideo" | "onViewport"
    >
  >;
  readonly #onClipboardChange?: () => void;
  readonly #onVideo?: MediaStreamOptions["onVideo"];
  #video?: VideoStream;
  /** Frame ids that are video frames (for the bitrate adaptation). */
  readonly #videoIds = new Set<number>();
  readonly #onError?: (error: Error) => void;
  readonly #onViewport?: MediaStreamOptions["onViewport"];
  readonly #window: FrameWindow;
  #damage: Rect[] = [];
  #full = true;
  #frameId = 0;
  #timer?: ReturnType<typeof setInterval>;
  #tickTimer?: ReturnType<typeof setTimeout>;
  /** Smoothed ms a tile encode takes. */
  #tileCostMs = 0;
  /** Whether the last encode sent lossy tiles (motion). */
  #lossyLast = false;
  #busy = false;
  #stopped = false;
  #lastCheck = 0;
  #lastFrame = 0;
  #grabFailures = 0;
  #cursorSerial = -1;
  #viewport: { width: number; height: number };
  /** The viewport asked for (the screen may not have that size yet). */
  #wanted: { width: number; height: number };
  #stats = emptyStats();
  /** Totals since the start, for tests and the viewer's own figures. */
  readonly totals = emptyStats();

  constructor(options: MediaStreamOptions) {
    this.#o = {
      maxInFlight: 12,
      maxBuffered: 4 * 1024 * 1024,
      pollRate: 60,
      maxFps: 30,
      fullCheckMs: 1000,
      ...options,
    };
    this.#window = new FrameWindow({
      maxFps: this.#o.maxFps,
      maxFrames: this.#o.maxInFlight,
    });
    this.#onClipboardChange = options.onClipboardChange;
    this.#onVideo = options.onVideo;
    this.#onError = options.onError;
    this.#onViewport = options.onViewport;
    const { width, height } = options.capture;
    this.#viewport = { width, height };
    this.#wanted = { width, height };
  }

  /** The size the viewer sees. */
  get viewport(): { width: number; height: number } {
    return { ...this.#viewport };
  }

  /** The region streamed as video now, if any. */
  get videoRegion(): Rect | undefined {
    return this.#video?.region;
  }

  /**
   * Lets sustained motion go out as video, in a codec of `codecs` (what
   * the viewer decodes). Options are for tests and benchmarks.
   */
  enableVideo(
    codecs: readonly string[],
    options: Omit<VideoStreamOptions, "codecs" | "screen"> = {},
  ): void {
    this.#video?.stop();
    this.#video = new VideoStream({
      ...options,
      codecs,
      screen: this.#viewport,
    });
  }

  /** The viewer needs a video keyframe. */
  requestKeyframe(): void {
    this.#video?.requestKeyframe();
  }

  /** Frames waiting for acknowledgement. */
  get inFlight(): number {
    return this.#window.inFlight;
  }

  /** Starts polling. */
  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    this.#sendCursor(true);
    this.#timer = setInterval(
      () => this.#tick(),
      Math.max(1, Math.round(1000 / this.#o.pollRate)),
    );
    this.#tick();
  }

  /** Stops for good. */
  stop(): void {
    this.#stopped = true;
    this.#video?.stop();
    clearInterval(this.#timer);
    clearTimeout(this.#tickTimer);
    this.#timer = undefined;
  }

  /** The viewer drew frame `frameId`. */
  ack(frameId: number): void {
    const now = performance.now();
    // Acknowledgements come in order: earlier frames are done too.
    const ack = this.#window.acked(frameId, now);
    if (!ack) return;
    // Video adapts to the whole round trip: on a slow link a frame waits
    // behind at most one other, so its queueing alone stays under the cut
    // while the link is full.
    if (this.#videoIds.delete(frameId)) {
      this.#video?.acknowledged(ack.rttMs, now);
    }
    for (const id of this.#videoIds) {
      if (id < frameId) this.#videoIds.delete(id);
    }
    for (const s of [this.#stats, this.totals]) {
      s.acked++;
      s.ackMsTotal += ack.rttMs;
    }
    this.#tick();
  }

  /**
   * Sets the viewport (after a resize); everything is sent again. The size
   * is clipped to the capture's screen.
   */
  setViewport(size: { width: number; height: number }): {
    width: number;
    height: number;
  } {
    const { capture } = this.#o;
    this.#wanted = { width: size.width, height: size.height };
    this.#viewport = {
      width: Math.max(1, Math.min(size.width, capture.width)),
      height: Math.max(1, Math.min(size.height, capture.height)),
    };
    this.refresh();
    return this.viewport;
  }

  /** Sends the whole viewport again with the next frame. */
  refresh(): void {
    this.#full = true;
    this.#damage = [];
    this.#o.encoder.reset();
    // A new picture size: video starts over if the motion goes on.
    this.#video?.stop();
  }

  /** Figures since the last call. */
  takeStats(): MediaStats {
    const stats = this.#stats;
    this.#stats = emptyStats();
    return stats;
  }

  #tick(): void {
    if (this.#stopped) return;
    let events;
    try {
      events = this.#o.capture.poll();
    } catch (error) {
      return this.#fail(error as Error);
    }
    if (events.resized) {
      // The screen changed: the viewport asked for, within it (a screen
      // grown by a resize is seen here, after the resize was answered).
      const before = this.#viewport;
      const after = this.setViewport(this.#wanted);
      if (after.width !== before.width || after.height !== before.height) {
        this.#onViewport?.(after);
      }
    }
    for (const rect of events.damage) this.#addDamage(rect);
    if (events.cursorChanged) this.#sendCursor(false);
    if (events.clipboardChanged) this.#onClipboardChange?.();
    const now = performance.now();
    // Damage only inside the video region waits for the video frame clock
    // (which keeps its own rate); other damage for the frame interval.
    const wait = this.#videoWait(now) ??
      (this.#damage.length && !this.#full
        ? this.#lastFrame + this.#frameInterval() - now
        : 0);
    if (wait > 1) return this.#tickIn(wait);
    const idle = !this.#full && !this.#damage.length;
    const idleCheck = idle && now - this.#lastCheck >= this.#o.fullCheckMs;
    // Tiles last sent lossy get their exact version once they settle.
    const refine = idle && this.#o.encoder.pendingRefinements > 0 &&
      now - this.#lastFrame >= REFINE_AFTER_MS;
    if (idle && !idleCheck && !refine) return;
    if (this.#busy) return;
    if (!this.#window.open(now)) return;
    if (this.#o.buffered() > this.#o.maxBuffered) return;
    this.#busy = true;
    const hints = this.#full || idleCheck
      ? undefined
      : refine && idle
      ? []
      : this.#damage;
    this.#frame(hints).catch((error) => this.#fail(error)).finally(() => {
      this.#busy = false;
      // Damage that came in meanwhile goes out now, not at the next poll:
      // a frame that took longer than a poll interval would otherwise
      // halve the rate.
      if (this.#damage.length && !this.#stopped) this.#tickIn(0);
    });
  }

  /**
   * Ms from one frame to the next, at least: the frame rate's interval, or
   * four times what encoding a frame's tiles costs now, so tile encoding
   * takes at most about a quarter of a core however heavy the content. A
   * terminal scrolling thousands of lines a second (every frame new text)
   * gets about ten frames a second, as VNC does; typing and dragged windows
   * cost a few ms a frame and keep the full rate.
   */
  #frameInterval(): number {
    // Motion (lossy tiles now, video soon, or video already with its own
    // clock) keeps the plain rate: the cost rule is for lossless churn.
    if (this.#video?.region || this.#lossyLast) return 1000 / this.#o.maxFps;
    return Math.max(1000 / this.#o.maxFps, 4 * this.#tileCostMs);
  }

  /** One extra tick after `ms` (besides the polls), at most one pending. */
  #tickIn(ms: number): void {
    if (this.#tickTimer !== undefined) return;
    this.#tickTimer = setTimeout(() => {
      this.#tickTimer = undefined;
      this.#tick();
    }, ms);
  }

  /**
   * When every pending change is inside the video region: ms until its
   * next frame is due (0: now). Otherwise undefined.
   */
  #videoWait(now: number): number | undefined {
    const region = this.#video?.region;
    if (!region || this.#full || !this.#damage.length) return undefined;
    if (!this.#damage.every((d) => contains(region, d))) return undefined;
    return this.#video!.dueIn(now);
  }

  async #frame(hints: Rect[] | undefined): Promise<void> {
    const { capture, encoder } = this.#o;
    this.#full = false;
    // Changes in the video region keep for its next frame if it is not due.
    const region = this.#video?.region;
    this.#damage = region && this.#video!.dueIn(performance.now()) > 0
      ? this.#damage.filter((d) => intersects(d, region))
      : [];
    if (!hints) this.#lastCheck = performance.now();
    this.#lastFrame = performance.now();
    let grabbed: CapturedFrame;
    try {
      grabbed = capture.grab();
      this.#grabFailures = 0;
    } catch (error) {
      // Right after a resize the server's notice may not have been polled
      // yet: try again after the next poll, and give up only if it persists.
      if (++this.#grabFailures >= MAX_GRAB_FAILURES) throw error;
      this.#full = true;
      return;
    }
    const frame: CapturedFrame = {
      ...grabbed,
      width: Math.min(this.#viewport.width, grabbed.width),
      height: Math.min(this.#viewport.height, grabbed.height),
    };
    const video = this.#video;
    const exclude = video?.region;
    const started = performance.now();
    const update = await encoder.encode(frame, hints, { exclude });
    // What tile encoding costs now (smoothed): heavy content gets fewer
    // frames rather than a busier streamer.
    this.#tileCostMs = this.#tileCostMs * 0.7 +
      (performance.now() - started) * 0.3;
    this.#lossyLast = update.lossy > 0;
    if (this.#stopped) return;
    if (update.tiles.length) {
      this.#sendFrame(
        encodeStreamerMessage({
          type: "frame",
          frame: { frameId: this.#nextFrameId(), tiles: update.tiles },
        }),
        update,
      );
    }
    if (!video) return;
    const now = performance.now();
    const lossy = update.tiles.filter((t) => t.encoding === ENCODING.JPEG);
    let decision;
    try {
      decision = video.observe(
        { lossy, copied: update.copiedPixels, damage: hints },
        now,
      );
    } catch (error) {
      // The encoder would not open, or the viewer cannot decode it: tiles
      // only from now on.
      this.#video = undefined;
      this.#onVideo?.({
        action: "unavailable",
        reason: (error as Error).message,
      });
      return;
    }
    if (decision.action === "stop") {
      // The next encode paints the region over, lossless.
      this.#addDamage(decision.region);
    }
    if (decision.action !== "none") this.#onVideo?.(decision);
    // The video region was grabbed with this frame, and (when video just
    // started) sent as tiles too: the keyframe replaces them.
    const out = await video.encode(frame, { damage: hints, now });
    if (!out || this.#stopped) return;
    const frameId = this.#nextFrameId();
    this.#videoIds.add(frameId);
    this.#sendFrame(
      encodeStreamerMessage({
        type: "video",
        video: {
          frameId,
          ...out.region,
          keyframe: out.keyframe,
          codec: out.codec,
          data: out.data,
        },
      }),
      undefined,
    );
  }

  #nextFrameId(): number {
    this.#frameId = (this.#frameId + 1) >>> 0;
    return this.#frameId;
  }

  /** Sends a `FRAME` or `VIDEO` message and counts it. */
  #sendFrame(
    bytes: Uint8Array,
    update:
      | { lossy: number; lossless: number; solid: number; copies: number }
      | undefined,
  ): void {
    this.#window.sent(this.#frameId, bytes.length, performance.now());
    this.#o.send(bytes);
    for (const s of [this.#stats, this.totals]) {
      s.frames++;
      s.bytes += bytes.length;
      if (update) {
        s.lossy += update.lossy;
        s.lossless += update.lossless;
        s.solid += update.solid;
        s.copies += update.copies;
      } else s.videoFrames++;
    }
  }

  #addDamage(rect: Rect): void {
    const v = this.#viewport;
    const x = Math.max(0, rect.x);
    const y = Math.max(0, rect.y);
    const right = Math.min(v.width, rect.x + rect.width);
    const bottom = Math.min(v.height, rect.y + rect.height);
    if (right <= x || bottom <= y) return;
    this.#damage.push({ x, y, width: right - x, height: bottom - y });
    if (this.#damage.length > MAX_RECTS) {
      this.#damage = [boundingBox(this.#damage)];
    }
  }

  #sendCursor(force: boolean): void {
    let shape;
    try {
      shape = this.#o.capture.cursor();
    } catch {
      return;
    }
    if (!shape || (!force && shape.serial === this.#cursorSerial)) return;
    this.#cursorSerial = shape.serial;
    const bytes = encodeStreamerMessage({
      type: "cursor",
      cursor: {
        hotX: shape.hotX,
        hotY: shape.hotY,
        width: shape.width,
        height: shape.height,
        rgba: shape.rgba,
      },
    });
    this.#o.send(bytes);
    this.#stats.bytes += bytes.length;
    this.totals.bytes += bytes.length;
  }

  #fail(error: Error): void {
    if (this.#stopped) return;
    this.stop();
    this.#onError?.(error);
  }
}
