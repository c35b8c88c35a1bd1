/**
 * Talking to a running session host as the gateway and a viewer would:
 * `/getConnection` on its HTTP port (and the body of a successful answer),
 * and a ping over the streamer socket such an answer names.
 *
 * @module
 */
import { assertEquals } from "./assert.ts";
import { helloAndPing, openSocket } from "./ws.ts";

/** Options for {@linkcode getConnection}. */
export interface GetConnectionInit {
  /** Sent as `Authorization: Bearer <secret>`; none when absent or null. */
  secret?: string | null;
  /** Further request headers. */
  headers?: Record<string, string>;
  /** Query string, with its `?`. */
  query?: string;
}

/**
 * `GET /getConnection` on the host at `port` on loopback, with `sessionId`
 * as `X-Session-ID` (none when null); resolves with the raw response.
 */
export async function getConnection(
  port: number,
  sessionId: string | null,
  init: GetConnectionInit = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (sessionId !== null) headers["X-Session-ID"] = sessionId;
  if (init.secret) headers.Authorization = `Bearer ${init.secret}`;
  return await fetch(
    `http://127.0.0.1:${port}/getConnection${init.query ?? ""}`,
    { headers },
  );
}

/**
 * The JSON body of a `/getConnection` answer, which must be a 200 (the body
 * is the failure message otherwise).
 */
export async function connectionOf(
  response: Response,
): Promise<Record<string, unknown>> {
  const body = await response.json();
  assertEquals(response.status, 200, JSON.stringify(body));
  return body;
}

/**
 * Opens the streamer socket named by a `/getConnection` answer, checks its
 * hello names the answer's session, and checks a ping is answered with a
 * pong of the same id; then closes the socket.
 */
export async function pingStreamer(
  connection: Record<string, unknown>,
): Promise<void> {
  const ws = await openSocket(
    `ws://${connection.host}:${connection.port}${connection.path}?token=${
      encodeURIComponent(String(connection.token))
    }`,
  );
  const hello = await helloAndPing(ws);
  assertEquals(hello.sessionUuid, connection.sessionUuid);
  await ws.close();
}
