/**
 * The relay's side towards the streamer: a WebSocket client (RFC 6455, `ws:`
 * only) on a TCP connection with Nagle's algorithm off.
 *
 * Deno's `WebSocket` client leaves Nagle on and offers no way to turn it
 * off, so a small message sent while an earlier one is unacknowledged (a
 * pointer move, then the frame's `ACK`) waits for the streamer's delayed TCP
 * acknowledgement, up to 40 ms; through the gateway the stream then crawls
 * (see docs/benchmarks.md). This client sets `TCP_NODELAY`, writes what
 * queued up meanwhile in one go, and reads large frames straight into their
 * own buffer.
 *
 * @module
 */

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

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// Per relayed connection: small, since most streamed bytes come in frames
// larger than this, which are read into their own buffer.
const READ_BUFFER = 16 * 1024;
const MAX_HEAD = 16 * 1024;
const CLOSE_TIMEOUT_MS = 5000;
const OP = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 };
const encoder = new TextEncoder();

/** Raised for a peer that breaks the protocol; closes with `code`. */
class ProtocolFailure extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/**
 * Opens a WebSocket to `url` (`ws://host:port/path?query`). Throws a
 * `TypeError` at once for a URL that is no `ws:` URL; anything else is
 * reported through `handlers`.
 */
export function connectUpstream(
  url: string,
  handlers: UpstreamHandlers,
  options: UpstreamOptions = {},
): UpstreamSocket {
  const target = new URL(url);
  if (target.protocol !== "ws:") {
    throw new TypeError(`not a ws: URL: ${target.protocol}`);
  }
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (/[\r\n]/.test(name + value)) {
      throw new TypeError(`header ${JSON.stringify(name)} has a line break`);
    }
  }
  const maxMessage = options.maxMessageBytes ?? 64 << 20;
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let state: ReadyState = 0;
  let conn: Deno.TcpConn | undefined;
  let buffered = 0;
  let pending: { frame: Uint8Array; payload: number }[] = [];
  let writing = false;
  let closeSent = false;
  let closeTimer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  let afterWrites: (() => void) | undefined;

  const socket: UpstreamSocket = {
    get readyState() {
      return state;
    },
    get bufferedAmount() {
      return buffered;
    },
    send(data) {
      if (state !== 1) return;
      const text = typeof data === "string";
      const payload = text ? encoder.encode(data) : bytesOf(data);
      queue(text ? OP.text : OP.binary, payload);
    },
    close(code = 1000, reason = "") {
      if (state === 0) {
        state = 3;
        conn?.close();
        return;
      }
      if (state !== 1) return;
      sendClose(code, reason);
    },
  };

  run().catch(() => {});
  return socket;

  async function run(): Promise<void> {
    let rest: Uint8Array;
    try {
      conn = await Deno.connect({
        hostname: target.hostname.replace(/^\[(.*)\]$/, "$1"),
        port: Number(target.port || 80),
      });
      if (state !== 0) return conn.close();
      conn.setNoDelay(true);
      rest = await handshake(conn, target, options.headers ?? {});
    } catch (error) {
      try {
        conn?.close();
      } catch {
        // Closed already.
      }
      if (state === 3) return;
      state = 3;
      handlers.onerror(error as Error);
      handlers.onclose(1006, "");
      return;
    }
    if (state !== 0) return conn.close();
    state = 1;
    handlers.onopen();
    await readFrames(conn, rest);
  }

  async function readFrames(c: Deno.TcpConn, rest: Uint8Array): Promise<void> {
    let buf = new Uint8Array(Math.max(READ_BUFFER, rest.length));
    buf.set(rest);
    let start = 0;
    let end = rest.length;
    const fragments: Uint8Array[] = [];
    let fragmentOp = 0;
    let fragmentBytes = 0;
    try {
      for (;;) {
        // Every complete frame in the buffer.
        for (;;) {
          const header = parseHeader(buf, start, end, maxMessage);
          if (!header) break;
          const { fin, op, length, size } = header;
          let payload: Uint8Array;
          if (end - start - size >= length) {
            payload = buf.subarray(start + size, start + size + length);
            start += size + length;
          } else if (op >= 8) {
            break; // A control frame (≤ 125 bytes) still arriving.
          } else {
            // A large frame: read the rest straight into its own buffer.
            payload = new Uint8Array(length);
            payload.set(buf.subarray(start + size, end));
            let filled = end - start - size;
            start = end = 0;
            while (filled < length) {
              const n = await c.read(payload.subarray(filled));
              if (n === null) return finish(1006, "");
              filled += n;
            }
          }
          if (op === OP.close) return onCloseFrame(payload);
          if (op === OP.ping) {
            queue(OP.pong, payload.slice());
            continue;
          }
          if (op === OP.pong) continue;
          if (op === OP.continuation) {
            if (!fragments.length) {
              throw new ProtocolFailure(1002, "unexpected continuation");
            }
          } else if (fragments.length) {
            throw new ProtocolFailure(1002, "a new message inside another");
          } else if (fin) {
            deliver(op, payload);
            continue;
          } else {
            fragmentOp = op;
          }
          fragmentBytes += payload.length;
          if (fragmentBytes > maxMessage) {
            throw new ProtocolFailure(1009, "message too big");
          }
          fragments.push(payload.slice());
          if (fin) {
            deliver(fragmentOp, concat(fragments.splice(0), fragmentBytes));
            fragmentBytes = 0;
          }
        }
        if (start === end) start = end = 0;
        else if (start > 0 && buf.length - end < READ_BUFFER / 4) {
          buf.copyWithin(0, start, end);
          end -= start;
          start = 0;
        }
        if (end === buf.length) {
          const bigger = new Uint8Array(buf.length * 2);
          bigger.set(buf.subarray(start, end));
          end -= start;
          start = 0;
          buf = bigger;
        }
        const n = await c.read(buf.subarray(end));
        if (n === null) return finish(1006, "");
        end += n;
      }
    } catch (error) {
      if (error instanceof ProtocolFailure) {
        sendClose(error.code, error.message);
        return finish(error.code, error.message);
      }
      return finish(1006, "");
    }
  }

  function deliver(op: number, payload: Uint8Array): void {
    if (state !== 1) return;
    if (op === OP.text) {
      let text: string;
      try {
        text = decoder.decode(payload);
      } catch {
        throw new ProtocolFailure(1007, "text that is not UTF-8");
      }
      handlers.onmessage(text);
    } else {
      handlers.onmessage(payload);
    }
  }

  function onCloseFrame(payload: Uint8Array): void {
    const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
    let reason = "";
    try {
      reason = decoder.decode(payload.subarray(2));
    } catch {
      // A reason that is not UTF-8 is dropped.
    }
    if (!closeSent) sendClose(code === 1005 ? 1000 : code, "");
    finish(code, reason);
  }

  function sendClose(code: number, reason: string): void {
    if (closeSent) return;
    closeSent = true;
    if (state === 1) state = 2;
    const bytes = encoder.encode(reason).subarray(0, 123);
    const payload = new Uint8Array(2 + bytes.length);
    payload[0] = code >> 8;
    payload[1] = code & 0xff;
    payload.set(bytes, 2);
    queue(OP.close, payload);
    // A peer that never answers does not keep the connection.
    closeTimer = setTimeout(() => finish(1006, ""), CLOSE_TIMEOUT_MS);
  }

  /** Ends the connection once what is queued (a close frame) is written. */
  function finish(code: number, reason: string): void {
    if (ended) return;
    ended = true;
    state = 3;
    clearTimeout(closeTimer);
    const done = (): void => {
      try {
        conn?.close();
      } catch {
        // Closed already.
      }
    };
    if (writing) afterWrites = done;
    else done();
    handlers.onclose(code, reason);
  }

  function queue(op: number, payload: Uint8Array): void {
    const frame = encodeFrame(op, payload);
    pending.push({ frame, payload: payload.length });
    buffered += payload.length;
    if (!writing) flush();
  }

  async function flush(): Promise<void> {
    writing = true;
    try {
      while (pending.length && conn) {
        // What queued up while the last write ran goes out in one write.
        const batch = pending;
        pending = [];
        const bytes = batch.length === 1
          ? batch[0].frame
          : concat(batch.map((b) => b.frame));
        for (let at = 0; at < bytes.length;) {
          at += await conn.write(bytes.subarray(at));
        }
        for (const b of batch) buffered -= b.payload;
      }
    } catch {
      pending = [];
      buffered = 0;
      finish(1006, "");
    } finally {
      writing = false;
      afterWrites?.();
      afterWrites = undefined;
    }
  }
}

/** Sends the upgrade request; returns the bytes read past the response head. */
async function handshake(
  conn: Deno.TcpConn,
  url: URL,
  headers: Record<string, string>,
): Promise<Uint8Array> {
  const key = btoa(
    String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))),
  );
  const request = `GET ${url.pathname}${url.search} HTTP/1.1\r\n` +
    `Host: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
    Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("") +
    "\r\n";
  const out = encoder.encode(request);
  for (let at = 0; at < out.length;) at += await conn.write(out.subarray(at));
  const buf = new Uint8Array(MAX_HEAD);
  let end = 0;
  let headEnd = -1;
  while (headEnd < 0) {
    if (end === buf.length) throw new Error("the upgrade response is too long");
    const n = await conn.read(buf.subarray(end));
    if (n === null) throw new Error("the streamer closed during the upgrade");
    end += n;
    headEnd = indexOfBlankLine(buf, end);
  }
  const head = new TextDecoder().decode(buf.subarray(0, headEnd));
  const [status, ...lines] = head.split("\r\n");
  if (!/^HTTP\/1\.1 101 /.test(status + " ")) {
    throw new Error(`the streamer answered the upgrade with ${status}`);
  }
  const accept = lines.find((l) => /^sec-websocket-accept:/i.test(l))
    ?.replace(/^[^:]*:\s*/, "").trim();
  const digest = await crypto.subtle.digest(
    "SHA-1",
    encoder.encode(key + GUID),
  );
  if (accept !== btoa(String.fromCharCode(...new Uint8Array(digest)))) {
    throw new Error("the streamer's Sec-WebSocket-Accept is wrong");
  }
  return buf.slice(headEnd + 4, end);
}

function indexOfBlankLine(buf: Uint8Array, end: number): number {
  for (let i = 0; i + 3 < end; i++) {
    if (
      buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 &&
      buf[i + 3] === 10
    ) return i;
  }
  return -1;
}

/** A frame header at `start`, or undefined while it is incomplete. */
function parseHeader(
  buf: Uint8Array,
  start: number,
  end: number,
  maxMessage: number,
): { fin: boolean; op: number; length: number; size: number } | undefined {
  if (end - start < 2) return undefined;
  const b0 = buf[start];
  const b1 = buf[start + 1];
  if (b0 & 0x70) throw new ProtocolFailure(1002, "reserved bits set");
  if (b1 & 0x80) throw new ProtocolFailure(1002, "a masked server frame");
  const op = b0 & 0x0f;
  if (![0, 1, 2, 8, 9, 10].includes(op)) {
    throw new ProtocolFailure(1002, `unknown opcode ${op}`);
  }
  const fin = (b0 & 0x80) !== 0;
  let length = b1 & 0x7f;
  let size = 2;
  if (op >= 8 && (length > 125 || !fin)) {
    throw new ProtocolFailure(1002, "a bad control frame");
  }
  if (length === 126) {
    if (end - start < 4) return undefined;
    length = (buf[start + 2] << 8) | buf[start + 3];
    size = 4;
  } else if (length === 127) {
    if (end - start < 10) return undefined;
    const view = new DataView(buf.buffer, buf.byteOffset + start + 2, 8);
    const big = view.getBigUint64(0);
    if (big > BigInt(maxMessage)) {
      throw new ProtocolFailure(1009, "message too big");
    }
    length = Number(big);
    size = 10;
  }
  if (length > maxMessage) throw new ProtocolFailure(1009, "message too big");
  return { fin, op, length, size };
}

/** A masked client frame (FIN set). */
function encodeFrame(op: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const size = n < 126 ? 2 : n < 65536 ? 4 : 10;
  // Padded in front so that the payload starts 4-byte aligned: masked a
  // word at a time.
  const pad = (4 - ((size + 4) & 3)) & 3;
  const frame = new Uint8Array(pad + size + 4 + n).subarray(pad);
  frame[0] = 0x80 | op;
  if (n < 126) {
    frame[1] = 0x80 | n;
  } else if (n < 65536) {
    frame[1] = 0x80 | 126;
    frame[2] = n >> 8;
    frame[3] = n & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(frame.buffer, pad).setBigUint64(2, BigInt(n));
  }
  const mask = crypto.getRandomValues(frame.subarray(size, size + 4));
  const body = size + 4;
  frame.set(payload, body);
  const words = n >> 2;
  const wordMask = new Uint32Array(mask.slice().buffer)[0];
  const view = new Uint32Array(frame.buffer, pad + body, words);
  for (let i = 0; i < words; i++) view[i] ^= wordMask;
  for (let i = words << 2; i < n; i++) frame[body + i] ^= mask[i & 3];
  return frame;
}

function bytesOf(data: ArrayBuffer | ArrayBufferView): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function concat(parts: Uint8Array[], total?: number): Uint8Array {
  const out = new Uint8Array(total ?? parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
