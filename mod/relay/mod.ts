/**
 * The browser relay (the gateway's `/ws/:sessionId`, and `-sm`'s): a
 * browser WebSocket accepted by the server is joined to the streamer's
 * WebSocket, message for message in both directions. The streamer side is
 * {@linkcode connectUpstream}'s client, with Nagle's algorithm off. Messages
 * the browser sends before the streamer side is open are queued (bounded);
 * closing either side closes the other.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { connectUpstream, type UpstreamSocket } from "./upstream.ts";

/** Options for {@linkcode relayWebSocket}. */
export interface RelayOptions {
  /** Logger. */
  logger: Logger;
  /** Most bytes queued while the streamer side opens. Default 1 MiB. */
  maxQueuedBytes?: number;
  /** Most bytes waiting to reach a slow browser. Default 32 MiB. */
  maxBufferedBytes?: number;
  /** Told the size of every message relayed (for metrics). */
  count?: (direction: "to_host" | "to_browser", bytes: number) => void;
}

type Data = string | ArrayBuffer | ArrayBufferView;

/** Joins `browser` to a new WebSocket to `upstreamUrl`. */
export function relayWebSocket(
  browser: WebSocket,
  upstreamUrl: string,
  options: RelayOptions,
): void {
  const maxQueued = options.maxQueuedBytes ?? 1 << 20;
  const maxBuffered = options.maxBufferedBytes ?? 32 << 20;
  browser.binaryType = "arraybuffer";
  const queue: Data[] = [];
  let queued = 0;
  const count = options.count;
  let upstream: UpstreamSocket;
  try {
    upstream = connectUpstream(upstreamUrl, {
      onopen() {
        for (const data of queue.splice(0)) upstream.send(data);
      },
      onmessage(data) {
        count?.("to_browser", wireSize(data));
        if (browser.readyState !== WebSocket.OPEN) return;
        // WebSockets cannot push back: a viewer this far behind is cut off
        // rather than buffered without bound (the stream protocol's own flow
        // control keeps a healthy viewer far below this).
        if (browser.bufferedAmount > maxBuffered) {
          return closeBoth(1013, "the viewer cannot keep up");
        }
        // send() copies the bytes before it returns (data may be a view of
        // the upstream's read buffer).
        browser.send(data);
      },
      onclose(code, reason) {
        closeQuietly(browser, serverCode(code), reason || "session closed");
      },
      onerror(error) {
        options.logger.warn("relay could not reach the streamer", {
          error: error.message,
        });
        closeQuietly(browser, 1011, "session not reachable");
      },
    });
  } catch (error) {
    options.logger.warn("relay target is not a WebSocket URL", { error });
    browser.onopen = () => closeQuietly(browser, 1011, "session not reachable");
    return;
  }

  browser.onmessage = (event) => {
    const bytes = size(event.data);
    count?.("to_host", wireSize(event.data));
    if (upstream.readyState === WebSocket.OPEN) {
      if (upstream.bufferedAmount > maxBuffered) {
        return closeBoth(1013, "the session cannot keep up");
      }
      return upstream.send(event.data);
    }
    queued += bytes;
    if (queued > maxQueued) {
      return closeBoth(1009, "too much data before the session opened");
    }
    queue.push(event.data);
  };
  browser.onclose = (event) =>
    closeQuietly(upstream, clientCode(event.code), event.reason);
  browser.onerror = () => {};

  function closeBoth(code: number, reason: string): void {
    closeQuietly(browser, code, reason);
    closeQuietly(upstream, clientCode(code), reason);
  }
}

/**
 * Codes a server-side socket may send on close (1005/1006 are reserved). A
 * streamer that went away without a close frame (0 in Deno, 1006 elsewhere:
 * its process died, and it is being restarted) becomes 1012, Service
 * Restart: the browser reconnects rather than taking it as the end.
 */
function serverCode(code: number): number {
  if (code === 0 || code === 1006) return 1012;
  return code === 1000 || (code >= 1001 && code <= 1003) ||
      (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
    ? code
    : 1000;
}

/** A client socket may only close with 1000 or 3000-4999. */
function clientCode(code: number): number {
  return code >= 3000 && code <= 4999 ? code : 1000;
}

function closeQuietly(
  socket: WebSocket | UpstreamSocket,
  code: number,
  reason: string,
): void {
  if (
    socket.readyState === WebSocket.CLOSING ||
    socket.readyState === WebSocket.CLOSED
  ) {
    return;
  }
  try {
    socket.close(code, reason.slice(0, 120));
  } catch {
    // Closing already.
  }
}

/** Bytes a message takes on the wire (UTF-8 for text). */
function wireSize(data: Data): number {
  if (typeof data !== "string") return size(data);
  let bytes = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data.charCodeAt(i);
    // Surrogate pairs count 2 + 2 = 4 bytes, as UTF-8 encodes them.
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c >= 0xd800 && c < 0xe000 ? 2 : 3;
  }
  return bytes;
}

/** A conservative size for the queue bound (2 bytes per UTF-16 unit). */
function size(data: Data): number {
  if (typeof data === "string") return data.length * 2;
  return data.byteLength;
}
