/**
 * WebSocket helpers for tests: open a socket (or learn why it failed), and
 * read messages in order.
 *
 * @module
 */
import {
  type ClientMessage,
  decodeStreamerMessage,
  encodeClientMessage,
  PROTOCOL,
  type StreamerMessage,
} from "../../httpdocs/session/protocol.js";

/** A WebSocket with a queue of received messages. */
export interface TestSocket {
  /** The socket. */
  socket: WebSocket;
  /** Resolves with the next message's data. */
  next(timeoutMs?: number): Promise<string | ArrayBuffer>;
  /** Resolves with the next message parsed as JSON. */
  nextJson(timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves with the close event. */
  closed: Promise<CloseEvent>;
  /** Closes the socket and waits for it to be closed. */
  close(): Promise<void>;
}

/**
 * Opens `url`, with handshake `headers` if given (such as a `Cookie`; Deno
 * accepts them in the WebSocket options); rejects if the connection fails or
 * closes before opening.
 */
export function openSocket(
  url: string,
  protocols?: string[],
  headers?: HeadersInit,
): Promise<TestSocket> {
  const socket = headers === undefined
    ? new WebSocket(url, protocols)
    : new WebSocket(url, { protocols, headers });
  socket.binaryType = "arraybuffer";
  const queue: (string | ArrayBuffer)[] = [];
  const waiters: ((data: string | ArrayBuffer) => void)[] = [];
  const closed = Promise.withResolvers<CloseEvent>();
  socket.onmessage = (event) => {
    const waiter = waiters.shift();
    if (waiter) waiter(event.data);
    else queue.push(event.data);
  };
  socket.onclose = (event) => closed.resolve(event);
  return new Promise((resolve, reject) => {
    socket.onopen = () => {
      const next = (timeoutMs = 10_000): Promise<string | ArrayBuffer> => {
        const queued = queue.shift();
        if (queued !== undefined) return Promise.resolve(queued);
        return new Promise((res, rej) => {
          const timer = setTimeout(
            () => rej(new Error("no message in time")),
            timeoutMs,
          );
          closed.promise.then((e) => {
            clearTimeout(timer);
            rej(new Error(`socket closed (${e.code} ${e.reason})`));
          });
          waiters.push((data) => {
            clearTimeout(timer);
            res(data);
          });
        });
      };
      resolve({
        socket,
        next,
        nextJson: async (timeoutMs) =>
          JSON.parse(String(await next(timeoutMs))),
        closed: closed.promise,
        async close() {
          if (socket.readyState !== WebSocket.CLOSED) socket.close();
          await closed.promise;
        },
      });
    };
    socket.onerror = () => {};
    closed.promise.then((event) =>
      reject(new Error(`connection failed (${event.code})`))
    );
  });
}

/** Whether opening a WebSocket to `url` fails (if it opens, it is closed). */
export async function refused(url: string): Promise<boolean> {
  try {
    const ws = await openSocket(url);
    await ws.close();
    return false;
  } catch {
    return true;
  }
}

/** A `webstream/2` message from the streamer, of type `T`. */
export type StreamerMessageOf<T extends StreamerMessage["type"]> = Extract<
  StreamerMessage,
  { type: T }
>;

/**
 * Reads `webstream/2` messages from `ws` until one of `type` arrives (frames,
 * cursors and anything else before it are skipped).
 */
export async function nextStreamerMessage<T extends StreamerMessage["type"]>(
  ws: TestSocket,
  type: T,
  options: { timeoutMs?: number } = {},
): Promise<StreamerMessageOf<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  while (true) {
    const data = await ws.next(Math.max(1, deadline - Date.now()));
    if (typeof data === "string") {
      throw new Error(`expected binary webstream/2, got text: ${data}`);
    }
    const message = decodeStreamerMessage(new Uint8Array(data));
    if (message.type === type) return message as StreamerMessageOf<T>;
  }
}

/** Sends a `webstream/2` message to the streamer. */
export function sendClient(ws: TestSocket, message: ClientMessage): void {
  ws.socket.send(encodeClientMessage(message));
}

/**
 * The `webstream/2` greeting and a ping: checks `hello` (its protocol) and
 * that the ping is answered; resolves with the hello.
 */
export async function helloAndPing(
  ws: TestSocket,
): Promise<StreamerMessageOf<"hello">["hello"]> {
  const { hello } = await nextStreamerMessage(ws, "hello");
  if (hello.protocol !== PROTOCOL) {
    throw new Error(`protocol ${hello.protocol}, expected ${PROTOCOL}`);
  }
  const id = Math.floor(Math.random() * 1e9);
  sendClient(ws, { type: "ping", id });
  const pong = await nextStreamerMessage(ws, "pong");
  if (pong.id !== id) throw new Error(`pong ${pong.id}, expected ${id}`);
  return hello;
}
