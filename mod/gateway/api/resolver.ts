/**
 * The session resolver of the Amazon DCV Connection Gateway contract
 * (`session_resolver.txt`):
 * `POST /resolveSession?sessionId=…&transport=HTTP|QUIC&clientIpAddress=…`
 * answers 200 with `{ SessionId, TransportProtocol, DcvServerEndpoint, Port,
 * WebUrlPath }` for a live session, 404 when there is no destination, and 400
 * for a missing `sessionId` or a transport other than `HTTP` or `QUIC`. The
 * client-facing session id maps to the host's internal one.
 *
 * @module
 */
import { Hono } from "hono";
import type { HostRegistry } from "../registry.ts";
import type { SessionMap } from "../sessions.ts";

/** The resolver's answer, with the contract's field names. */
export interface ResolvedSession {
  SessionId: string;
  TransportProtocol: "HTTP" | "QUIC";
  DcvServerEndpoint: string;
  Port: number;
  WebUrlPath: string;
}

/** The `/resolveSession` route. */
export function resolverApi(
  sessions: SessionMap,
  registry: HostRegistry,
): Hono {
  const app = new Hono();
  app.post("/resolveSession", async (c) => {
    const sessionId = c.req.query("sessionId");
    const transport = c.req.query("transport");
    if (!sessionId) return c.text("Missing sessionId parameter", 400);
    if (transport !== "HTTP" && transport !== "QUIC") {
      return c.text(`Invalid transport parameter: ${transport ?? ""}`, 400);
    }
    // Another gateway may have placed it a moment ago.
    const session = await sessions.find(sessionId);
    const state = session && registry.get(session.serverUrl)?.state;
    // No destination: an unknown or ended session, or a host that is gone.
    if (
      !session || !sessions.isLive(session) || state === undefined ||
      state === "Unreachable" || state === "Unregistered"
    ) {
      return c.text("Session id not found", 404);
    }
    const body: ResolvedSession = {
      SessionId: session.sessionUuid,
      TransportProtocol: transport,
      DcvServerEndpoint: session.host,
      Port: session.port,
      WebUrlPath: session.path,
    };
    return c.json(body);
  });
  return app;
}
