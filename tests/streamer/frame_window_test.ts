/**
 * The frame window on a simulated path (a clock of its own, a link with a
 * round trip and a bandwidth that queues what exceeds it): two frames in
 * flight near the viewer; the frame rate kept at a distance where two per
 * round trip would halve it; no queue built on a slow link; the shortest
 * round trip forgotten once it is old.
 *
 * @module
 */
import { FrameWindow } from "../../mod/streamer/frame_window.ts";
import { assert, assertEquals } from "../support/assert.ts";

/** A path to the viewer: a round trip and a bandwidth shared in turn. */
interface Path {
  rttMs: number;
  bytesPerMs: number;
}

/** What a stream over a simulated path achieved. */
interface Run {
  /** Frames acknowledged a second, over the last half of the run. */
  fps: number;
  /** The longest time a frame queued, over the last half of the run. */
  maxQueueMs: number;
  /** The longest round trip seen, over the last half of the run. */
  maxRttMs: number;
  /** Frames in flight at most. */
  maxInFlight: number;
}

/**
 * Streams frames of `frameBytes` at up to `fps` a second (a new frame is
 * always ready: busy content) for `seconds` over `path`, as the streamer
 * does: a frame goes out on a tick when the window is open.
 */
function simulate(
  window: FrameWindow,
  path: Path,
  options: { fps: number; frameBytes: number; seconds: number },
): Run {
  const end = options.seconds * 1000;
  const half = end / 2;
  const interval = 1000 / options.fps;
  const acks: { at: number; id: number }[] = [];
  let linkFreeAt = 0;
  let nextId = 1;
  let acked = 0;
  let maxQueueMs = 0;
  let maxRttMs = 0;
  let maxInFlight = 0;
  for (let tick = 0; tick < end; tick += interval) {
    // Acknowledgements due by this tick, in order.
    while (acks.length && acks[0].at <= tick) {
      const ack = acks.shift()!;
      const result = window.acked(ack.id, ack.at)!;
      if (ack.at >= half) {
        acked++;
        maxQueueMs = Math.max(maxQueueMs, result.queueMs);
        maxRttMs = Math.max(maxRttMs, result.rttMs);
      }
    }
    if (!window.open(tick)) continue;
    const id = nextId++;
    window.sent(id, options.frameBytes, tick);
    maxInFlight = Math.max(maxInFlight, window.inFlight);
    const start = Math.max(tick, linkFreeAt);
    linkFreeAt = start + options.frameBytes / path.bytesPerMs;
    acks.push({ at: linkFreeAt + path.rttMs, id });
  }
  return { fps: acked / (half / 1000), maxQueueMs, maxRttMs, maxInFlight };
}

const FAST: Path = { rttMs: 1, bytesPerMs: 100_000 };

Deno.test("before any acknowledgement, two frames go out, no more", () => {
  const window = new FrameWindow({ maxFps: 30 });
  assert(window.open(0));
  window.sent(1, 300_000, 0);
  assert(window.open(0));
  window.sent(2, 300_000, 0);
  assertEquals(window.open(0), false);
  assertEquals([window.inFlight, window.bytesInFlight], [2, 600_000]);
  assertEquals(window.limits(0).minRttMs, undefined);
});

Deno.test("acknowledgements are cumulative; unknown ones change nothing", () => {
  const window = new FrameWindow({ maxFps: 30 });
  window.sent(1, 100, 0);
  window.sent(2, 200, 5);
  window.sent(3, 300, 10);
  assertEquals(window.acked(9, 20), undefined);
  assertEquals(window.acked(2, 25), { rttMs: 20, queueMs: 0 });
  assertEquals([window.inFlight, window.bytesInFlight], [1, 300]);
  assertEquals(window.acked(1, 26), undefined);
  // Frame 3 took 20 ms longer than the shortest round trip (20 ms).
  assertEquals(window.acked(3, 50), { rttMs: 40, queueMs: 20 });
});

Deno.test("a delivery rate counts from the send into an empty pipe, not from before", () => {
  const window = new FrameWindow({ maxFps: 30 });
  // Idle for a minute, then two frames: 100 KB each, 10 ms apart.
  window.sent(1, 100_000, 60_000);
  window.sent(2, 100_000, 60_010);
  window.acked(1, 60_020);
  window.acked(2, 60_030);
  // Frame 2 measures 200 KB over the 30 ms since frame 1 went into the
  // empty pipe, not since time 0.
  assertEquals(Math.round(window.limits(60_030).bytesPerMs), 6_667);
});

Deno.test("a viewer nearby gets two frames in flight at any bandwidth", () => {
  const window = new FrameWindow({ maxFps: 30 });
  const run = simulate(window, FAST, {
    fps: 30,
    frameBytes: 80_000,
    seconds: 10,
  });
  assert(run.maxInFlight <= 2, `${run.maxInFlight} in flight`);
  assertEquals(window.limits(10_000).frames, 2);
  assert(run.fps > 29, `${run.fps} frames/s`);
});

Deno.test("a distant viewer keeps the frame rate two frames a round trip would halve", () => {
  const far: Path = { rttMs: 150, bytesPerMs: 10_000 }; // 10 MB/s
  const frame = { fps: 30, frameBytes: 80_000, seconds: 20 };
  const fixed = simulate(new FrameWindow({ maxFps: 30, maxFrames: 2 }), far, {
    ...frame,
  });
  const window = new FrameWindow({ maxFps: 30 });
  const sized = simulate(window, far, frame);
  // Two frames per 158 ms round trip: under 13 frames a second.
  assert(fixed.fps < 13, `fixed window: ${fixed.fps} frames/s`);
  assert(sized.fps > 29, `sized window: ${sized.fps} frames/s`);
  assertEquals(window.limits(20_000).frames, 6);
  // Nothing queued for it: every frame took the path's round trip.
  assert(sized.maxQueueMs < 1, `queued ${sized.maxQueueMs} ms`);
});

Deno.test("a slow link gets more frames than two a round trip, and a queue bounded under one", () => {
  // 1 MB/s, 80 KB frames (80 ms each on the wire), 200 ms away: the link
  // carries 12.5 frames a second; more in flight would only queue.
  const slow: Path = { rttMs: 200, bytesPerMs: 1_000 };
  const frame = { fps: 30, frameBytes: 80_000, seconds: 30 };
  const window = new FrameWindow({ maxFps: 30 });
  const run = simulate(window, slow, frame);
  const fixed = simulate(
    new FrameWindow({ maxFps: 30, maxFrames: 2 }),
    slow,
    frame,
  );
  const unbounded = simulate(
    new FrameWindow({ maxFps: 30, minFrames: 12, maxFrames: 12 }),
    slow,
    frame,
  );
  // Two frames per round trip: under 7 a second (9 sized).
  assert(fixed.fps < 7, `fixed window: ${fixed.fps} frames/s`);
  assert(run.fps > fixed.fps * 1.25, `sized window: ${run.fps} frames/s`);
  // Frames queue less than a round trip (187 ms against 280), where twelve
  // in flight queue for 680 ms beyond it.
  const minRtt = window.limits(30_000).minRttMs!;
  assertEquals(minRtt, 280);
  assert(run.maxQueueMs < minRtt, `queued ${run.maxQueueMs} ms`);
  assert(run.maxInFlight < 12, `${run.maxInFlight} in flight`);
  assert(unbounded.maxRttMs > 900, `unbounded: ${unbounded.maxRttMs} ms`);
  assert(run.maxRttMs < unbounded.maxRttMs / 2, `${run.maxRttMs} ms`);
});

Deno.test("the shortest round trip is forgotten once older than its span", () => {
  const window = new FrameWindow({ maxFps: 30, sampleMs: 1_000 });
  window.sent(1, 1_000, 0);
  window.acked(1, 10);
  assertEquals(window.limits(10).minRttMs, 10);
  // The path got longer (a new route): 200 ms from now on.
  window.sent(2, 1_000, 500);
  window.acked(2, 700);
  assertEquals(window.limits(700).minRttMs, 10);
  assertEquals(window.limits(1_500).minRttMs, 200);
  assertEquals(window.limits(1_500).frames, 7);
});

Deno.test("an unpaced stream opens as far as the bytes the path carries", () => {
  const window = new FrameWindow({ maxFps: Infinity });
  const run = simulate(window, { rttMs: 2, bytesPerMs: 50_000 }, {
    fps: 10_000,
    frameBytes: 50_000,
    seconds: 2,
  });
  // 1 ms on the wire and 2 ms away: three frames per round trip fill it.
  assert(run.maxInFlight >= 3, `${run.maxInFlight} in flight`);
  assert(run.maxInFlight <= 12);
  assert(run.fps > 900, `${run.fps} frames/s`);
});
