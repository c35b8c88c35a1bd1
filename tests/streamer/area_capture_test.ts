/**
 * Tests for `mod/streamer/area_capture.ts` over a real capture (Xvfb): the
 * area's size, damage and pointer in area coordinates (damage elsewhere is
 * not reported), grabs that read the area only, and an area that moves
 * reported as a resize.
 *
 * @module
 */
import { openX11Capture } from "../../mod/devices/linux/x11_capture.ts";
import type { Rect } from "../../mod/devices/capture.ts";
import { areaCapture } from "../../mod/streamer/area_capture.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { waitFor } from "../support/wait.ts";
import { Painter, withXvfb } from "../support/x11_draw.ts";

/** The BGRX pixel at (`x`, `y`) of a grab, as 0xRRGGBB. */
function pixel(
  frame: { data: Uint8Array; stride: number },
  x: number,
  y: number,
): number {
  const at = y * frame.stride + x * 4;
  return (frame.data[at + 2] << 16) | (frame.data[at + 1] << 8) |
    frame.data[at];
}

Deno.test({
  name: "an area capture sees its area only, in its own coordinates",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 320, height: 200 }, async (x) => {
      const capture = openX11Capture({ display: x.display });
      const painter = new Painter(x.display);
      let area: Rect = { x: 100, y: 50, width: 120, height: 80 };
      const view = areaCapture(capture, () => area);
      try {
        assertEquals([view.width, view.height], [120, 80]);
        // The first poll reports the whole screen: drain it.
        await waitFor(() => view.poll().damage.length > 0, { what: "damage" });
        painter.fill({ x: 110, y: 60, width: 10, height: 5 }, 0xff0000);
        painter.fill({ x: 0, y: 0, width: 10, height: 10 }, 0x00ff00);
        let damage: Rect[] = [];
        await waitFor(() => {
          damage = view.poll().damage;
          return damage.length > 0;
        }, { what: "damage in the area" });
        for (const rect of damage) {
          assert(rect.x >= 0 && rect.y >= 0, JSON.stringify(rect));
          assert(rect.x + rect.width <= 120 && rect.y + rect.height <= 80);
        }
        assert(
          damage.some((r) => r.x <= 10 && r.y <= 10 && r.x + r.width >= 20),
          JSON.stringify(damage),
        );
        const frame = view.grab();
        assertEquals([frame.width, frame.height], [120, 80]);
        assertEquals(pixel(frame, 10, 10), 0xff0000);
        assertEquals(pixel(frame, 0, 0), 0x000000);
        const part = view.grab({ x: 10, y: 10, width: 4, height: 4 });
        assertEquals(pixel(part, 0, 0), 0xff0000);

        // The area moves: reported as a resize, then read from its new place.
        area = { x: 0, y: 0, width: 60, height: 40 };
        assert(view.poll().resized);
        assertEquals([view.width, view.height], [60, 40]);
        assertEquals(pixel(view.grab(), 5, 5), 0x00ff00);
        assertEquals(view.poll().resized, false);
      } finally {
        view.close();
        painter.close();
      }
    }),
});

Deno.test({
  name: "an area beyond the screen is clipped to it",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 320, height: 200 }, (x) => {
      const capture = openX11Capture({ display: x.display });
      const view = areaCapture(capture, () => ({
        x: 300,
        y: 150,
        width: 100,
        height: 100,
      }));
      try {
        assertEquals([view.width, view.height], [20, 50]);
        assertEquals([view.grab().width, view.grab().height], [20, 50]);
      } finally {
        view.close();
      }
    }),
});
