/**
 * Tests for `mod/registration/gateway_endpoints.ts` with real servers on
 * loopback: requests go to the first gateway; one that is down (refused),
 * hangs past the attempt timeout, or is answered for by a proxy with 502,
 * is passed over for the next, which is kept; a 4xx is an answer; when
 * none answers the last error is thrown; the caller's signal stops it all.
 *
 * @module
 */
import { GatewayEndpoints } from "../../mod/registration/gateway_endpoints.ts";
import { assertEquals, assertRejects } from "../support/assert.ts";
import { freePort } from "../support/ports.ts";

/** A gateway answering `status` and counting requests by path. */
function gateway(status = 200): {
  url: string;
  hits: string[];
  close: () => Promise<void>;
} {
  const hits: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      hits.push(new URL(request.url).pathname);
      await request.body?.cancel();
      return new Response("x", { status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    hits,
    close: () => server.shutdown(),
  };
}

/** A port that accepts and never answers. */
function hanging(): { url: string; close: () => void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) conns.push(conn);
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    close: () => {
      listener.close();
      for (const c of conns) c.close();
    },
  };
}

const POST = { method: "POST", body: "{}" };

Deno.test("the first gateway answers; a dead one is passed over and the next kept", async () => {
  const a = gateway();
  const b = gateway();
  const dead = `http://127.0.0.1:${freePort()}`;
  try {
    const one = new GatewayEndpoints([a.url, b.url]);
    await (await one.fetch("heartbeat", POST, { timeoutMs: 2000 })).text();
    assertEquals([a.hits, b.hits], [["/gateway/heartbeat"], []]);

    const failover = new GatewayEndpoints([dead, b.url, a.url]);
    assertEquals(failover.current, dead);
    const r = await failover.fetch("register", POST, { timeoutMs: 2000 });
    await r.text();
    assertEquals(failover.current, b.url.replace(/\/$/, ""));
    // Kept: the next request goes straight to it.
    await (await failover.fetch("heartbeat", POST, { timeoutMs: 2000 }))
      .text();
    assertEquals(b.hits, ["/gateway/register", "/gateway/heartbeat"]);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("a gateway that hangs, or a proxy's 502, is passed over; a 404 is an answer", async () => {
  const stuck = hanging();
  const proxy = gateway(502);
  const b = gateway(404);
  try {
    const endpoints = new GatewayEndpoints([stuck.url, proxy.url, b.url]);
    const r = await endpoints.fetch("heartbeat", POST, { timeoutMs: 300 });
    assertEquals(r.status, 404);
    await r.text();
    assertEquals(proxy.hits.length, 1);
    assertEquals(endpoints.current, b.url.replace(/\/$/, ""));
  } finally {
    stuck.close();
    await proxy.close();
    await b.close();
  }
});

Deno.test("none answers: the last error; a 502 from the only one is its answer", async () => {
  const dead = `http://127.0.0.1:${freePort()}`;
  const alsoDead = `http://127.0.0.1:${freePort()}`;
  await assertRejects(() =>
    new GatewayEndpoints([dead, alsoDead]).fetch("heartbeat", POST, {
      timeoutMs: 1000,
    })
  );
  const proxy = gateway(502);
  try {
    const r = await new GatewayEndpoints(proxy.url).fetch("x", POST, {
      timeoutMs: 1000,
    });
    assertEquals(r.status, 502);
    await r.text();
    // The caller's signal stops every attempt.
    const stopped = new AbortController();
    stopped.abort();
    await assertRejects(() =>
      new GatewayEndpoints([proxy.url, dead]).fetch("x", POST, {
        timeoutMs: 1000,
        signal: stopped.signal,
      })
    );
  } finally {
    await proxy.close();
  }
  try {
    new GatewayEndpoints([]);
    throw new Error("accepted no URL");
  } catch (error) {
    assertEquals((error as Error).name, "RangeError");
  }
});
