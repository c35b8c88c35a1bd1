/**
 * A scripted session host on loopback for gateway tests: it answers
 * `/health` (with the status the test sets, recording which gateway probed,
 * by `X-Gateway-Id`), answers `GET /getConnection` with a valid contract answer (or
 * whatever the test scripts: a 503, garbage, no answer at all), records every
 * `/getConnection` request with its headers, and serves a WebSocket on
 * `/stream` that greets with the token it was opened with and echoes
 * messages, standing in for a streamer behind the gateway's relay.
 *
 * @module
 */
import type { ConnectionAnswer } from "../../mod/contract/get_connection.ts";

/** A `/health` probe the host received. */
export interface HealthProbe {
  /** The probing gateway's `X-Gateway-Id` (empty when none). */
  gatewayId: string;
}

/** A `/getConnection` request the host received. */
export interface HostRequest {
  /** The full URL, with its query. */
  url: URL;
  /** Its headers. */
  headers: Headers;
}

/**
 * Decides the answer to one `/getConnection` request; `undefined` gives the
 * default valid answer.
 */
export type HostScript = (
  request: Request,
  host: ScriptedHost,
) => Response | undefined | Promise<Response | undefined>;

/** A running scripted host. */
export interface ScriptedHost {
  /** Base URL (its `serverUrl`), e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Its port. */
  port: number;
  /** Every `/getConnection` request, in order. */
  requests: HostRequest[];
  /** Every `/health` probe, in order. */
  probes: HealthProbe[];
  /** The status `/health` answers (200 unless the test sets another). */
  healthStatus: number;
  /** The current script (replaceable). */
  script?: HostScript;
  /** The internal session id the host gave a client-facing one. */
  uuidOf(sessionId: string): string | undefined;
  /** Makes the host start a fresh pool session for `sessionId` next time. */
  forget(sessionId: string): void;
  /** The default answer to `request` (what a healthy host answers). */
  answer(request: Request): Response;
  /** A response that never comes until the host stops (then a 503). */
  hang(): Promise<Response>;
  /** Stops listening. */
  stop(): Promise<void>;
}

/**
 * A valid `/getConnection` answer for `sessionId` from a host whose
 * streamers listen on 127.0.0.1:`port`: the session's uuid is kept in
 * `uuids` (a known session is a reconnect), the token is fresh.
 */
export function connectionAnswer(
  sessionId: string,
  uuids: Map<string, string>,
  options: { port: number },
): ConnectionAnswer {
  const known = uuids.get(sessionId);
  const sessionUuid = known ?? crypto.randomUUID();
  uuids.set(sessionId, sessionUuid);
  return {
    sessionId,
    sessionUuid,
    host: "127.0.0.1",
    port: options.port,
    path: "/stream",
    token: crypto.randomUUID().replaceAll("-", ""),
    tokenExpiresAt: new Date(Date.now() + 60_000).toISOString(),
    reconnect: known !== undefined,
  };
}

/** Starts a scripted host on 127.0.0.1 (any free port). */
export function startScriptedHost(script?: HostScript): ScriptedHost {
  const uuids = new Map<string, string>();
  const stopping = Promise.withResolvers<void>();
  let port = 0;

  const host: ScriptedHost = {
    url: "",
    port: 0,
    requests: [],
    probes: [],
    healthStatus: 200,
    script,
    uuidOf: (sessionId) => uuids.get(sessionId),
    forget: (sessionId) => void uuids.delete(sessionId),
    answer(request) {
      const sessionId = request.headers.get("x-session-id") ?? "";
      return Response.json(connectionAnswer(sessionId, uuids, { port }));
    },
    hang: () =>
      stopping.promise.then(() =>
        Response.json({ error: "stopping" }, { status: 503 })
      ),
    async stop() {
      stopping.resolve();
      await server.shutdown();
    },
  };

  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      if (url.pathname === "/health") {
        host.probes.push({
          gatewayId: request.headers.get("x-gateway-id") ?? "",
        });
        return Response.json({ status: "healthy" }, {
          status: host.healthStatus,
        });
      }
      if (url.pathname === "/stream") {
        const { socket, response } = Deno.upgradeWebSocket(request);
        socket.onopen = () =>
          socket.send(JSON.stringify({
            type: "hello",
            token: url.searchParams.get("token"),
          }));
        socket.onmessage = (event) => socket.send(event.data);
        return response;
      }
      if (url.pathname !== "/getConnection") {
        return Response.json({ error: "not found" }, { status: 404 });
      }
      host.requests.push({ url, headers: request.headers });
      return (await host.script?.(request, host)) ?? host.answer(request);
    },
  );
  port = server.addr.port;
  host.port = port;
  host.url = `http://127.0.0.1:${port}`;
  return host;
}

/** Runs `fn` with a scripted host that is stopped afterwards. */
export async function withScriptedHost(
  fn: (host: ScriptedHost) => Promise<void>,
): Promise<void> {
  const host = startScriptedHost();
  try {
    await fn(host);
  } finally {
    await host.stop();
  }
}
