/**
 * The session sound pipeline (`mod/streamer/audio/`, `ffi/opus/mod.ts`):
 *
 * 1. **Encode cost**: libopus (FFI, CELT-only low delay, 96 kbit/s) on a
 *    music-like stereo signal (two tones and noise), per 10 ms and per 20 ms
 *    frame. The baseline is the frame's own duration: the ratio encode ÷
 *    duration is the share of one core that encoding in real time takes
 *    (the copy and silence check around it cost under a microsecond).
 * 2. **Bitrate**: bytes per second at 64, 96 and 128 kbit/s, as a ratio of
 *    the setting (VBR overshoots a little on a start, undershoots on simple
 *    signals).
 * 3. **Capture latency** on a real session PulseAudio: from starting
 *    `paplay` (a 200 ms 440 Hz WAV) to the first packet out of
 *    {@linkcode AudioStream}, repeated; ratio to the 10 ms frame. And, while
 *    the session is idle, the bytes sent (none expected) and the CPU the
 *    capture takes (this process and `parec`, % of one core).
 *
 * Run alone: `deno run -A bench/audio_bench.ts [--quick]`.
 *
 * @module
 */
import { ms, ratio, summarize } from "./common.ts";
import { cpuSeconds } from "./proc_stat.ts";
import { sine, wavFile } from "../tests/support/tone.ts";
import { OpusEncoder } from "../ffi/opus/mod.ts";
import { startPulseAudio } from "../mod/platform/linux/pulse_audio.ts";
import { AudioStream } from "../mod/streamer/audio/mod.ts";

/** Options for {@linkcode runAudioBench}. */
export interface AudioBenchOptions {
  /** Fewer iterations (a smoke run). */
  quick?: boolean;
  /** Progress output. Default `console.log`. */
  progress?: (line: string) => void;
}

/** The figures of a run. */
export interface AudioBenchResult {
  /** Mean encode time per frame, ms, by frame length (ms). */
  encodeMs: Record<number, number>;
  /** Bytes per second, by configured bitrate (20 ms frames). */
  bytesPerSecond: Record<number, number>;
  /** paplay start to first packet, ms, per trial. */
  latencyMs: number[];
  /** Bytes sent while idle, per second. */
  idleBytesPerSecond: number;
  /** CPU (this process and parec) while idle, % of one core. */
  idleCpuPercent: number;
}

/** Music-like stereo PCM: `frames` frames of `samples` samples each. */
function music(frames: number, samples: number): Int16Array[] {
  const out: Int16Array[] = [];
  let noise = 1;
  for (let f = 0; f < frames; f++) {
    const pcm = new Int16Array(samples * 2);
    for (let i = 0; i < samples; i++) {
      const t = (f * samples + i) / 48_000;
      noise = (noise * 1103515245 + 12345) & 0x7fffffff;
      const v = 6000 * Math.sin(2 * Math.PI * 440 * t) +
        3000 * Math.sin(2 * Math.PI * 1234 * t) + (noise / 0x7fffffff - 0.5) *
          600;
      pcm[2 * i] = Math.round(v);
      pcm[2 * i + 1] = Math.round(v * 0.8);
    }
    out.push(pcm);
  }
  return out;
}

/** Mean ms per call of `fn` over `n` calls (after `n / 10` unmeasured). */
function meanTime(n: number, fn: (i: number) => void): number {
  for (let i = 0; i < n / 10; i++) fn(i);
  const start = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return (performance.now() - start) / n;
}

/** Resolves once `check()` holds (polled every 2 ms), or throws after `ms`. */
async function until(check: () => boolean, limitMs: number): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Runs the audio benchmark and prints its figures. */
export async function runAudioBench(
  options: AudioBenchOptions = {},
): Promise<AudioBenchResult> {
  const log = options.progress ?? console.log;
  const n = options.quick ? 300 : 3000;
  const result: AudioBenchResult = {
    encodeMs: {},
    bytesPerSecond: {},
    latencyMs: [],
    idleBytesPerSecond: 0,
    idleCpuPercent: 0,
  };

  log("audio: encode cost (libopus FFI, 96 kbit/s, stereo)");
  for (const frameMs of [10, 20]) {
    const samples = 48 * frameMs;
    const frames = music(50, samples);
    const encoder = new OpusEncoder({ bitrate: 96_000 });
    const encode = meanTime(n, (i) => encoder.encode(frames[i % 50]));
    encoder.close();
    result.encodeMs[frameMs] = encode;
    log(
      `  ${frameMs} ms frames: ${ms(encode)} per frame (${
        ratio(encode, frameMs)
      } real time, i.e. ${(encode / frameMs * 100).toFixed(2)} % of a core)`,
    );
  }

  log("audio: bitrate (20 ms frames, 5 s of music-like signal)");
  const frames = music(250, 960);
  for (const bitrate of [64_000, 96_000, 128_000]) {
    const encoder = new OpusEncoder({ bitrate });
    const bytes = frames.reduce((sum, f) => sum + encoder.encode(f).length, 0);
    encoder.close();
    result.bytesPerSecond[bitrate] = bytes / 5;
    log(
      `  ${bitrate / 1000} kbit/s: ${(bytes / 5 / 1000).toFixed(1)} kB/s, ${
        (bytes / 250).toFixed(0)
      } B/packet (${ratio(bytes * 8 / 5, bitrate)} the setting)`,
    );
  }

  log("audio: capture latency on a session PulseAudio");
  const dir = await Deno.makeTempDir({ prefix: "webstream-audio-bench-" });
  const server = await startPulseAudio({
    directory: `${dir}/pulse`,
    env: { PATH: "/usr/bin:/bin", HOME: dir },
  });
  const arrivals: number[] = [];
  const stream = new AudioStream(
    { server: server.server },
    () => arrivals.push(performance.now()),
  );
  try {
    await Deno.writeFile(`${dir}/tone.wav`, wavFile(sine(440, 9600)));
    stream.start();
    await until(() => stream.stats.frames > 0, 10_000);
    const idleFrom = stream.stats.bytes;
    const idleSeconds = options.quick ? 1 : 5;
    const parec = stream.capturePid!;
    const both = async () =>
      await cpuSeconds(Deno.pid) + await cpuSeconds(parec);
    const cpuFrom = await both();
    await new Promise((r) => setTimeout(r, idleSeconds * 1000));
    result.idleCpuPercent = (await both() - cpuFrom) / idleSeconds * 100;
    result.idleBytesPerSecond = (stream.stats.bytes - idleFrom) / idleSeconds;
    for (let trial = 0; trial < (options.quick ? 3 : 15); trial++) {
      const before = arrivals.length;
      const started = performance.now();
      const play = new Deno.Command("paplay", {
        args: [`--server=${server.server}`, `${dir}/tone.wav`],
        stdout: "null",
        stderr: "null",
      }).spawn();
      await until(() => arrivals.length > before, 10_000);
      result.latencyMs.push(arrivals[before] - started);
      await play.status;
      // Back to idle: the stream stops sending 200 ms into silence.
      const quiet = stream.stats.silentFrames;
      await until(() => stream.stats.silentFrames > quiet + 5, 10_000);
    }
  } finally {
    await stream.stop();
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
  const latency = summarize(result.latencyMs);
  log(
    `  paplay start to first packet: p50 ${ms(latency.p50)}, p90 ${
      ms(latency.p90)
    }, max ${ms(latency.max)} (${ratio(latency.p50, 10)} a 10 ms frame)`,
  );
  log(
    `  idle: ${result.idleBytesPerSecond} B/s sent; capture CPU ${
      result.idleCpuPercent.toFixed(1)
    } % of a core (this process and parec, reading the monitor's silence)`,
  );
  return result;
}

if (import.meta.main) {
  await runAudioBench({ quick: Deno.args.includes("--quick") });
}
