/**
 * Recording the session's sound: a `parec` child on the session's PulseAudio
 * server records the `webstream` sink's monitor as raw 16-bit stereo PCM on
 * its stdout, which is cut into fixed frames for the encoder. If `parec`
 * dies while the capture is running it is started again (a bounded number of
 * times in a row, each logged).
 *
 * `parec` rather than libpulse-simple through FFI: measured on the same
 * session server, a nonblocking `pa_simple_read` loop was no faster (about
 * 18 ms from `paplay` start to sound, as `parec`) and cost no less CPU
 * while idle (3 % of a core against 2 % for this process plus 0.4 % for
 * `parec`), while a child keeps native code out of the streamer and can
 * crash without taking it down.
 *
 * The capture runs for the whole session: a recorder that connects to the
 * idle null sink waits for up to 2 s (the sink's idle block) before data
 * flows, but once connected, sound reaches it within a frame or two.
 *
 * @module
 */
import type { Logger } from "../../log/mod.ts";
import { keepTail } from "../../platform/linux/output_tail.ts";
import { MONITOR_SOURCE } from "../../platform/linux/pulse_audio.ts";
import { delay, withTimeout } from "../../util/async.ts";

/** Options for {@linkcode AudioCapture}. */
export interface AudioCaptureOptions {
  /** The PulseAudio server, `unix:<socket>` (a session's `PULSE_SERVER`). */
  server: string;
  /** Source to record. Default `webstream.monitor`. */
  device?: string;
  /** Sample rate. Default 48000. */
  sampleRate?: number;
  /** Channels. Default 2. */
  channels?: number;
  /** Samples per channel in each frame. Default 480 (10 ms at 48 kHz). */
  frameSamples?: number;
  /** What `parec` asks the server for. Default 10 ms. */
  latencyMs?: number;
  /** Restarts in a row before giving up. Default 5. */
  maxRestarts?: number;
  /** Wait before a restart. Default 500 ms. */
  restartDelayMs?: number;
  /** The recording command. Default `parec`. */
  command?: string;
  /** Logger for restarts and failures. */
  logger?: Logger;
}

/**
 * Called with each frame: `frameSamples × channels` interleaved samples
 * (a new array each time) and the frame's start on a microsecond clock that
 * counts samples, so consecutive frames are exactly one frame apart.
 */
export type FrameHandler = (pcm: Int16Array, timestampUs: number) => void;

/** Records the session sink's monitor into PCM frames. */
export class AudioCapture {
  /** Sample rate. */
  readonly sampleRate: number;
  /** Channels. */
  readonly channels: number;
  /** Samples per channel in each frame. */
  readonly frameSamples: number;
  #options: AudioCaptureOptions;
  #onFrame: FrameHandler;
  #child: Deno.ChildProcess | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #restarts = 0;
  #nextUs = 0;

  /** Validates the options; nothing starts until `start()`. */
  constructor(options: AudioCaptureOptions, onFrame: FrameHandler) {
    if (!/^unix:\/./.test(options.server)) {
      throw new Error(
        `invalid PulseAudio server "${options.server}" (want unix:<socket>)`,
      );
    }
    this.sampleRate = positiveInteger(options.sampleRate ?? 48_000, "rate");
    this.channels = positiveInteger(options.channels ?? 2, "channel count");
    this.frameSamples = positiveInteger(
      options.frameSamples ?? this.sampleRate / 100,
      "frame length",
    );
    positiveInteger(options.latencyMs ?? 10, "latency");
    this.#options = options;
    this.#onFrame = onFrame;
  }

  /** Times `parec` was started again after dying. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The running `parec`'s PID, if there is one. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts recording; a second call does nothing. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Stops recording and ends `parec`; resolves once it has exited. */
  async stop(): Promise<void> {
    this.#running = false;
    const child = this.#child;
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited already.
      }
      await withTimeout(child.status, 1000).catch(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited in between.
        }
      });
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    const logger = this.#options.logger;
    const maxRestarts = this.#options.maxRestarts ?? 5;
    let failures = 0;
    while (this.#running) {
      const { frames, reason } = await this.#record();
      if (!this.#running) break;
      // A run that delivered a second of sound was healthy: count anew.
      if (frames * this.frameSamples >= this.sampleRate) failures = 0;
      failures++;
      if (failures > maxRestarts) {
        logger?.error("audio capture gave up", { reason, restarts: failures });
        this.#running = false;
        break;
      }
      logger?.warn("audio capture restarting", { reason, attempt: failures });
      this.#restarts++;
      await delay(this.#options.restartDelayMs ?? 500);
    }
    this.#child = undefined;
  }

  /** Runs one `parec` to its end; how many frames it gave and why it ended. */
  async #record(): Promise<{ frames: number; reason: string }> {
    const o = this.#options;
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(o.command ?? "parec", {
        args: [
          `--server=${o.server}`,
          `--device=${o.device ?? MONITOR_SOURCE}`,
          "--raw",
          "--format=s16le",
          `--rate=${this.sampleRate}`,
          `--channels=${this.channels}`,
          `--latency-msec=${o.latencyMs ?? 10}`,
          "--client-name=webstream",
          "--stream-name=session sound",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      return { frames: 0, reason: (error as Error).message };
    }
    this.#child = child;
    const stderr = keepTail(child.stderr);
    const frameBytes = this.frameSamples * this.channels * 2;
    let frame = new Uint8Array(frameBytes);
    let filled = 0;
    let frames = 0;
    // Each run's clock starts now, never before the previous run's end.
    this.#nextUs = Math.max(this.#nextUs, Math.round(performance.now() * 1000));
    const frameUs = this.frameSamples * 1e6 / this.sampleRate;
    try {
      for await (const chunk of child.stdout) {
        let at = 0;
        while (at < chunk.length) {
          const n = Math.min(frameBytes - filled, chunk.length - at);
          frame.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (filled === frameBytes) {
            const timestampUs = Math.round(this.#nextUs);
            this.#nextUs += frameUs;
            frames++;
            try {
              this.#onFrame(new Int16Array(frame.buffer), timestampUs);
            } catch (error) {
              // A failing consumer must not stall the pipe.
              o.logger?.error("audio frame handler failed", {
                error: String(error),
              });
            }
            frame = new Uint8Array(frameBytes);
            filled = 0;
          }
        }
      }
    } catch {
      // The pipe broke when parec died.
    }
    const status = await child.status;
    const said = (await stderr()).trim();
    const how = status.signal
      ? `signal ${status.signal}`
      : `code ${status.code}`;
    return {
      frames,
      reason: `parec exited (${how})${said ? `: ${said}` : ""}`,
    };
  }
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`invalid audio ${what} ${value}`);
  }
  return value;
}
