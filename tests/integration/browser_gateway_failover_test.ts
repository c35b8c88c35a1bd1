/**
 * A gateway killed under a browser (issue 14), with real components only:
 * two real `webstream -gateway` processes on one real PostgreSQL, behind one
 * load-balanced name (a loopback TCP balancer that sends each connection to
 * the first gateway that accepts it, as an operator's HAProxy or DNS name
 * would); one real `webstream -backend` that knows both gateways; headless
 * Chromium signed in through the balancer, showing an app that paints its
 * screen. The gateway relaying the page is killed with SIGKILL: the page
 * reconnects through the other gateway, to the same session (the same
 * `sessionUuid`), and the screen is still the app's.
 *
 * Needs the Debian packages chromium, xvfb and postgresql.
 *
 * @module
 */
import { assert, assertEquals } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import {
  AdminClient,
  launchHost,
  PASSWORD,
  startGateway,
  staysOpen,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { hasPostgres, startPostgres } from "../support/postgres.ts";
import { startTcpCutter } from "../support/tcp_cutter.ts";
import { waitFor } from "../support/wait.ts";

/** The colour the app fills the screen with. */
const PAINT = [0x2a, 0x7f, 0xd4];

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** Whether the canvas shows the app's colour at a few points. */
async function painted(page: Page): Promise<boolean> {
  for (const [x, y] of [[20, 20], [300, 200], [600, 400]]) {
    const px = await read<Record<string, number>>(
      page,
      `webstream.session.readPixels(${x}, ${y}, 1, 1)`,
    );
    if ([px[0], px[1], px[2]].join() !== PAINT.join()) return false;
  }
  return true;
}

Deno.test({
  name:
    "browser: the gateway relaying a page is killed; the page reconnects through another gateway to the same session",
  ignore: !hasChromium() || !hasPostgres() || Deno.build.os !== "linux",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const teardown = new Teardown();
    try {
      const cluster = await startPostgres();
      teardown.defer(() => cluster.stop());
      const storeUrl = await cluster.createDatabase();
      const configs = await Promise.all([0, 1].map(() =>
        writeGatewayConfig({
          users: ["alice"],
          storeUrl,
          workspaces: [{
            id: "paint",
            name: "Paint",
            kind: "app",
            command: { linux: staysOpen(`xsetroot -solid '#2a7fd4'`) },
          }],
        })
      ));
      for (const config of configs) teardown.defer(() => config.remove());
      const [a, b] = await Promise.all(configs.map((c) => startGateway(c)));
      teardown.defer(() => a.stop());
      teardown.defer(() => b.stop());
      // The farm's one name: the first gateway while it accepts, else the
      // second.
      const balancer = startTcpCutter(configs[0].port, {
        fallbackPorts: [configs[1].port],
      });
      teardown.defer(() => balancer.close());
      const farmUrl = `http://127.0.0.1:${balancer.port}`;

      const host = await launchHost(teardown, configs[0].url, {
        slots: 1,
        backend: { gatewayUrl: [configs[0].url, configs[1].url] },
      });
      await new AdminClient(configs[0].url).waitForHealthy([host]);
      const adminB = new AdminClient(configs[1].url);
      await adminB.waitForHealthy([host]);

      const browser = await launchBrowser();
      teardown.defer(() => browser.close());
      const page = await browser.newPage({ width: 800, height: 600 });
      await page.goto(`${farmUrl}/`);
      await page.locator("#signin").waitFor();
      await page.locator("input[name=user]").fill("alice");
      await page.locator("input[name=password]").fill(PASSWORD);
      await page.locator("#signin button[type=submit]").click();
      await page.locator("#workspace-list button[data-workspace=paint]")
        .click();
      await waitFor(
        async () =>
          await read(
            page,
            "window.webstream?.session?.status === 'connected' && " +
              "!!webstream.session.hello",
          ) && await painted(page),
        { what: "the app's colour on the canvas", timeoutMs: 60_000 },
      );
      const before = await read<{ uuid: string; connects: number }>(
        page,
        "({ uuid: webstream.session.hello.sessionUuid, connects: webstream.session.connects })",
      );
      assertEquals(
        balancer.connectionsTo(configs[1].port),
        0,
        "everything went through the first gateway so far",
      );

      const killed = await a.process.stop("SIGKILL");
      assertEquals(killed.signal, "SIGKILL");
      await waitFor(
        () =>
          read(
            page,
            "webstream.session.status === 'connected' && " +
              `webstream.session.connects > ${before.connects}`,
          ),
        { what: "the page to reconnect", timeoutMs: 60_000 },
      );
      assert(
        balancer.connectionsTo(configs[1].port) > 0,
        "the reconnect went through the second gateway",
      );
      assertEquals(
        await read(page, "webstream.session.hello.sessionUuid"),
        before.uuid,
        "the same session",
      );
      await waitFor(() => painted(page), {
        what: "the app's colour on the canvas again",
      });
      const sessions = await adminB.sessions();
      assertEquals(sessions.length, 1, JSON.stringify(sessions));
    } finally {
      await teardown.run();
    }
  },
});
