// @ts-check
/**
 * The session sound's player, on the audio rendering thread: decoded PCM
 * (planar float, 48 kHz stereo) arrives from `audio.js` and is played from a
 * small jitter buffer. Playback starts once `targetFrames` are queued, so a
 * packet arriving a little late does not click; when the queue runs dry the
 * output is silence until it has refilled to the target (sound after a
 * pause starts cleanly too); a queue grown past `maxFrames` (a network
 * stall that then delivered in a burst) is cut back to the target by
 * dropping the oldest audio, so delay never builds up.
 *
 * Messages in: `{ type: "pcm", channels: Float32Array[] }`,
 * `{ type: "samples", id, count }` (answers `{ type: "samples", id,
 * samples }`: the last `count` output samples of the first channel, for
 * tests and meters), `{ type: "stats", id }` (answers `{ type: "stats", id,
 * stats }`).
 *
 * @module
 */

/** Output samples of the first channel kept for `samples` requests. */
const HISTORY = 16384;

/**
 * @typedef {{ type: "pcm", channels: Float32Array[] }
 *   | { type: "samples", id: number, count: number }
 *   | { type: "stats", id: number }} PlayerRequest
 * @typedef {{ bufferedFrames: number, underruns: number,
 *   droppedFrames: number, playing: boolean }} PlayerStats
 */

// AudioWorkletGlobalScope is not in the DOM lib.
const scope =
  /** @type {{ registerProcessor(name: string, processor: unknown): void, AudioWorkletProcessor: new () => { port: MessagePort } }} */ (
    /** @type {unknown} */ (globalThis)
  );

class SessionSoundProcessor extends scope.AudioWorkletProcessor {
  /** @type {Float32Array[][]} queued chunks, each one array per channel */
  #queue = [];
  /** Frames read from the queue's first chunk. */
  #offset = 0;
  #buffered = 0;
  #playing = false;
  #underruns = 0;
  #dropped = 0;
  #targetFrames;
  #maxFrames;
  #history = new Float32Array(HISTORY);
  #historyAt = 0;

  /** @param {{ processorOptions?: { targetFrames?: number, maxFrames?: number } }} options */
  constructor(options) {
    super();
    this.#targetFrames = options.processorOptions?.targetFrames ?? 2400;
    this.#maxFrames = options.processorOptions?.maxFrames ?? 9600;
    this.port.onmessage = (event) =>
      this.#message(/** @type {PlayerRequest} */ (event.data));
  }

  /** @param {PlayerRequest} request */
  #message(request) {
    if (request.type === "pcm") {
      this.#queue.push(request.channels);
      this.#buffered += request.channels[0].length;
      if (this.#buffered > this.#maxFrames) {
        this.#skip(this.#buffered - this.#targetFrames);
      }
    } else if (request.type === "samples") {
      const count = Math.min(request.count, HISTORY);
      const samples = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        samples[i] =
          this.#history[(this.#historyAt - count + i + HISTORY) % HISTORY];
      }
      this.port.postMessage({ type: "samples", id: request.id, samples }, [
        samples.buffer,
      ]);
    } else if (request.type === "stats") {
      /** @type {PlayerStats} */
      const stats = {
        bufferedFrames: this.#buffered,
        underruns: this.#underruns,
        droppedFrames: this.#dropped,
        playing: this.#playing,
      };
      this.port.postMessage({ type: "stats", id: request.id, stats });
    }
  }

  /** Drops the oldest `frames` queued frames. @param {number} frames */
  #skip(frames) {
    this.#dropped += frames;
    this.#buffered -= frames;
    while (frames > 0) {
      const left = this.#queue[0][0].length - this.#offset;
      if (left > frames) {
        this.#offset += frames;
        return;
      }
      frames -= left;
      this.#queue.shift();
      this.#offset = 0;
    }
  }

  /**
   * @param {Float32Array[][]} _inputs
   * @param {Float32Array[][]} outputs
   * @returns {boolean}
   */
  process(_inputs, outputs) {
    const output = outputs[0];
    const frames = output[0].length;
    if (!this.#playing && this.#buffered >= this.#targetFrames) {
      this.#playing = true;
    }
    let written = 0;
    if (this.#playing) {
      while (written < frames && this.#queue.length) {
        const chunk = this.#queue[0];
        const n = Math.min(frames - written, chunk[0].length - this.#offset);
        for (let c = 0; c < output.length; c++) {
          const source = chunk[Math.min(c, chunk.length - 1)];
          output[c].set(
            source.subarray(this.#offset, this.#offset + n),
            written,
          );
        }
        written += n;
        this.#offset += n;
        this.#buffered -= n;
        if (this.#offset === chunk[0].length) {
          this.#queue.shift();
          this.#offset = 0;
        }
      }
      if (written < frames) {
        // Ran dry: silence until the buffer is back at its target.
        this.#underruns++;
        this.#playing = false;
      }
    }
    for (let c = 0; c < output.length; c++) output[c].fill(0, written);
    for (let i = 0; i < frames; i++) {
      this.#history[this.#historyAt] = output[0][i];
      this.#historyAt = (this.#historyAt + 1) % HISTORY;
    }
    return true;
  }
}

scope.registerProcessor("webstream-session-sound", SessionSoundProcessor);
