/**
 * Fast session hosts for the gateway-tier benchmarks: one loopback process
 * answering the host API for many simulated hosts, each at its own
 * `serverUrl` (`http://127.0.0.1:PORT/h/N`), at once. It is not a real
 * host — nothing logs on, no Xvfb, no streamer — so that a benchmark of the
 * gateways measures the gateways (a real host takes about 0.1 s for a warm
 * launch and seconds for a cold one, and would be all that is measured). It
 * keeps the contract for real: `GET …/getConnection` checks the shared
 * secret and the `X-Session-ID`, answers what `connectionAnswerSchema`
 * accepts (the same session UUID for the same session id: a reconnect),
 * `GET …/sessions` lists what it gave out (the gateway reconciles with it on
 * registration), `GET …/health` answers healthy, and a log-off ends a
 * session.
 *
 * Run directly: `deno run -A bench/fast_host.ts SECRET [port]`; it prints
 * `{"port":N}` on stdout once it listens.
 *
 * @module
 */
import { bearer } from "../mod/contract/shared_secret.ts";
import type { HostSessions } from "../mod/contract/sessions.ts";
import { serveChild, startChildServer } from "./child_server.ts";
import { connectionAnswer } from "../tests/support/scripted_host.ts";

/** The sessions each simulated host gave out: session id → UUID. */
const hosts = new Map<string, Map<string, string>>();

function sessionsOf(host: string): Map<string, string> {
  let sessions = hosts.get(host);
  if (!sessions) hosts.set(host, sessions = new Map());
  return sessions;
}

/** The host API of every simulated host, for the farm's `secret`. */
export function fastHostHandler(
  secret: string,
): (request: Request) => Response {
  const expected = bearer(secret);
  return (request) => {
    const url = new URL(request.url);
    const match = url.pathname.match(/^(\/h\/\d+)(\/.*)$/);
    if (!match) return Response.json({ error: "not found" }, { status: 404 });
    const [, host, path] = match;
    if (path === "/health") {
      return Response.json({
        status: "healthy",
        timestamp: new Date().toISOString(),
        sessions: { total: 1000, active: sessionsOf(host).size, available: 1 },
      });
    }
    if (request.headers.get("authorization") !== expected) {
      return Response.json({ error: "unauthorized" }, { status: 401 });
    }
    if (path === "/getConnection") {
      const sessionId = request.headers.get("x-session-id");
      if (!sessionId) {
        return Response.json({ error: "no X-Session-ID" }, { status: 400 });
      }
      return Response.json(
        connectionAnswer(sessionId, sessionsOf(host), { port: 20010 }),
        { headers: { "Cache-Control": "no-store" } },
      );
    }
    if (path === "/sessions") {
      const body: HostSessions = {
        sessions: [...sessionsOf(host)].map(([sessionId, sessionUuid], i) => ({
          sessionId,
          sessionUuid,
          slot: i + 1,
          clientConnected: false,
        })),
      };
      return Response.json(body);
    }
    const logoff = path.match(/^\/sessions\/([^/]+)\/logoff$/);
    if (logoff && request.method === "POST") {
      const sessions = sessionsOf(host);
      for (const [id, uuid] of sessions) {
        if (uuid === logoff[1]) sessions.delete(id);
      }
      return Response.json({ ok: true });
    }
    return Response.json({ error: "not found" }, { status: 404 });
  };
}

/** A running fast-host process. */
export interface FastHosts {
  /** Its PID. */
  pid: number;
  /** `serverUrl` of simulated host `n`. */
  url(n: number): string;
  /** Stops it by its PID. */
  stop(): Promise<void>;
}

/** Starts the fast hosts as a child process on a free loopback port. */
export async function startFastHosts(secret: string): Promise<FastHosts> {
  const { pid, port, stop } = await startChildServer(
    new URL(import.meta.url),
    [secret],
  );
  return { pid, url: (n) => `http://127.0.0.1:${port}/h/${n}`, stop };
}

if (import.meta.main) {
  const [secret, port] = Deno.args;
  if (!secret) throw new Error("usage: fast_host.ts SECRET [port]");
  await serveChild(fastHostHandler(secret), Number(port ?? 0));
}
