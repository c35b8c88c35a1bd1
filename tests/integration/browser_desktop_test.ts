/**
 * A desktop as a user gets it, with real components only: headless Chromium
 * signs in to a real `webstream -gateway`, launches a desktop workspace
 * that names no shell, placed on a real `webstream -backend` (real Xvfb,
 * real pool user as root, real streamer, through the gateway's relay). The
 * session has a window manager (`_NET_SUPPORTING_WM_CHECK` on the root
 * window) and a panel (a `_NET_WM_WINDOW_TYPE_DOCK` client), and a real
 * screenshot of the canvas is not blank: it shows the background's colour
 * and many more (the panel); a click on the panel's menu button through the
 * canvas opens the application menu.
 *
 * Needs the Debian packages chromium, xvfb, x11-utils (xprop), openbox,
 * lxpanel, dbus-daemon and x11-xserver-utils (xsetroot).
 *
 * @module
 */
import { Buffer } from "node:buffer";
// The project's import map has no entry for test-only packages.
import { decode } from "fast-png";
import { DESKTOP_BACKGROUND } from "../../mod/host/desktop_shell.ts";
import { assert, assertEquals, assertGreater } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import {
  desktopReady,
  displayOf,
  dockWindows,
  hasWindowManager,
  screenColours,
} from "../support/desktop_probe.ts";
import {
  AdminClient,
  launchHost,
  resolveSession,
  signIn,
  startGateway,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { findStreamer } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** `#rrggbb` as `[r, g, b]`. */
function rgb(hex: string): [number, number, number] {
  const n = parseInt(hex.slice(1), 16);
  return [n >> 16, (n >> 8) & 0xff, n & 0xff];
}

Deno.test({
  name:
    "browser desktop: the default shell's window manager and panel, seen in Chromium",
  // Reading the session's X server needs root (it is a pool user's).
  ignore: !hasChromium() || Deno.uid() !== 0,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const teardown = new Teardown();
    try {
      const config = await writeGatewayConfig({
        users: ["alice"],
        workspaces: [
          { id: "desk", name: "Desktop", kind: "desktop", users: ["alice"] },
        ],
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const host = await launchHost(teardown, gateway.url, { slots: 1 });
      await new AdminClient(gateway.url).waitForHealthy([host]);
      const browser = await launchBrowser();
      teardown.defer(() => browser.close());

      const page = await browser.newPage({ width: 1024, height: 768 });
      await page.goto(`${gateway.url}/`);
      await page.locator("#signin").waitFor();
      await page.locator("input[name=user]").fill("alice");
      await page.locator("input[name=password]").fill("Test-Passw0rd!");
      await page.locator("#signin button[type=submit]").click();
      await page.locator("#workspace-list button[data-workspace=desk]").click();
      await waitFor(
        () =>
          read(
            page,
            "window.webstream?.session?.status === 'connected' && " +
              "!!webstream.session.hello && " +
              "document.querySelector('.ws-overlay').hidden",
          ),
        { what: "the desktop's session view to connect", timeoutMs: 60_000 },
      );

      // The session's display, from its streamer's environment.
      const alice = await signIn(gateway.url, "alice");
      const sessions: { sessionId: string }[] =
        await (await alice.fetch("/api/sessions")).json();
      assertEquals(sessions.length, 1);
      const resolved = await resolveSession(
        gateway.url,
        sessions[0].sessionId,
      );
      assertEquals(resolved.status, 200, resolved.body);
      const streamer = await findStreamer(JSON.parse(resolved.body).Port);
      assert(streamer, "the session's streamer runs");
      const access = await displayOf(streamer.pid);

      await waitFor(() => desktopReady(access), {
        what: "a window manager and a panel in the session",
        timeoutMs: 30_000,
      });
      assert(await hasWindowManager(access));
      assertGreater((await dockWindows(access)).length, 0);

      // What the user sees: a real screenshot of the canvas, once the
      // background and the panel have reached it.
      const box = await page.locator(".ws-canvas").boundingBox();
      assert(box && box.width > 100 && box.height > 100, JSON.stringify(box));
      const background = rgb(DESKTOP_BACKGROUND);
      let colours = 0;
      let backgroundShare = 0;
      await waitFor(async () => {
        const image = decode(
          Buffer.from(
            await page.screenshot({
              clip: {
                x: Math.ceil(box.x),
                y: Math.ceil(box.y),
                width: Math.floor(box.width) - 1,
                height: Math.floor(box.height) - 1,
              },
            }),
          ),
        );
        const { width, height, channels, data } = image;
        const seen = new Set<number>();
        let matching = 0;
        for (let i = 0; i < width * height; i++) {
          const at = i * channels;
          const [r, g, b] = [data[at], data[at + 1], data[at + 2]];
          seen.add((r << 16) | (g << 8) | b);
          // Scaled to the canvas: allow for resampling at the edges.
          if (
            Math.abs(r - background[0]) <= 2 &&
            Math.abs(g - background[1]) <= 2 &&
            Math.abs(b - background[2]) <= 2
          ) matching++;
        }
        colours = seen.size;
        backgroundShare = matching / (width * height);
        return colours > 16 && backgroundShare > 0.5;
      }, {
        what: "the desktop's background and panel on the canvas",
        timeoutMs: 30_000,
      }).catch((error) => {
        throw new Error(
          `${error.message}: ${colours} colours, ` +
            `${(backgroundShare * 100).toFixed(0)} % background`,
        );
      });
      // Not the background alone: the panel's text and icons.
      assertGreater(colours, 16);
      assert(backgroundShare < 0.99, `${backgroundShare} background`);

      // The application menu: a click on the panel's first button (bottom
      // left, through the canvas) opens it above the panel, where there was
      // only background.
      const screen = await read<{ width: number; height: number }>(
        page,
        "webstream.session.screen",
      );
      const panel = 26; // lxpanel's default height, at the bottom edge
      const above = {
        x: 0,
        y: screen.height - panel - 200,
        width: 150,
        height: 200,
      };
      assertEquals(screenColours(access, above), 1, "only background there");
      const button = {
        x: box.x + 10.5 * box.width / screen.width,
        y: box.y + (screen.height - panel / 2) * box.height / screen.height,
      };
      await page.mouse.click(button.x, button.y);
      await waitFor(() => screenColours(access, above) > 8, {
        what: "the application menu above the panel",
        timeoutMs: 15_000,
      });
    } finally {
      await teardown.run();
    }
  },
});
