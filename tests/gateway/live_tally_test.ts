/**
 * The live tally against a full count: cut-offs moving forward (a few
 * milliseconds, or far) and back, sessions moving across the cut-off,
 * removals of times never counted, fractions of a millisecond, and random
 * changes.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { LiveTally } from "../../mod/gateway/live_tally.ts";
import { seeded } from "../support/seeded.ts";

Deno.test("sessions before the cut-off as it moves forward and back", () => {
  const tally = new LiveTally();
  tally.add(100);
  tally.add(200);
  tally.add(200);
  tally.add(300);
  assertEquals(tally.total, 4);
  assertEquals(tally.before(0), 0);
  assertEquals(tally.before(150), 1);
  assertEquals(tally.before(200), 1);
  assertEquals(tally.before(201), 3);
  assertEquals(tally.before(1e12), 4);
  assertEquals(tally.before(150), 1);
});

Deno.test("adds, removals and moves across the cut-off", () => {
  const tally = new LiveTally();
  tally.add(100);
  tally.add(300);
  assertEquals(tally.before(250), 1);
  // A check-in brings a silent session back; another goes silent.
  assert(tally.move(100, 400));
  assertEquals(tally.before(250), 0);
  tally.add(50);
  assertEquals(tally.before(250), 1);
  assert(tally.remove(50));
  assertEquals(tally.before(250), 0);
  assertEquals(tally.total, 2);
});

Deno.test("a time never counted is refused, and nothing changes", () => {
  const tally = new LiveTally();
  tally.add(100);
  assertEquals(tally.remove(101), false);
  assertEquals(tally.move(99, 500), false);
  assertEquals(tally.total, 1);
  assertEquals(tally.before(101), 1);
});

Deno.test("times count by the whole millisecond", () => {
  const tally = new LiveTally();
  tally.add(1_000.6);
  assertEquals(tally.before(1_000), 0);
  assertEquals(tally.before(1_001), 1);
  assert(tally.remove(1_000.2));
  assertEquals(tally.total, 0);
});

Deno.test("random changes: the tally matches a full count", () => {
  const next = seeded(14);
  const tally = new LiveTally();
  const sessions: number[] = [];
  let now = 1_000_000;
  const stale = 45_000;
  for (let step = 0; step < 20_000; step++) {
    const r = next();
    const i = Math.floor(next() * sessions.length);
    if (r < 0.2 || !sessions.length) {
      const seen = now - Math.floor(next() * 2 * stale);
      sessions.push(seen);
      tally.add(seen);
    } else if (r < 0.55) {
      assert(tally.move(sessions[i], now));
      sessions[i] = now;
    } else if (r < 0.65) {
      assert(tally.remove(sessions[i]));
      sessions.splice(i, 1);
    } else if (r < 0.97) {
      now += Math.floor(next() * 2_000);
    } else if (r < 0.99) {
      // Far: counted from the distinct times rather than walked.
      now += Math.floor(next() * 10 * stale);
    } else {
      // The clock (or the news of check-ins) steps back.
      now -= Math.floor(next() * 5_000);
    }
    if (step % 5 === 0) {
      const since = now - stale;
      assertEquals(
        tally.before(since),
        sessions.filter((seen) => seen < since).length,
        `step ${step}`,
      );
    }
  }
  assertEquals(tally.total, sessions.length);
  assert(sessions.length > 100, `${sessions.length} sessions at the end`);
});
