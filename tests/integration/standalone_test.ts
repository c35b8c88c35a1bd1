/**
 * A real `webstream -sm` process: `/control` and the browser relay on
 * `basePortNumber`, the web client and `/getConnection` on
 * `basePortNumber + 1`, and a browser-side WebSocket that reaches the
 * streamer in a real Xvfb session only through the session manager.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { writeTestConfig } from "../support/config.ts";
import { poolUsers } from "../support/pool_users.ts";
import {
  helloAndPing,
  nextStreamerMessage,
  openSocket,
} from "../support/ws.ts";
import { waitFor } from "../support/wait.ts";
import { startWebstream } from "../support/webstream_process.ts";

Deno.test({
  name:
    "-sm: web client and /getConnection on base+1, relay and /control on base",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cfg = await writeTestConfig({ slots: 2 });
    const sm = startWebstream(["-sm", "-config", cfg.path]);
    const http = `http://127.0.0.1:${cfg.base + 1}`;
    try {
      await t.step("serves health and the web client on base+1", async () => {
        await waitFor(async () => (await fetch(`${http}/health`)).ok, {
          what: "health",
        });
        const page = await fetch(`${http}/`);
        assertEquals(page.status, 200);
        assertMatch(page.headers.get("content-type") ?? "", /^text\/html/);
        assertMatch(await page.text(), /webstream/);
        const script = await fetch(`${http}/launch.js`);
        assertMatch(script.headers.get("content-type") ?? "", /javascript/);
        await script.body?.cancel();
      });

      await t.step(
        "a browser reaches its session through the relay only",
        async () => {
          await waitFor(async () => {
            const h = await (await fetch(`${http}/health`)).json();
            // Healthy first: a starting pool refuses launches.
            return h.status === "healthy" && h.sessions.available === 2;
          });
          const response = await fetch(
            `${http}/getConnection?width=1024&height=768`,
            {
              headers: { "X-Session-ID": "browser-1" },
            },
          );
          const body = await response.json();
          assertEquals(response.status, 200, JSON.stringify(body));
          assertEquals(body.relay, {
            port: cfg.base,
            path: `/session/${body.sessionUuid}`,
          });
          // Streamers of a standalone manager listen on loopback only.
          assertEquals(body.host, "127.0.0.1");
          const url =
            `ws://127.0.0.1:${body.relay.port}${body.relay.path}?token=${
              encodeURIComponent(body.token)
            }`;
          const ws = await openSocket(url);
          const hello = await helloAndPing(ws);
          assertEquals(hello.sessionUuid, body.sessionUuid);
          await ws.close();

          // The token was used up; a reconnect gets a fresh one.
          const reused = await openSocket(url);
          const event = await reused.closed;
          assert(
            event.code !== 1000,
            "a used token was relayed to a live viewer",
          );
          const again = await (await fetch(`${http}/getConnection`, {
            headers: { "X-Session-ID": "browser-1" },
          })).json();
          assertEquals(again.reconnect, true);
          const back = await openSocket(
            `ws://127.0.0.1:${cfg.base}${again.relay.path}?token=${
              encodeURIComponent(again.token)
            }`,
          );
          assertEquals(
            (await nextStreamerMessage(back, "hello")).hello.sessionUuid,
            body.sessionUuid,
          );
          await back.close();
        },
      );

      await t.step(
        "the relay refuses unknown sessions; /control turns away strangers",
        async () => {
          const unknown = await fetch(
            `http://127.0.0.1:${cfg.base}/session/00000000-0000-4000-8000-000000000000`,
          );
          assertEquals(unknown.status, 404);
          await unknown.body?.cancel();
          const control = await openSocket(
            `ws://127.0.0.1:${cfg.base}/control`,
          );
          control.socket.send("REQUEST_SESSION_INFO:someone");
          assertEquals((await control.closed).code, 1008);
          const other = await fetch(
            `http://127.0.0.1:${cfg.base}/getConnection`,
          );
          assertEquals(other.status, 404, "the relay port serves no HTTP API");
          await other.body?.cancel();
        },
      );
    } finally {
      const status = await sm.stop("SIGTERM");
      await cfg.remove();
      await t.step("SIGTERM stops it cleanly", async () => {
        assertEquals(status.code, 0);
        if (Deno.uid() === 0) assertEquals(await poolUsers(cfg.username), []);
      });
    }
  },
});
