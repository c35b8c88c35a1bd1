/**
 * The relay's WebSocket client towards the streamer, against a real
 * `Deno.serve` WebSocket server (messages both ways, large ones, close codes,
 * handshake headers) and a hand-scripted TCP peer for what `Deno.serve`
 * never sends (fragments, pings, a masked or invalid frame, a wrong
 * handshake, a connection that ends without a close frame). The client is
 * npm `ws`; these check the relay's use of it.
 */
import {
  connectUpstream,
  type UpstreamSocket,
} from "../../mod/relay/upstream.ts";
import { stopServer } from "../../mod/util/serve.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";

type Event =
  | { kind: "open" }
  | { kind: "message"; data: string | Uint8Array }
  | { kind: "close"; code: number; reason: string }
  | { kind: "error"; message: string };

/** Connects and records every event (binary data copied). */
function client(url: string, headers?: Record<string, string>) {
  const events: Event[] = [];
  let notify = (): void => {};
  const push = (event: Event): void => {
    events.push(event);
    notify();
  };
  const socket: UpstreamSocket = connectUpstream(url, {
    onopen: () => push({ kind: "open" }),
    onmessage: (data) =>
      push({
        kind: "message",
        data: typeof data === "string" ? data : data.slice(),
      }),
    onclose: (code, reason) => push({ kind: "close", code, reason }),
    onerror: (error) => push({ kind: "error", message: error.message }),
  }, { headers });
  /** Resolves once `count` events came. */
  const until = (count: number): Promise<Event[]> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (events.length >= count) resolve(events.slice(0, count));
      };
      notify = check;
      check();
    });
  return { socket, events, until };
}

function echoServer() {
  const cookies: (string | null)[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req) => {
    cookies.push(req.headers.get("cookie"));
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    socket.onmessage = (e) => {
      if (e.data === "close-me") socket.close(4004, "bye");
      else socket.send(e.data);
    };
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/stream?token=t`,
    cookies,
    stop: () => stopServer(server, { timeoutMs: 500 }),
  };
}

/** A TCP peer that completes the handshake (or not) and then runs `script`. */
function rawServer(
  script: (conn: Deno.Conn) => Promise<void>,
  answer: "accept" | "wrong accept" | "401" = "accept",
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const served = (async () => {
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(4096);
      let head = "";
      while (!head.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        head += new TextDecoder().decode(buf.subarray(0, n));
      }
      const key = /sec-websocket-key: *(\S+)/i.exec(head)?.[1] ?? "";
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"),
      );
      const accept = answer === "wrong accept"
        ? "AAAAAAAAAAAAAAAAAAAAAAAAAAA="
        : btoa(String.fromCharCode(...new Uint8Array(digest)));
      await conn.write(new TextEncoder().encode(
        answer === "401"
          ? "HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n"
          : "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
            `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ));
      await script(conn);
    } finally {
      try {
        conn.close();
      } catch {
        // Closed by the script.
      }
    }
  })();
  const addr = listener.addr as Deno.NetAddr;
  return {
    url: `ws://127.0.0.1:${addr.port}/stream`,
    done: async () => {
      await served;
      listener.close();
    },
  };
}

/** An unmasked server frame. */
function frame(op: number, payload: Uint8Array, fin = true): Uint8Array {
  const head = payload.length < 126
    ? [(fin ? 0x80 : 0) | op, payload.length]
    : [(fin ? 0x80 : 0) | op, 126, payload.length >> 8, payload.length & 0xff];
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

/** Reads one masked client frame (small payloads). */
async function readClientFrame(
  conn: Deno.Conn,
): Promise<{ op: number; payload: Uint8Array; mask: number[] }> {
  const head = new Uint8Array(6);
  let got = 0;
  while (got < 6) {
    const n = await conn.read(head.subarray(got));
    if (n === null) throw new Error("ended");
    got += n;
  }
  assert((head[1] & 0x80) !== 0, "client frames are masked");
  const length = head[1] & 0x7f;
  const payload = new Uint8Array(length);
  got = 0;
  while (got < length) {
    const n = await conn.read(payload.subarray(got));
    if (n === null) throw new Error("ended");
    got += n;
  }
  for (let i = 0; i < length; i++) payload[i] ^= head[2 + (i & 3)];
  return { op: head[0] & 0x0f, payload, mask: [...head.subarray(2, 6)] };
}

Deno.test("text, binary and large messages cross both ways; handshake headers reach the server", async () => {
  const server = echoServer();
  try {
    const c = client(server.url, { Cookie: "ws_session=abc" });
    await c.until(1);
    assertEquals(c.events[0], { kind: "open" });
    const big = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => i * 31);
    c.socket.send("héllo ☃");
    c.socket.send(new Uint8Array([1, 2, 3]));
    c.socket.send(big.buffer);
    c.socket.send(new Uint8Array(70_000).fill(9));
    const events = await c.until(5);
    assertEquals(events[1], { kind: "message", data: "héllo ☃" });
    assertEquals(events[2], {
      kind: "message",
      data: new Uint8Array([1, 2, 3]),
    });
    assertEquals(events[3], { kind: "message", data: big });
    assertEquals(events[4], {
      kind: "message",
      data: new Uint8Array(70_000).fill(9),
    });
    assertEquals(c.socket.bufferedAmount, 0);
    assertEquals(server.cookies, ["ws_session=abc"]);
    c.socket.send("close-me");
    assertEquals((await c.until(6))[5], {
      kind: "close",
      code: 4004,
      reason: "bye",
    });
    assertEquals(c.socket.readyState, 3);
  } finally {
    await server.stop();
  }
});

Deno.test("fragments are joined, pings answered, and the peer's close frame echoed", async () => {
  const enc = new TextEncoder();
  const server = rawServer(async (conn) => {
    await conn.write(frame(9, enc.encode("are you there")));
    const pong = await readClientFrame(conn);
    assertEquals(pong.op, 10);
    assertEquals(new TextDecoder().decode(pong.payload), "are you there");
    await conn.write(frame(1, enc.encode("frag"), false));
    await conn.write(frame(0, enc.encode("men"), false));
    await conn.write(frame(0, enc.encode("ted"), true));
    await conn.write(
      frame(8, new Uint8Array([0x0f, 0xa1, ...enc.encode("x")])),
    );
    const close = await readClientFrame(conn);
    assertEquals(close.op, 8);
    assertEquals([close.payload[0], close.payload[1]], [0x0f, 0xa1]);
  });
  const c = client(server.url);
  const events = await c.until(3);
  await server.done();
  assertEquals(events, [
    { kind: "open" },
    { kind: "message", data: "fragmented" },
    { kind: "close", code: 4001, reason: "x" },
  ]);
});

Deno.test("frames to the streamer carry a zero masking key, so the bytes go as they are", async () => {
  const server = rawServer(async (conn) => {
    const sent = await readClientFrame(conn);
    assertEquals(sent.op, 2);
    assertEquals(sent.mask, [0, 0, 0, 0]);
    assertEquals([...sent.payload], [1, 2, 3, 250]);
  });
  const c = client(server.url);
  await c.until(1);
  c.socket.send(new Uint8Array([1, 2, 3, 250]));
  await server.done();
  c.socket.close();
});

Deno.test("a peer that breaks the protocol or vanishes is closed, with no error once open", async () => {
  // The client closes a broken peer with 1002 or 1007; the close it reports
  // is the one the peer sent back, none here: 1006.
  const cases: [string, (conn: Deno.Conn) => Promise<void>, number][] = [
    ["a masked frame", async (conn) => {
      await conn.write(new Uint8Array([0x82, 0x81, 1, 2, 3, 4, 5]));
      const close = await readClientFrame(conn).catch(() => undefined);
      assertEquals(close?.op, 8, "the client sent a close frame");
    }, 1006],
    ["invalid UTF-8 text", async (conn) => {
      await conn.write(frame(1, new Uint8Array([0xff, 0xfe])));
      await readClientFrame(conn).catch(() => {});
    }, 1006],
    ["no close frame", async () => {}, 1006],
  ];
  for (const [what, script, code] of cases) {
    const server = rawServer(script);
    const c = client(server.url);
    const events = await c.until(2);
    await server.done();
    assertEquals(events[1].kind, "close", what);
    assertEquals((events[1] as { code: number }).code, code, what);
  }
});

Deno.test("a refused or wrong handshake is an error, then a 1006 close", async () => {
  for (const answer of ["401", "wrong accept"] as const) {
    const server = rawServer(async () => {}, answer);
    const c = client(server.url);
    const events = await c.until(2);
    await server.done();
    assertEquals(events[0].kind, "error", answer);
    assertEquals(events[1], { kind: "close", code: 1006, reason: "" });
  }
  const c = client("ws://127.0.0.1:1/nothing-listens");
  assertEquals((await c.until(2)).map((e) => e.kind), ["error", "close"]);
});

Deno.test("a URL that is no ws: URL, or a header with a line break, throws at once", () => {
  const handlers = {
    onopen() {},
    onmessage() {},
    onclose() {},
    onerror() {},
  };
  assertThrows(() => connectUpstream("http://127.0.0.1:1/", handlers));
  assertThrows(() => connectUpstream("not a url", handlers));
  assertThrows(() =>
    connectUpstream("ws://127.0.0.1:1/", handlers, {
      headers: { "X-A": "1\r\nX-B: 2" },
    })
  );
});
