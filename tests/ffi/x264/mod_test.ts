/**
 * The libx264 binding against the real `libx264.so.164`: the
 * `x264_param_t` offsets read back what x264's own presets and
 * `x264_param_parse` wrote; encoding synthetic I420 frames gives Annex B
 * access units, one per input (no B-frames, no delay), an IDR with SPS and
 * PPS first, P slices after it until an IDR is forced, and a live
 * `x264_encoder_reconfig` of the bitrate changes the size of frames of
 * noise.
 *
 * @module
 */
import {
  checkLayout,
  openX264,
  X264_CSP_I420,
  X264_KEYINT_MAX_INFINITE,
  X264_PARAM,
  X264_RC_ABR,
  X264_TYPE_AUTO,
  X264_TYPE_IDR,
  x264Available,
  X264Encoder,
  X264Error,
  X264Param,
  X264Picture,
} from "../../../ffi/x264/mod.ts";
import {
  assert,
  assertEquals,
  assertGreater,
  assertThrows,
} from "../../support/assert.ts";

const OPTIONS = { ignore: !x264Available() };

/** NAL unit types of an Annex B access unit, read from the bytes. */
function nalTypesOf(data: Uint8Array): number[] {
  const types: number[] = [];
  for (let i = 0; i + 3 < data.length; i++) {
    if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
      types.push(data[i + 3] & 0x1f);
      i += 3;
    }
  }
  return types;
}

/** Low-latency parameters as the streamer uses them. */
function streamingParam(
  width: number,
  height: number,
  kbps: number,
): X264Param {
  const param = new X264Param().preset("ultrafast", "zerolatency");
  for (
    const [name, value] of [
      ["threads", "1"],
      ["bframes", "0"],
      ["keyint", "infinite"],
      ["scenecut", "0"],
      ["annexb", "1"],
      ["repeat-headers", "1"],
      ["fps", "30"],
      ["bitrate", String(kbps)],
      ["vbv-maxrate", String(kbps)],
      ["vbv-bufsize", String(kbps / 2)],
      ["log", "-1"],
    ]
  ) param.parse(name, value);
  return param.setSize(width, height).applyProfile("baseline");
}

/** Fills the picture with a moving pattern (`noise`: pseudo-random luma). */
function paint(picture: X264Picture, n: number, noise = false): void {
  let seed = n * 7919 + 1;
  for (let i = 0; i < picture.y.length; i++) {
    if (noise) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      picture.y[i] = seed >>> 24;
    } else {
      picture.y[i] = (i + n * 5) & 0xff;
    }
  }
  picture.u.fill(90 + n);
  picture.v.fill(160 - n);
}

Deno.test(
  "x264_param_t offsets match the library's defaults and parser",
  OPTIONS,
  () => {
    const symbols = openX264();
    checkLayout(symbols);
    // "medium" (the default preset) and ultrafast + zerolatency differ at
    // the offsets we read, as x264's preset code says they should.
    const medium = new X264Param(symbols).preset("medium");
    assertEquals(medium.int(X264_PARAM.i_width), 0);
    assertEquals(medium.int(X264_PARAM.i_csp), X264_CSP_I420);
    assertEquals(medium.int(X264_PARAM.i_keyint_max), 250);
    assertEquals(medium.int(X264_PARAM.i_bframe), 3);
    assertEquals(medium.int(X264_PARAM.b_cabac), 1);
    assertEquals(medium.int(X264_PARAM.rc_i_lookahead), 40);
    assertEquals(medium.int(X264_PARAM.i_frame_reference), 3);
    const fast = new X264Param(symbols).preset("ultrafast", "zerolatency");
    assertEquals(fast.int(X264_PARAM.i_bframe), 0);
    assertEquals(fast.int(X264_PARAM.b_cabac), 0);
    assertEquals(fast.int(X264_PARAM.b_sliced_threads), 1);
    assertEquals(fast.int(X264_PARAM.rc_i_lookahead), 0);
    assertEquals(fast.int(X264_PARAM.i_frame_reference), 1);
    assertEquals(fast.int(X264_PARAM.i_scenecut_threshold), 0);
    // Our writes are what the library reads: its parser sees our size.
    const param = streamingParam(640, 360, 1000);
    assertEquals(param.int(X264_PARAM.i_width), 640);
    assertEquals(param.int(X264_PARAM.i_height), 360);
    assertEquals(param.int(X264_PARAM.i_keyint_max), X264_KEYINT_MAX_INFINITE);
    assertEquals(param.int(X264_PARAM.rc_i_rc_method), X264_RC_ABR);
    assertEquals(param.int(X264_PARAM.rc_i_vbv_buffer_size), 500);
    // "30" parses as a float: 30000/1000.
    assertEquals(
      param.int(X264_PARAM.i_fps_num) / param.int(X264_PARAM.i_fps_den),
      30,
    );
    // The encoder's own copy, after validation, has the size we wrote.
    const encoder = new X264Encoder(param, symbols);
    try {
      const used = encoder.parameters();
      assertEquals(used.int(X264_PARAM.i_width), 640);
      assertEquals(used.int(X264_PARAM.i_height), 360);
      assertEquals(used.int(X264_PARAM.i_bframe), 0);
      assertEquals(used.int(X264_PARAM.rc_i_bitrate), 1000);
    } finally {
      encoder.close();
      for (const p of [medium, fast, param]) p.cleanup();
    }
  },
);

Deno.test(
  "bad options and sizes are refused with clear errors",
  OPTIONS,
  () => {
    const param = new X264Param().preset("ultrafast", "zerolatency");
    assertThrows(
      () => param.parse("no-such-option", "1"),
      X264Error,
      /unknown/,
    );
    assertThrows(() => param.parse("bframes", "many"), X264Error, /bad value/);
    assertThrows(() => new X264Param().preset("warp"), X264Error, /preset/);
    assertThrows(() => param.applyProfile("ultra"), X264Error, /profile/);
    assertThrows(() => new X264Picture(641, 360), RangeError, /not even/);
    param.setSize(0, 0);
    assertThrows(() => new X264Encoder(param), X264Error, /rejected/);
    param.cleanup();
  },
);

Deno.test(
  "encoding gives one Annex B access unit per frame: IDR with SPS/PPS first, then P until an IDR is forced",
  OPTIONS,
  () => {
    const width = 320, height = 240;
    const encoder = new X264Encoder(streamingParam(width, height, 800));
    const picture = new X264Picture(width, height);
    try {
      const headers = encoder.headers();
      assertEquals(headers.nalTypes.slice(0, 2), [7, 8]);
      const kinds: string[] = [];
      for (let n = 0; n < 12; n++) {
        paint(picture, n);
        picture.type = n === 8 ? X264_TYPE_IDR : X264_TYPE_AUTO;
        picture.pts = n;
        const out = encoder.encode(picture);
        assert(out, `frame ${n} was held back`);
        assertEquals(encoder.delayedFrames(), 0);
        assertEquals(Array.from(out.data.subarray(0, 4)), [0, 0, 0, 1]);
        const types = nalTypesOf(out.data);
        assertEquals(types, out.nalTypes, `frame ${n} NAL types`);
        // SEI (6) may ride along; the slices decide the kind.
        const slices = types.filter((t) => t !== 6);
        if (out.keyframe) {
          assertEquals(slices, [7, 8, 5], `frame ${n}`);
          assertEquals(out.type, X264_TYPE_IDR);
          kinds.push("I");
        } else {
          assertEquals(slices, [1], `frame ${n}`);
          kinds.push("P");
        }
      }
      assertEquals(kinds.join(""), "IPPPPPPPIPPP");
    } finally {
      encoder.close();
    }
    assertThrows(() => encoder.encode(picture), X264Error, /closed/);
    encoder.close();
  },
);

Deno.test(
  "x264_encoder_reconfig of the bitrate changes the size of frames of noise",
  OPTIONS,
  () => {
    const width = 640, height = 360;
    const param = streamingParam(width, height, 4000);
    const encoder = new X264Encoder(param);
    const picture = new X264Picture(width, height);
    const meanBytes = (from: number, count: number): number => {
      let bytes = 0;
      for (let n = from; n < from + count; n++) {
        paint(picture, n, true);
        const out = encoder.encode(picture);
        assert(out, `frame ${n} was held back`);
        bytes += out.data.length;
      }
      return bytes / count;
    };
    try {
      meanBytes(0, 10);
      const high = meanBytes(10, 20);
      param.parse("bitrate", "400");
      param.parse("vbv-maxrate", "400");
      param.parse("vbv-bufsize", "200");
      encoder.reconfig(param);
      meanBytes(30, 10);
      const low = meanBytes(40, 20);
      assertEquals(encoder.parameters().int(X264_PARAM.rc_i_bitrate), 400);
      // 4000 vs 400 kbit/s at 30 fps: about 16.7 kB vs 1.7 kB a frame.
      assertGreater(high, low * 4, `${high} vs ${low} bytes a frame`);
      assertGreater(low, 400 * 1000 / 8 / 30 / 3);
      assertGreater(4000 * 1000 / 8 / 30 * 1.5, high);
    } finally {
      encoder.close();
      param.cleanup();
    }
  },
);

Deno.test(
  "encodeAsync gives the same access units as encode, one call at a time, and defers close",
  OPTIONS,
  async () => {
    const width = 320, height = 240;
    const syncParam = streamingParam(width, height, 800);
    const asyncParam = streamingParam(width, height, 800);
    const sync = new X264Encoder(syncParam);
    const async = new X264Encoder(asyncParam);
    const syncPicture = new X264Picture(width, height);
    const asyncPicture = new X264Picture(width, height);
    try {
      for (let n = 0; n < 5; n++) {
        paint(syncPicture, n);
        paint(asyncPicture, n);
        const expected = sync.encode(syncPicture);
        const pending = async.encodeAsync(asyncPicture);
        assert(async.busy);
        assertThrows(() => async.encode(asyncPicture), X264Error, /busy/);
        assertThrows(() => async.reconfig(asyncParam), X264Error, /busy/);
        const got = await pending;
        assert(!async.busy);
        assertEquals(got?.data, expected?.data, `frame ${n}`);
        assertEquals(got?.keyframe, n === 0);
      }
      // close() while an encode is in flight waits for it.
      const last = async.encodeAsync(asyncPicture);
      async.close();
      assert(async.closed);
      assert((await last)?.data.length);
      assertThrows(() => async.encode(asyncPicture), X264Error, /closed/);
    } finally {
      sync.close();
      async.close();
      syncParam.cleanup();
      asyncParam.cleanup();
    }
  },
);
