/**
 * The baseline of the session host benchmarks: a bare `Deno.serve` answering
 * `/health` and `/getConnection` at once with JSON of the same shape and
 * about the same size as the host's — and, for the gateway benchmark,
 * `POST /resolveSession` like the gateway's resolver. It runs as its own
 * child process (like the host) so both sides pay the same process and
 * loopback costs; the ratio host ÷ baseline is what is left: hono routing,
 * request validation, the pool, the streamer's token acknowledgement.
 *
 * Run directly: `deno run -A bench/baseline_server.ts [port]`; it prints
 * `{"port":N}` on stdout once it listens.
 *
 * @module
 */
import { serveChild, startChildServer } from "./child_server.ts";

const startedAt = Date.now();

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

/** Answers like the host (and the gateway's resolver), doing none of the work. */
export function baselineHandler(request: Request): Response {
  const url = new URL(request.url);
  const path = url.pathname;
  // `…/health` too: the gateway benchmark's simulated hosts (`/h/N`) share
  // one of these servers for the gateway's probes.
  if (path === "/health" || path.endsWith("/health")) {
    return Response.json({
      status: "healthy",
      timestamp: new Date().toISOString(),
      sessions: { total: 2, active: 0, available: 2 },
      uptime: Math.round((Date.now() - startedAt) / 1000),
    });
  }
  if (path === "/getConnection") {
    return Response.json({
      sessionId: request.headers.get("x-session-id") ?? "",
      sessionUuid: crypto.randomUUID(),
      host: "127.0.0.1",
      port: 20010,
      path: "/stream",
      token: randomToken(),
      tokenExpiresAt: new Date(Date.now() + 60_000).toISOString(),
      username: "wbxyz01",
      slot: 1,
      reconnect: false,
    }, { headers: { "Cache-Control": "no-store" } });
  }
  if (path === "/resolveSession") {
    // The gateway's `/resolveSession` answer, without the session lookup.
    return Response.json({
      SessionId: url.searchParams.get("sessionId") ?? "",
      TransportProtocol: url.searchParams.get("transport") ?? "HTTP",
      DcvServerEndpoint: "127.0.0.1",
      Port: 20010,
      WebUrlPath: "/stream",
    });
  }
  return Response.json({ error: "not found" }, { status: 404 });
}

/** A running baseline server process. */
export interface BaselineServer {
  /** Its PID. */
  pid: number;
  /** `http://127.0.0.1:<port>`. */
  url: string;
  /** Stops it by its PID. */
  stop(): Promise<void>;
}

/** Starts the baseline server as a child process on a free loopback port. */
export async function startBaselineServer(): Promise<BaselineServer> {
  const { pid, port, stop } = await startChildServer(
    new URL(import.meta.url),
  );
  return { pid, url: `http://127.0.0.1:${port}`, stop };
}

if (import.meta.main) {
  await serveChild(baselineHandler, Number(Deno.args[0] ?? 0));
}
