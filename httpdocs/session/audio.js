// @ts-check
/// <reference lib="dom" />
/**
 * The session's sound in the browser: Opus packets (48 kHz stereo, as the
 * streamer sends them) are decoded with WebCodecs' `AudioDecoder` and played
 * by an AudioWorklet (`audio_worklet.js`) from a small jitter buffer, then
 * through a gain (volume and mute) and an analyser (for meters and tests)
 * to the speakers.
 *
 * Browsers start an `AudioContext` suspended until the user interacts with
 * the page: call {@linkcode AudioPlayer.resume} from the first click or key
 * press. WebCodecs needs a secure context (https, or http on loopback).
 *
 * @module
 */

/** Sample rate of the session's sound. */
export const SAMPLE_RATE = 48000;

/** Channels of the session's sound. */
export const CHANNELS = 2;

/**
 * @typedef {{ data: Uint8Array, timestampUs: number }} AudioPacket
 * @typedef {{ bufferedFrames: number, underruns: number,
 *   droppedFrames: number, playing: boolean }} PlayerStats
 * @typedef {{
 *   targetMs?: number,
 *   maxMs?: number,
 *   context?: AudioContext,
 * }} AudioPlayerOptions
 */

/** Whether this browser can play the session's sound. */
export function audioSupported() {
  return typeof AudioDecoder === "function" &&
    typeof AudioWorkletNode === "function";
}

/** Plays the session's sound. */
export class AudioPlayer {
  /** The audio context (suspended until {@linkcode AudioPlayer.resume}). */
  context;
  /** Resolves once the worklet is loaded; `push` before that is queued. */
  ready;
  /** Packets that could not be decoded. */
  decodeErrors = 0;

  /** @type {AudioWorkletNode | undefined} */
  #node;
  /** @type {GainNode} */
  #gain;
  /** @type {AnalyserNode} */
  #analyser;
  /** @type {AudioDecoder | undefined} */
  #decoder;
  #volume = 1;
  #muted = false;
  #closed = false;
  #requestId = 0;
  /** @type {Map<number, (value: unknown) => void>} */
  #answers = new Map();
  /** PCM decoded before the worklet was ready. @type {Float32Array[][]} */
  #early = [];

  /** @param {AudioPlayerOptions} [options] */
  constructor(options = {}) {
    const targetMs = options.targetMs ?? 50;
    const maxMs = options.maxMs ?? 200;
    if (!(targetMs > 0 && maxMs > targetMs)) {
      throw new RangeError(
        `bad jitter buffer: target ${targetMs} ms, max ${maxMs} ms`,
      );
    }
    this.context = options.context ??
      new AudioContext({ sampleRate: SAMPLE_RATE, latencyHint: "interactive" });
    this.#gain = this.context.createGain();
    this.#analyser = this.context.createAnalyser();
    this.#analyser.fftSize = 8192;
    this.#gain.connect(this.#analyser);
    this.#analyser.connect(this.context.destination);
    this.ready = this.#load(targetMs, maxMs);
  }

  /** @param {number} targetMs @param {number} maxMs */
  async #load(targetMs, maxMs) {
    await this.context.audioWorklet.addModule(
      new URL("./audio_worklet.js", import.meta.url),
    );
    if (this.#closed) return;
    const frames = (/** @type {number} */ ms) =>
      Math.round(ms * SAMPLE_RATE / 1000);
    const node = new AudioWorkletNode(this.context, "webstream-session-sound", {
      numberOfInputs: 0,
      numberOfOutputs: 1,
      outputChannelCount: [CHANNELS],
      processorOptions: {
        targetFrames: frames(targetMs),
        maxFrames: frames(maxMs),
      },
    });
    node.port.onmessage = (event) => {
      const { id } = event.data;
      this.#answers.get(id)?.(event.data);
      this.#answers.delete(id);
    };
    node.connect(this.#gain);
    this.#node = node;
    for (const channels of this.#early.splice(0)) this.#post(channels);
  }

  /**
   * Queues one Opus packet for playing.
   *
   * @param {AudioPacket} packet
   */
  push(packet) {
    if (this.#closed) return;
    if (!(packet.data instanceof Uint8Array) || !packet.data.length) {
      throw new TypeError("an audio packet needs its bytes as a Uint8Array");
    }
    const decoder = this.#decoderFor();
    decoder.decode(
      new EncodedAudioChunk({
        type: "key",
        timestamp: packet.timestampUs,
        data: packet.data,
      }),
    );
  }

  /** @param {boolean} muted */
  setMuted(muted) {
    this.#muted = muted;
    this.#applyGain();
  }

  /** Whether the sound is muted. */
  get muted() {
    return this.#muted;
  }

  /** @param {number} volume 0..1 */
  setVolume(volume) {
    if (!(volume >= 0 && volume <= 1)) {
      throw new RangeError(`volume ${volume} is not within 0..1`);
    }
    this.#volume = volume;
    this.#applyGain();
  }

  /** The volume, 0..1. */
  get volume() {
    return this.#volume;
  }

  /** Starts output; call from a user gesture (autoplay rules). */
  async resume() {
    if (this.context.state === "suspended") await this.context.resume();
  }

  /** Stops playing and frees the decoder and the audio context. */
  async close() {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#decoder && this.#decoder.state !== "closed") {
      this.#decoder.close();
    }
    this.#node?.disconnect();
    if (this.context.state !== "closed") await this.context.close();
  }

  /**
   * The strongest frequency at the output (after volume and mute), in Hz,
   * and the output's RMS level; for meters and tests.
   *
   * @returns {{ peakHz: number, rms: number }}
   */
  level() {
    const analyser = this.#analyser;
    const spectrum = new Float32Array(analyser.frequencyBinCount);
    analyser.getFloatFrequencyData(spectrum);
    let peak = 0;
    for (let i = 1; i < spectrum.length; i++) {
      if (spectrum[i] > spectrum[peak]) peak = i;
    }
    const wave = new Float32Array(analyser.fftSize);
    analyser.getFloatTimeDomainData(wave);
    let sum = 0;
    for (const v of wave) sum += v * v;
    return {
      peakHz: peak * this.context.sampleRate / analyser.fftSize,
      rms: Math.sqrt(sum / wave.length),
    };
  }

  /**
   * The last `count` samples the player output (first channel, before
   * volume and mute).
   *
   * @param {number} count at most 16384
   * @returns {Promise<Float32Array>}
   */
  async recentSamples(count) {
    const answer = /** @type {{ samples: Float32Array }} */ (
      await this.#ask({ type: "samples", count })
    );
    return answer.samples;
  }

  /** The jitter buffer's counters. @returns {Promise<PlayerStats>} */
  async stats() {
    const answer = /** @type {{ stats: PlayerStats }} */ (
      await this.#ask({ type: "stats" })
    );
    return answer.stats;
  }

  /** @param {Record<string, unknown>} request */
  async #ask(request) {
    await this.ready;
    const node = this.#node;
    if (!node) throw new Error("the audio player is closed");
    const id = ++this.#requestId;
    return await new Promise((resolve) => {
      this.#answers.set(id, resolve);
      node.port.postMessage({ ...request, id });
    });
  }

  #applyGain() {
    const value = this.#muted ? 0 : this.#volume;
    // A short ramp: an instant jump clicks.
    this.#gain.gain.setTargetAtTime(value, this.context.currentTime, 0.01);
  }

  /** The decoder, made anew after an error closed it. */
  #decoderFor() {
    if (this.#decoder && this.#decoder.state !== "closed") return this.#decoder;
    const decoder = new AudioDecoder({
      output: (data) => this.#decoded(data),
      error: (error) => {
        this.decodeErrors++;
        console.warn("webstream sound: decoding failed:", error.message);
      },
    });
    decoder.configure({
      codec: "opus",
      sampleRate: SAMPLE_RATE,
      numberOfChannels: CHANNELS,
    });
    this.#decoder = decoder;
    return decoder;
  }

  /** @param {AudioData} data */
  #decoded(data) {
    try {
      const channels = [];
      for (let c = 0; c < data.numberOfChannels; c++) {
        const plane = new Float32Array(data.numberOfFrames);
        data.copyTo(plane, { planeIndex: c, format: "f32-planar" });
        channels.push(plane);
      }
      if (this.#node) this.#post(channels);
      // Until the worklet loads keep only the latest ~200 ms.
      else if (this.#early.push(channels) > 20) this.#early.shift();
    } finally {
      data.close();
    }
  }

  /** @param {Float32Array[]} channels */
  #post(channels) {
    this.#node?.port.postMessage(
      { type: "pcm", channels },
      channels.map((c) => c.buffer),
    );
  }
}
