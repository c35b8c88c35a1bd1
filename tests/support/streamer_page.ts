/**
 * A real `webstream streamer` process on a test X display, with the real
 * web client (`httpdocs/session/view.js`) in a page served here. The session
 * manager's part is played by a small server: it answers the streamer's
 * `REQUEST_SESSION_INFO`, and arms a one-time token per page connect
 * (`VIEWER_SETTINGS` + `CONNECTION_TOKEN`, as the pool does) with the policy
 * the test chose. Used by the browser media tests and the media benchmark.
 *
 * @module
 */
import { encodeControl } from "../../mod/control/codec.ts";
import { hashToken } from "../../mod/control/token_hash.ts";
import { stopProcessGroup } from "../../mod/platform/linux/processes.ts";
import { freePort } from "./ports.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const HTTPDOCS = `${ROOT}httpdocs`;

/** The page: the session view, full window. */
const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><link rel="stylesheet" href="/style.css">
<style>html,body{margin:0;height:100%;overflow:hidden}</style></head>
<body><div id="viewer" class="ws-fullwindow"></div>
<script type="module">
import { openSession } from "/session/view.js";
const container = document.getElementById("viewer");
openSession(container, {
  title: "test",
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

/** The workspace policy a viewer gets (the pool's `VIEWER_SETTINGS`). */
export interface PagePolicy {
  /** Clipboard directions. Default "both". */
  clipboard?: "both" | "none" | "toSession" | "fromSession";
  /** Uploads. Default true. */
  fileUpload?: boolean;
  /** Sound. Default true. */
  audio?: boolean;
  /** Most session pixels per CSS pixel. Default 2. */
  maxPixelRatio?: number;
}

/** Options for {@linkcode startStreamerPage}. */
export interface StreamerPageOptions {
  /** `DISPLAY` and `XAUTHORITY` of the session's X server. */
  env: Record<string, string>;
  /** The policy every viewer gets. */
  policy?: PagePolicy;
  /**
   * Starts the streamer's deno with `--inspect=127.0.0.1:PORT` on this port
   * (for profiling: `bench/media/profile.ts`). Absent: no inspector.
   */
  inspect?: number;
}

/** A running streamer and the page that shows it. */
export interface StreamerPage {
  /** The page to open: `http://127.0.0.1:…/`. */
  url: string;
  /** The streamer's PID (its own process group). */
  pid: number;
  /** Arms a token and gives the viewer's WebSocket URL (for raw viewers). */
  viewerUrl(size?: { width?: number; height?: number }): Promise<string>;
  /** What the streamer wrote to standard error so far. */
  stderr(): string;
  /** Stops the streamer by its process group and the server. */
  stop(): Promise<void>;
}

/** Starts a streamer on the display in `options.env` and serves its page. */
export async function startStreamerPage(
  options: StreamerPageOptions,
): Promise<StreamerPage> {
  const sessionUuid = crypto.randomUUID();
  const streamerPort = freePort();
  const policy = {
    clipboard: "both",
    fileUpload: true,
    fileDownload: false,
    printing: false,
    shadowing: false,
    audio: true,
    ...options.policy,
  };
  let control: WebSocket | undefined;
  const armed = new Map<string, () => void>();
  const ready = Promise.withResolvers<void>();

  async function viewerUrl(
    size: { width?: number; height?: number } = {},
  ): Promise<string> {
    if (!control) throw new Error("the streamer has not connected");
    const token = crypto.randomUUID();
    const tokenHash = await hashToken(token);
    const done = new Promise<void>((resolve) => armed.set(tokenHash, resolve));
    control.send(encodeControl({
      type: "VIEWER_SETTINGS",
      sessionUuid,
      settings: JSON.stringify({ policy, ...size }),
    }));
    control.send(encodeControl({
      type: "CONNECTION_TOKEN",
      sessionUuid,
      tokenHash,
      ttlSeconds: 60,
    }));
    await done;
    return `ws://127.0.0.1:${streamerPort}/stream?token=${token}`;
  }

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
      const width = Number(url.searchParams.get("width")) || undefined;
      const height = Number(url.searchParams.get("height")) || undefined;
      return Response.json({ url: await viewerUrl({ width, height }) });
    }
    if (url.pathname === "/") {
      return new Response(PAGE, { headers: { "content-type": "text/html" } });
    }
    if (url.pathname.includes("..")) return new Response(null, { status: 400 });
    const path = `${HTTPDOCS}${url.pathname}`;
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

  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--no-check",
      ...(options.inspect === undefined
        ? []
        : [`--inspect=127.0.0.1:${options.inspect}`]),
      `${ROOT}main.ts`,
      "streamer",
      "-control",
      `ws://127.0.0.1:${server.addr.port}/control`,
      "-port",
      String(streamerPort),
    ],
    env: {
      // The test's own home is no session's: no folders are watched there.
      WEBSTREAM_DOWNLOADS_DIR: "",
      WEBSTREAM_PRINT_DIR: "",
      ...options.env,
      WEBSTREAM_LOG_LEVEL: "warn",
      NO_COLOR: "1",
    },
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const drained = (async () => {
    for await (
      const chunk of child.stderr.pipeThrough(new TextDecoderStream())
    ) stderr = (stderr + chunk).slice(-20_000);
  })().catch(() => {});

  const stop = async () => {
    control?.close();
    await stopProcessGroup(child, { graceMs: 3_000 });
    await drained;
    await server.shutdown();
  };
  const timer = Promise.withResolvers<void>();
  const timeout = setTimeout(() => timer.reject(new Error("timeout")), 30_000);
  try {
    await Promise.race([ready.promise, timer.promise]);
  } catch {
    await stop();
    throw new Error(`the streamer did not start: ${stderr}`);
  } finally {
    clearTimeout(timeout);
  }
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    pid: child.pid,
    viewerUrl,
    stderr: () => stderr,
    stop,
  };
}
