/**
 * Tests for `mod/streamer/audio/mod.ts`, with a stand-in recorder that
 * prints known PCM: an idle stream sends nothing, sound is sent as Opus
 * packets (10 or 20 ms, decoding back to the tone), sending stops 200 ms
 * into silence and resumes with the next sound, bad options are refused, and
 * `isSilent` means every sample zero. The real recorder on a real
 * PulseAudio server is covered by `tests/platform/linux/pulse_audio_test.ts`.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertThrows,
} from "../../support/assert.ts";
import { withTempDir } from "../../support/fs.ts";
import { dominance, firstChannel, sine } from "../../support/tone.ts";
import { waitFor } from "../../support/wait.ts";
import { OpusDecoder } from "../../../ffi/opus/mod.ts";
import {
  type AudioPacket,
  AudioStream,
  isSilent,
} from "../../../mod/streamer/audio/mod.ts";

const MS = 48; // samples per channel per millisecond

/** A stand-in recorder that prints `pcm` once and then waits to be ended. */
async function fakeRecorder(dir: string, pcm: Int16Array): Promise<string> {
  await Deno.writeFile(`${dir}/pcm`, new Uint8Array(pcm.buffer));
  const path = `${dir}/fake-parec`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\ncat "${dir}/pcm"\nexec sleep 60\n`,
    { mode: 0o755 },
  );
  return path;
}

/** Interleaved stereo: `ms` of silence. */
function silence(ms: number): Int16Array {
  return new Int16Array(ms * MS * 2);
}

function concat(...parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs a stream over `pcm` until all of it was captured; returns the packets. */
async function streamOf(
  pcm: Int16Array,
  frameMs: 10 | 20 = 10,
): Promise<{ packets: AudioPacket[]; stream: AudioStream }> {
  let result: { packets: AudioPacket[]; stream: AudioStream } | undefined;
  await withTempDir(async (dir) => {
    const packets: AudioPacket[] = [];
    const stream = new AudioStream({
      server: "unix:/nowhere/native",
      command: await fakeRecorder(dir, pcm),
      frameMs,
    }, (packet) => packets.push(packet));
    stream.start();
    try {
      const frames = pcm.length / 2 / (frameMs * MS);
      await waitFor(() => stream.stats.frames === frames, { what: "frames" });
    } finally {
      await stream.stop();
    }
    result = { packets, stream };
  });
  return result!;
}

Deno.test("AudioStream sends sound, stops 200 ms into silence, resumes", async () => {
  const tone = (ms: number, offset = 0) => sine(440, ms * MS, { offset });
  const { packets, stream } = await streamOf(concat(
    silence(300),
    tone(200),
    silence(500),
    tone(100, 200 * MS),
  ));
  // 20 frames of tone, 20 of the silence after it, 10 of tone again.
  assertEquals(packets.length, 50);
  assertEquals(stream.stats.silentFrames, 30 + 30);
  assertEquals(
    stream.stats.bytes,
    packets.reduce((n, p) => n + p.data.length, 0),
  );
  assert(packets.every((p) => p.samples === 480));
  // The gap shows in the timestamps: 300 ms of silence left out.
  assertEquals(packets[40].timestampUs - packets[39].timestampUs, 310_000);
  const decoder = new OpusDecoder();
  const pcm: number[] = [];
  for (const p of packets.slice(0, 20)) pcm.push(...decoder.decode(p.data));
  decoder.close();
  assertGreater(dominance(firstChannel(pcm).subarray(960), 440), 100);
});

Deno.test("AudioStream sends nothing for a silent session", async () => {
  const { packets, stream } = await streamOf(silence(1000));
  assertEquals(packets.length, 0);
  assertEquals(stream.stats.frames, 100);
});

Deno.test("AudioStream with 20 ms frames", async () => {
  const { packets } = await streamOf(sine(440, 200 * MS), 20);
  assertEquals(packets.length, 10);
  assertEquals(packets[0].samples, 960);
  assertEquals(packets[1].timestampUs - packets[0].timestampUs, 20_000);
});

Deno.test("AudioStream refuses bad options", () => {
  const server = "unix:/run/x/native";
  assertThrows(
    () => new AudioStream({ server, bitrate: 256_000 }, () => {}),
    Error,
    /bitrate 256000/,
  );
  assertThrows(
    // @ts-expect-error: 15 ms is not a frame length on offer.
    () => new AudioStream({ server, frameMs: 15 }, () => {}),
    Error,
    /frame length 15/,
  );
  assertThrows(
    () => new AudioStream({ server, silenceMs: -1 }, () => {}),
    Error,
    /silence/,
  );
});

Deno.test("isSilent means every sample zero", () => {
  assertEquals(isSilent(new Int16Array(960)), true);
  const one = new Int16Array(960);
  one[959] = 1;
  assertEquals(isSilent(one), false);
});
