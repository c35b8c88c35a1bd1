/**
 * Tests for `mod/streamer/video/region.ts`: sustained lossy motion starts
 * video over its bounding box in whole tiles; short bursts, small areas and
 * text do not, nor content that copies explain (a scroll); quiet in the region stops it after the set time; sustained
 * motion elsewhere stops it so a new region can be found.
 *
 * @module
 */
import { assertEquals } from "../../support/assert.ts";
import { VideoRegionTracker } from "../../../mod/streamer/video/region.ts";

const SCREEN = { width: 1920, height: 1080 };
const PLAYER = { x: 330, y: 200, width: 1280, height: 720 };

function tracker() {
  return new VideoRegionTracker({
    screen: SCREEN,
    startFrames: 4,
    stopAfterMs: 500,
  });
}

Deno.test("sustained lossy motion starts video over whole tiles", () => {
  const t = tracker();
  const seen = (now: number) =>
    t.observe({ lossy: [PLAYER], copied: 0, damage: [PLAYER], now });
  for (let i = 0; i < 3; i++) assertEquals(seen(i * 33).action, "none");
  const start = seen(100);
  assertEquals(start.action, "start");
  if (start.action !== "start") return;
  // 330 → 320 (tile 5), 1610 → 1664 (tile 26), 200 → 192, 920 → 960.
  assertEquals(start.region, { x: 320, y: 192, width: 1344, height: 768 });
  assertEquals(t.region, start.region);
});

Deno.test("a scroll (mostly copies) is not motion, an animation with some copies is", () => {
  const t = tracker();
  // A scrolled terminal: 1.5 M pixels copied, two new lines of coloured,
  // anti-aliased text sent lossy.
  const text = { x: 0, y: 960, width: 1600, height: 64 };
  for (let i = 0; i < 20; i++) {
    assertEquals(
      t.observe({ lossy: [text], copied: 1_500_000, damage: [text], now: i })
        .action,
      "none",
    );
  }
  // Strips of an animation that happen to move whole: lossy still wins.
  for (let i = 0; i < 3; i++) {
    t.observe({ lossy: [PLAYER], copied: 130_000, damage: [PLAYER], now: i });
  }
  assertEquals(
    t.observe({ lossy: [PLAYER], copied: 130_000, damage: [PLAYER], now: 4 })
      .action,
    "start",
  );
});

Deno.test("bursts, small areas and gaps do not start video", () => {
  const t = tracker();
  const small = { x: 0, y: 0, width: 64, height: 64 };
  for (let i = 0; i < 20; i++) {
    assertEquals(
      t.observe({ lossy: [small], copied: 0, damage: [small], now: i }).action,
      "none",
    );
  }
  // Three frames of motion, a quiet one, three more: never four in a row.
  for (let i = 0; i < 3; i++) {
    t.observe({ lossy: [PLAYER], copied: 0, damage: [], now: i });
  }
  t.observe({ lossy: [], copied: 0, damage: [], now: 5 });
  for (let i = 0; i < 3; i++) {
    assertEquals(
      t.observe({ lossy: [PLAYER], copied: 0, damage: [], now: 10 + i }).action,
      "none",
    );
  }
  assertEquals(t.region, undefined);
});

Deno.test("quiet in the region stops video; motion keeps it", () => {
  const t = tracker();
  for (let i = 0; i < 4; i++) {
    t.observe({ lossy: [PLAYER], copied: 0, damage: [], now: 0 });
  }
  // Damage in the region keeps it alive past the quiet time.
  for (let now = 100; now <= 1000; now += 100) {
    assertEquals(
      t.observe({
        lossy: [],
        copied: 0,
        damage: [{ x: 400, y: 300, width: 10, height: 10 }],
        now,
      })
        .action,
      "none",
    );
  }
  // Damage elsewhere only: it stops 500 ms after the last motion.
  const away = [{ x: 0, y: 1000, width: 50, height: 50 }];
  assertEquals(
    t.observe({ lossy: [], copied: 0, damage: away, now: 1400 }).action,
    "none",
  );
  const stop = t.observe({ lossy: [], copied: 0, damage: away, now: 1500 });
  assertEquals(stop.action, "stop");
  if (stop.action === "stop") {
    assertEquals(stop.reason, "no motion in the region for 500 ms");
  }
  assertEquals(t.region, undefined);
});

Deno.test("sustained motion outside the region stops video", () => {
  const t = tracker();
  for (let i = 0; i < 4; i++) {
    t.observe({ lossy: [PLAYER], copied: 0, damage: [], now: i });
  }
  const moved = { x: 0, y: 0, width: 640, height: 360 };
  for (let i = 0; i < 3; i++) {
    assertEquals(
      t.observe({ lossy: [moved], copied: 0, damage: [PLAYER], now: 10 + i })
        .action,
      "none",
    );
  }
  const stop = t.observe({
    lossy: [moved],
    copied: 0,
    damage: [PLAYER],
    now: 20,
  });
  assertEquals(stop.action, "stop");
  // Then the new place starts after its own streak.
  for (let i = 0; i < 3; i++) {
    t.observe({ lossy: [moved], copied: 0, damage: [], now: 30 + i });
  }
  const start = t.observe({ lossy: [moved], copied: 0, damage: [], now: 40 });
  assertEquals(start.action === "start" && start.region, {
    x: 0,
    y: 0,
    width: 640,
    height: 384,
  });
});
