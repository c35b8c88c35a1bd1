/**
 * A capture of one area of the screen (an app's, `app_screens.ts`), over a
 * capture of the whole screen: its size is the area's (within the screen),
 * damage and the pointer come in area coordinates, grabs read the area
 * only. When the area moves or changes size, the next poll says the screen
 * was resized, so the viewer's stream starts over with it.
 *
 * @module
 */
import type {
  CapturedFrame,
  CaptureEvents,
  Rect,
  ScreenCapture,
} from "../devices/capture.ts";
import { clipRect } from "./encode/tiles.ts";

/** `capture` seen through `area()` (asked again at every poll and grab). */
export function areaCapture(
  capture: ScreenCapture,
  area: () => Rect,
): ScreenCapture {
  const current = (): Rect => clip(area(), capture);
  let seen = current();
  let own = new Uint8Array(0);
  return {
    get width() {
      return current().width;
    },
    get height() {
      return current().height;
    },
    get method() {
      return capture.method;
    },
    get damageAvailable() {
      return capture.damageAvailable;
    },
    poll(): CaptureEvents {
      const events = capture.poll();
      const now = current();
      const moved = now.x !== seen.x || now.y !== seen.y ||
        now.width !== seen.width || now.height !== seen.height;
      seen = now;
      return {
        ...events,
        damage: events.damage.flatMap((rect) => {
          const moved = { ...rect, x: rect.x - now.x, y: rect.y - now.y };
          return clipRect(moved, now.width, now.height) ?? [];
        }),
        resized: events.resized || moved,
      };
    },
    grab(region?: Rect): CapturedFrame {
      const now = current();
      const wanted = region ??
        { x: 0, y: 0, width: now.width, height: now.height };
      const frame = capture.grab({
        ...wanted,
        x: wanted.x + now.x,
        y: wanted.y + now.y,
      });
      // A copy of its own: the capture's memory is shared with the other
      // viewers, whose polls may replace it (a resize) while this viewer's
      // frame is still being encoded.
      const size = frame.stride * frame.height;
      if (own.length < size) own = new Uint8Array(size);
      own.set(frame.data.subarray(0, size));
      return { ...frame, data: own.subarray(0, size) };
    },
    cursor: () => capture.cursor(),
    pointer() {
      const { x, y } = capture.pointer();
      const now = current();
      return { x: x - now.x, y: y - now.y };
    },
    close: () => capture.close(),
  };
}

/** `area` within the screen `capture` shows now (at least 1×1). */
function clip(area: Rect, screen: ScreenCapture): Rect {
  const x = Math.min(Math.max(0, area.x), Math.max(0, screen.width - 1));
  const y = Math.min(Math.max(0, area.y), Math.max(0, screen.height - 1));
  return {
    x,
    y,
    width: Math.max(1, Math.min(area.width, screen.width - x)),
    height: Math.max(1, Math.min(area.height, screen.height - y)),
  };
}
