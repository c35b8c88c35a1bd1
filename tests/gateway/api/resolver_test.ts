/**
 * The session resolver, exactly as `session_resolver.txt` specifies it, on a
 * loopback server over a real session map:
 * `POST /resolveSession?sessionId=&transport=HTTP|QUIC&clientIpAddress=`
 * answers 200 with exactly `{ SessionId, TransportProtocol,
 * DcvServerEndpoint, Port, WebUrlPath }` (SessionId being the host's internal
 * id for the client-facing one), 404 for unknown or ended sessions, and 400
 * for a missing sessionId or a transport other than `HTTP` or `QUIC`;
 * `clientIpAddress` is optional and may be IPv4 or IPv6. A session whose host
 * is Unreachable, Unregistered or unknown has no destination: 404 too.
 */
import { resolverApi } from "../../../mod/gateway/api/resolver.ts";
import { assertEquals, assertMatch } from "../../support/assert.ts";
import {
  addHost,
  gatewayConfig,
  type GatewayParts,
  gatewayParts,
  heartbeatPayload,
  serveApp,
  type ServedApp,
  sessionRecord,
} from "../../support/gateway_parts.ts";

const KEYS = [
  "DcvServerEndpoint",
  "Port",
  "SessionId",
  "TransportProtocol",
  "WebUrlPath",
];

/** The host `sessionRecord()` places sessions on. */
const HOST = sessionRecord().serverUrl;

/** A resolver whose sessions' host is registered and Healthy. */
function start(): { parts: GatewayParts; served: ServedApp } {
  const parts = gatewayParts(gatewayConfig({ licence: { staleAfter: 30 } }));
  addHost(parts.registry, HOST);
  return {
    parts,
    served: serveApp(resolverApi(parts.sessions, parts.registry)),
  };
}

/** POSTs /resolveSession with `query` as the contract's gateway sends it. */
async function resolve(
  served: ServedApp,
  query: Record<string, string>,
  method = "POST",
): Promise<{ status: number; text: string; type: string | null }> {
  const response = await fetch(
    `${served.url}/resolveSession?${new URLSearchParams(query)}`,
    { method, headers: { accept: "application/json" } },
  );
  return {
    status: response.status,
    text: await response.text(),
    type: response.headers.get("content-type"),
  };
}

Deno.test("resolves a live session for HTTP and QUIC with exactly the contract's fields", async () => {
  const { parts, served } = start();
  try {
    const session = sessionRecord({
      host: "10.1.2.3",
      port: 9020,
      path: "/stream",
    });
    parts.sessions.put(session);
    for (const transport of ["HTTP", "QUIC"]) {
      const answer = await resolve(served, {
        sessionId: session.sessionId,
        transport,
        clientIpAddress: "203.0.113.7",
      });
      assertEquals(answer.status, 200, answer.text);
      assertMatch(String(answer.type), /^application\/json/);
      const body = JSON.parse(answer.text);
      assertEquals(Object.keys(body).sort(), KEYS);
      assertEquals(body, {
        SessionId: session.sessionUuid,
        TransportProtocol: transport,
        DcvServerEndpoint: "10.1.2.3",
        Port: 9020,
        WebUrlPath: "/stream",
      });
    }
  } finally {
    await served.stop();
    parts.close();
  }
});

Deno.test("clientIpAddress is optional and may be IPv4 or IPv6", async () => {
  const { parts, served } = start();
  try {
    const session = sessionRecord();
    parts.sessions.put(session);
    const addresses = [
      undefined,
      "192.0.2.44",
      "2001:db8::1",
      "::ffff:192.0.2.44",
      "fe80::1%eth0",
    ];
    for (const address of addresses) {
      const query: Record<string, string> = {
        sessionId: session.sessionId,
        transport: "HTTP",
      };
      if (address) query.clientIpAddress = address;
      const answer = await resolve(served, query);
      assertEquals(answer.status, 200, `${address}: ${answer.text}`);
      assertEquals(JSON.parse(answer.text).SessionId, session.sessionUuid);
    }
  } finally {
    await served.stop();
    parts.close();
  }
});

Deno.test("unknown and ended sessions are a 404", async () => {
  const { parts, served } = start();
  try {
    const session = sessionRecord();
    parts.sessions.put(session);
    const unknown = await resolve(served, {
      sessionId: crypto.randomUUID(),
      transport: "HTTP",
    });
    assertEquals(unknown.status, 404);
    assertEquals(unknown.text, "Session id not found");
    // The internal id is not a client-facing id.
    const internal = await resolve(served, {
      sessionId: session.sessionUuid,
      transport: "HTTP",
    });
    assertEquals(internal.status, 404);

    // Still live just before staleAfter, ended after it.
    parts.clock.now = session.lastLaunchAt + 29_000;
    const live = await resolve(served, {
      sessionId: session.sessionId,
      transport: "QUIC",
    });
    assertEquals(live.status, 200);
    parts.clock.now = session.lastLaunchAt + 31_000;
    // The host kept heartbeating meanwhile.
    parts.registry.heartbeat(heartbeatPayload(HOST));
    const stale = await resolve(served, {
      sessionId: session.sessionId,
      transport: "QUIC",
    });
    assertEquals(stale.status, 404);
    // A check-in brings it back.
    parts.sessions.checkin(session.sessionUuid, session.serverUrl);
    const back = await resolve(served, {
      sessionId: session.sessionId,
      transport: "QUIC",
    });
    assertEquals(back.status, 200);
  } finally {
    await served.stop();
    parts.close();
  }
});

Deno.test("a missing sessionId or a transport other than HTTP or QUIC is a 400", async (t) => {
  const { parts, served } = start();
  try {
    const session = sessionRecord();
    parts.sessions.put(session);
    const id = session.sessionId;
    const cases: [string, Record<string, string>, string][] = [
      ["no sessionId", { transport: "HTTP" }, "Missing sessionId parameter"],
      [
        "an empty sessionId",
        { sessionId: "", transport: "HTTP" },
        "Missing sessionId parameter",
      ],
      [
        "no transport",
        { sessionId: id },
        "Invalid transport parameter: ",
      ],
      [
        'lowercase "http"',
        { sessionId: id, transport: "http" },
        "Invalid transport parameter: http",
      ],
      [
        'lowercase "quic"',
        { sessionId: id, transport: "quic" },
        "Invalid transport parameter: quic",
      ],
      [
        "TCP",
        { sessionId: id, transport: "TCP" },
        "Invalid transport parameter: TCP",
      ],
      [
        "HTTPS",
        { sessionId: id, transport: "HTTPS" },
        "Invalid transport parameter: HTTPS",
      ],
    ];
    for (const [what, query, message] of cases) {
      await t.step(what, async () => {
        const answer = await resolve(served, query);
        assertEquals(answer.status, 400);
        assertEquals(answer.text, message);
      });
    }
    await t.step(
      "an unknown session with a bad transport is a 400",
      async () => {
        const answer = await resolve(served, {
          sessionId: "nope",
          transport: "udp",
        });
        assertEquals(answer.status, 400);
      },
    );
  } finally {
    await served.stop();
    parts.close();
  }
});

Deno.test("only POST resolves", async () => {
  const { parts, served } = start();
  try {
    const session = sessionRecord();
    parts.sessions.put(session);
    const answer = await resolve(served, {
      sessionId: session.sessionId,
      transport: "HTTP",
    }, "GET");
    assertEquals(answer.status, 404);
  } finally {
    await served.stop();
    parts.close();
  }
});

Deno.test("a session whose host is Unreachable, Unregistered or unknown is a 404", async () => {
  const { parts, served } = start();
  try {
    const session = sessionRecord();
    parts.sessions.put(session);
    const query = { sessionId: session.sessionId, transport: "HTTP" };
    assertEquals((await resolve(served, query)).status, 200);

    // Health probes fail: no destination until one succeeds.
    for (
      let n = 0;
      n < parts.config.gateway.healthCheck.failureThreshold;
      n++
    ) {
      parts.registry.recordProbe(HOST, {
        at: parts.clock.now,
        ok: false,
        latencyMs: 1,
        error: "connection refused",
      });
    }
    assertEquals(parts.registry.get(HOST)?.state, "Unreachable");
    const unreachable = await resolve(served, query);
    assertEquals(unreachable.status, 404);
    assertEquals(unreachable.text, "Session id not found");
    parts.registry.recordProbe(HOST, {
      at: parts.clock.now,
      ok: true,
      latencyMs: 1,
    });
    assertEquals((await resolve(served, query)).status, 200);

    // A drained host still serves its sessions.
    parts.registry.setDraining(HOST, true);
    assertEquals((await resolve(served, query)).status, 200);

    parts.registry.unregister(HOST);
    assertEquals((await resolve(served, query)).status, 404);

    // A session on a host the gateway never knew.
    const orphan = sessionRecord({ serverUrl: "http://10.9.9.9:9005" });
    parts.sessions.put(orphan);
    const unknown = await resolve(served, {
      sessionId: orphan.sessionId,
      transport: "QUIC",
    });
    assertEquals(unknown.status, 404);
  } finally {
    await served.stop();
    parts.close();
  }
});
