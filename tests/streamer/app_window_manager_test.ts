/**
 * Tests for `mod/streamer/app_window_manager.ts`: its configuration
 * undecorates every window, maximizes normal ones and binds no keys;
 * openbox started with it manages a real display (`_NET_SUPPORTING_WM_CHECK`)
 * in a process group of its own; a program that cannot start is reported,
 * not thrown. (What it does to windows: `tests/ffi/x11/ewmh_test.ts`.)
 *
 * Needs the Debian packages xvfb and openbox.
 *
 * @module
 */
import { XDisplay } from "../../ffi/x11/display.ts";
import { hasWindowManager } from "../../ffi/x11/ewmh.ts";
import {
  APP_MODE_RC,
  startAppWindowManager,
} from "../../mod/streamer/app_window_manager.ts";
import { PROC } from "../../mod/streamer/window_owner.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

Deno.test("the app mode configuration: no decorations, maximized, no keys", () => {
  assertMatch(APP_MODE_RC, /<application class="\*"><decor>no<\/decor>/);
  assertMatch(
    APP_MODE_RC,
    /<application class="\*" type="normal"><maximized>yes<\/maximized>/,
  );
  assertMatch(APP_MODE_RC, /<keyboard><\/keyboard>/);
  assertMatch(APP_MODE_RC, /<keepBorder>no<\/keepBorder>/);
});

Deno.test({
  name: "openbox in app mode manages the display, in its own process group",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 640, height: 480 }, async (x) => {
      const { logger, records } = captureLogs();
      const pid = await startAppWindowManager({ logger, env: x.env });
      assert(pid);
      const display = XDisplay.open(x.display);
      try {
        await waitFor(() => hasWindowManager(display), { what: "openbox" });
        assertEquals(PROC.group(pid), pid);
        assert(records.some((r) => r.msg === "app window manager started"));
      } finally {
        display.close();
        Deno.kill(-pid, "SIGTERM");
      }
    }),
});

Deno.test("a window manager that cannot start is reported", async () => {
  const { logger, records } = captureLogs();
  const pid = await startAppWindowManager({
    logger,
    env: { PATH: "/nonexistent" },
  });
  assertEquals(pid, undefined);
  assert(
    records.some((r) => /Debian package openbox/.test(String(r.msg))),
    JSON.stringify(records),
  );
});
