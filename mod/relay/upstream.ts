/**
 * The relay's side towards the streamer: a WebSocket client with Nagle's
 * algorithm off, npm `ws` (which sets `TCP_NODELAY` on its sockets).
 *
 * Deno's `WebSocket` client leaves Nagle on and offers no way to turn it
 * off, so a small message sent while an earlier one is unacknowledged (a
 * pointer move, then the frame's `ACK`) waits for the streamer's delayed TCP
 * acknowledgement, up to 40 ms; through the gateway the stream then crawls
 * (see docs/benchmarks.md and docs/dependencies.md).
 *
 * @module
 */
// @ts-types="./ws_client.d.ts"
import WebSocketClient from "ws";

/** Connecting, open, closing, closed: the values of `WebSocket.readyState`. */
export type ReadyState = 0 | 1 | 2 | 3;

/** What an {@linkcode UpstreamSocket} reports. */
export interface UpstreamHandlers {
  /** The handshake succeeded. */
  onopen(): void;
  /**
   * A message. Binary data is a view that is valid only until this returns
   * (it may be the read buffer): copy it to keep it.
   */
  onmessage(data: string | Uint8Array): void;
  /**
   * The connection is over: the peer's close code and reason, 1005 when its
   * close frame had none, 1006 when it ended without one.
   */
  onclose(code: number, reason: string): void;
  /** The connection or handshake failed (`onclose` follows). */
  onerror(error: Error): void;
}

/** Options for {@linkcode connectUpstream}. */
export interface UpstreamOptions {
  /** Largest message accepted, bytes (closed with 1009 above). Default 64 MiB. */
  maxMessageBytes?: number;
  /** Extra handshake headers (such as a `Cookie`). */
  headers?: Record<string, string>;
}

/** The client side of one streamer WebSocket. */
export interface UpstreamSocket {
  /** As `WebSocket.readyState`. */
  readonly readyState: ReadyState;
  /** Payload bytes sent but not yet written to the connection. */
  readonly bufferedAmount: number;
  /** Sends a text or binary message (ignored unless open). */
  send(data: string | ArrayBuffer | ArrayBufferView): void;
  /** Starts the closing handshake (or abandons the connection attempt). */
  close(code?: number, reason?: string): void;
}

/**
 * Opens a WebSocket to `url` (`ws://host:port/path?query`). Throws a
 * `TypeError` at once for a URL that is no `ws:` URL, or a header with a
 * line break; anything else is reported through `handlers`.
 */
export function connectUpstream(
  url: string,
  handlers: UpstreamHandlers,
  options: UpstreamOptions = {},
): UpstreamSocket {
  if (!url.startsWith("ws://")) {
    throw new TypeError(`not a ws: URL: ${url}`);
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      throw new TypeError(`handshake header ${name} has a line break`);
    }
  }
  const socket = new WebSocketClient(url, {
    headers: options.headers,
    maxPayload: options.maxMessageBytes ?? 64 << 20,
    perMessageDeflate: false,
    generateMask: zeroMask,
  });
  let opened = false;
  socket.on("open", () => {
    opened = true;
    handlers.onopen();
  });
  socket.on("message", (data, isBinary) =>
    handlers.onmessage(
      isBinary
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : new TextDecoder().decode(data),
    ));
  // Once open, a broken peer's error is told by the close code that follows.
  socket.on("error", (error) => {
    if (!opened) handlers.onerror(error);
  });
  socket.on(
    "close",
    (code, reason) => handlers.onclose(code, new TextDecoder().decode(reason)),
  );
  return {
    get readyState() {
      return socket.readyState;
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send: (data) => {
      if (socket.readyState === 1) socket.send(data);
    },
    close: (code, reason) => {
      if (socket.readyState === 0) return socket.terminate();
      socket.close(code, reason);
    },
  };
}

/**
 * The masking key of every frame the relay sends: zero, which makes masking
 * a no-op (`ws` then skips its byte-by-byte loop). Masking protects proxies
 * from script-chosen bytes in a browser's traffic; this client is the
 * gateway itself talking to the farm's own streamer.
 */
function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}
