/**
 * The session's sound for its viewers: one {@linkcode AudioStream} (the
 * session's PulseAudio sink recorded and encoded to Opus), shared by every
 * viewer that listens. It starts with the first listener and then keeps
 * running until the streamer stops, because a null sink's monitor only
 * starts delivering about two seconds after a recorder connects (see
 * `audio/capture.ts`): a later listener hears sound at once. A session
 * without a sound server (`PULSE_SERVER` unset: PulseAudio missing, or an
 * OS without it) has no sound, and says so through `available`.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { type AudioPacket, AudioStream } from "./audio/mod.ts";

export type { AudioPacket } from "./audio/mod.ts";

/** What records and encodes the sound (an `AudioStream` by default). */
export interface SoundSource {
  /** Starts recording. */
  start(): void;
  /** Stops recording. */
  stop(): Promise<void>;
}

/** Options for {@linkcode SessionSound}. */
export interface SessionSoundOptions {
  /** The session's PulseAudio server (`unix:…`), if it has one. */
  server: string | undefined;
  /** Logger. */
  logger: Logger;
  /** Makes the source (tests may record something else). */
  open?: (
    server: string,
    onPacket: (packet: AudioPacket) => void,
  ) => SoundSource;
}

/** The session's sound, shared by its viewers. */
export class SessionSound {
  readonly #server: string | undefined;
  readonly #logger: Logger;
  readonly #open: NonNullable<SessionSoundOptions["open"]>;
  readonly #listeners = new Set<(packet: AudioPacket) => void>();
  #source: SoundSource | undefined;
  #closed = false;

  constructor(options: SessionSoundOptions) {
    this.#server = options.server;
    this.#logger = options.logger;
    this.#open = options.open ??
      ((server, onPacket) =>
        new AudioStream({ server, logger: options.logger }, onPacket));
  }

  /** Whether the session has sound to offer. */
  get available(): boolean {
    return this.#server !== undefined && !this.#closed;
  }

  /** Listeners now. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /**
   * Adds a listener of the session's Opus packets; returns the function
   * that removes it. The first listener starts the recording.
   */
  listen(listener: (packet: AudioPacket) => void): () => void {
    if (!this.available) return () => {};
    this.#listeners.add(listener);
    if (!this.#source) {
      try {
        this.#source = this.#open(this.#server!, (packet) => {
          for (const l of this.#listeners) l(packet);
        });
        this.#source.start();
        this.#logger.info("session sound started");
      } catch (error) {
        this.#logger.error("session sound unavailable", { error });
        this.#source = undefined;
        this.#closed = true;
      }
    }
    return () => this.#listeners.delete(listener);
  }

  /** Stops the recording for good. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
    await this.#source?.stop();
    this.#source = undefined;
  }
}
