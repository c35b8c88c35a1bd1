/**
 * A small scripted `webstream/2` server for browser tests of the web client:
 * serves `httpdocs/` (plus pages and routes a test adds), hands out
 * single-use connection tokens, and plays the streamer's part on `/stream`
 * with the real codec (`httpdocs/session/protocol.js`): it sends `hello` on
 * connect, answers pings, and lets the test send anything and wait for what
 * the browser sends. Everything is reached through a TCP relay the test can
 * cut, which the browser sees as a network drop (close code 1006).
 *
 * @module
 */
import {
  type ClientMessage,
  decodeClientMessage,
  encodeStreamerMessage,
  type Hello,
  PROTOCOL,
  type StreamerMessage,
} from "../../httpdocs/session/protocol.js";

const HTTPDOCS = new URL("../../httpdocs/", import.meta.url);

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  json: "application/json",
};

/** The hello a viewer gets unless the test sets another. */
export function defaultHello(overrides: Partial<Hello> = {}): Hello {
  return {
    protocol: PROTOCOL,
    sessionUuid: "6f1c7a52-8a0e-4d3f-9f49-1b1f8c3c2d10",
    width: 800,
    height: 600,
    clipboard: { toSession: true, fromSession: true },
    upload: true,
    maxWidth: 1920,
    maxHeight: 1200,
    video: false,
    audio: false,
    ...overrides,
  };
}

/** One browser connection on `/stream`, from the streamer's side. */
export class Viewer {
  /** Everything the browser sent, in order. */
  readonly received: ClientMessage[] = [];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #taken = 0;
  #waiters: (() => void)[] = [];

  constructor(readonly socket: WebSocket, hello: Hello | undefined) {
    socket.binaryType = "arraybuffer";
    const closed = Promise.withResolvers<{ code: number; reason: string }>();
    this.closed = closed.promise;
    socket.onopen = () => {
      if (hello) this.send({ type: "hello", hello });
    };
    socket.onmessage = (event) => {
      const message = decodeClientMessage(new Uint8Array(event.data));
      this.received.push(message);
      if (message.type === "ping") {
        this.send({ type: "pong", id: message.id, time: Date.now() });
      }
      for (const wake of this.#waiters.splice(0)) wake();
    };
    socket.onclose = (event) => {
      closed.resolve({ code: event.code, reason: event.reason });
      for (const wake of this.#waiters.splice(0)) wake();
    };
    socket.onerror = () => {};
  }

  /** Sends a streamer message. */
  send(message: StreamerMessage): void {
    this.socket.send(encodeStreamerMessage(message));
  }

  /** Sends raw bytes. */
  sendRaw(bytes: Uint8Array): void {
    this.socket.send(bytes);
  }

  /**
   * The next message (after those already taken) of type `type` matching
   * `where`; messages of other types are skipped (pings, acks, …).
   */
  async next<T extends ClientMessage["type"]>(
    type: T,
    where: (message: Extract<ClientMessage, { type: T }>) => boolean = () =>
      true,
    timeoutMs = 10_000,
  ): Promise<Extract<ClientMessage, { type: T }>> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      while (this.#taken < this.received.length) {
        const message = this.received[this.#taken++];
        if (
          message.type === type &&
          where(message as Extract<ClientMessage, { type: T }>)
        ) {
          return message as Extract<ClientMessage, { type: T }>;
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out waiting for a ${type} message; got ${
            JSON.stringify(this.received.slice(-10).map(brief))
          }`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Skips everything received so far. */
  skipAll(): void {
    this.#taken = this.received.length;
  }

  /** Messages of `type` received so far (taken or not). */
  all<T extends ClientMessage["type"]>(
    type: T,
  ): Extract<ClientMessage, { type: T }>[] {
    return this.received.filter((m) => m.type === type) as Extract<
      ClientMessage,
      { type: T }
    >[];
  }
}

/** A message shown short in errors (no upload bytes). */
function brief(message: ClientMessage): unknown {
  return message.type === "uploadChunk"
    ? { type: message.type, bytes: message.data.length }
    : message;
}

/** A route a test adds: answers a request, or undefined to fall through. */
export type Route = (
  request: Request,
  url: URL,
) => Response | undefined | Promise<Response | undefined>;

/** The running server. */
export interface ScriptedServer {
  /** Base URL (through the relay), e.g. `http://127.0.0.1:41234`. */
  base: string;
  /** WebSocket URL of `/stream` for a fresh single-use token. */
  issueUrl(): string;
  /** Tokens handed out by `GET /token`. */
  tokenRequests: { width: number; height: number }[];
  /** The hello sent to each new viewer (undefined: none). */
  hello: Hello | undefined;
  /** Answers to `GET /token` before normal service: statuses to fail with. */
  failTokens: number[];
  /** Pages and routes the test adds, tried before the static files. */
  routes: Route[];
  /** Resolves with the next viewer that connects. */
  nextViewer(timeoutMs?: number): Promise<Viewer>;
  /** Every viewer so far. */
  viewers: Viewer[];
  /** Cuts every TCP connection through the relay (a network drop). */
  cut(): void;
  /** Stops everything. */
  close(): Promise<void>;
}

/** Starts a scripted server on loopback. */
export function startScriptedServer(): ScriptedServer {
  const tokens = new Set<string>();
  const viewers: Viewer[] = [];
  let viewerWaiters: ((viewer: Viewer) => void)[] = [];
  const routes: Route[] = [];
  const tokenRequests: { width: number; height: number }[] = [];

  const http = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (request) => {
    const url = new URL(request.url);
    for (const route of routes) {
      const response = await route(request, url);
      if (response) return response;
    }
    if (url.pathname === "/token") {
      const failure = server.failTokens.shift();
      if (failure) {
        return Response.json({ error: "busy" }, { status: failure });
      }
      tokenRequests.push({
        width: Number(url.searchParams.get("width")),
        height: Number(url.searchParams.get("height")),
      });
      return Response.json({ url: server.issueUrl() });
    }
    if (url.pathname === "/stream") {
      const token = url.searchParams.get("token") ?? "";
      if (!tokens.delete(token)) {
        return new Response("invalid connection token", { status: 401 });
      }
      const { socket, response } = Deno.upgradeWebSocket(request);
      const viewer = new Viewer(socket, server.hello);
      viewers.push(viewer);
      const waiters = viewerWaiters;
      viewerWaiters = [];
      for (const wake of waiters) wake(viewer);
      return response;
    }
    return await serveFile(url.pathname);
  });

  // The relay: browser ⇄ relay ⇄ server, so a test can drop the network.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  (async () => {
    for await (const inbound of listener) {
      conns.add(inbound);
      Deno.connect({ hostname: "127.0.0.1", port: http.addr.port }).then(
        (outbound) => {
          conns.add(outbound);
          const done = () => {
            for (const c of [inbound, outbound]) {
              conns.delete(c);
              try {
                c.close();
              } catch {
                // Already closed.
              }
            }
          };
          inbound.readable.pipeTo(outbound.writable).catch(() => {}).finally(
            done,
          );
          outbound.readable.pipeTo(inbound.writable).catch(() => {}).finally(
            done,
          );
        },
        () => inbound.close(),
      );
    }
  })().catch(() => {});
  const port = listener.addr.port;

  const server: ScriptedServer = {
    base: `http://127.0.0.1:${port}`,
    issueUrl() {
      const token = crypto.randomUUID();
      tokens.add(token);
      return `ws://127.0.0.1:${port}/stream?token=${token}`;
    },
    tokenRequests,
    hello: defaultHello(),
    failTokens: [],
    routes,
    viewers,
    nextViewer(timeoutMs = 10_000) {
      return new Promise<Viewer>((resolve, reject) => {
        const timer = setTimeout(() => {
          viewerWaiters = viewerWaiters.filter((w) => w !== wake);
          reject(new Error("timed out waiting for a viewer to connect"));
        }, timeoutMs);
        const wake = (viewer: Viewer) => {
          clearTimeout(timer);
          resolve(viewer);
        };
        viewerWaiters.push(wake);
      });
    },
    cut() {
      for (const conn of [...conns]) {
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      }
    },
    async close() {
      listener.close();
      server.cut();
      for (const viewer of viewers) {
        try {
          viewer.socket.close();
        } catch {
          // Already closed.
        }
      }
      await http.shutdown();
    },
  };
  return server;
}

async function serveFile(pathname: string): Promise<Response> {
  const path = pathname === "/" ? "/index.html" : pathname;
  if (path.includes("..")) return new Response("bad path", { status: 400 });
  try {
    const body = await Deno.readFile(new URL(`.${path}`, HTTPDOCS));
    const ext = path.slice(path.lastIndexOf(".") + 1);
    return new Response(body, {
      headers: {
        "content-type": TYPES[ext] ?? "application/octet-stream",
        "cache-control": "no-store",
      },
    });
  } catch {
    return new Response("not found", { status: 404 });
  }
}

/**
 * A test page that opens the session view full-window, getting each URL from
 * `GET /token` (which fails the connect when it answers an error).
 */
export function sessionPage(
  options: { minDelayMs?: number; maxDelayMs?: number } = {},
): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>session test</title>
<link rel="stylesheet" href="/style.css"></head>
<body><div id="viewer" class="ws-fullwindow"></div>
<script type="module">
import { openSession } from "/session/view.js";
openSession(document.getElementById("viewer"), {
  title: "test",
  minDelayMs: ${options.minDelayMs ?? 300},
  maxDelayMs: ${options.maxDelayMs ?? 2000},
  connect: async ({ width, height }) => {
    const response = await fetch("/token?width=" + width + "&height=" + height);
    if (!response.ok) throw new Error("token refused: " + response.status);
    return (await response.json()).url;
  },
});
</script></body></html>`;
}
