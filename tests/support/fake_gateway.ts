/**
 * A recording gateway for session host tests: it accepts `register`,
 * `heartbeat` and `unregister`, remembers registered hosts, answers a
 * heartbeat from an unknown host with 404 (as the real gateway does), and
 * records every request with its arrival time. Also the field names the seed
 * gives the register and heartbeat payloads, to check bodies against.
 *
 * @module
 */

/** The fields of a register payload (session_host_service), sorted. */
export const REGISTER_KEYS: readonly string[] = [
  "capabilities",
  "ec2InstanceId",
  "instanceType",
  "maxSessions",
  "serverUrl",
  "tags",
  "version",
];

/** The fields of a heartbeat payload (session_host_service), sorted. */
export const HEARTBEAT_KEYS: readonly string[] = [
  "activeSessions",
  "cpuUsage",
  "instanceType",
  "maxSessions",
  "memoryUsage",
  "serverUrl",
  "status",
  "tags",
  "timestamp",
];

/** One request the fake gateway received. */
export interface RecordedRequest {
  /** `register`, `heartbeat` or `unregister`. */
  kind: string;
  /** Parsed JSON body. */
  body: Record<string, unknown>;
  /** Request headers. */
  headers: Headers;
  /** `performance.now()` at arrival. */
  at: number;
}

/** A running fake gateway. */
export interface FakeGateway {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  /** Everything received, in order. */
  requests: RecordedRequest[];
  /** Requests of one kind. */
  of(kind: string): RecordedRequest[];
  /** Forgets every host, as a restarted gateway would. */
  forget(): void;
  /** Stops listening (the gateway "goes away"). */
  stop(): Promise<void>;
}

/** Options for {@linkcode startFakeGateway}. */
export interface FakeGatewayOptions {
  /** Port to listen on (0: any). */
  port?: number;
  /** Require `Authorization: Bearer <secret>`. */
  secret?: string;
}

/** Starts a fake gateway on loopback. */
export function startFakeGateway(
  options: FakeGatewayOptions = {},
): FakeGateway {
  const requests: RecordedRequest[] = [];
  const known = new Set<string>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    async (request) => {
      const kind = new URL(request.url).pathname.replace(/^\/gateway\//, "");
      const body = await request.json().catch(() => ({}));
      requests.push({
        kind,
        body,
        headers: request.headers,
        at: performance.now(),
      });
      if (
        options.secret &&
        request.headers.get("authorization") !== `Bearer ${options.secret}`
      ) {
        return Response.json({ error: "unauthorized" }, { status: 401 });
      }
      const serverUrl = String(body.serverUrl);
      if (kind === "register") known.add(serverUrl);
      else if (kind === "unregister") known.delete(serverUrl);
      else if (kind === "heartbeat" && !known.has(serverUrl)) {
        return Response.json({ error: "unknown host" }, { status: 404 });
      }
      return Response.json({ ok: true });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    requests,
    of: (kind) => requests.filter((r) => r.kind === kind),
    forget: () => known.clear(),
    stop: () => server.shutdown(),
  };
}
