/**
 * Tests for `mod/streamer/app_window_manager.ts`: its configuration
 * undecorates every window, maximizes normal ones and binds no keys;
 * openbox started with it manages a real display (`_NET_SUPPORTING_WM_CHECK`)
 * in a process group of its own; a program that cannot start is reported,
 * not thrown; apps wait until it is up, but not past its exit, a close or
 * a bound. (What it does to windows: `tests/ffi/x11/ewmh_test.ts`.)
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
  untilWindowManager,
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
      const started = await startAppWindowManager({ logger, env: x.env });
      assert(started);
      const { pid } = started;
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
  const started = await startAppWindowManager({
    logger,
    env: { PATH: "/nonexistent" },
  });
  assertEquals(started, undefined);
  assert(
    records.some((r) => /Debian package openbox/.test(String(r.msg))),
    JSON.stringify(records),
  );
});

Deno.test("apps wait for the window manager: up, exited, closed, aborted or too late", async (t) => {
  const { logger, records } = captureLogs();
  await t.step("up after a few looks", async () => {
    let looks = 0;
    const windows = { hasWindowManager: () => ++looks >= 3 };
    assertEquals(
      await untilWindowManager(windows, { logger, pollMs: 1 }),
      true,
    );
    assertEquals(looks, 3);
  });
  await t.step("it exited first", async () => {
    const exited = Promise.withResolvers<void>();
    const waiting = untilWindowManager({ hasWindowManager: () => false }, {
      logger,
      pollMs: 1,
      exited: exited.promise,
    });
    exited.resolve();
    assertEquals(await waiting, false);
  });
  await t.step("the display is closed", async () => {
    const windows = {
      hasWindowManager: (): boolean => {
        throw new Error("the app windows are closed");
      },
    };
    assertEquals(await untilWindowManager(windows, { logger }), false);
  });
  await t.step("the session closes", async () => {
    const closing = new AbortController();
    const waiting = untilWindowManager({ hasWindowManager: () => false }, {
      logger,
      signal: closing.signal,
    });
    closing.abort();
    assertEquals(await waiting, false);
  });
  await t.step(
    "not up in time: warned, and the app starts anyway",
    async () => {
      assertEquals(
        await untilWindowManager({ hasWindowManager: () => false }, {
          logger,
          timeoutMs: 20,
          pollMs: 5,
        }),
        false,
      );
      assert(
        records.some((r) =>
          r.msg === "the app window manager is not up; starting the app anyway"
        ),
      );
    },
  );
});
