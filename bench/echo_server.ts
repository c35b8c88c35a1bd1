/**
 * The WebSocket proxy benchmark's target: a bare `Deno.serve` that accepts a
 * WebSocket on any path and sends every message straight back. The gateway's
 * session record points at it (as it would at a streamer) and the benchmark
 * also connects to it directly; it runs as its own child process so both
 * paths pay the same costs at this end.
 *
 * With `relay ws://…` it is instead the least a relay can do in Deno (the
 * proxy benchmark's second reference): every WebSocket it accepts is joined
 * to a new one to that URL.
 *
 * Run directly: `deno run -A bench/echo_server.ts [relay URL]`; it prints
 * `{"port":N}` on stdout once it listens (on a free loopback port).
 *
 * @module
 */
import { serveChild } from "./child_server.ts";

/** Upgrades every request and echoes every message. */
export function echoHandler(request: Request): Response {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("expected a WebSocket upgrade", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(event.data);
  };
  socket.onerror = () => {};
  return response;
}

/**
 * The least a WebSocket relay can do in Deno: every socket accepted is
 * joined to a new one to `target`, message for message, with nothing else
 * (no routing, no sign-in, no metrics, no bound on what waits for the
 * target to open).
 */
export function bareRelayHandler(target: string): Deno.ServeHandler {
  return (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    const upstream = new WebSocket(target);
    socket.binaryType = "arraybuffer";
    upstream.binaryType = "arraybuffer";
    // Only what the browser sends before the target opens is queued.
    const early: (string | ArrayBuffer)[] = [];
    upstream.onopen = () => {
      for (const data of early.splice(0)) upstream.send(data);
    };
    socket.onmessage = (event) => {
      if (upstream.readyState === WebSocket.OPEN) upstream.send(event.data);
      else early.push(event.data);
    };
    upstream.onmessage = (event) => socket.send(event.data);
    socket.onclose = () => upstream.close();
    upstream.onclose = () => socket.close();
    socket.onerror = () => {};
    upstream.onerror = () => {};
    return response;
  };
}

if (import.meta.main) {
  // `echo_server.ts` echoes; `echo_server.ts relay ws://…` relays there.
  const relay = Deno.args[0] === "relay" ? Deno.args[1] : undefined;
  await serveChild(relay ? bareRelayHandler(relay) : echoHandler);
}
