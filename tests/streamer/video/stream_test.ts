/**
 * Tests for `mod/streamer/video/stream.ts` with the real libx264 encoder:
 * sustained motion starts video (a keyframe first, then deltas only while
 * something moves in the region, at most one per frame interval); a
 * keyframe request is honoured; slow acknowledgements cut the bitrate and
 * fast ones raise it back to the cap; a viewer that cannot decode the
 * stream's codec gets an error instead of video; quiet stops it.
 *
 * @module
 */
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";
import { videoAvailable } from "../../../mod/streamer/video/encoder.ts";
import {
  decodable,
  defaultVideoCap,
  MIN_KBPS,
  VideoStream,
} from "../../../mod/streamer/video/stream.ts";

const OPTIONS = { ignore: !videoAvailable() };
const SCREEN = { width: 640, height: 480 };
const MOVING = { x: 64, y: 64, width: 320, height: 192 };

/** A BGRX frame whose moving area changes with `t`. */
function frame(t: number) {
  const data = new Uint8Array(SCREEN.width * SCREEN.height * 4);
  for (let y = 0; y < SCREEN.height; y++) {
    for (let x = 0; x < SCREEN.width; x++) {
      const i = (y * SCREEN.width + x) * 4;
      data[i] = (x * 3 + t * 7) & 255;
      data[i + 1] = (y * 5 + t * 3) & 255;
      data[i + 2] = (x ^ y ^ t) & 255;
    }
  }
  return { ...SCREEN, stride: SCREEN.width * 4, data };
}

function started(codecs = ["avc1.42C028", "avc1.42C033"]) {
  const video = new VideoStream({
    screen: SCREEN,
    codecs,
    startFrames: 3,
    stopAfterMs: 500,
  });
  for (let i = 0; i < 3; i++) {
    video.observe({ lossy: [MOVING], copied: 0, damage: [MOVING] }, i * 33);
  }
  return video;
}

Deno.test(
  "motion starts video: a keyframe, then deltas at most once a frame interval",
  OPTIONS,
  async () => {
    const video = started();
    try {
      assertEquals(video.region, { x: 64, y: 64, width: 320, height: 192 });
      const first = await video.encode(frame(0), {
        damage: [MOVING],
        now: 100,
      });
      assert(first, "a first frame");
      assertEquals(first.keyframe, true);
      assertEquals(first.region, video.region);
      assert(first.codec.startsWith("avc1.42"), first.codec);
      // Not due yet: nothing; then due: a delta.
      assertEquals(
        await video.encode(frame(1), { damage: [MOVING], now: 110 }),
        undefined,
      );
      assert(video.dueIn(110) > 0);
      const second = await video.encode(frame(1), {
        damage: [MOVING],
        now: 134,
      });
      assertEquals(second?.keyframe, false);
      // Nothing moved in the region: no frame.
      const away = [{ x: 600, y: 400, width: 10, height: 10 }];
      assertEquals(
        await video.encode(frame(1), { damage: away, now: 200 }),
        undefined,
      );
      // A keyframe on request even without motion.
      video.requestKeyframe();
      const key = await video.encode(frame(1), { damage: away, now: 240 });
      assertEquals(key?.keyframe, true);
      assertEquals(video.frames, 3);
    } finally {
      video.stop();
    }
  },
);

Deno.test(
  "the bitrate follows acknowledgements between the floor and the cap",
  OPTIONS,
  async () => {
    const video = started();
    try {
      await video.encode(frame(0), { damage: [MOVING], now: 100 });
      const cap = defaultVideoCap(video.region!);
      assertEquals(video.kbps, cap);
      video.acknowledged(400, 1000);
      assertEquals(video.kbps, Math.round(cap * 0.8));
      video.acknowledged(400, 1200); // within 500 ms of the last cut: kept
      assertEquals(video.kbps, Math.round(cap * 0.8));
      for (let now = 2000; video.kbps > MIN_KBPS; now += 600) {
        video.acknowledged(400, now);
      }
      assertEquals(video.kbps, MIN_KBPS);
      // Fast acknowledgements for 2 s grow it again, never past the cap.
      for (let now = 100_000; now < 200_000; now += 100) {
        video.acknowledged(
          20,
          now,
        );
      }
      assertEquals(video.kbps, cap);
    } finally {
      video.stop();
    }
  },
);

Deno.test(
  "a viewer that cannot decode the codec gets no video",
  OPTIONS,
  () => {
    assertThrows(
      () => started(["avc1.640033"]),
      Error,
      /cannot decode avc1\.42/,
    );
    assert(decodable("avc1.42C01E", ["avc1.42C028"]), "a higher level decodes");
    assert(
      !decodable("avc1.42C033", ["avc1.42C028"]),
      "a lower level does not",
    );
    assert(!decodable("avc1.42C028", []));
  },
);

Deno.test("quiet in the region stops video", OPTIONS, async () => {
  const video = started();
  try {
    await video.encode(frame(0), { damage: [MOVING], now: 100 });
    assertEquals(
      video.observe({ lossy: [], copied: 0, damage: [] }, 400).action,
      "none",
    );
    const stop = video.observe({ lossy: [], copied: 0, damage: [] }, 700);
    assertEquals(stop.action, "stop");
    assertEquals(video.region, undefined);
    assertEquals(video.kbps, 0);
    assertEquals(
      await video.encode(frame(1), { damage: [MOVING], now: 800 }),
      undefined,
    );
  } finally {
    video.stop();
  }
});
