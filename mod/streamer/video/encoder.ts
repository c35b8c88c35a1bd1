/**
 * H.264 for the screen: an {@linkcode H264Encoder} turns BGRX frames (or a
 * region of them) into Annex B access units through libx264
 * (`ffi/x264/mod.ts`), tuned for interactive streaming:
 *
 * - x264's `zerolatency` tune on the `ultrafast` preset by default: no
 *   lookahead, no B-frames, so every frame in gives one access unit out, at
 *   once, in display order;
 * - keyframes only when asked ({@linkcode H264Encoder.requestKeyframe} or
 *   `encode(…, { keyframe: true })`): no periodic IDR, no scene-cut
 *   detection; SPS and PPS go before every IDR, so any keyframe is a
 *   starting point for a new decoder;
 * - constant quality (CRF 23) under a VBV cap (`vbv-maxrate` = the target
 *   bitrate, a buffer of {@linkcode H264EncoderOptions.vbvSeconds}), or
 *   average bitrate under the same cap, changeable live with
 *   {@linkcode H264Encoder.setBitrate};
 * - BT.601 limited-range colour (see `i420.ts`), signalled in the VUI.
 *
 * The codec string to announce to the browser is read from the stream's own
 * SPS ({@linkcode codecFromSps}), so it always matches what is sent.
 *
 * @module
 */
import {
  openX264,
  X264_PARAM,
  X264_RC_ABR,
  X264_RC_CRF,
  X264_TYPE_AUTO,
  X264_TYPE_IDR,
  X264Encoder,
  type X264Output,
  X264Param,
  X264Picture,
  type X264Symbols,
} from "../../../ffi/x264/mod.ts";
import { type BgrxFrame, bgrxToI420, type Region } from "./i420.ts";

export type { BgrxFrame, Region } from "./i420.ts";

/** x264 speed presets offered (fastest first). */
export type H264Preset = "ultrafast" | "superfast" | "veryfast";
/** H.264 profiles offered: Constrained Baseline decodes everywhere. */
export type H264Profile = "baseline" | "main" | "high";

/** Options for {@linkcode H264Encoder}. */
export interface H264EncoderOptions {
  /** Picture width in pixels; odd sizes are padded to even. */
  width: number;
  /** Picture height in pixels; odd sizes are padded to even. */
  height: number;
  /** Target bitrate in kbit/s. */
  bitrate: number;
  /** Frame rate the rate control plans for. Default 30. */
  fps?: number;
  /** x264 preset. Default "ultrafast". */
  preset?: H264Preset;
  /** Profile. Default "baseline" (with "ultrafast": Constrained Baseline). */
  profile?: H264Profile;
  /** Encoder threads (slices). Default 1. */
  threads?: number;
  /** VBV buffer in seconds of the target bitrate. Default 0.5. */
  vbvSeconds?: number;
  /**
   * Rate control under the VBV cap: "crf" (default) codes at constant
   * quality {@linkcode H264EncoderOptions.crf} and spends less than the
   * target when the screen allows (a still screen costs next to nothing);
   * "abr" aims at the target on average, so a still screen keeps being
   * refined with the bits it is given.
   */
  rateControl?: "crf" | "abr";
  /** Quality for "crf" (0–51, lower is better). Default 23. */
  crf?: number;
  /**
   * Convert colours with libyuv when installed (default true; see
   * `i420.ts`); false always uses the TypeScript loop.
   */
  accelerate?: boolean;
}

/** One encoded frame. */
export interface EncodedVideo {
  /** The access unit: Annex B NAL units with 4-byte start codes. */
  data: Uint8Array<ArrayBuffer>;
  /** Whether it is an IDR frame (with SPS and PPS in front). */
  keyframe: boolean;
}

/** Options for {@linkcode H264Encoder.encode}. */
export interface EncodeOptions {
  /** Make this frame an IDR. */
  keyframe?: boolean;
}

/** Whether libx264 is installed and usable for {@linkcode H264Encoder}. */
export function videoAvailable(): boolean {
  try {
    openX264();
    return true;
  } catch {
    return false;
  }
}

/**
 * The RFC 6381 codec string (`avc1.PPCCLL`) of an SPS NAL unit: its
 * profile_idc, constraint flags and level_idc, the three bytes after the
 * NAL header. `sps` may start with an Annex B start code.
 */
export function codecFromSps(sps: Uint8Array): string {
  let at = 0;
  while (at < sps.length && sps[at] === 0) at++;
  if (at >= 2 && sps[at] === 1) at++;
  else at = 0;
  if (sps.length < at + 4 || (sps[at] & 0x1f) !== 7) {
    throw new Error("not an H.264 SPS NAL unit");
  }
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(2, "0");
  return `avc1.${hex(sps[at + 1])}${hex(sps[at + 2])}${hex(sps[at + 3])}`;
}

/**
 * The NAL units of an Annex B stream, each without its start code (3- or
 * 4-byte start codes).
 */
export function splitAnnexB(data: Uint8Array): Uint8Array[] {
  const units: Uint8Array[] = [];
  let start = -1;
  let i = 0;
  while (i + 2 < data.length) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      if (start >= 0) {
        // A 4-byte start code's leading zero belongs to it, not the unit.
        const end = data[i - 1] === 0 ? i - 1 : i;
        units.push(data.subarray(start, end));
      }
      i += 3;
      start = i;
    } else {
      i++;
    }
  }
  if (start >= 0) units.push(data.subarray(start));
  return units;
}

/** Odd sizes round up: I420 needs even ones. */
function even(n: number): number {
  return n + (n & 1);
}

/** A positive whole number, or a RangeError naming `what`. */
function positive(value: number, what: string): number {
  if (!(Number.isFinite(value) && value > 0)) {
    throw new RangeError(`${what} must be positive, not ${value}`);
  }
  return value;
}

/**
 * An H.264 encoder for one stream of frames of a fixed size; see the module
 * doc for its settings. Not thread-safe: use it from one thread.
 */
export class H264Encoder {
  /** Picture width asked for. */
  readonly width: number;
  /** Picture height asked for. */
  readonly height: number;
  /** Coded width (even; the decoder outputs this). */
  readonly codedWidth: number;
  /** Coded height (even). */
  readonly codedHeight: number;
  /** The codec string for WebCodecs, from the SPS (e.g. `avc1.42C028`). */
  readonly codec: string;
  readonly #param: X264Param;
  readonly #encoder: X264Encoder;
  readonly #picture: X264Picture;
  readonly #vbvSeconds: number;
  readonly #abr: boolean;
  readonly #accelerate: boolean;
  #bitrate: number;
  #keyframeWanted = false;
  #bitratePending = false;
  #frames = 0;

  /**
   * Opens libx264 for `options.width × options.height`. Throws an Error
   * naming libx264.so.164 and its Debian package when it is missing.
   */
  constructor(options: H264EncoderOptions) {
    const symbols: X264Symbols = openX264();
    this.width = Math.round(positive(options.width, "width"));
    this.height = Math.round(positive(options.height, "height"));
    this.codedWidth = even(this.width);
    this.codedHeight = even(this.height);
    this.#bitrate = Math.round(positive(options.bitrate, "bitrate"));
    this.#vbvSeconds = positive(options.vbvSeconds ?? 0.5, "vbvSeconds");
    this.#abr = options.rateControl === "abr";
    this.#accelerate = options.accelerate ?? true;
    const fps = positive(options.fps ?? 30, "fps");
    const threads = Math.round(positive(options.threads ?? 1, "threads"));
    const param = new X264Param(symbols)
      .preset(options.preset ?? "ultrafast", "zerolatency");
    const settings: [string, string][] = [
      ["threads", String(threads)],
      ["sliced-threads", "1"],
      ["bframes", "0"],
      ["keyint", "infinite"],
      ["scenecut", "0"],
      ["rc-lookahead", "0"],
      ["annexb", "1"],
      ["repeat-headers", "1"],
      // Fractional rates (29.97) as a fraction x264 keeps exactly.
      ["fps", `${Math.round(fps * 1000)}/1000`],
      // Screen pixels are sRGB; the matrix and range are what i420.ts writes.
      ["colorprim", "bt709"],
      ["transfer", "iec61966-2-1"],
      ["colormatrix", "smpte170m"],
      ["fullrange", "off"],
      // Errors only: x264's informational lines would go to stderr.
      ["log", "0"],
    ];
    try {
      for (const [name, value] of settings) param.parse(name, value);
      if (!this.#abr) param.parse("crf", String(options.crf ?? 23));
      this.#applyBitrate(param, this.#bitrate);
      param.setSize(this.codedWidth, this.codedHeight);
      param.applyProfile(options.profile ?? "baseline");
      this.#encoder = new X264Encoder(param, symbols);
    } catch (error) {
      param.cleanup();
      throw error;
    }
    this.#param = param;
    try {
      this.#picture = new X264Picture(
        this.codedWidth,
        this.codedHeight,
        symbols,
      );
      const sps = splitAnnexB(this.#encoder.headers().data)
        .find((unit) => (unit[0] & 0x1f) === 7);
      if (!sps) throw new Error("x264 produced no SPS");
      this.codec = codecFromSps(sps);
    } catch (error) {
      this.#encoder.close();
      param.cleanup();
      throw error;
    }
  }

  /** The target bitrate in kbit/s. */
  get bitrate(): number {
    return this.#bitrate;
  }

  /** Frames encoded so far. */
  get frames(): number {
    return this.#frames;
  }

  /** Whether {@linkcode H264Encoder.close} has run. */
  get closed(): boolean {
    return this.#encoder.closed;
  }

  /**
   * Encodes `region` of `frame` (the whole frame by default). A region
   * larger than the encoder's size is cropped, a smaller one padded by
   * repeating its last column and row. Returns the access unit, or undefined
   * if x264 held the frame back (it does not with these settings).
   */
  encode(
    frame: BgrxFrame,
    region?: Region,
    options: EncodeOptions = {},
  ): EncodedVideo | undefined {
    const keyframe = this.#prepare(frame, region, options);
    return this.#result(keyframe, this.#encoder.encode(this.#picture));
  }

  /**
   * {@linkcode H264Encoder.encode} with x264's part (most of the time) off
   * the event loop, on Deno's blocking thread pool; the colour conversion
   * runs before it returns, so `frame` may change as soon as the promise
   * exists. One at a time: a call while another is in flight throws.
   */
  async encodeAsync(
    frame: BgrxFrame,
    region?: Region,
    options: EncodeOptions = {},
  ): Promise<EncodedVideo | undefined> {
    const keyframe = this.#prepare(frame, region, options);
    return this.#result(
      keyframe,
      await this.#encoder.encodeAsync(this.#picture),
    );
  }

  /** Converts `frame` into the picture and sets its type; whether it is an IDR. */
  #prepare(
    frame: BgrxFrame,
    region: Region | undefined,
    options: EncodeOptions,
  ): boolean {
    if (this.closed) throw new Error("the H.264 encoder is closed");
    // The picture's planes belong to x264 until an encode in flight is done.
    if (this.#encoder.busy) {
      throw new Error("the H.264 encoder is busy with an encodeAsync()");
    }
    if (this.#bitratePending) this.#reconfigBitrate();
    const picture = this.#picture;
    bgrxToI420(frame, {
      width: this.codedWidth,
      height: this.codedHeight,
      y: picture.y,
      u: picture.u,
      v: picture.v,
    }, { region, accelerate: this.#accelerate });
    const keyframe = options.keyframe === true || this.#keyframeWanted;
    picture.type = keyframe ? X264_TYPE_IDR : X264_TYPE_AUTO;
    picture.pts = this.#frames++;
    return keyframe;
  }

  #result(
    keyframe: boolean,
    out: X264Output | undefined,
  ): EncodedVideo | undefined {
    if (keyframe && out) this.#keyframeWanted = false;
    return out && { data: out.data, keyframe: out.keyframe };
  }

  /** Makes the next encoded frame an IDR. */
  requestKeyframe(): void {
    this.#keyframeWanted = true;
  }

  /**
   * Changes the target bitrate (kbit/s) from the next frame on (at once, or
   * when the next frame starts if an encodeAsync() is in flight).
   */
  setBitrate(kbps: number): void {
    const bitrate = Math.round(positive(kbps, "bitrate"));
    if (bitrate === this.#bitrate) return;
    this.#bitrate = bitrate;
    // x264 takes no calls while an encodeAsync() runs: the next frame applies it.
    if (this.#encoder.busy) this.#bitratePending = true;
    else this.#reconfigBitrate();
  }

  #reconfigBitrate(): void {
    this.#bitratePending = false;
    this.#applyBitrate(this.#param, this.#bitrate);
    this.#encoder.reconfig(this.#param);
  }

  /** Frees the encoder; later calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.#encoder.close();
    this.#param.cleanup();
  }

  /**
   * The VBV cap at `kbps` (and for ABR the average too): what reconfig can
   * change live.
   */
  #applyBitrate(param: X264Param, kbps: number): void {
    if (this.#abr) param.parse("bitrate", String(kbps));
    param.parse("vbv-maxrate", String(kbps));
    param.parse(
      "vbv-bufsize",
      String(Math.max(1, Math.round(kbps * this.#vbvSeconds))),
    );
    const method = this.#abr ? X264_RC_ABR : X264_RC_CRF;
    if (
      param.int(X264_PARAM.rc_i_vbv_max_bitrate) !== kbps ||
      param.int(X264_PARAM.rc_i_rc_method) !== method
    ) {
      throw new Error(`x264 did not take the bitrate ${kbps}`);
    }
  }
}
