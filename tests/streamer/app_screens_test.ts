/**
 * Tests for `mod/streamer/app_screens.ts` with real components: an Xvfb,
 * openbox as `app_window_manager.ts` configures it, real xterms started as
 * the streamer starts apps, the X11 app windows (`x11_app_windows.ts`) and
 * the session's X11 screen. Two apps shown side by side each fill their
 * area exactly (undecorated, maximized to their monitor), follow a change
 * of size, get the keyboard when their tab's input comes, and an app whose
 * last window closes is reported.
 *
 * Needs the Debian packages xvfb, openbox and xterm.
 *
 * @module
 */
import { openX11AppWindows } from "../../mod/devices/linux/x11_app_windows.ts";
import { openX11Screen } from "../../mod/devices/linux/x11_screen.ts";
import { AppScreens } from "../../mod/streamer/app_screens.ts";
import { startAppWindowManager } from "../../mod/streamer/app_window_manager.ts";
import { Apps } from "../../mod/streamer/apps.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

const RED = "xterm -bg red";
const BLUE = "xterm -bg blue";

Deno.test({
  name:
    "two apps side by side: each fills its area, follows its size, gets the keyboard",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withXvfb({ width: 1920, height: 1080 }, async (x) => {
      const { logger } = captureLogs();
      const wm = await startAppWindowManager({ logger, env: x.env });
      assert(wm, "openbox starts");
      const screen = openX11Screen({ display: x.display });
      const windows = openX11AppWindows({ display: x.display });
      const apps = new Apps({ logger });
      const closed: string[] = [];
      const screens = new AppScreens({
        screen,
        windows,
        apps: () => apps.list(),
        logger,
        onLastWindowClosed: (app) => closed.push(app),
      });
      try {
        await waitFor(() => windows.hasWindowManager(), {
          what: "openbox to manage the screen",
        });
        const red = screens.show(RED, { width: 800, height: 600 });
        apps.start(RED, x.env);
        const blue = screens.show(BLUE, { width: 640, height: 480 });
        apps.start(BLUE, x.env);
        assertEquals(red, { x: 0, y: 0, width: 800, height: 600 });
        assertEquals(blue, { x: 800, y: 0, width: 640, height: 480 });
        // The screen holds both areas (seen once the capture hears of it).
        await waitFor(() => {
          screen.capture.poll();
          return screen.capture.width === 1440 && screen.capture.height === 600;
        }, { what: "the screen to be resized to 1440x600" });

        /** The window of the app `pid`, once it fills `area`. */
        const filling = (command: string) => {
          const app = apps.list().find((a) => a.command === command);
          const area = screens.area(command)!;
          return windows.windows().find((w) =>
            w.pid === app?.pid && w.rect.x === area.x && w.rect.y === area.y &&
            w.rect.width === area.width && w.rect.height === area.height
          );
        };
        const redWindow = await waitFor(() => filling(RED), {
          what: "the red xterm to fill its area",
        });
        const blueWindow = await waitFor(() => filling(BLUE), {
          what: "the blue xterm to fill its area",
        });
        assertEquals(redWindow.role, "main");

        // Input from a tab gives its app the keyboard.
        screens.focus(RED);
        await waitFor(() => windows.active() === redWindow.id, {
          what: "the red xterm to get the focus",
        });
        screens.focus(BLUE);
        await waitFor(() => windows.active() === blueWindow.id, {
          what: "the blue xterm to get the focus",
        });

        // The red tab grows: its window follows, the blue area moves over.
        assertEquals(
          screens.show(RED, { width: 1000, height: 700 }),
          { x: 0, y: 0, width: 1000, height: 700 },
        );
        assertEquals(screens.area(BLUE), {
          x: 1000,
          y: 0,
          width: 640,
          height: 480,
        });
        await waitFor(() => filling(RED) && filling(BLUE), {
          what: "both xterms to follow their areas",
        });

        // The blue xterm ends: its last window closed.
        const bluePid = apps.list().find((a) => a.command === BLUE)!.pid;
        Deno.kill(-bluePid, "SIGTERM");
        await waitFor(() => closed.includes(BLUE), {
          what: "the blue app's last window to be reported closed",
        });
        assertEquals(closed, [BLUE]);
      } finally {
        screens.close();
        apps.stopAll();
        screen.close();
        try {
          Deno.kill(-wm.pid, "SIGTERM");
        } catch {
          // Gone with the display.
        }
      }
    });
  },
});
