/**
 * One health probe against real listeners on 127.0.0.1: a `Deno.serve`
 * host's status codes and the headers it received; an answer arriving a
 * byte at a time; a refused port; a listener that never answers (timed
 * out); a connection closed unanswered; an answer that is not
 * HTTP; closing the prober ending its probes; HTTPS against a self-signed
 * certificate, trusted and not. And the status line read from bytes.
 *
 * @module
 */
import {
  HealthProber,
  type HealthProberOptions,
  type ProbeAnswer,
  statusCodeOf,
} from "../../mod/gateway/health_probe.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";
import { freePort } from "../support/ports.ts";
import { selfSignedCertificate } from "../support/tls.ts";

/** One probe of `url` by a prober of its own. */
function probeHealth(
  url: string,
  options: HealthProberOptions,
): Promise<ProbeAnswer> {
  return new HealthProber(options).probe(url);
}

/** A raw TCP listener that runs `each` on every connection. */
function rawListener(each: (conn: Deno.Conn) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      each(conn).catch(() => {});
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    async stop() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed by its handler.
        }
      }
    },
  };
}

Deno.test("a host's status code and the probe's headers", async () => {
  const seen: { path: string; gateway: string | null; connection: string }[] =
    [];
  let status = 200;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      seen.push({
        path: new URL(request.url).pathname,
        gateway: request.headers.get("x-gateway-id"),
        connection: request.headers.get("connection") ?? "",
      });
      return Response.json({ status: "ok" }, { status });
    },
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}/`;
    const options = { timeoutMs: 2000, headers: { "X-Gateway-Id": "gw-1" } };
    assertEquals(await probeHealth(url, options), {
      kind: "answered",
      status: 200,
    });
    status = 503;
    assertEquals(await probeHealth(url, options), {
      kind: "answered",
      status: 503,
    });
    assertEquals(seen.length, 2);
    assertEquals(seen[0], {
      path: "/health",
      gateway: "gw-1",
      connection: "close",
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("an answer split into single bytes is read whole", async () => {
  const host = rawListener(async (conn) => {
    await conn.read(new Uint8Array(4096));
    for (const byte of new TextEncoder().encode("HTTP/1.1 204 No\r\n\r\n")) {
      await conn.write(Uint8Array.of(byte));
    }
    conn.close();
  });
  try {
    assertEquals(await probeHealth(host.url, { timeoutMs: 2000 }), {
      kind: "answered",
      status: 204,
    });
  } finally {
    await host.stop();
  }
});

Deno.test("a host that answers but keeps the connection open answered", async () => {
  const host = rawListener(async (conn) => {
    await conn.read(new Uint8Array(4096));
    await conn.write(
      new TextEncoder().encode(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      ),
    );
    await new Promise(() => {});
  });
  try {
    assertEquals(await probeHealth(host.url, { timeoutMs: 300 }), {
      kind: "answered",
      status: 200,
    });
  } finally {
    await host.stop();
  }
});

Deno.test("a refused port fails with the system's reason", async () => {
  const answer = await probeHealth(`http://127.0.0.1:${freePort()}`, {
    timeoutMs: 2000,
  });
  assertEquals(answer.kind, "failed");
  if (answer.kind === "failed") assertMatch(answer.error, /refused/i);
});

Deno.test("a host that never answers times out", async () => {
  const host = rawListener(() => new Promise(() => {}));
  try {
    const answer = await probeHealth(host.url, { timeoutMs: 300 });
    assertEquals(answer, { kind: "failed", error: "no answer within 0.3 s" });
  } finally {
    await host.stop();
  }
});

Deno.test("a connection closed unanswered, and one that is not HTTP", async () => {
  const closing = rawListener(async (conn) => {
    await conn.read(new Uint8Array(4096));
    conn.close();
  });
  const babbling = rawListener(async (conn) => {
    await conn.read(new Uint8Array(4096));
    await conn.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2\r\n"));
    conn.close();
  });
  try {
    assertEquals(await probeHealth(closing.url, { timeoutMs: 2000 }), {
      kind: "failed",
      error: "closed the connection unanswered",
    });
    assertEquals(await probeHealth(babbling.url, { timeoutMs: 2000 }), {
      kind: "failed",
      error: "answered something other than HTTP/1.1",
    });
  } finally {
    await closing.stop();
    await babbling.stop();
  }
});

Deno.test("closing the prober ends the probes in flight", async () => {
  const host = rawListener(() => new Promise(() => {}));
  try {
    const prober = new HealthProber({ timeoutMs: 60_000 });
    const probes = [prober.probe(host.url), prober.probe(host.url)];
    prober.close();
    assertEquals(await Promise.all(probes), [
      { kind: "failed", error: "stopped" },
      { kind: "failed", error: "stopped" },
    ]);
  } finally {
    await host.stop();
  }
});

Deno.test("HTTPS: a trusted certificate answers, an untrusted one fails", async () => {
  const tls = await selfSignedCertificate();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: tls.cert,
    key: tls.key,
    onListen: () => {},
  }, () => new Response("ok"));
  try {
    const url = `https://localhost:${server.addr.port}`;
    assertEquals(
      await probeHealth(url, { timeoutMs: 5000, caCerts: [tls.cert] }),
      { kind: "answered", status: 200 },
    );
    const untrusted = await probeHealth(url, { timeoutMs: 5000 });
    assertEquals(untrusted.kind, "failed");
    if (untrusted.kind === "failed") {
      assertMatch(untrusted.error, /certificate|issuer/i);
    }
  } finally {
    await server.shutdown();
    await tls.remove();
  }
});

Deno.test("not a URL is said so", async () => {
  assertEquals(await probeHealth("host-7", { timeoutMs: 1000 }), {
    kind: "failed",
    error: "not a URL: host-7",
  });
});

Deno.test("a status line read from its bytes", () => {
  const of = (text: string, length = text.length) =>
    statusCodeOf(new TextEncoder().encode(text.padEnd(32, "\0")), length);
  assertEquals(of("HTTP/1.1 200 OK\r\n"), 200);
  assertEquals(of("HTTP/1.0 503\r\n"), 503);
  assertEquals(of("HTTP/1.1 204 No"), 204);
  assertEquals(of("HTTP/1.1 200 OK", 12), "more");
  assertEquals(of("HTTP/1", 6), "more");
  assertEquals(of("", 0), "more");
  assertEquals(of("HTTX/1.1 200 OK", 4), "not HTTP");
  assertEquals(of("HTTP/2 200 OK"), "not HTTP");
  assertEquals(of("HTTP/1.1 2x0 OK"), "not HTTP");
  assertEquals(of("HTTP/1.1 2000 OK"), "not HTTP");
  assertEquals(of("SSH-2.0-OpenSSH"), "not HTTP");
});
