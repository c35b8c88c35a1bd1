/**
 * The session tunnel (`httpdocs/session/tunnel.js`), run in Deno against
 * real WebSockets on loopback: the backoff doubles from its minimum to its
 * maximum with bounded jitter; which close codes end a session; an abnormal
 * drop (the TCP connection cut) reconnects with a fresh URL from
 * `connect()`, while 1000/1001/4xxx closes end without reconnecting; a
 * failing `connect()` is retried, and a TunnelEndedError from it ends the
 * tunnel.
 *
 * @module
 */
import {
  backoffDelay,
  isFinalClose,
  Tunnel,
  TunnelEndedError,
  type TunnelState,
} from "../../../httpdocs/session/tunnel.js";
import { assert, assertEquals } from "../../support/assert.ts";
import { waitFor } from "../../support/wait.ts";
import { startScriptedServer } from "../scripted_server.ts";

Deno.test("backoff doubles from the minimum to the maximum, with bounded jitter", () => {
  const mid = () => 0.5;
  assertEquals(
    [1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(n, { random: mid })),
    [500, 1000, 2000, 4000, 8000, 10_000, 10_000, 10_000],
  );
  assertEquals(backoffDelay(1, { random: () => 0 }), 375);
  assertEquals(backoffDelay(1, { random: () => 0.999999 }), 625);
  // Jitter never goes above the maximum.
  assertEquals(backoffDelay(10, { random: () => 0.999999 }), 10_000);
  assertEquals(backoffDelay(2, { minMs: 100, maxMs: 150, random: mid }), 150);
});

Deno.test("1000, 1001 and 4000-4999 end a session; other codes reconnect", () => {
  for (const code of [1000, 1001, 4000, 4403, 4999]) {
    assert(isFinalClose(code), String(code));
  }
  for (const code of [1005, 1006, 1011, 1012, 1013, 3000, 5000]) {
    assert(!isFinalClose(code), String(code));
  }
});

Deno.test("the tunnel reconnects after a drop and ends on a final close", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const server = startScriptedServer();
  const states: TunnelState[] = [];
  const received: number[] = [];
  let connects = 0;
  const tunnel = new Tunnel({
    connect: () => {
      connects++;
      return Promise.resolve(server.issueUrl());
    },
    minDelayMs: 50,
    maxDelayMs: 200,
  });
  tunnel.onstate = (state) => states.push(state);
  tunnel.onmessage = (bytes) => received.push(bytes[0]);
  try {
    let viewer = server.nextViewer();
    tunnel.start();
    let first = await viewer;
    await waitFor(() => tunnel.state.state === "connected");
    // Binary messages arrive as bytes: the scripted hello (type 0x01).
    await waitFor(() => received.includes(0x01), { what: "the hello" });
    assert(tunnel.send(Uint8Array.of(0x8c)));
    assertEquals((await first.next("releaseAll")).type, "releaseAll");

    viewer = server.nextViewer();
    server.cut();
    first = await viewer;
    await waitFor(() => tunnel.state.state === "connected");
    assertEquals(connects, 2);
    const drop = states.find((s) => s.state === "reconnecting");
    assertEquals(drop?.state === "reconnecting" && drop.attempt, 1);

    first.socket.close(4000, "replaced by a newer connection");
    await waitFor(() => tunnel.state.state === "ended");
    assertEquals(tunnel.state, {
      state: "ended",
      reason: "replaced by a newer connection",
      code: 4000,
    });
    // Well past the largest delay: no reconnect.
    await new Promise((r) => setTimeout(r, 500));
    assertEquals(connects, 2);
    assert(!tunnel.send(Uint8Array.of(0x8c)));
  } finally {
    tunnel.close();
    await server.close();
  }
});

Deno.test("a failing connect() is retried; TunnelEndedError ends the tunnel", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  let calls = 0;
  const tunnel = new Tunnel({
    connect: () => {
      calls++;
      if (calls < 3) return Promise.reject(new Error("busy"));
      return Promise.reject(new TunnelEndedError("the session is gone"));
    },
    minDelayMs: 10,
    maxDelayMs: 20,
  });
  const states: TunnelState[] = [];
  tunnel.onstate = (state) => states.push(state);
  const warn = console.warn;
  console.warn = () => {};
  try {
    tunnel.start();
    await waitFor(() => tunnel.state.state === "ended");
  } finally {
    console.warn = warn;
    tunnel.close();
  }
  assertEquals(calls, 3);
  assertEquals(tunnel.state, {
    state: "ended",
    reason: "the session is gone",
    code: undefined,
  });
  assertEquals(
    states.filter((s) => s.state === "reconnecting").map((s) =>
      s.state === "reconnecting" && s.attempt
    ),
    [1, 2],
  );
});
