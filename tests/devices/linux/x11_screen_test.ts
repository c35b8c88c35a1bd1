/**
 * The X11 session screen on a real Xvfb: capture and input open on the given
 * display; a resize within the screen is applied with RandR (and captured at
 * the new size); a request beyond the start size is kept within it; a size
 * below the minimum is raised to it.
 *
 * @module
 */
import { openX11Screen } from "../../../mod/devices/linux/x11_screen.ts";
import { MIN_SIZE } from "../../../mod/devices/screen.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { waitFor } from "../../support/wait.ts";
import { withXvfb } from "../../support/x11_draw.ts";

Deno.test({
  name: "the session screen resizes within its bounds",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 1280, height: 800 }, async (x) => {
      const screen = openX11Screen({ display: x.display });
      try {
        assertEquals(
          [screen.capture.width, screen.capture.height],
          [1280, 800],
        );
        const smaller = screen.resize({ width: 800, height: 600 });
        assertEquals(smaller, { width: 800, height: 600, applied: true });
        // The capture follows once it has polled the server's notice.
        await waitFor(() => {
          screen.capture.poll();
          return screen.capture.width === 800;
        }, { what: "the capture at 800×600" });
        const frame = screen.capture.grab();
        assertEquals([frame.width, frame.height], [800, 600]);
        // Beyond the start size: the screen stays within it.
        const bigger = screen.resize({ width: 4000, height: 3000 });
        assert(
          bigger.width <= 1280 && bigger.height <= 800,
          JSON.stringify(bigger),
        );
        // Below the minimum: raised to it.
        const tiny = screen.resize({ width: 10, height: 10 });
        assertEquals([tiny.width, tiny.height], [
          MIN_SIZE.width,
          MIN_SIZE.height,
        ]);
        // Input works on the same display. The motion goes out on the input
        // connection and the query on the capture's: the server may answer
        // the query first.
        screen.input.pointer(100, 50, 0);
        await waitFor(() => {
          const at = screen.capture.pointer();
          return at?.x === 100 && at.y === 50;
        }, { what: "the pointer at (100, 50)" });
      } finally {
        screen.close();
      }
    }),
});
