/**
 * A published app's tab when the app closes, with real components only:
 * headless Chromium signs in to a real `webstream -gateway` and launches an
 * app workspace placed on a real `webstream -backend` (real Xvfb, real pool
 * user as root, real streamer, through the gateway's relay). The app (a
 * unique `sleep`) is ended by its PID: the page shows "Text Editor has
 * closed" with a way to close the tab or go back to the portal, and does
 * not reconnect; going back shows the portal, where the session (logged
 * off after `appExitGrace`) is no longer listed.
 *
 * Needs the Debian packages chromium and xvfb.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import {
  AdminClient,
  launchHost,
  PASSWORD,
  sleepCommand,
  startGateway,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { endProcessRunning } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

Deno.test({
  name: "browser: an app's tab says the app has closed, and does not reconnect",
  ignore: !hasChromium() || Deno.build.os !== "linux",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const teardown = new Teardown();
    try {
      const editor = sleepCommand();
      const config = await writeGatewayConfig({
        users: ["alice"],
        workspaces: [{
          id: "editor",
          name: "Text Editor",
          kind: "app",
          command: { linux: editor },
        }],
      });
      teardown.defer(() => config.remove());
      const gateway = await startGateway(config);
      teardown.defer(() => gateway.stop());
      const host = await launchHost(teardown, gateway.url, {
        slots: 1,
        settings: { appExitGrace: 1 },
      });
      const admin = new AdminClient(gateway.url);
      await admin.waitForHealthy([host]);
      const browser = await launchBrowser();
      teardown.defer(() => browser.close());

      const page = await browser.newPage({ width: 1024, height: 768 });
      await page.goto(`${gateway.url}/`);
      await page.locator("#signin").waitFor();
      await page.locator("input[name=user]").fill("alice");
      await page.locator("input[name=password]").fill(PASSWORD);
      await page.locator("#signin button[type=submit]").click();
      await page.locator("#workspace-list button[data-workspace=editor]")
        .click();
      await waitFor(
        () =>
          read(
            page,
            "window.webstream?.session?.status === 'connected' && " +
              "!!webstream.session.hello",
          ),
        { what: "the app's session view to connect", timeoutMs: 60_000 },
      );
      const [session] = await admin.sessions();
      assert(session, "the app's session is live");

      await endProcessRunning(editor);
      await waitFor(
        () => read(page, "webstream.session.closedApp === 'Text Editor'"),
        { what: "the page to hear that its app closed" },
      );
      assertEquals(await read(page, "webstream.session.status"), "ended");
      const overlay = page.locator(".ws-overlay");
      assert(await overlay.isVisible(), "the overlay shows");
      assertEquals(
        await page.locator(".ws-status-text").textContent(),
        "Text Editor has closed",
      );
      assert(await page.locator(".ws-close-tab").isVisible());
      const back = page.locator(".ws-close");
      assertEquals(await back.textContent(), "Back to the portal");

      // No reconnect, even once the session has been logged off.
      await waitFor(
        async () => (await admin.session(session.sessionId)) === undefined,
        { what: "the session to be logged off" },
      );
      assertEquals(await read(page, "webstream.session.connects"), 1);
      assertEquals(await read(page, "webstream.session.status"), "ended");

      await back.click();
      await waitFor(
        () => read(page, "!document.querySelector('.ws-session')"),
        { what: "the session view to go" },
      );
      assert(await page.locator("#workspace-list").isVisible());
      await waitFor(
        () => read(page, "!document.querySelector('#session-list li')"),
        { what: "the portal to list no session" },
      );
    } finally {
      await teardown.run();
    }
  },
});
