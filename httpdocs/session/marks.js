// @ts-check
/**
 * Performance marks the pages set on the way from a click to the first
 * frame (User Timing: DevTools' performance panel shows them, and
 * `bench/launch_bench.ts` reads them with `performance.getEntriesByName`).
 * Each is set again on every launch and every (re)connect; a reader takes
 * the last one at or after the click.
 *
 * @module
 */

/** The marks' names. */
export const MARK = Object.freeze({
  /** A launch was clicked (the portal or the direct launch page). */
  click: "webstream:launch-click",
  /** The launch request is about to be sent. */
  request: "webstream:launch-request",
  /** Its answer (a token) is in. */
  answer: "webstream:launch-answer",
  /** The session's WebSocket is open. */
  open: "webstream:socket-open",
  /** The streamer's `hello` arrived. */
  hello: "webstream:hello",
  /** The connection's first `frame` (or `video`) arrived. */
  frame: "webstream:first-frame-received",
  /** That frame is drawn on the canvas. */
  drawn: "webstream:first-frame-drawn",
});

/**
 * Sets a mark (nothing where the runtime has no User Timing).
 *
 * @param {string} name
 */
export function mark(name) {
  globalThis.performance?.mark?.(name);
}
