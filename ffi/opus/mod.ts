/**
 * Opus through libopus (`libopus.so.0`, Debian package `libopus0`): an
 * encoder and a decoder for interleaved 16-bit PCM, the few `ctl` requests
 * the streamer uses, and libopus's own error texts.
 *
 * Signatures relied on, from `<opus/opus.h>` (libopus 1.3):
 *
 * ```c
 * OpusEncoder *opus_encoder_create(opus_int32 Fs, int channels,
 *                                  int application, int *error);
 * opus_int32 opus_encode(OpusEncoder *st, const opus_int16 *pcm,
 *                        int frame_size, unsigned char *data,
 *                        opus_int32 max_data_bytes);
 * int opus_encoder_ctl(OpusEncoder *st, int request, ...);
 * void opus_encoder_destroy(OpusEncoder *st);
 * OpusDecoder *opus_decoder_create(opus_int32 Fs, int channels, int *error);
 * int opus_decode(OpusDecoder *st, const unsigned char *data, opus_int32 len,
 *                 opus_int16 *pcm, int frame_size, int decode_fec);
 * void opus_decoder_destroy(OpusDecoder *st);
 * const char *opus_strerror(int error);
 * ```
 *
 * @module
 */

/** `OPUS_APPLICATION_VOIP`: tuned for speech. */
export const OPUS_APPLICATION_VOIP = 2048;
/** `OPUS_APPLICATION_AUDIO`: SILK, hybrid and CELT; 6.5 ms algorithmic delay. */
export const OPUS_APPLICATION_AUDIO = 2049;
/**
 * `OPUS_APPLICATION_RESTRICTED_LOWDELAY`: CELT only; 2.5 ms algorithmic
 * delay (its lookahead is 120 samples at 48 kHz against AUDIO's 312).
 */
export const OPUS_APPLICATION_RESTRICTED_LOWDELAY = 2051;

/** `OPUS_SET_BITRATE_REQUEST` (int: bits per second). */
export const OPUS_SET_BITRATE_REQUEST = 4002;
/** `OPUS_GET_BITRATE_REQUEST` (int *). */
export const OPUS_GET_BITRATE_REQUEST = 4003;
/** `OPUS_SET_VBR_REQUEST` (int: 0 or 1). */
export const OPUS_SET_VBR_REQUEST = 4006;
/** `OPUS_SET_COMPLEXITY_REQUEST` (int: 0..10). */
export const OPUS_SET_COMPLEXITY_REQUEST = 4010;
/** `OPUS_SET_INBAND_FEC_REQUEST` (int: 0 or 1). */
export const OPUS_SET_INBAND_FEC_REQUEST = 4012;
/** `OPUS_SET_PACKET_LOSS_PERC_REQUEST` (int: 0..100). */
export const OPUS_SET_PACKET_LOSS_PERC_REQUEST = 4014;
/** `OPUS_SET_DTX_REQUEST` (int: 0 or 1). */
export const OPUS_SET_DTX_REQUEST = 4016;
/** `OPUS_GET_LOOKAHEAD_REQUEST` (int *). */
export const OPUS_GET_LOOKAHEAD_REQUEST = 4027;

/** The sample rates libopus accepts. */
export const OPUS_SAMPLE_RATES: readonly number[] = [
  8000,
  12000,
  16000,
  24000,
  48000,
];

/** The largest packet worth allowing for (libopus's recommendation). */
const MAX_PACKET = 4000;

const SYMBOLS = {
  opus_encoder_create: {
    parameters: ["i32", "i32", "i32", "buffer"],
    result: "pointer",
  },
  opus_encode: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32"],
    result: "i32",
  },
  // `opus_encoder_ctl` is variadic, which Deno's FFI cannot declare. On
  // x86-64 System V (and AArch64 Linux) variadic int and pointer arguments
  // travel in the same registers as fixed ones, so fixed signatures of the
  // one argument shape each request takes call it correctly. (Not on Apple
  // AArch64, where variadic arguments go on the stack.)
  opus_encoder_ctl: {
    parameters: ["pointer", "i32", "i32"],
    result: "i32",
  },
  opus_encoder_ctl_get: {
    name: "opus_encoder_ctl",
    parameters: ["pointer", "i32", "buffer"],
    result: "i32",
  },
  opus_encoder_destroy: { parameters: ["pointer"], result: "void" },
  opus_decoder_create: {
    parameters: ["i32", "i32", "buffer"],
    result: "pointer",
  },
  opus_decode: {
    parameters: ["pointer", "buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  opus_decoder_destroy: { parameters: ["pointer"], result: "void" },
  opus_strerror: { parameters: ["i32"], result: "pointer" },
  opus_get_version_string: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw libopus symbols. */
export type OpusSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** An error from libopus (with its code) or from a bad argument (code 0). */
export class OpusError extends Error {
  /** libopus's error code (`OPUS_BAD_ARG` is -1, …); 0 when not from libopus. */
  readonly code: number;

  constructor(message: string, code = 0) {
    super(message);
    this.name = "OpusError";
    this.code = code;
  }
}

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/**
 * libopus's symbols, loaded once.
 *
 * @throws {OpusError} naming `libopus.so.0` and its Debian package when the
 * library cannot be loaded.
 */
export function opus(): OpusSymbols {
  if (!library) {
    try {
      library = Deno.dlopen("libopus.so.0", SYMBOLS);
    } catch (error) {
      throw new OpusError(
        "cannot load libopus.so.0 (install the Debian package libopus0): " +
          (error as Error).message,
      );
    }
  }
  return library.symbols;
}

/** The libopus version, e.g. `libopus 1.3.1`. */
export function opusVersion(): string {
  return cText(opus().opus_get_version_string());
}

/** libopus's text for an error code. */
export function opusErrorText(code: number): string {
  return cText(opus().opus_strerror(code));
}

/** Options for {@linkcode OpusEncoder}. */
export interface OpusEncoderOptions {
  /** Sample rate. Default 48000. */
  sampleRate?: number;
  /** 1 or 2. Default 2. */
  channels?: number;
  /**
   * `OPUS_APPLICATION_*`. Default RESTRICTED_LOWDELAY: the session's sound
   * is mostly music, video and system sounds at a bitrate where CELT alone
   * is transparent, and it saves 4 ms of delay over AUDIO.
   */
  application?: number;
  /** Bits per second. Default libopus's (depends on channels and rate). */
  bitrate?: number;
  /** 0..10. Default libopus's (10). */
  complexity?: number;
  /** In-band forward error correction (SILK modes only). Default off. */
  inbandFec?: boolean;
  /** Discontinuous transmission. Default off. */
  dtx?: boolean;
}

/** An Opus encoder for interleaved 16-bit PCM. Call `close()` when done. */
export class OpusEncoder {
  /** Sample rate. */
  readonly sampleRate: number;
  /** Channel count. */
  readonly channels: number;
  #pointer: Deno.PointerObject | null;
  #out = new Uint8Array(MAX_PACKET);

  /** Creates an encoder. @throws {OpusError} on bad options. */
  constructor(options: OpusEncoderOptions = {}) {
    this.sampleRate = checkRate(options.sampleRate ?? 48000);
    this.channels = checkChannels(options.channels ?? 2);
    const application = options.application ??
      OPUS_APPLICATION_RESTRICTED_LOWDELAY;
    if (
      application !== OPUS_APPLICATION_AUDIO &&
      application !== OPUS_APPLICATION_RESTRICTED_LOWDELAY &&
      application !== OPUS_APPLICATION_VOIP
    ) {
      throw new OpusError(`invalid Opus application ${application}`);
    }
    const error = new Int32Array(1);
    const pointer = opus().opus_encoder_create(
      this.sampleRate,
      this.channels,
      application,
      error,
    );
    if (!pointer || error[0] !== 0) {
      throw new OpusError(
        `opus_encoder_create failed: ${opusErrorText(error[0])}`,
        error[0],
      );
    }
    this.#pointer = pointer;
    try {
      if (options.bitrate !== undefined) this.setBitrate(options.bitrate);
      if (options.complexity !== undefined) {
        this.setComplexity(options.complexity);
      }
      if (options.inbandFec !== undefined) {
        this.ctl(OPUS_SET_INBAND_FEC_REQUEST, options.inbandFec ? 1 : 0);
      }
      if (options.dtx !== undefined) {
        this.ctl(OPUS_SET_DTX_REQUEST, options.dtx ? 1 : 0);
      }
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Sets the bitrate, 500..512000 bit/s. */
  setBitrate(bitsPerSecond: number): void {
    if (
      !Number.isInteger(bitsPerSecond) || bitsPerSecond < 500 ||
      bitsPerSecond > 512_000
    ) {
      throw new OpusError(`invalid Opus bitrate ${bitsPerSecond}`);
    }
    this.ctl(OPUS_SET_BITRATE_REQUEST, bitsPerSecond);
  }

  /** The bitrate the encoder uses, bit/s. */
  get bitrate(): number {
    return this.ctlGet(OPUS_GET_BITRATE_REQUEST);
  }

  /** Samples per channel the encoder delays its input by. */
  get lookahead(): number {
    return this.ctlGet(OPUS_GET_LOOKAHEAD_REQUEST);
  }

  /** Sets the complexity, 0..10. */
  setComplexity(complexity: number): void {
    if (!Number.isInteger(complexity) || complexity < 0 || complexity > 10) {
      throw new OpusError(`invalid Opus complexity ${complexity}`);
    }
    this.ctl(OPUS_SET_COMPLEXITY_REQUEST, complexity);
  }

  /** An `OPUS_SET_*` request taking one int. @throws {OpusError} on failure. */
  ctl(request: number, value: number): void {
    const code = opus().opus_encoder_ctl(this.#live(), request, value);
    if (code !== 0) {
      throw new OpusError(
        `opus_encoder_ctl(${request}, ${value}) failed: ${opusErrorText(code)}`,
        code,
      );
    }
  }

  /** An `OPUS_GET_*` request returning one int. */
  ctlGet(request: number): number {
    const value = new Int32Array(1);
    const code = opus().opus_encoder_ctl_get(this.#live(), request, value);
    if (code !== 0) {
      throw new OpusError(
        `opus_encoder_ctl(${request}) failed: ${opusErrorText(code)}`,
        code,
      );
    }
    return value[0];
  }

  /**
   * Encodes one frame: `pcm` holds `frame × channels` interleaved samples,
   * where the frame is 2.5, 5, 10, 20, 40 or 60 ms. Returns a new packet.
   *
   * @throws {OpusError} on a bad frame length or an encoder failure.
   */
  encode(pcm: Int16Array): Uint8Array {
    const frame = pcm.length / this.channels;
    if (!validFrame(frame, this.sampleRate)) {
      throw new OpusError(
        `invalid Opus frame: ${pcm.length} samples for ${this.channels} ` +
          `channel(s) at ${this.sampleRate} Hz (allowed: 2.5, 5, 10, 20, 40 ` +
          "or 60 ms)",
      );
    }
    const length = opus().opus_encode(
      this.#live(),
      pcm,
      frame,
      this.#out,
      this.#out.length,
    );
    if (length < 0) {
      throw new OpusError(
        `opus_encode failed: ${opusErrorText(length)}`,
        length,
      );
    }
    return this.#out.slice(0, length);
  }

  /** Frees the encoder; later calls throw. Safe to call twice. */
  close(): void {
    if (this.#pointer) opus().opus_encoder_destroy(this.#pointer);
    this.#pointer = null;
  }

  /** Same as {@linkcode OpusEncoder.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #live(): Deno.PointerObject {
    if (!this.#pointer) throw new OpusError("Opus encoder is closed");
    return this.#pointer;
  }
}

/** Options for {@linkcode OpusDecoder}. */
export interface OpusDecoderOptions {
  /** Output sample rate. Default 48000. */
  sampleRate?: number;
  /** Output channels, 1 or 2. Default 2. */
  channels?: number;
}

/** An Opus decoder to interleaved 16-bit PCM. Call `close()` when done. */
export class OpusDecoder {
  /** Sample rate. */
  readonly sampleRate: number;
  /** Channel count. */
  readonly channels: number;
  #pointer: Deno.PointerObject | null;
  #pcm: Int16Array;

  /** Creates a decoder. @throws {OpusError} on bad options. */
  constructor(options: OpusDecoderOptions = {}) {
    this.sampleRate = checkRate(options.sampleRate ?? 48000);
    this.channels = checkChannels(options.channels ?? 2);
    const error = new Int32Array(1);
    const pointer = opus().opus_decoder_create(
      this.sampleRate,
      this.channels,
      error,
    );
    if (!pointer || error[0] !== 0) {
      throw new OpusError(
        `opus_decoder_create failed: ${opusErrorText(error[0])}`,
        error[0],
      );
    }
    this.#pointer = pointer;
    // 120 ms, the longest an Opus packet can hold.
    this.#pcm = new Int16Array(this.sampleRate * 0.12 * this.channels);
  }

  /**
   * Decodes one packet to interleaved samples; `null` stands for a lost
   * packet (libopus conceals it with one 10 ms frame).
   *
   * @throws {OpusError} on a corrupt packet.
   */
  decode(packet: Uint8Array | null): Int16Array {
    const pointer = this.#live();
    const capacity = packet
      ? this.#pcm.length / this.channels
      : this.sampleRate / 100;
    const frames = opus().opus_decode(
      pointer,
      packet,
      packet ? packet.length : 0,
      this.#pcm,
      capacity,
      0,
    );
    if (frames < 0) {
      throw new OpusError(
        `opus_decode failed: ${opusErrorText(frames)}`,
        frames,
      );
    }
    return this.#pcm.slice(0, frames * this.channels);
  }

  /** Frees the decoder; later calls throw. Safe to call twice. */
  close(): void {
    if (this.#pointer) opus().opus_decoder_destroy(this.#pointer);
    this.#pointer = null;
  }

  /** Same as {@linkcode OpusDecoder.close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  #live(): Deno.PointerObject {
    if (!this.#pointer) throw new OpusError("Opus decoder is closed");
    return this.#pointer;
  }
}

/** True for an Opus frame length (samples per channel) at `rate`. */
export function validFrame(samples: number, rate: number): boolean {
  // 2.5 ms × 1, 2, 4, 8, 16, 24.
  return [1, 2, 4, 8, 16, 24].some((n) => samples * 400 === rate * n);
}

function checkRate(rate: number): number {
  if (!OPUS_SAMPLE_RATES.includes(rate)) {
    throw new OpusError(
      `invalid Opus sample rate ${rate} (allowed: ${
        OPUS_SAMPLE_RATES.join(", ")
      })`,
    );
  }
  return rate;
}

function checkChannels(channels: number): number {
  if (channels !== 1 && channels !== 2) {
    throw new OpusError(`invalid Opus channel count ${channels} (1 or 2)`);
  }
  return channels;
}

function cText(pointer: Deno.PointerValue): string {
  return pointer ? new Deno.UnsafePointerView(pointer).getCString() : "";
}
