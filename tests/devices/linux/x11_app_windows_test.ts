/**
 * Tests for `mod/devices/linux/x11_app_windows.ts` against a real Xvfb:
 * the largest screen, areas set as monitors and replaced whole (also those
 * an earlier streamer left), the pointer moved for the window manager, and
 * no windows without a window manager. (Windows, focus and moves with
 * openbox: `tests/streamer/app_screens_test.ts`.)
 *
 * @module
 */
import { listMonitors } from "../../../ffi/x11/randr_monitors.ts";
import { addMonitor } from "../../../ffi/x11/randr_monitors.ts";
import { queryPointer } from "../../../ffi/x11/image.ts";
import {
  AREA_MONITOR_PREFIX,
  openX11AppWindows,
} from "../../../mod/devices/linux/x11_app_windows.ts";
import { X11Error } from "../../../ffi/x11/display.ts";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { withXDisplay } from "../../support/x11_draw.ts";
import { waitFor } from "../../support/wait.ts";

Deno.test({
  name: "X11 app windows: areas as monitors, replaced whole; the pointer moved",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXDisplay({ width: 1280, height: 800 }, async (display, x) => {
      // An earlier streamer's area.
      addMonitor(display, {
        name: `${AREA_MONITOR_PREFIX}1-1-0`,
        x: 0,
        y: 0,
        width: 100,
        height: 100,
      });
      display.sync();
      const windows = openX11AppWindows({ display: x.display });
      try {
        assertEquals(windows.hasWindowManager(), false);
        assertEquals(windows.windows(), []);
        assertEquals(windows.maxScreen(), { width: 1280, height: 800 });
        const areas = () =>
          listMonitors(display).filter((m) =>
            m.name.startsWith(AREA_MONITOR_PREFIX)
          ).map((m) => [m.x, m.y, m.width, m.height]);
        // The windows' requests go on a connection of their own (flushed,
        // not waited for): this one sees them once the server got to them.
        const areasAre = (expected: number[][]) =>
          waitFor(() => JSON.stringify(areas()) === JSON.stringify(expected), {
            what: `areas ${JSON.stringify(expected)}, not ${
              JSON.stringify(areas())
            }`,
          });
        windows.setAreas([
          { x: 0, y: 0, width: 640, height: 480 },
          { x: 640, y: 0, width: 600, height: 400 },
        ]);
        await areasAre([[0, 0, 640, 480], [640, 0, 600, 400]]);
        windows.setAreas([{ x: 0, y: 0, width: 800, height: 600 }]);
        await areasAre([[0, 0, 800, 600]]);
        windows.pointTo({ x: 700, y: 100 });
        await waitFor(() => {
          const pointer = queryPointer(display);
          return pointer.x === 700 && pointer.y === 100;
        }, { what: "the pointer at (700, 100)" });
      } finally {
        windows.close();
      }
    }),
});

Deno.test({
  name: "X11 app windows: closed, every call is an error, not a crash",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXDisplay({ width: 640, height: 480 }, (_display, x) => {
      const windows = openX11AppWindows({ display: x.display });
      windows.close();
      assertThrows(() => windows.windows(), X11Error, /closed/);
      assertThrows(() => windows.changed(), X11Error, /closed/);
      assertThrows(() => windows.setAreas([]), X11Error, /closed/);
    }),
});
