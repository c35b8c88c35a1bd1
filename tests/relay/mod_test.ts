/**
 * The `-sm` relay between a browser socket and a streamer socket, with real
 * loopback WebSockets on both sides: both directions, text and binary,
 * messages sent before the streamer side opens, and close propagation.
 */
import { createLogger } from "../../mod/log/mod.ts";
import { relayWebSocket } from "../../mod/relay/mod.ts";
import { stopServer } from "../../mod/util/serve.ts";
import { assertEquals } from "../support/assert.ts";
import { freePort } from "../support/ports.ts";
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
