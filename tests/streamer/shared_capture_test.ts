/**
 * One real capture (Xvfb) shared by two views: a change drawn once is
 * reported to both, whichever polls first; a view reports it only once; a
 * closed view no longer collects anything; the views read the same screen.
 *
 * @module
 */
import { openX11Capture } from "../../mod/devices/linux/x11_capture.ts";
import { boundingBox } from "../../mod/streamer/media.ts";
import { SharedCapture } from "../../mod/streamer/shared_capture.ts";
import type { Rect, ScreenCapture } from "../../mod/devices/capture.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { waitFor } from "../support/wait.ts";
import { Painter, withXvfb } from "../support/x11_draw.ts";

/** Polls `view` until it reports damage; resolves with the rectangles. */
async function damageOf(view: ScreenCapture): Promise<Rect[]> {
  let damage: Rect[] = [];
  await waitFor(() => {
    damage = view.poll().damage;
    return damage.length > 0;
  }, { what: "damage" });
  return damage;
}

function covers(rects: Rect[], r: Rect): boolean {
  const b = boundingBox(rects);
  return b.x <= r.x && b.y <= r.y && b.x + b.width >= r.x + r.width &&
    b.y + b.height >= r.y + r.height;
}

Deno.test({
  name: "a shared capture hands every change to every view",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 320, height: 200 }, async (x) => {
      const capture = openX11Capture({ display: x.display });
      const painter = new Painter(x.display);
      const shared = new SharedCapture(capture);
      const a = shared.view();
      const b = shared.view();
      try {
        // The fresh damage object reports the whole screen first.
        await damageOf(a);
        await damageOf(b);
        const drawn = { x: 40, y: 30, width: 20, height: 10 };
        painter.fill(drawn, 0xff0000);
        // `a` polls (and drains the X events) first; `b` still gets them.
        assert(covers(await damageOf(a), drawn));
        assert(covers(b.poll().damage, drawn), "b sees what a drained");
        assertEquals(a.poll().damage, [], "reported once");
        assertEquals(b.poll().damage, [], "reported once");
        assertEquals([a.width, a.height], [320, 200]);
        assertEquals(a.grab().data, b.grab().data);
        b.close();
        painter.fill({ x: 0, y: 0, width: 5, height: 5 }, 0x00ff00);
        await damageOf(a);
        assertEquals(b.poll().damage, [], "a closed view collects nothing");
      } finally {
        a.close();
        painter.close();
        capture.close();
      }
    }),
});
