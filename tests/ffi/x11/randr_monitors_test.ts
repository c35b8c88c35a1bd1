/**
 * Tests for `ffi/x11/randr_monitors.ts` against a real Xvfb: the server's
 * own monitor for its output, monitors added by name where they were asked
 * (also as `xrandr --listmonitors` sees them), and deleted again.
 *
 * @module
 */
import {
  addMonitor,
  deleteMonitor,
  listMonitors,
} from "../../../ffi/x11/randr_monitors.ts";
import { assert, assertEquals, assertMatch } from "../../support/assert.ts";
import { runCommand } from "../../support/command.ts";
import { withXDisplay } from "../../support/x11_draw.ts";

Deno.test({
  name: "monitors: the output's own, added ones by name, deleted ones gone",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXDisplay({ width: 1024, height: 768 }, async (display, x) => {
      const [own] = listMonitors(display);
      assertEquals(own.automatic, true);
      assertEquals([own.x, own.y, own.width, own.height], [0, 0, 1024, 768]);

      addMonitor(display, {
        name: "left",
        x: 0,
        y: 0,
        width: 600,
        height: 768,
      });
      addMonitor(display, {
        name: "right",
        x: 600,
        y: 0,
        width: 424,
        height: 500,
      });
      display.sync();
      const added = listMonitors(display).filter((m) => !m.automatic);
      assertEquals(added.map((m) => [m.name, m.x, m.y, m.width, m.height]), [
        ["left", 0, 0, 600, 768],
        ["right", 600, 0, 424, 500],
      ]);
      const listed = await runCommand("xrandr", {
        args: ["--listmonitors"],
        env: x.env,
      });
      assert(listed.ok, listed.stderr);
      assertMatch(listed.stdout, /right 424\/\d+x500\/\d+\+600\+0/);

      deleteMonitor(display, "left");
      display.sync();
      assertEquals(
        listMonitors(display).filter((m) => !m.automatic).map((m) => m.name),
        ["right"],
      );
    }),
});
