/**
 * A gateway on loopback that records every JSON POST it gets (path and
 * body) and answers `{ ok: true }`: for the streamer's reporting tests.
 *
 * @module
 */

/** One request the gateway got. */
export interface Seen {
  /** The path requested. */
  path: string;
  /** The parsed JSON body. */
  body: Record<string, unknown>;
}

/** The running recording gateway. */
export interface RecordingGateway {
  /** Its base URL (`http://127.0.0.1:port`). */
  url: string;
  /** What it got, oldest first. */
  seen: Seen[];
  /** Stops it. */
  stop(): Promise<void>;
}

/** Starts a recording gateway on a free loopback port. */
export function recordingGateway(): RecordingGateway {
  const seen: Seen[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      seen.push({ path: new URL(req.url).pathname, body: await req.json() });
      return Response.json({ ok: true });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    stop: () => server.shutdown(),
  };
}
