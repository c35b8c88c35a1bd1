// @ts-check
/// <reference lib="dom" />
/**
 * H.264 video for the display worker: a {@linkcode VideoLayer} feeds Annex B
 * access units (as the streamer's `H264Encoder` makes them: SPS and PPS in
 * front of every keyframe, no B-frames) to a WebCodecs `VideoDecoder` and
 * hands back each chunk's `VideoFrame`. The page asks
 * {@linkcode videoSupport} which codec strings the browser can decode before
 * it offers video to the streamer.
 *
 * WebCodecs needs a secure context (https, or http on localhost/127.0.0.1).
 *
 * @module
 */

import { H264_CODECS } from "./protocol.js";

export { H264_CODECS };

/**
 * One encoded frame.
 *
 * @typedef {{ data: Uint8Array, keyframe: boolean, timestamp: number }} VideoChunk
 */

/**
 * Options for {@linkcode VideoLayer}.
 *
 * @typedef {{
 *   onNeedKeyframe?: (reason: string) => void,
 * }} VideoLayerOptions
 */

/**
 * The codecs of `codecs` (default {@linkcode H264_CODECS}) this browser's
 * `VideoDecoder` supports for low-latency Annex B decoding; empty without
 * WebCodecs.
 *
 * @param {readonly string[]} [codecs]
 * @returns {Promise<string[]>}
 */
export async function videoSupport(codecs = H264_CODECS) {
  if (typeof VideoDecoder === "undefined") return [];
  const supported = [];
  for (const codec of codecs) {
    try {
      const result = await VideoDecoder.isConfigSupported({
        codec,
        optimizeForLatency: true,
      });
      if (result.supported) supported.push(codec);
    } catch {
      // An unparseable codec string is simply not supported.
    }
  }
  return supported;
}

/**
 * A WebCodecs `VideoDecoder` for one H.264 stream. Until a keyframe has
 * been decoded, and after any decoder error, delta frames are refused and
 * `onNeedKeyframe` is called (once per loss) so the page can ask the
 * streamer for an IDR; the next keyframe starts a fresh decoder.
 */
export class VideoLayer {
  /** The codec string the decoder is configured with. */
  codec;
  /** @type {VideoDecoder | undefined} */
  #decoder;
  /** Whether a keyframe is needed before deltas can be decoded. */
  #needKeyframe = true;
  /** Whether `onNeedKeyframe` has been told about the current loss. */
  #reported = false;
  #closed = false;
  /** @type {(reason: string) => void} */
  #onNeedKeyframe;
  /**
   * Chunks sent to the decoder whose frames have not come out yet, in
   * decode order (no B-frames: output order is the same).
   *
   * @type {{ timestamp: number, resolve: (frame: VideoFrame) => void, reject: (error: Error) => void }[]}
   */
  #pending = [];

  /**
   * @param {string} codec e.g. `avc1.42C028`, from the streamer
   * @param {VideoLayerOptions} [options]
   */
  constructor(codec, options = {}) {
    this.codec = codec;
    this.#onNeedKeyframe = options.onNeedKeyframe ?? (() => {});
  }

  /**
   * Switches to another codec string (the stream's size or profile
   * changed): the next chunk must be a keyframe, which starts a decoder
   * configured for `codec`. Pending decodes of the old stream reject.
   *
   * @param {string} codec
   */
  setCodec(codec) {
    if (codec === this.codec) return;
    this.codec = codec;
    this.#rejectPending(new Error("the codec changed"));
    this.#closeDecoder();
    this.#needKeyframe = true;
    this.#reported = false;
  }

  /** Whether the next chunk must be a keyframe. */
  get needsKeyframe() {
    return this.#needKeyframe;
  }

  /**
   * Decodes one access unit; resolves with its frame (the caller closes
   * it), rejects when it cannot be decoded (a delta without a keyframe
   * before it, a decoder error, or `close()`).
   *
   * @param {VideoChunk} chunk
   * @returns {Promise<VideoFrame>}
   */
  decode(chunk) {
    if (this.#closed) {
      return Promise.reject(new Error("the video layer is closed"));
    }
    if (!chunk.keyframe && this.#needKeyframe) {
      this.#lost("a delta frame arrived before a keyframe");
      return Promise.reject(new Error("need keyframe"));
    }
    if (chunk.keyframe) this.#startDecoder();
    const decoder = /** @type {VideoDecoder} */ (this.#decoder);
    return new Promise((resolve, reject) => {
      this.#pending.push({ timestamp: chunk.timestamp, resolve, reject });
      try {
        decoder.decode(
          new EncodedVideoChunk({
            type: chunk.keyframe ? "key" : "delta",
            timestamp: chunk.timestamp,
            data: chunk.data,
          }),
        );
      } catch (error) {
        this.#fail(`decode failed: ${/** @type {Error} */ (error).message}`);
      }
    });
  }

  /**
   * Waits until every chunk given so far has come out of the decoder.
   *
   * @returns {Promise<void>}
   */
  async flush() {
    if (this.#decoder && this.#decoder.state === "configured") {
      await this.#decoder.flush();
    }
  }

  /** Closes the decoder; pending decodes reject. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#rejectPending(new Error("the video layer is closed"));
    this.#closeDecoder();
  }

  /**
   * A keyframe starts a fresh decoder after a loss (or the first time);
   * otherwise the running one continues.
   */
  #startDecoder() {
    if (this.#decoder && !this.#needKeyframe) return;
    this.#closeDecoder();
    const decoder = new VideoDecoder({
      output: (frame) => this.#output(decoder, frame),
      error: (error) => {
        if (this.#decoder === decoder) {
          this.#fail(`decoder error: ${error.message}`);
        }
      },
    });
    // Annex B input: no `description`, SPS and PPS come in band.
    decoder.configure({ codec: this.codec, optimizeForLatency: true });
    this.#decoder = decoder;
    this.#needKeyframe = false;
    this.#reported = false;
  }

  /**
   * @param {VideoDecoder} decoder
   * @param {VideoFrame} frame
   */
  #output(decoder, frame) {
    if (decoder !== this.#decoder) {
      frame.close();
      return;
    }
    // Frames come out in decode order; anything before this one's chunk
    // produced no frame (it will not now).
    for (let next = this.#pending.shift(); next; next = this.#pending.shift()) {
      if (next.timestamp === frame.timestamp) {
        next.resolve(frame);
        return;
      }
      next.reject(new Error(`no frame for the chunk at ${next.timestamp}`));
    }
    frame.close();
  }

  /** @param {string} reason */
  #fail(reason) {
    this.#rejectPending(new Error(reason));
    this.#closeDecoder();
    this.#lost(reason);
  }

  /** @param {string} reason */
  #lost(reason) {
    this.#needKeyframe = true;
    if (this.#reported) return;
    this.#reported = true;
    this.#onNeedKeyframe(reason);
  }

  /** @param {Error} error */
  #rejectPending(error) {
    const pending = this.#pending;
    this.#pending = [];
    for (const entry of pending) entry.reject(error);
  }

  #closeDecoder() {
    const decoder = this.#decoder;
    this.#decoder = undefined;
    if (decoder && decoder.state !== "closed") decoder.close();
  }
}
