/**
 * The session's sound as Opus packets: frames from {@linkcode AudioCapture}
 * are encoded (stereo, 48 kHz, 96 kbit/s by default) and handed to a
 * callback. After a stretch of digital silence (every sample zero, which is
 * what the null sink's monitor gives when nothing plays) no packets are made
 * at all, so an idle session costs no bandwidth; the first frame with sound
 * resumes the stream.
 *
 * @module
 */
import {
  OPUS_APPLICATION_RESTRICTED_LOWDELAY,
  OpusEncoder,
} from "../../../ffi/opus/mod.ts";
import type { Logger } from "../../log/mod.ts";
import { AudioCapture } from "./capture.ts";

/** One encoded frame. */
export interface AudioPacket {
  /** One Opus packet. */
  data: Uint8Array;
  /** Start of the frame, µs, on a clock that counts captured samples. */
  timestampUs: number;
  /** Samples per channel in the frame. */
  samples: number;
}

/** Options for {@linkcode AudioStream}. */
export interface AudioStreamOptions {
  /** The session's PulseAudio server, `unix:<socket>`. */
  server: string;
  /** Bits per second, 6000..128000. Default 96000. */
  bitrate?: number;
  /** Frame length, 10 or 20 ms. Default 10 (half the delay of 20). */
  frameMs?: 10 | 20;
  /** Silence after which packets stop. Default 200 ms. */
  silenceMs?: number;
  /** Source to record. Default `webstream.monitor`. */
  device?: string;
  /** The recording command. Default `parec`. */
  command?: string;
  /** Logger. */
  logger?: Logger;
}

/** Counters of an {@linkcode AudioStream}. */
export interface AudioStreamStats {
  /** Frames captured. */
  frames: number;
  /** Packets handed out. */
  packets: number;
  /** Bytes of Opus handed out. */
  bytes: number;
  /** Frames not sent because of silence. */
  silentFrames: number;
}

/** Sample rate of the stream (Opus's native one). */
export const AUDIO_SAMPLE_RATE = 48_000;

/** Channels of the stream. */
export const AUDIO_CHANNELS = 2;

/** Captures, encodes and hands out the session's sound. */
export class AudioStream {
  /** Samples per channel in each packet. */
  readonly frameSamples: number;
  #capture: AudioCapture;
  #encoder: OpusEncoder | undefined;
  #options: AudioStreamOptions;
  #onPacket: (packet: AudioPacket) => void;
  #silentRun = 0;
  #silenceFrames: number;
  #stats: AudioStreamStats = {
    frames: 0,
    packets: 0,
    bytes: 0,
    silentFrames: 0,
  };

  /** Validates the options; nothing starts until `start()`. */
  constructor(
    options: AudioStreamOptions,
    onPacket: (packet: AudioPacket) => void,
  ) {
    const bitrate = options.bitrate ?? 96_000;
    if (!Number.isInteger(bitrate) || bitrate < 6000 || bitrate > 128_000) {
      throw new Error(`invalid audio bitrate ${bitrate} (6000..128000)`);
    }
    const frameMs = options.frameMs ?? 10;
    if (frameMs !== 10 && frameMs !== 20) {
      throw new Error(`invalid audio frame length ${frameMs} ms (10 or 20)`);
    }
    const silenceMs = options.silenceMs ?? 200;
    if (!(silenceMs >= 0)) throw new Error(`invalid silence ${silenceMs} ms`);
    this.frameSamples = AUDIO_SAMPLE_RATE * frameMs / 1000;
    this.#silenceFrames = Math.ceil(silenceMs / frameMs);
    // Start as if silent already: an idle session never sends a packet.
    this.#silentRun = this.#silenceFrames;
    this.#options = { ...options, bitrate };
    this.#onPacket = onPacket;
    this.#capture = new AudioCapture({
      server: options.server,
      device: options.device,
      command: options.command,
      logger: options.logger,
      sampleRate: AUDIO_SAMPLE_RATE,
      channels: AUDIO_CHANNELS,
      frameSamples: this.frameSamples,
    }, (pcm, timestampUs) => this.#frame(pcm, timestampUs));
  }

  /** A copy of the counters. */
  get stats(): AudioStreamStats {
    return { ...this.#stats };
  }

  /** Times the recorder was restarted after dying. */
  get restarts(): number {
    return this.#capture.restarts;
  }

  /** The recorder's PID while it runs. */
  get capturePid(): number | undefined {
    return this.#capture.pid;
  }

  /** Starts capturing. @throws {Error} if libopus is missing. */
  start(): void {
    if (!this.#encoder) {
      this.#encoder = new OpusEncoder({
        sampleRate: AUDIO_SAMPLE_RATE,
        channels: AUDIO_CHANNELS,
        // CELT only: transparent for music at these rates, 4 ms less delay.
        application: OPUS_APPLICATION_RESTRICTED_LOWDELAY,
        bitrate: this.#options.bitrate,
      });
    }
    this.#capture.start();
  }

  /** Stops capturing and frees the encoder. */
  async stop(): Promise<void> {
    await this.#capture.stop();
    this.#encoder?.close();
    this.#encoder = undefined;
  }

  #frame(pcm: Int16Array, timestampUs: number): void {
    const encoder = this.#encoder;
    if (!encoder) return;
    this.#stats.frames++;
    if (isSilent(pcm)) {
      this.#silentRun++;
      if (this.#silentRun > this.#silenceFrames) {
        this.#stats.silentFrames++;
        return;
      }
    } else {
      this.#silentRun = 0;
    }
    const data = encoder.encode(pcm);
    this.#stats.packets++;
    this.#stats.bytes += data.length;
    this.#onPacket({ data, timestampUs, samples: this.frameSamples });
  }
}

/** True when every sample is zero. */
export function isSilent(pcm: Int16Array): boolean {
  for (let i = 0; i < pcm.length; i++) {
    if (pcm[i] !== 0) return false;
  }
  return true;
}
