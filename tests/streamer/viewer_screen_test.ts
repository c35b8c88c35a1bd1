/**
 * Tests for `mod/streamer/viewer_screen.ts` on a real display (Xvfb): the
 * whole screen is resized to the viewer and its points are the screen's;
 * an app's view is its area (resized with the tab, the screen holding
 * every area), its points offset by the area's corner, its largest size
 * the screen's.
 *
 * @module
 */
import { openX11AppWindows } from "../../mod/devices/linux/x11_app_windows.ts";
import { openX11Screen } from "../../mod/devices/linux/x11_screen.ts";
import { AppScreens } from "../../mod/streamer/app_screens.ts";
import { SharedCapture } from "../../mod/streamer/shared_capture.ts";
import {
  appArea,
  areaSize,
  wholeScreen,
} from "../../mod/streamer/viewer_screen.ts";
import { assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { withXvfb } from "../support/x11_draw.ts";

Deno.test("an area for a tab that gave no size, and never below the minimum", () => {
  assertEquals(areaSize({}), { width: 1280, height: 720 });
  assertEquals(areaSize({ width: 100, height: 900 }), {
    width: 320,
    height: 900,
  });
});

Deno.test({
  name: "the whole screen, and an app's area beside another's",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 1600, height: 900 }, (x) => {
      const { logger } = captureLogs();
      const screen = openX11Screen({ display: x.display });
      const captures = new SharedCapture(screen.capture);
      const screens = new AppScreens({
        screen,
        windows: openX11AppWindows({ display: x.display }),
        apps: () => [],
        logger,
      });
      try {
        const whole = wholeScreen(screen, captures);
        assertEquals(whole.resize({ width: 800, height: 600 }), {
          width: 800,
          height: 600,
          applied: true,
        });
        assertEquals(whole.toScreen({ x: 5, y: 7 }), { x: 5, y: 7 });

        const first = appArea("first", { screens, captures });
        const second = appArea("second", { screens, captures });
        assertEquals(first.resize({ width: 700, height: 500 }), {
          width: 700,
          height: 500,
          applied: true,
        });
        assertEquals(second.resize({ width: 600, height: 400 }), {
          width: 600,
          height: 400,
          applied: true,
        });
        assertEquals(second.size(), { width: 600, height: 400 });
        assertEquals(second.toScreen({ x: 10, y: 20 }), { x: 710, y: 20 });
        assertEquals(first.toScreen({ x: 10, y: 20 }), { x: 10, y: 20 });
        assertEquals(second.maxSize(), { width: 1600, height: 900 });
        const capture = second.openCapture();
        capture.poll();
        assertEquals([capture.width, capture.height], [600, 400]);
        capture.close();
      } finally {
        screens.close();
        screen.close();
      }
    }),
});
