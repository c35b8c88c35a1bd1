/**
 * The streamer's browser-facing WebSocket (`/stream?token=…`). Until media
 * arrives (a later protocol version), a viewer receives `hello` and may
 * `ping`; the messages are JSON text, documented in `docs/protocol.md`.
 *
 * @module
 */

/** Protocol name sent in `hello`. */
export const VIEWER_PROTOCOL = "webstream/0";

/** A message from the streamer to the viewer. */
export type ViewerOutbound =
  | { type: "hello"; protocol: string; sessionUuid: string }
  | { type: "pong"; id: unknown; time: number }
  | { type: "error"; message: string };

/** A message from the viewer, once decoded. */
export type ViewerInbound = { type: "ping"; id: unknown };

/** Decodes a viewer message; undefined for anything not understood. */
export function decodeViewerMessage(data: unknown): ViewerInbound | undefined {
  if (typeof data !== "string" || data.length > 4096) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (
    value && typeof value === "object" &&
    (value as { type?: unknown }).type === "ping"
  ) {
    return { type: "ping", id: (value as { id?: unknown }).id ?? null };
  }
  return undefined;
}

/** Sends a message if the socket is open. */
export function sendViewer(socket: WebSocket, message: ViewerOutbound): void {
  if (socket.readyState === WebSocket.OPEN) {
    socket.send(JSON.stringify(message));
  }
}
