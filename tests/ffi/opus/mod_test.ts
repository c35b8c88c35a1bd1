/**
 * Tests for `ffi/opus/mod.ts` with the real libopus: a 440 Hz stereo sine
 * survives an encode/decode round trip (tone dominant, level kept, length
 * and lookahead as documented), the bitrate setting changes the packet
 * sizes, lost packets are concealed, and bad arguments (rates, channels,
 * frame lengths, bitrates, complexity, corrupt packets, use after close) are
 * errors that say what was wrong.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
  assertThrows,
} from "../../support/assert.ts";
import { dominance, firstChannel, rms, sine } from "../../support/tone.ts";
import {
  OPUS_APPLICATION_AUDIO,
  OPUS_APPLICATION_RESTRICTED_LOWDELAY,
  OpusDecoder,
  OpusEncoder,
  OpusError,
  opusErrorText,
  opusVersion,
  validFrame,
} from "../../../ffi/opus/mod.ts";

const FRAME = 480; // 10 ms at 48 kHz

/** Encodes `frames` 10 ms frames of a 440 Hz tone; returns the packets. */
function encodeTone(encoder: OpusEncoder, frames: number): Uint8Array[] {
  const packets: Uint8Array[] = [];
  for (let f = 0; f < frames; f++) {
    packets.push(encoder.encode(sine(440, FRAME, { offset: f * FRAME })));
  }
  return packets;
}

Deno.test("libopus loads and names its version", () => {
  assertMatch(opusVersion(), /^libopus \d/);
  assertEquals(opusErrorText(-1), "invalid argument");
});

Deno.test("a 440 Hz tone survives a round trip", () => {
  using encoder = new OpusEncoder({ bitrate: 96_000 });
  using decoder = new OpusDecoder();
  assertEquals(encoder.lookahead, 120); // 2.5 ms: CELT only
  const decoded: number[] = [];
  for (const packet of encodeTone(encoder, 50)) {
    const pcm = decoder.decode(packet);
    assertEquals(pcm.length, FRAME * 2);
    decoded.push(...pcm);
  }
  // Past the codec's start-up, the same tone at about the same level.
  const tail = firstChannel(decoded).subarray(FRAME * 10);
  assertGreater(dominance(tail, 440), 1000);
  const level = rms(tail) / rms(firstChannel(sine(440, 4800)));
  assert(level > 0.8 && level < 1.2, `level ratio ${level}`);
});

Deno.test("the AUDIO application has a longer lookahead", () => {
  using encoder = new OpusEncoder({ application: OPUS_APPLICATION_AUDIO });
  using lowDelay = new OpusEncoder({
    application: OPUS_APPLICATION_RESTRICTED_LOWDELAY,
  });
  assertGreater(encoder.lookahead, lowDelay.lookahead);
});

Deno.test("the bitrate setting changes packet sizes", () => {
  const total = (bitrate: number) => {
    using encoder = new OpusEncoder({ bitrate, complexity: 5 });
    assertEquals(encoder.bitrate, bitrate);
    return encodeTone(encoder, 100).reduce((n, p) => n + p.length, 0);
  };
  const low = total(24_000);
  const high = total(128_000);
  // 1 s of audio: bytes × 8 is the bitrate, within VBR's latitude.
  assert(low * 8 < 40_000, `24 kbit/s gave ${low * 8} bit/s`);
  assertGreater(high, low * 3);
  using encoder = new OpusEncoder();
  encoder.setBitrate(64_000);
  assertEquals(encoder.bitrate, 64_000);
});

Deno.test("a lost packet is concealed with one frame", () => {
  using decoder = new OpusDecoder();
  using encoder = new OpusEncoder();
  decoder.decode(encodeTone(encoder, 1)[0]);
  assertEquals(decoder.decode(null).length, FRAME * 2);
});

Deno.test("bad arguments are clear errors", () => {
  assertThrows(
    () => new OpusEncoder({ sampleRate: 44_100 }),
    OpusError,
    /sample rate 44100/,
  );
  assertThrows(() => new OpusDecoder({ channels: 3 }), OpusError, /channel/);
  assertThrows(
    () => new OpusEncoder({ application: 1 }),
    OpusError,
    /application 1/,
  );
  assertThrows(() => new OpusEncoder({ bitrate: 1e9 }), OpusError, /bitrate/);
  assertThrows(
    () => new OpusEncoder({ complexity: 11 }),
    OpusError,
    /complexity 11/,
  );
  using encoder = new OpusEncoder();
  assertThrows(
    () => encoder.encode(new Int16Array(1000)),
    OpusError,
    /invalid Opus frame: 1000 samples/,
  );
  const ctl = assertThrows(() => encoder.ctl(4999, 1), OpusError);
  assertEquals((ctl as OpusError).code, -5); // OPUS_UNIMPLEMENTED
  using decoder = new OpusDecoder();
  const corrupt = assertThrows(
    () => decoder.decode(new Uint8Array([0xff, 0xff, 0xff])),
    OpusError,
    /opus_decode failed/,
  );
  assert((corrupt as OpusError).code < 0);
  const closed = new OpusEncoder();
  closed.close();
  closed.close();
  assertThrows(() => closed.encode(sine(440, FRAME)), OpusError, /closed/);
});

Deno.test("validFrame accepts 2.5 to 60 ms only", () => {
  assertEquals(
    [120, 240, 480, 960, 1920, 2880].map((n) => validFrame(n, 48_000)),
    [true, true, true, true, true, true],
  );
  assertEquals(validFrame(100, 48_000), false);
  assertEquals(validFrame(500, 48_000), false);
  assertEquals(validFrame(160, 16_000), true);
});
