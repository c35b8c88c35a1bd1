/**
 * Tests for the promise helpers: `delay` (waits at least its time, ends early
 * on abort, clears its timer) and `withTimeout` (passes results and errors
 * through, rejects with a TimeoutError when late, always clears its timer;
 * checked by tracking the timers still pending).
 *
 * @module
 */
import {
  delay,
  TimeoutError,
  type Timer,
  withTimeout,
} from "../../mod/util/async.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { waitFor } from "../support/wait.ts";

/**
 * Tracks the timers started through the global `setTimeout` while `fn` runs
 * and returns how many were neither fired nor cleared. Deno's sanitizer does
 * not report a pending timer, so the test counts them itself.
 */
async function pendingTimersAfter(fn: () => Promise<void>): Promise<number> {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const pending = new Set<Timer>();
  globalThis.setTimeout = ((
    callback: (...args: unknown[]) => void,
    ms?: number,
    ...args: unknown[]
  ) => {
    const id = realSet(() => {
      pending.delete(id);
      callback(...args);
    }, ms);
    pending.add(id);
    return id;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((id?: Timer) => {
    if (id !== undefined) pending.delete(id);
    realClear(id);
  }) as typeof clearTimeout;
  try {
    await fn();
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  // Leave no leaked timer behind for the next test either.
  for (const id of pending) realClear(id);
  return pending.size;
}

Deno.test("delay resolves, and not before its time", async () => {
  const start = performance.now();
  const result = await delay(30);
  assertEquals(result, undefined);
  // Lower bound only; 1 ms of slack for timer granularity.
  assert(performance.now() - start >= 29, "waited at least 30 ms");
});

Deno.test("delay resolves as soon as its signal aborts, clearing its timer", async () => {
  const left = await pendingTimersAfter(async () => {
    const controller = new AbortController();
    let settled = false;
    const waiting = delay(600_000, { signal: controller.signal }).then(() => {
      settled = true;
    });
    await Promise.resolve();
    assertEquals(settled, false, "still waiting before the abort");
    controller.abort();
    // Bounded, so ignoring the abort fails instead of hanging for 10 minutes.
    await waitFor(() => settled, {
      timeoutMs: 10_000,
      what: "the delay to end",
    });
    await waiting;
  });
  assertEquals(left, 0, "the 10-minute timer was cleared");
});

Deno.test("delay with an already aborted signal resolves at once", async () => {
  const controller = new AbortController();
  controller.abort();
  await delay(600_000, { signal: controller.signal });
  assert(controller.signal.aborted);
});

Deno.test("delay with a signal that never aborts still resolves on time", async () => {
  const controller = new AbortController();
  await delay(10, { signal: controller.signal });
  // Aborting afterwards is harmless.
  controller.abort();
});

Deno.test("withTimeout passes a value through and clears its timer", async () => {
  const left = await pendingTimersAfter(async () => {
    assertEquals(await withTimeout(Promise.resolve(42), 600_000), 42);
    const later = withTimeout(delay(10).then(() => "in time"), 600_000);
    assertEquals(await later, "in time");
  });
  assertEquals(left, 0, "no timer left pending");
});

Deno.test("withTimeout passes a rejection through and clears its timer", async () => {
  const left = await pendingTimersAfter(async () => {
    const error = await assertRejects(
      () => withTimeout(Promise.reject(new RangeError("boom")), 600_000),
      RangeError,
      /^boom$/,
    );
    assert(!(error instanceof TimeoutError));
  });
  assertEquals(left, 0, "no timer left pending");
});

Deno.test("withTimeout rejects with a TimeoutError when the promise is late", async () => {
  const controller = new AbortController();
  const slow = delay(600_000, { signal: controller.signal });
  try {
    const error = await assertRejects(
      () => withTimeout(slow, 20),
      TimeoutError,
      /^timed out after 20 ms$/,
    );
    assertEquals(error.name, "TimeoutError");
    assert(error instanceof Error);
  } finally {
    // Ends the slow delay and clears its 10-minute timer.
    controller.abort();
  }
});

Deno.test("withTimeout uses a custom message", async () => {
  const never = new Promise<never>(() => {});
  await assertRejects(
    () => withTimeout(never, 1, { message: "gateway did not answer" }),
    TimeoutError,
    /^gateway did not answer$/,
  );
});

Deno.test("withTimeout does not reject before its time", async () => {
  const never = new Promise<never>(() => {});
  const start = performance.now();
  await assertRejects(() => withTimeout(never, 30), TimeoutError);
  assert(performance.now() - start >= 29, "waited at least 30 ms");
});
