/**
 * The `-sm` relay between a browser socket and a streamer socket, with real
 * loopback WebSockets on both sides: both directions, text and binary,
 * messages sent before the streamer side opens, and close propagation; a
 * target that is no WebSocket URL closes the browser with 1011; a streamer
 * that goes away without a close frame (its process died) closes the
 * browser with a code its page reconnects after; a viewer or a streamer that
 * stops reading is cut off (1013) rather than buffered without bound.
 */
import { createLogger } from "../../mod/log/mod.ts";
import { relayWebSocket } from "../../mod/relay/mod.ts";
import { stopServer } from "../../mod/util/serve.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { freePort } from "../support/ports.ts";
import { startTcpCutter } from "../support/tcp_cutter.ts";
import { openSocket } from "../support/ws.ts";
import { waitFor } from "../support/wait.ts";

const quiet = createLogger({ sink: () => {} });

/** An upstream that echoes, closes on request, and records its closes. */
function upstream(options: { delayMs?: number; refuse?: boolean } = {}) {
  const closes: { code: number; reason: string }[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (req) => {
    if (options.refuse) {
      return new Response("invalid connection token", { status: 401 });
    }
    await new Promise((r) => setTimeout(r, options.delayMs ?? 0));
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => {
      if (e.data === "close-me") socket.close(4004, "bye");
      else socket.send(e.data);
    };
    socket.onclose = (e) => closes.push({ code: e.code, reason: e.reason });
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/stream`,
    closes,
    // A handshake the relay abandoned can keep a plain shutdown() waiting.
    stop: () => stopServer(server, { timeoutMs: 500 }),
  };
}

function relay(
  target: string,
  count?: (direction: "to_host" | "to_browser", bytes: number) => void,
  maxBufferedBytes?: number,
) {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    relayWebSocket(socket, target, {
      logger: quiet,
      maxQueuedBytes: 1000,
      count,
      maxBufferedBytes,
    });
    return response;
  });
  return {
    url: `ws://127.0.0.1:${server.addr.port}/`,
    stop: () => stopServer(server),
  };
}

Deno.test("messages cross in both directions, text and binary, in order", async () => {
  const up = upstream({ delayMs: 150 });
  const r = relay(up.url);
  try {
    const ws = await openSocket(r.url);
    // Sent before the streamer side has opened: queued, then delivered.
    ws.socket.send("one");
    ws.socket.send(new Uint8Array([1, 2, 3]));
    ws.socket.send("three");
    assertEquals(await ws.next(), "one");
    assertEquals(
      new Uint8Array(await ws.next() as ArrayBuffer),
      new Uint8Array([1, 2, 3]),
    );
    assertEquals(await ws.next(), "three");
    await ws.close();
    await waitFor(() => up.closes.length === 1, {
      what: "the streamer side to close",
    });
  } finally {
    await r.stop();
    await up.stop();
  }
});

Deno.test("the streamer's close code and reason reach the browser", async () => {
  const up = upstream();
  const r = relay(up.url);
  try {
    const ws = await openSocket(r.url);
    ws.socket.send("close-me");
    const event = await ws.closed;
    assertEquals([event.code, event.reason], [4004, "bye"]);
  } finally {
    await r.stop();
    await up.stop();
  }
});

Deno.test("an unreachable or refusing streamer closes the browser socket", async () => {
  const refusing = upstream({ refuse: true });
  for (const target of [`ws://127.0.0.1:${freePort()}/stream`, refusing.url]) {
    const r = relay(target);
    try {
      const ws = await openSocket(r.url);
      const event = await ws.closed;
      assertEquals(event.code, 1011);
    } finally {
      await r.stop();
    }
  }
  await refusing.stop();
});

Deno.test("too much data before the streamer opens closes both sides", async () => {
  const up = upstream({ delayMs: 300 });
  const r = relay(up.url);
  try {
    const ws = await openSocket(r.url);
    ws.socket.send("x".repeat(600)); // 1200 bytes queued > 1000
    const event = await ws.closed;
    assertEquals(event.code, 1009);
  } finally {
    await r.stop();
    await up.stop();
  }
});

Deno.test("relayed bytes are counted as they travel: UTF-8 text, binary as is", async () => {
  const up = upstream();
  const counted: string[] = [];
  const r = relay(
    up.url,
    (direction, bytes) => counted.push(`${direction} ${bytes}`),
  );
  try {
    const ws = await openSocket(r.url);
    ws.socket.send("héllo 😀"); // 1 + 2 + 3 + 1 + 4 = 11 bytes
    assertEquals(await ws.next(), "héllo 😀");
    ws.socket.send(new Uint8Array([1, 2, 3]));
    await ws.next();
    await ws.close();
    assertEquals(counted, [
      "to_host 11",
      "to_browser 11",
      "to_host 3",
      "to_browser 3",
    ]);
  } finally {
    await r.stop();
    await up.stop();
  }
});

Deno.test("a browser that stops reading is cut off instead of buffered without bound", async () => {
  // A streamer that floods its viewer with 1 MiB messages.
  const closes: number[] = [];
  const flood = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    const chunk = new Uint8Array(1 << 20);
    let sent = 0;
    const timer = setInterval(() => {
      if (socket.readyState !== WebSocket.OPEN || sent >= 200) {
        return clearInterval(timer);
      }
      socket.send(chunk);
      sent++;
    }, 2);
    socket.onclose = (e) => {
      clearInterval(timer);
      closes.push(e.code);
    };
    return response;
  });
  const r = relay(`ws://127.0.0.1:${flood.addr.port}/`, undefined, 4 << 20);
  // A browser that completes the handshake, then never reads.
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(r.url).port),
  });
  try {
    await conn.write(new TextEncoder().encode(
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ));
    await waitFor(() => closes.length === 1, {
      what: "the relay to give up on the viewer",
    });
  } finally {
    conn.close();
    await r.stop();
    await stopServer(flood, { timeoutMs: 500 });
  }
});

Deno.test("a target that is not a WebSocket URL closes the browser socket with 1011", async () => {
  for (const target of ["not a url", "ws://bad host:9010/stream"]) {
    const r = relay(target);
    try {
      // Bounded: a relay that throws instead never answers the upgrade.
      let outcome: CloseEvent | Error | undefined;
      openSocket(r.url).then((ws) => ws.closed).then(
        (event) => outcome = event,
        (error) => outcome = error,
      );
      const event = await waitFor(() => outcome, {
        what: "the browser socket to close",
      });
      assert(event instanceof CloseEvent, String(event));
      assertEquals([event.code, event.reason], [1011, "session not reachable"]);
    } finally {
      await r.stop();
    }
  }
});

/**
 * A streamer that completes the WebSocket handshake and then never reads:
 * what the relay sends it piles up.
 */
function deafStreamer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const buffer = new Uint8Array(4096);
      const n = await conn.read(buffer) ?? 0;
      const request = new TextDecoder().decode(buffer.subarray(0, n));
      const key = request.match(/sec-websocket-key:\s*(\S+)/i)?.[1] ?? "";
      const digest = await crypto.subtle.digest(
        "SHA-1",
        new TextEncoder().encode(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`),
      );
      const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
      await conn.write(new TextEncoder().encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          `Connection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      ));
    }
  })().catch(() => {});
  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `ws://127.0.0.1:${port}/stream`,
    connected: () => conns.length > 0,
    stop() {
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // Closed already.
        }
      }
      listener.close();
    },
  };
}

Deno.test("a streamer that stops reading is cut off instead of buffered without bound", async () => {
  const deaf = deafStreamer();
  const r = relay(deaf.url, undefined, 4 << 20);
  try {
    const ws = await openSocket(r.url);
    await waitFor(deaf.connected, { what: "the relay to reach the streamer" });
    // The browser sends 1 MiB messages until the relay gives up.
    const chunk = new Uint8Array(1 << 20);
    let sent = 0;
    const timer = setInterval(() => {
      if (ws.socket.readyState !== WebSocket.OPEN || sent >= 500) {
        return clearInterval(timer);
      }
      ws.socket.send(chunk);
      sent++;
    }, 2);
    let closed: CloseEvent | undefined;
    ws.closed.then((event) => closed = event);
    const event = await waitFor(() => closed, {
      what: "the relay to give up on the streamer",
    });
    clearInterval(timer);
    assertEquals([event.code, event.reason], [
      1013,
      "the session cannot keep up",
    ]);
    assert(sent < 500, "the relay gave up before the browser stopped");
  } finally {
    await r.stop();
    deaf.stop();
  }
});

Deno.test("a streamer that vanishes mid-session closes the browser with a code to reconnect after", async () => {
  const up = upstream();
  const cutter = startTcpCutter(Number(new URL(up.url).port));
  const r = relay(`ws://127.0.0.1:${cutter.port}/stream`);
  try {
    const ws = await openSocket(r.url);
    ws.socket.send("ping");
    assertEquals(await ws.next(), "ping");
    cutter.cut(); // as when the streamer's process is killed
    const event = await ws.closed;
    // Not 1000, 1001 or 4000-4999, which the page takes as the end.
    assert(
      event.code === 1011 || event.code === 1012,
      `closed with ${event.code} ${event.reason}`,
    );
  } finally {
    cutter.close();
    await r.stop();
    await up.stop();
  }
});
