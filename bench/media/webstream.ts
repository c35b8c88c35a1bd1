/**
 * webstream's side of the media benchmark: a real `webstream streamer`
 * process (through `deno run main.ts streamer`, as a session manager starts
 * it) on the benchmark's display, and the real web client
 * (`httpdocs/session/view.js`) in the page. The session manager's part is
 * played by a small server here: it answers the streamer's
 * `REQUEST_SESSION_INFO`, arms a one-time token per page connect
 * (`VIEWER_SETTINGS` + `CONNECTION_TOKEN`, as the pool does), and serves
 * `httpdocs/` plus a page that opens the session view full-window.
 *
 * @module
 */
import { hashToken } from "../../mod/control/token_hash.ts";
import { encodeControl } from "../../mod/control/codec.ts";
import type { MediaTarget } from "./measure.ts";
import type { XTarget } from "./animation.ts";
import { freePort } from "../../tests/support/ports.ts";
import { spawnGroup } from "./process.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const HTTPDOCS = `${ROOT}httpdocs`;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="/style.css">
<style>html,body{margin:0;height:100%;overflow:hidden}</style></head>
<body><div id="viewer" class="ws-fullwindow"></div>
<script type="module">
import { openSession } from "/session/view.js";
const container = document.getElementById("viewer");
openSession(container, {
  title: "bench",
  connect: async (size) => {
    const r = await fetch("/token?width=" + size.width + "&height=" + size.height);
    return (await r.json()).url;
  },
});
</script></body></html>`;

const TYPES: Record<string, string> = {
  js: "text/javascript",
  css: "text/css",
  html: "text/html",
};

/** Starts webstream on `display`; the returned target streams it. */
export async function webstreamTarget(
  display: string,
  x: XTarget,
): Promise<MediaTarget> {
  const sessionUuid = crypto.randomUUID();
  const streamerPort = freePort();
  let control: WebSocket | undefined;
  const armed = new Map<string, () => void>();
  const ready = Promise.withResolvers<void>();

  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/control") {
      const { socket, response } = Deno.upgradeWebSocket(request);
      control = socket;
      socket.onmessage = (event) => {
        const text = String(event.data);
        if (text.startsWith("REQUEST_SESSION_INFO:")) {
          socket.send(encodeControl({
            type: "SESSION_INFO",
            sessionUuid,
            commandLineParams: "",
          }));
          ready.resolve();
        } else if (text.startsWith("TOKEN_ARMED:")) {
          armed.get(text.slice("TOKEN_ARMED:".length))?.();
        }
      };
      return response;
    }
    if (url.pathname === "/token") {
      return Response.json({
        url: await viewerUrl({
          width: Number(url.searchParams.get("width")) || undefined,
          height: Number(url.searchParams.get("height")) || undefined,
        }),
      });
    }
    if (url.pathname === "/" || url.pathname === "/bench.html") {
      return new Response(PAGE, { headers: { "content-type": "text/html" } });
    }
    const path = `${HTTPDOCS}${url.pathname}`;
    if (url.pathname.includes("..")) return new Response(null, { status: 400 });
    try {
      const body = await Deno.readFile(path);
      const ext = path.slice(path.lastIndexOf(".") + 1);
      return new Response(body, {
        headers: { "content-type": TYPES[ext] ?? "application/octet-stream" },
      });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });

  /** Arms a one-time token (as the pool does) and gives its viewer URL. */
  async function viewerUrl(
    size: { width?: number; height?: number },
  ): Promise<string> {
    const token = crypto.randomUUID();
    const tokenHash = await hashToken(token);
    const done = new Promise<void>((resolve) => armed.set(tokenHash, resolve));
    control!.send(encodeControl({
      type: "VIEWER_SETTINGS",
      sessionUuid,
      settings: JSON.stringify({
        policy: {
          clipboard: "both",
          fileUpload: true,
          fileDownload: false,
          printing: false,
          shadowing: false,
        },
        ...size,
      }),
    }));
    control!.send(encodeControl({
      type: "CONNECTION_TOKEN",
      sessionUuid,
      tokenHash,
      ttlSeconds: 60,
    }));
    await done;
    return `ws://127.0.0.1:${streamerPort}/stream?token=${token}`;
  }

  const streamer = spawnGroup(Deno.execPath(), [
    "run",
    "-A",
    "--no-check",
    `${ROOT}main.ts`,
    "streamer",
    "-control",
    `ws://127.0.0.1:${server.addr.port}/control`,
    "-port",
    String(streamerPort),
  ], {
    env: {
      DISPLAY: display,
      XAUTHORITY: x.authFile,
      WEBSTREAM_LOG_LEVEL: "warn",
    },
  });
  await Promise.race([
    ready.promise,
    new Promise((_, reject) =>
      setTimeout(() => reject(new Error("the streamer did not start")), 20_000)
    ),
  ]);

  return {
    name: "webstream",
    url: `http://127.0.0.1:${server.addr.port}/bench.html`,
    canvas: "#viewer canvas",
    pids: [streamer.pid],
    capacity: { pid: streamer.pid, viewerUrl },
    async ready(page) {
      await page.waitForFunction(
        "(window.webstream?.session?.framesDrawn ?? 0) > 0",
        undefined,
        { timeout: 20_000 },
      ).catch((error: unknown) => {
        throw new Error(
          `no frame drawn: ${error}; streamer stderr: ${streamer.stderr()}`,
        );
      });
    },
    async stats(page) {
      return await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const g = globalThis as any;
        // Bytes as the page's WebSocket wrapper counts them (both sides alike).
        return {
          framesDrawn: g.webstream?.session?.framesDrawn ?? 0,
          bytesReceived: g.__mediaBench?.wsBytes ?? 0,
        };
      });
    },
    async stop() {
      control?.close();
      await streamer.stop();
      await server.shutdown();
    },
  };
}
