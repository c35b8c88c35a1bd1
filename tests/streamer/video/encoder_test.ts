/**
 * The streamer's H.264 encoder on real libx264: the codec string comes from
 * the stream's SPS (Constrained Baseline by default, High on request, the
 * level x264 chose for the size), keyframes come first and then only on
 * request (`requestKeyframe()` or `{ keyframe: true }`), every frame gives
 * one access unit, odd sizes are coded padded to even, regions larger or
 * smaller than the picture are accepted, and `setBitrate` moves the size of
 * frames of noise; a still screen costs next to nothing under CRF. Also the pure helpers: `codecFromSps` and `splitAnnexB`.
 * (Decoding and colours are checked in Chromium by
 * tests/httpdocs/video_test.ts.)
 *
 * @module
 */
import {
  type BgrxFrame,
  codecFromSps,
  H264Encoder,
  splitAnnexB,
  videoAvailable,
} from "../../../mod/streamer/video/encoder.ts";
import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
  assertThrows,
} from "../../support/assert.ts";

const OPTIONS = { ignore: !videoAvailable() };

/** A BGRX frame: a gradient moved by `n`, or noise. */
function frameOf(
  width: number,
  height: number,
  n: number,
  noise = false,
): BgrxFrame {
  const data = new Uint8Array(width * height * 4);
  let seed = n * 7919 + 1;
  for (let i = 0; i < data.length; i++) {
    if (noise) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      data[i] = seed >>> 24;
    } else {
      data[i] = ((i >> 2) % width + (i & 3) * 40 + n * 3) & 0xff;
    }
  }
  return { width, height, stride: width * 4, data };
}

/** NAL unit types of an access unit, SEI left out. */
function slicesOf(data: Uint8Array): number[] {
  return splitAnnexB(data).map((u) => u[0] & 0x1f).filter((t) => t !== 6);
}

Deno.test("codecFromSps reads profile, constraints and level", () => {
  assertEquals(
    codecFromSps(new Uint8Array([0x67, 0x42, 0xc0, 0x28])),
    "avc1.42C028",
  );
  assertEquals(
    codecFromSps(new Uint8Array([0, 0, 0, 1, 0x67, 0x64, 0x00, 0x33, 0xac])),
    "avc1.640033",
  );
  assertEquals(
    codecFromSps(new Uint8Array([0, 0, 1, 0x27, 0x4d, 0x40, 0x1f])),
    "avc1.4D401F",
  );
  assertThrows(
    () => codecFromSps(new Uint8Array([0x68, 0xce, 0x3c, 0x80])),
    Error,
    /not an H.264 SPS/,
  );
});

Deno.test("splitAnnexB splits on 3- and 4-byte start codes", () => {
  const stream = new Uint8Array([
    0,
    0,
    0,
    1,
    0x67,
    1,
    2,
    0,
    0,
    1,
    0x68,
    3,
    0,
    0,
    0,
    1,
    0x65,
    4,
    5,
    0,
  ]);
  assertEquals(splitAnnexB(stream).map((u) => Array.from(u)), [
    [0x67, 1, 2],
    [0x68, 3],
    [0x65, 4, 5, 0],
  ]);
  assertEquals(splitAnnexB(new Uint8Array([1, 2, 3])), []);
});

Deno.test("the codec string is the stream's own SPS", OPTIONS, () => {
  const cases = [
    {
      width: 1920,
      height: 1080,
      preset: "ultrafast",
      profile: "baseline",
      codec: /^avc1\.42C0(28|2A|32|33)$/,
    },
    {
      width: 1280,
      height: 720,
      preset: "ultrafast",
      profile: "baseline",
      codec: /^avc1\.42C0[0-9A-F]{2}$/,
    },
    {
      width: 1920,
      height: 1080,
      // Ultrafast turns off what High adds (CABAC, 8×8): superfast keeps it.
      preset: "superfast",
      profile: "high",
      codec: /^avc1\.6400(28|2A|32|33)$/,
    },
  ] as const;
  for (const { width, height, preset, profile, codec } of cases) {
    const encoder = new H264Encoder({
      width,
      height,
      bitrate: 3000,
      preset,
      profile,
    });
    try {
      assertMatch(encoder.codec, codec);
      const first = encoder.encode(frameOf(width, height, 0));
      assert(first);
      const sps = splitAnnexB(first.data).find((u) => (u[0] & 0x1f) === 7);
      assert(sps, "no SPS in the first access unit");
      assertEquals(codecFromSps(sps), encoder.codec);
    } finally {
      encoder.close();
    }
  }
});

Deno.test(
  "keyframes come first and on request; every frame gives one access unit",
  OPTIONS,
  () => {
    const encoder = new H264Encoder({ width: 320, height: 240, bitrate: 500 });
    try {
      assertEquals(encoder.bitrate, 500);
      const kinds: string[] = [];
      for (let n = 0; n < 10; n++) {
        if (n === 4) encoder.requestKeyframe();
        const out = encoder.encode(frameOf(320, 240, n), undefined, {
          keyframe: n === 7,
        });
        assert(out, `frame ${n} was held back`);
        assertEquals(Array.from(out.data.subarray(0, 4)), [0, 0, 0, 1]);
        assertEquals(
          slicesOf(out.data),
          out.keyframe ? [7, 8, 5] : [1],
          `frame ${n}`,
        );
        kinds.push(out.keyframe ? "I" : "P");
      }
      assertEquals(kinds.join(""), "IPPPIPPIPP");
      assertEquals(encoder.frames, 10);
    } finally {
      encoder.close();
    }
    assert(encoder.closed);
    assertThrows(() => encoder.encode(frameOf(320, 240, 0)), Error, /closed/);
    encoder.close();
  },
);

Deno.test("odd sizes are coded padded to even", OPTIONS, () => {
  const encoder = new H264Encoder({ width: 321, height: 179, bitrate: 500 });
  try {
    assertEquals([encoder.width, encoder.height], [321, 179]);
    assertEquals([encoder.codedWidth, encoder.codedHeight], [322, 180]);
    const out = encoder.encode(frameOf(321, 179, 0));
    assert(out?.keyframe);
  } finally {
    encoder.close();
  }
});

Deno.test(
  "regions larger or smaller than the picture are cropped or padded",
  OPTIONS,
  () => {
    const encoder = new H264Encoder({ width: 160, height: 120, bitrate: 500 });
    try {
      const big = frameOf(400, 300, 0);
      const inside = encoder.encode(big, {
        x: 10,
        y: 20,
        width: 160,
        height: 120,
      });
      assert(inside?.keyframe);
      const larger = encoder.encode(big, {
        x: 0,
        y: 0,
        width: 400,
        height: 300,
      });
      assert(larger && !larger.keyframe);
      const smaller = encoder.encode(big, {
        x: 0,
        y: 0,
        width: 33,
        height: 17,
      });
      assert(smaller && !smaller.keyframe);
      assertThrows(
        () => encoder.encode(big, { x: 300, y: 0, width: 160, height: 120 }),
        RangeError,
        /not inside/,
      );
    } finally {
      encoder.close();
    }
  },
);

Deno.test("setBitrate changes the size of frames of noise", OPTIONS, () => {
  const width = 640, height = 360;
  const encoder = new H264Encoder({ width, height, bitrate: 4000 });
  const meanBytes = (from: number, count: number): number => {
    let bytes = 0;
    for (let n = from; n < from + count; n++) {
      bytes += encoder.encode(frameOf(width, height, n, true))!.data.length;
    }
    return bytes / count;
  };
  try {
    meanBytes(0, 10);
    const high = meanBytes(10, 20);
    encoder.setBitrate(400);
    assertEquals(encoder.bitrate, 400);
    meanBytes(30, 10);
    const low = meanBytes(40, 20);
    assertGreater(high, low * 4, `${high} vs ${low} bytes a frame`);
    // Near the targets: 4000 kbit/s at 30 fps is 16.7 kB a frame.
    assertGreater(high, 4000 * 1000 / 8 / 30 / 2);
    assertGreater(4000 * 1000 / 8 / 30 * 1.5, high);
  } finally {
    encoder.close();
  }
});

Deno.test("bad sizes and bitrates are refused", OPTIONS, () => {
  assertThrows(
    () => new H264Encoder({ width: 0, height: 10, bitrate: 100 }),
    RangeError,
    /width/,
  );
  assertThrows(
    () => new H264Encoder({ width: 10, height: 10, bitrate: -1 }),
    RangeError,
    /bitrate/,
  );
  const encoder = new H264Encoder({ width: 64, height: 64, bitrate: 100 });
  try {
    assertThrows(() => encoder.setBitrate(0), RangeError, /bitrate/);
  } finally {
    encoder.close();
  }
});

Deno.test(
  "a still screen costs next to nothing once refined (CRF); ABR works too",
  OPTIONS,
  () => {
    const frame = frameOf(320, 240, 0);
    const crf = new H264Encoder({ width: 320, height: 240, bitrate: 1000 });
    const abr = new H264Encoder({
      width: 320,
      height: 240,
      bitrate: 1000,
      rateControl: "abr",
    });
    try {
      const sizes = (encoder: H264Encoder) =>
        Array.from({ length: 30 }, () => encoder.encode(frame)!.data.length);
      const still = sizes(crf).slice(-10);
      // Under 5% of the target's share of a frame (1000 kbit/s at 30 fps).
      const share = 1000 * 1000 / 8 / 30;
      assert(
        still.every((n) => n < share / 20),
        `still frames of ${still} bytes`,
      );
      const first = abr.encode(frame);
      assert(first?.keyframe);
      abr.setBitrate(200);
      assertEquals(abr.bitrate, 200);
    } finally {
      crf.close();
      abr.close();
    }
  },
);

Deno.test(
  "encodeAsync: one frame in flight at a time, keyframes and bitrate changes still apply",
  OPTIONS,
  async () => {
    const encoder = new H264Encoder({ width: 320, height: 240, bitrate: 500 });
    try {
      const first = encoder.encodeAsync(frameOf(320, 240, 0));
      assertThrows(
        () => encoder.encode(frameOf(320, 240, 1)),
        Error,
        /busy/,
      );
      // A bitrate change while busy waits for the next frame.
      encoder.setBitrate(300);
      assertEquals(encoder.bitrate, 300);
      encoder.requestKeyframe();
      assert((await first)?.keyframe);
      const kinds: string[] = [];
      for (let n = 1; n < 5; n++) {
        const out = await encoder.encodeAsync(frameOf(320, 240, n), undefined, {
          keyframe: n === 3,
        });
        assert(out, `frame ${n} was held back`);
        kinds.push(out.keyframe ? "I" : "P");
      }
      // The keyframe requested during the first frame's encode came next.
      assertEquals(kinds.join(""), "IPIP");
      const last = encoder.encodeAsync(frameOf(320, 240, 5));
      encoder.close();
      assert(encoder.closed);
      assert(await last);
    } finally {
      encoder.close();
    }
  },
);
