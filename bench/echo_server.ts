/**
 * The WebSocket proxy benchmark's target: a bare `Deno.serve` that accepts a
 * WebSocket on any path and sends every message straight back. The gateway's
 * session record points at it (as it would at a streamer) and the benchmark
 * also connects to it directly; it runs as its own child process so both
 * paths pay the same costs at this end.
 *
 * With `relay ws://host:port` it is instead the least a relay can do in Deno
 * (the proxy benchmark's second reference): every WebSocket it accepts is
 * joined to a new one to the same path there.
 *
 * On `/frames` it behaves like a streamer instead: it sends binary frames
 * of the sizes in {@linkcode STREAM_FRAME_BYTES} in turn, numbered from 0,
 * as many waiting for an acknowledgement as the streamer's flow control
 * allows (its {@linkcode FrameWindow}), and sends the next one as each
 * `ACK` (`0x81`, with the frame's number) that comes back opens it; other
 * messages (input) are read and dropped. With `?fps=N` it also sends at
 * most N frames a second, as the streamer does (30), and each frame starts
 * with the time it was sent ({@linkcode frameSentAt}). With `?window=fixed`
 * at most {@linkcode FIXED_WINDOW} frames wait, whatever the round trip
 * (the streamer's flow control before its window was sized).
 *
 * Run directly: `deno run -A bench/echo_server.ts [relay URL]`; it prints
 * `{"port":N}` on stdout once it listens (on a free loopback port).
 *
 * @module
 */
import { decodeClientMessage } from "../httpdocs/session/protocol.js";
import { serveChild } from "./child_server.ts";
import { FrameWindow } from "../mod/streamer/frame_window.ts";

/**
 * Sizes of the frames `/frames` sends, in turn: what a streamer sends, from
 * a cursor-sized tile to a full-screen refresh (mean about 82 KB).
 */
export const STREAM_FRAME_BYTES: readonly number[] = [
  300,
  1_200,
  4_000,
  16_000,
  60_000,
  110_000,
  300_000,
];

/** Frames waiting for an `ACK`, at most, with `?window=fixed`. */
export const FIXED_WINDOW = 2;

/** Upgrades every request; echoes every message, or streams on `/frames`. */
export function echoHandler(request: Request): Response {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response("expected a WebSocket upgrade", { status: 426 });
  }
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.binaryType = "arraybuffer";
  socket.onerror = () => {};
  const url = new URL(request.url);
  if (url.pathname === "/frames") {
    streamFrames(socket, {
      fps: Number(url.searchParams.get("fps") ?? 0),
      fixed: url.searchParams.get("window") === "fixed",
    });
    return response;
  }
  socket.onmessage = (event) => {
    if (socket.readyState === WebSocket.OPEN) socket.send(event.data);
  };
  return response;
}

/** Random payloads of every frame size, made once per process. */
let frames: Uint8Array[] | undefined;

/**
 * When a paced frame (`/frames?fps=N`) was sent: ms since the epoch, with
 * the fraction of the sender's `performance.now()` (processes on one
 * machine share the clock).
 */
export function frameSentAt(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, 8).getFloat64(0);
}

function streamFrames(
  socket: WebSocket,
  { fps, fixed }: { fps: number; fixed: boolean },
): void {
  frames ??= STREAM_FRAME_BYTES.map((bytes) => {
    const frame = new Uint8Array(bytes);
    // getRandomValues fills at most 64 KiB at a time.
    for (let at = 0; at < bytes; at += 65536) {
      crypto.getRandomValues(frame.subarray(at, at + 65536));
    }
    return frame;
  });
  const all = frames;
  const interval = fps > 0 ? 1000 / fps : 0;
  const window = new FrameWindow({
    maxFps: fps > 0 ? fps : Infinity,
    ...(fixed ? { maxFrames: FIXED_WINDOW } : {}),
  });
  let next = 0;
  let nextAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const send = (): void => {
    if (socket.readyState !== WebSocket.OPEN) return;
    const id = next++;
    const frame = all[id % all.length];
    window.sent(id, frame.byteLength, performance.now());
    if (!interval) return socket.send(frame);
    // A copy per paced frame (a few a second), stamped when sent.
    const stamped = frame.slice();
    new DataView(stamped.buffer).setFloat64(
      0,
      performance.timeOrigin + performance.now(),
    );
    socket.send(stamped);
  };
  const pump = (): void => {
    while (timer === undefined) {
      const now = performance.now();
      if (!window.open(now)) return;
      if (now < nextAt) {
        timer = setTimeout(() => {
          timer = undefined;
          pump();
        }, nextAt - now);
        return;
      }
      // No credit saved while the window was full: one interval on.
      nextAt = Math.max(nextAt, now) + interval;
      send();
    }
  };
  socket.onopen = pump;
  socket.onmessage = (event) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const message = decodeClientMessage(new Uint8Array(event.data));
    if (message.type !== "ack") return;
    window.acked(message.frameId, performance.now());
    pump();
  };
  socket.onclose = () => clearTimeout(timer);
}

/**
 * The least a WebSocket relay can do in Deno: every socket accepted is
 * joined to a new one to the same path at `target` (an origin such as
 * `ws://127.0.0.1:9010`), message for message, with nothing else
 * (no routing, no sign-in, no metrics, no bound on what waits for the
 * target to open).
 */
export function bareRelayHandler(target: string): Deno.ServeHandler {
  return (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    const { pathname, search } = new URL(request.url);
    const upstream = new WebSocket(new URL(pathname + search, target));
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
