/**
 * WebSocket helpers for tests: open a socket (or learn why it failed), and
 * read messages in order.
 *
 * @module
 */

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
