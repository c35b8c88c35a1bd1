/**
 * Tests for `ffi/x11/damage.ts`: the `XDamageNotifyEvent` offsets against
 * the documented x64 layout, decoding an event from an `XEvent` buffer, and
 * on a real Xvfb: the initial whole-screen damage, one notify event per
 * empty→non-empty change (read off a real event queue and decoded), the
 * damaged rectangles covering what was drawn (on the root and in a child
 * window), and nothing once taken.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { cLayout, Painter, withXvfb } from "../../support/x11_draw.ts";
import { XDisplay, XEVENT_SIZE, xlib } from "../../../ffi/x11/display.ts";
import {
  damageEventBase,
  DamageTracker,
  decodeDamageNotify,
  REPORT,
  XDAMAGE_NOTIFY,
} from "../../../ffi/x11/damage.ts";
import type { Rect } from "../../../mod/devices/capture.ts";

const XVFB = { sanitizeOps: false, sanitizeResources: false };

/** Whether the union of `rects` covers every pixel of `area`. */
function covers(rects: Rect[], area: Rect): boolean {
  for (let y = area.y; y < area.y + area.height; y++) {
    for (let x = area.x; x < area.x + area.width; x++) {
      const hit = rects.some((r) =>
        x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height
      );
      if (!hit) return false;
    }
  }
  return true;
}

/** The events queued on `display` now. */
function drain(display: XDisplay): Uint8Array[] {
  const out: Uint8Array[] = [];
  display.sync();
  while (xlib().XPending(display.pointer) > 0) {
    const event = new Uint8Array(new ArrayBuffer(XEVENT_SIZE));
    xlib().XNextEvent(display.pointer, event);
    out.push(event);
  }
  return out;
}

Deno.test("XDAMAGE_NOTIFY matches XDamageNotifyEvent on x64", () => {
  const expected = cLayout([
    ["type", 4],
    ["serial", 8],
    ["sendEvent", 4],
    ["display", 8],
    ["drawable", 8],
    ["damage", 8],
    ["level", 4],
    ["more", 4],
    ["timestamp", 8],
    ["area", 8, 2],
    ["geometry", 8, 2],
  ]);
  assertEquals({ ...XDAMAGE_NOTIFY }, expected);
  assert(XDAMAGE_NOTIFY.size <= XEVENT_SIZE);
});

Deno.test("decodeDamageNotify reads an XEvent buffer", () => {
  const event = new Uint8Array(XEVENT_SIZE);
  const view = new DataView(event.buffer);
  view.setInt32(0, 91, true);
  view.setBigUint64(32, 0x1234n, true);
  view.setBigUint64(40, 0x200001n, true);
  view.setInt32(48, REPORT.nonEmpty, true);
  view.setInt32(52, 1, true);
  view.setInt16(64, -3, true);
  view.setInt16(66, 7, true);
  view.setUint16(68, 40000, true);
  view.setUint16(70, 9, true);
  view.setUint16(76, 1920, true);
  view.setUint16(78, 1080, true);
  assertEquals(decodeDamageNotify(event), {
    type: 91,
    drawable: 0x1234n,
    damage: 0x200001n,
    level: REPORT.nonEmpty,
    more: true,
    area: { x: -3, y: 7, width: 40000, height: 9 },
    geometry: { x: 0, y: 0, width: 1920, height: 1080 },
  });
});

Deno.test({
  name: "DamageTracker reports drawn rectangles once, then nothing",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 320, height: 240 }, (screen) => {
      const painter = new Painter(screen.display);
      const display = XDisplay.open(screen.display);
      const tracker = DamageTracker.create(display, display.root);
      try {
        assert(tracker, "DAMAGE missing on Xvfb");
        assertEquals(tracker.eventType, damageEventBase(display));
        // A new damage object starts with the whole (viewable) root damaged.
        const first = drain(display);
        assertEquals(first.length, 1);
        assertEquals(tracker.take(), [
          { x: 0, y: 0, width: 320, height: 240 },
        ]);
        assertEquals(drain(display).length, 0);
        assertEquals(tracker.take(), []);

        painter.fill({ x: 10, y: 20, width: 30, height: 40 }, 0xff0000);
        painter.fill({ x: 200, y: 100, width: 5, height: 5 }, 0x00ff00);
        const events = drain(display);
        // nonEmpty: one event for the change from empty, however many draws.
        assertEquals(events.length, 1);
        const notify = decodeDamageNotify(events[0]);
        assertEquals(notify.type, tracker.eventType);
        assertEquals(notify.drawable, display.root);
        assertEquals(notify.level, REPORT.nonEmpty);
        assertEquals(notify.geometry, { x: 0, y: 0, width: 320, height: 240 });
        // In nonEmpty mode Xvfb puts the drawable's bounds in `area`.
        assertEquals(notify.area, { x: 0, y: 0, width: 320, height: 240 });
        const rects = tracker.take();
        assert(covers(rects, { x: 10, y: 20, width: 30, height: 40 }));
        assert(covers(rects, { x: 200, y: 100, width: 5, height: 5 }));
        // Coalesced, not the whole screen.
        assert(!covers(rects, { x: 0, y: 0, width: 320, height: 240 }));
        assertEquals(drain(display).length, 0);
        assertEquals(tracker.take(), []);

        // A child window's drawing is damage on the root too.
        painter.window({ x: 50, y: 60, width: 70, height: 80 }, 0x0000ff);
        assertEquals(drain(display).length, 1);
        assert(covers(tracker.take(), { x: 50, y: 60, width: 70, height: 80 }));
      } finally {
        tracker?.close();
        display.close();
        painter.close();
      }
    }),
});

Deno.test({
  name: "DamageTracker.create is undefined without the DAMAGE extension",
  ...XVFB,
  fn: () =>
    withXvfb({ width: 64, height: 64, disable: ["DAMAGE"] }, (screen) => {
      const display = XDisplay.open(screen.display);
      try {
        assertEquals(damageEventBase(display), undefined);
        assertEquals(DamageTracker.create(display, display.root), undefined);
      } finally {
        display.close();
      }
    }),
});
