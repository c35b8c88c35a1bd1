/**
 * The two pages that open the session view, in real headless Chromium
 * against a scripted server standing in for the host and the gateway: the
 * direct launch page (`index.html` + `launch.js`) asks `/getConnection` with
 * its `X-Session-ID` and the window size, opens the view full-window, and
 * after a network drop asks again with the same id; the gateway portal
 * (`portal.html` + `portal.js`) signs in, lists workspaces, launches with
 * `/api/launch`, and reconnects by launching again with the session's id.
 * Closing an ended view returns to the page. Both set the launch's
 * performance marks (`marks.js`) in order.
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import { waitFor } from "../support/wait.ts";
import { startScriptedServer } from "./scripted_server.ts";
import { MARK } from "../../httpdocs/session/marks.js";

const OPTIONS = {
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
};

function waitPage(page: Page, expression: string, what = expression) {
  return waitFor(() => page.evaluate(expression), { what, timeoutMs: 15_000 });
}

/** A first launch set its marks once each, in time order. */
async function assertLaunchMarks(page: Page): Promise<void> {
  const names = [MARK.click, MARK.request, MARK.answer, MARK.open];
  assertEquals(
    await page.evaluate(
      `performance.getEntriesByType("mark").map((m) => m.name)
        .filter((name) => ${JSON.stringify(names)}.includes(name))`,
    ),
    names,
  );
}

Deno.test(
  "the direct launch page opens the session view and reconnects with the same session id",
  OPTIONS,
  async () => {
    const server = startScriptedServer();
    const calls: { sessionId: string | null; width: string | null }[] = [];
    server.routes.push((request, url) => {
      if (url.pathname === "/health") {
        return Response.json({
          status: "healthy",
          sessions: { total: 2, active: 0, available: 2 },
        });
      }
      if (url.pathname === "/getConnection") {
        calls.push({
          sessionId: request.headers.get("x-session-id"),
          width: url.searchParams.get("width"),
        });
        const ws = new URL(server.issueUrl());
        return Response.json({
          sessionId: "s",
          sessionUuid: "6f1c7a52-8a0e-4d3f-9f49-1b1f8c3c2d10",
          host: ws.hostname,
          port: Number(ws.port),
          path: ws.pathname,
          token: ws.searchParams.get("token"),
          username: "webs01",
          slot: 1,
          reconnect: calls.length > 1,
        });
      }
    });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ width: 900, height: 700 });
      await page.goto(`${server.base}/`);
      await waitFor(async () => !(await page.locator("#launch").isDisabled()), {
        what: "the launch button",
      });
      assertMatch(await page.locator("#host-status").innerText(), /healthy/);
      let viewer = server.nextViewer();
      await page.locator("#launch").click();
      await viewer;
      await waitPage(page, "webstream.session.status === 'connected'");
      await assertLaunchMarks(page);
      // The 800x600 screen is shown 1:1, centred in the 900x700 window.
      const box = await page.locator("#viewer .ws-canvas").boundingBox();
      assertEquals(box, { x: 50, y: 50, width: 800, height: 600 });
      assertEquals(calls.length, 1);
      assertEquals(calls[0].width, "900");
      assert(calls[0].sessionId);

      viewer = server.nextViewer();
      server.cut();
      const second = await viewer;
      await waitPage(page, "webstream.session.status === 'connected'");
      assertEquals(calls.length, 2);
      assertEquals(calls[1].sessionId, calls[0].sessionId);

      second.socket.close(4403, "licence refused");
      await waitPage(page, "webstream.session.status === 'ended'");
      assertEquals(
        await page.locator(".ws-status-text").innerText(),
        "Session ended: licence refused",
      );
      await page.locator(".ws-close").click();
      await page.locator("#viewer").waitFor({ state: "detached" });
      assert(!(await page.locator("#launch").isDisabled()));
      await page.context().close();
    } finally {
      await browser.close();
      await server.close();
    }
  },
);

Deno.test(
  "the portal launches into the session view and reconnects by launching the same session",
  OPTIONS,
  async () => {
    const server = startScriptedServer();
    const launches: Record<string, unknown>[] = [];
    let signedIn = false;
    server.routes.push(async (request, url) => {
      switch (url.pathname) {
        case "/api/signin":
          signedIn = true;
          return Response.json({ user: "alice", groups: [], admin: false });
        case "/api/me":
          return signedIn
            ? Response.json({ user: "alice" })
            : Response.json({ error: "not signed in" }, { status: 401 });
        case "/api/workspaces":
          return Response.json([{
            id: "desk",
            name: "Desktop",
            kind: "desktop",
          }]);
        case "/api/sessions":
          return Response.json([]);
        case "/api/launch": {
          const body = await request.json();
          launches.push(body);
          if (launches.length === 3) {
            return Response.json({ error: "unknown session" }, { status: 404 });
          }
          const ws = new URL(server.issueUrl());
          return Response.json({
            sessionId: "gw-1",
            websocketPath: ws.pathname,
            token: ws.searchParams.get("token"),
            outcome: body.sessionId ? "reconnect" : "new",
            decisionId: 1,
          });
        }
      }
    });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ width: 1000, height: 700 });
      await page.goto(`${server.base}/portal.html`);
      await page.locator("#signin").waitFor();
      await page.locator("input[name=user]").fill("alice");
      await page.locator("input[name=password]").fill("secret");
      await page.locator("#signin button[type=submit]").click();
      const button = page.locator(
        "#workspace-list button[data-workspace=desk]",
      );
      await button.waitFor();
      let viewer = server.nextViewer();
      await button.click();
      await viewer;
      await waitPage(page, "webstream.session.status === 'connected'");
      await assertLaunchMarks(page);
      assertEquals(launches[0], {
        workspaceId: "desk",
        width: 1000,
        height: 700,
      });

      viewer = server.nextViewer();
      server.cut();
      await viewer;
      await waitPage(page, "webstream.session.status === 'connected'");
      assertEquals(launches[1], {
        workspaceId: "desk",
        sessionId: "gw-1",
        width: 1000,
        height: 700,
      });

      // The gateway no longer knows the session: the view ends, no retry.
      server.cut();
      await waitPage(page, "webstream.session.status === 'ended'");
      assertMatch(
        await page.locator(".ws-status-text").innerText(),
        /unknown session/,
      );
      await page.locator(".ws-close").click();
      await page.locator("#viewer").waitFor({ state: "detached" });
      assertMatch(await page.locator("#session").innerText(), /gw-1 closed/);
      assertEquals(launches.length, 3);
      await page.context().close();
    } finally {
      await browser.close();
      await server.close();
    }
  },
);
