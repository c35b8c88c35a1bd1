/**
 * Tests for `ffi/x11/ewmh.ts` against a real Xvfb: with no window manager
 * nothing is managed; with openbox (as the streamer configures it for
 * apps) and a real xterm: the client list, the xterm's pid and kind, where
 * it is, focus and the requests a pager makes (activate, move, maximize),
 * and root property changes announced as events.
 *
 * Needs the Debian packages xvfb, openbox and xterm.
 *
 * @module
 */
import {
  activateClient,
  activeWindow,
  clientFacts,
  clientList,
  hasWindowManager,
  maximizeClient,
  moveClient,
  property32,
  rootPropertiesChanged,
  screenRect,
  watchRootProperties,
} from "../../../ffi/x11/ewmh.ts";
import { startAppWindowManager } from "../../../mod/streamer/app_window_manager.ts";
import { Apps } from "../../../mod/streamer/apps.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { captureLogs } from "../../support/log.ts";
import { waitFor } from "../../support/wait.ts";
import { withXDisplay } from "../../support/x11_draw.ts";

Deno.test({
  name: "EWMH: the client list, a client's facts, focus, move and maximize",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXDisplay({ width: 1024, height: 768 }, async (display, x) => {
      assertEquals(hasWindowManager(display), false);
      assertEquals(clientList(display), []);
      assertEquals(activeWindow(display), undefined);
      assertEquals(
        property32(display, display.root, "_NO_SUCH_PROP"),
        undefined,
      );
      watchRootProperties(display);

      const { logger } = captureLogs();
      const wm = await startAppWindowManager({ logger, env: x.env });
      assert(wm);
      const apps = new Apps({ logger });
      try {
        await waitFor(() => hasWindowManager(display), { what: "openbox" });
        apps.start("xterm -geometry 40x10+0+0", x.env);
        const xterm = await waitFor(() => clientList(display)[0], {
          what: "the xterm managed",
        });
        assert(rootPropertiesChanged(display, ["_NET_CLIENT_LIST"]));
        const facts = clientFacts(display, xterm);
        assertEquals(facts.pid, apps.list()[0].pid);
        assertEquals(facts.transientFor, undefined);
        assertEquals(facts.types, []);
        // openbox maximizes a normal window in app mode: the whole screen.
        await waitFor(() => {
          const rect = screenRect(display, xterm);
          return rect?.width === 1024 && rect.height === 768;
        }, { what: "the xterm maximized" });
        activateClient(display, xterm);
        display.flush();
        await waitFor(() => activeWindow(display) === xterm, {
          what: "the xterm focused",
        });
        // Moved within the one monitor it is maximized again there.
        moveClient(display, xterm, { x: 100, y: 100 });
        maximizeClient(display, xterm);
        display.flush();
        await waitFor(() => screenRect(display, xterm)?.x === 0, {
          what: "the xterm maximized at 0,0",
        });
        assertEquals(screenRect(display, 0xdeadn), undefined, "no such window");
      } finally {
        apps.stopAll();
        Deno.kill(-wm.pid, "SIGTERM");
      }
    }),
});
