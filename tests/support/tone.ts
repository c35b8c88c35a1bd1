/**
 * Test tones: a stereo sine as 16-bit PCM (and as a WAV file for `paplay`),
 * and the Goertzel measure of how much of a signal sits at one frequency, to
 * check that a tone survived a capture or codec.
 *
 * @module
 */

/** Options for {@linkcode sine}. */
export interface SineOptions {
  /** Sample rate. Default 48000. */
  sampleRate?: number;
  /** Channels (each gets the same signal). Default 2. */
  channels?: number;
  /** Peak, 0..32767. Default 8000. */
  amplitude?: number;
  /** First sample's index, to continue a tone across frames. Default 0. */
  offset?: number;
}

/** `samples` frames of a sine at `frequency`, interleaved 16-bit PCM. */
export function sine(
  frequency: number,
  samples: number,
  options: SineOptions = {},
): Int16Array {
  const rate = options.sampleRate ?? 48_000;
  const channels = options.channels ?? 2;
  const amplitude = options.amplitude ?? 8000;
  const offset = options.offset ?? 0;
  const pcm = new Int16Array(samples * channels);
  for (let i = 0; i < samples; i++) {
    const value = Math.round(
      amplitude * Math.sin(2 * Math.PI * frequency * (i + offset) / rate),
    );
    for (let c = 0; c < channels; c++) pcm[i * channels + c] = value;
  }
  return pcm;
}

/** Options for {@linkcode wavFile}. */
export interface WavOptions {
  /** Sample rate. Default 48000. */
  sampleRate?: number;
  /** Channels. Default 2. */
  channels?: number;
}

/** A 16-bit PCM WAV file holding `pcm`. */
export function wavFile(pcm: Int16Array, options: WavOptions = {}): Uint8Array {
  const rate = options.sampleRate ?? 48_000;
  const channels = options.channels ?? 2;
  const bytes = pcm.length * 2;
  const out = new Uint8Array(44 + bytes);
  const view = new DataView(out.buffer);
  const text = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  text(0, "RIFF");
  view.setUint32(4, 36 + bytes, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, channels, true);
  view.setUint32(24, rate, true);
  view.setUint32(28, rate * channels * 2, true);
  view.setUint16(32, channels * 2, true);
  view.setUint16(34, 16, true);
  text(36, "data");
  view.setUint32(40, bytes, true);
  for (let i = 0; i < pcm.length; i++) view.setInt16(44 + i * 2, pcm[i], true);
  return out;
}

/** The first channel of interleaved PCM, as numbers. */
export function firstChannel(
  pcm: ArrayLike<number>,
  channels = 2,
): Float64Array {
  const out = new Float64Array(Math.floor(pcm.length / channels));
  for (let i = 0; i < out.length; i++) out[i] = pcm[i * channels];
  return out;
}

/** Options for {@linkcode powerAt} and {@linkcode dominance}. */
export interface ToneOptions {
  /** Sample rate. Default 48000. */
  sampleRate?: number;
  /** For `dominance`: the frequencies to compare with. */
  others?: number[];
}

/** The power of `signal` at `frequency` (Goertzel), normalised by length². */
export function powerAt(
  signal: ArrayLike<number>,
  frequency: number,
  options: ToneOptions = {},
): number {
  const sampleRate = options.sampleRate ?? 48_000;
  const coefficient = 2 * Math.cos(2 * Math.PI * frequency / sampleRate);
  let s1 = 0;
  let s2 = 0;
  for (let i = 0; i < signal.length; i++) {
    const s0 = signal[i] + coefficient * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
  return power / (signal.length * signal.length);
}

/**
 * How much stronger `signal` is at `frequency` than at the strongest of
 * `others` (a ratio of powers).
 */
export function dominance(
  signal: ArrayLike<number>,
  frequency: number,
  options: ToneOptions = {},
): number {
  const others = options.others ?? [220, 330, 550, 660, 880, 1000, 2000];
  const at = powerAt(signal, frequency, options);
  const rest = Math.max(...others.map((f) => powerAt(signal, f, options)));
  return at / Math.max(rest, 1e-12);
}

/** Root mean square of `signal`. */
export function rms(signal: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < signal.length; i++) sum += signal[i] * signal[i];
  return Math.sqrt(sum / Math.max(signal.length, 1));
}
