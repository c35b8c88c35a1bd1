/**
 * One screen capture shared by several viewers (shadowing): polling drains
 * the X events, so a viewer polling the capture directly would take damage
 * and cursor notices away from the others. Each viewer polls its own view;
 * whatever a poll drains is handed to every view, and each view returns what
 * arrived since its own last poll.
 *
 * @module
 */
import type {
  CapturedFrame,
  CaptureEvents,
  CursorShape,
  Rect,
  ScreenCapture,
} from "../devices/capture.ts";
import { boundingBox } from "./media.ts";

/** Rectangles a view keeps before they become their bounding box. */
const MAX_PENDING_RECTS = 256;

/** Views of one capture; see the module documentation. */
export class SharedCapture {
  readonly #capture: ScreenCapture;
  readonly #pending = new Set<CaptureEvents>();

  constructor(capture: ScreenCapture) {
    this.#capture = capture;
  }

  /** A capture for one viewer; `close()` on it only ends the view. */
  view(): ScreenCapture {
    const capture = this.#capture;
    const pending = this.#pending;
    const mine: CaptureEvents = empty();
    pending.add(mine);
    return {
      get width() {
        return capture.width;
      },
      get height() {
        return capture.height;
      },
      get method() {
        return capture.method;
      },
      get damageAvailable() {
        return capture.damageAvailable;
      },
      poll(): CaptureEvents {
        const drained = capture.poll();
        for (const events of pending) merge(events, drained);
        const out = { ...mine, damage: mine.damage };
        Object.assign(mine, empty());
        return out;
      },
      grab: (region?: Rect): CapturedFrame => capture.grab(region),
      cursor: (): CursorShape | undefined => capture.cursor(),
      pointer: () => capture.pointer(),
      close: () => {
        pending.delete(mine);
      },
    };
  }
}

function empty(): CaptureEvents {
  return {
    damage: [],
    cursorChanged: false,
    clipboardChanged: false,
    resized: false,
  };
}

function merge(into: CaptureEvents, events: CaptureEvents): void {
  into.damage.push(...events.damage);
  if (into.damage.length > MAX_PENDING_RECTS) {
    into.damage = [boundingBox(into.damage)];
  }
  into.cursorChanged ||= events.cursorChanged;
  into.clipboardChanged ||= events.clipboardChanged;
  into.resized ||= events.resized;
}
