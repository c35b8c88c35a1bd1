/**
 * Tests for `mod/streamer/session_metrics.ts`: a sample sums the viewers'
 * frame figures over the interval, averages the round trip, counts input
 * events, and starts the next interval from zero.
 *
 * @module
 */
import {
  SessionMetrics,
  type StatsSource,
  type StreamStats,
} from "../../mod/streamer/session_metrics.ts";
import { assertEquals } from "../support/assert.ts";

/** A viewer whose media hands over `stats` once, then nothing. */
function viewer(stats: StreamStats): StatsSource {
  let next = stats;
  return {
    media: {
      takeStats() {
        const taken = next;
        next = { frames: 0, bytes: 0, acked: 0, ackMsTotal: 0 };
        return taken;
      },
    },
  };
}

Deno.test("a sample sums the viewers' figures over the interval", () => {
  let now = 1000;
  const metrics = new SessionMetrics({ now: () => now });
  const viewers = [
    viewer({ frames: 30, bytes: 1000, acked: 2, ackMsTotal: 40 }),
    viewer({ frames: 10, bytes: 500, acked: 2, ackMsTotal: 20 }),
    {}, // its media has not started yet
  ];
  metrics.countInput();
  metrics.countInput();
  now += 2000;
  assertEquals(metrics.sample(viewers), {
    fps: 20,
    bytes: 1500,
    latencyMs: 15,
    inputEvents: 2,
  });
  // The next interval starts from zero.
  now += 1000;
  assertEquals(metrics.sample(viewers), {
    fps: 0,
    bytes: 0,
    latencyMs: undefined,
    inputEvents: 0,
  });
});

Deno.test("a sample without viewers or time passing is all zero", () => {
  const metrics = new SessionMetrics({ now: () => 0 });
  assertEquals(metrics.sample([]), {
    fps: 0,
    bytes: 0,
    latencyMs: undefined,
    inputEvents: 0,
  });
});
