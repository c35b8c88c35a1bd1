/**
 * A gateway killed under a Chromium viewer (issue 14): two real gateways on
 * one real PostgreSQL behind one load-balanced name (a loopback TCP
 * balancer that sends each connection to the first gateway that accepts
 * it, as HAProxy with a backup server would), a real host registered with
 * both. Headless Chromium signs in on the portal through that name and
 * views an app that paints the screen one colour; gateway A, which relays
 * it, is killed with SIGKILL (by its PID). The page's own reconnect (a
 * fresh launch naming the session, then the WebSocket) reaches gateway B
 * through the same name: the same `sessionUuid`, the screen intact.
 *
 * Needs the Debian packages chromium, postgresql, xvfb and x11-xserver-utils
 * (xsetroot); root, for the host's pool users.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import {
  AdminClient,
  launchHost,
  staysOpen,
  Teardown,
} from "../support/gateway.ts";
import {
  ON_POSTGRES,
  startGatewaysOnPostgres,
} from "../support/gateway_farm.ts";
import { startTcpBalancer } from "../support/tcp_balancer.ts";
import { waitFor } from "../support/wait.ts";

/** The colour the app paints the screen. */
const PAINT = [0x2a, 0x7f, 0xd4];

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** Waits until `expression` is true in the page; says where it was if not. */
async function waitPage(page: Page, expression: string, what: string) {
  try {
    await waitFor(() => read(page, expression), { what, timeoutMs: 60_000 });
  } catch (error) {
    const state = await read(
      page,
      "JSON.stringify({ status: window.webstream?.session?.status, " +
        "overlay: document.querySelector('.ws-overlay')?.textContent, " +
        "text: document.body.innerText.slice(0, 300) })",
    ).catch((e) => `unreadable: ${e}`);
    throw new Error(`${(error as Error).message}; the page: ${state}`);
  }
}

/** The canvas pixel at (x, y), from the display's read-back. */
async function pixel(page: Page, x: number, y: number): Promise<number[]> {
  const px = await read<Record<string, number>>(
    page,
    `webstream.session.readPixels(${x}, ${y}, 1, 1)`,
  );
  return [px[0], px[1], px[2]];
}

Deno.test({
  name:
    "a gateway killed under a Chromium viewer: the page reconnects through another gateway to the same session, screen intact",
  ...ON_POSTGRES,
  ignore: ON_POSTGRES.ignore || !hasChromium() || Deno.uid() !== 0,
  async fn() {
    const teardown = new Teardown();
    try {
      const { gateways: [a, b] } = await startGatewaysOnPostgres(teardown, {
        count: 2,
        users: ["alice"],
        workspaces: [{
          id: "paint",
          name: "paint",
          kind: "app",
          command: { linux: staysOpen(`xsetroot -solid '#2a7fd4'`) },
        }],
      });
      const balancer = startTcpBalancer([a.config.port, b.config.port]);
      teardown.defer(() => balancer.close());
      const farm = `http://127.0.0.1:${balancer.port}`;
      const host = await launchHost(teardown, a.url, {
        backend: { gatewayUrl: [a.url, b.url] },
      });
      for (const gateway of [a, b]) {
        await new AdminClient(gateway.url).waitForHealthy([host]);
      }

      const browser = await launchBrowser();
      teardown.defer(() => browser.close());
      const page = await browser.newPage({ width: 800, height: 600 });
      await page.goto(`${farm}/`);
      await page.locator("input[name=user]").fill("alice");
      await page.locator("input[name=password]").fill("Test-Passw0rd!");
      await page.locator("#signin button[type=submit]").click();
      await page.locator("#workspace-list button[data-workspace=paint]")
        .click();
      const connected = "window.webstream?.session?.status === 'connected' " +
        "&& !!webstream.session.hello && " +
        "document.querySelector('.ws-overlay').hidden";
      await waitPage(page, connected, "the paint session view to connect");
      await waitFor(
        async () => (await pixel(page, 300, 300)).join() === PAINT.join(),
        { what: "the painted screen on the canvas" },
      );
      const before = await read<
        { uuid: string; connects: number; frames: number }
      >(
        page,
        "({ uuid: webstream.session.hello.sessionUuid, " +
          "connects: webstream.session.connects, " +
          "frames: webstream.session.framesDrawn })",
      );
      // Everything so far went through A, the first of the balancer's.
      assertEquals(balancer.relayed().get(b.config.port), undefined);

      const killed = await a.process.stop("SIGKILL");
      assertEquals(killed.signal, "SIGKILL");

      await waitPage(
        page,
        `webstream.session.connects > ${before.connects} && ${connected}`,
        "the view to reconnect through gateway B",
      );
      assertEquals(
        await read(page, "webstream.session.hello.sessionUuid"),
        before.uuid,
        "the same session",
      );
      assert((balancer.relayed().get(b.config.port) ?? 0) > 0, "through B");
      // The screen as the streamer sends it on the new connection.
      await waitPage(
        page,
        `webstream.session.framesDrawn > ${before.frames}`,
        "frames on the new connection",
      );
      assertEquals((await pixel(page, 300, 300)).join(), PAINT.join());
    } finally {
      await teardown.run();
    }
  },
});
