// @ts-check
/**
 * The session's transport: one binary WebSocket at a time, reopened with
 * exponential backoff (and jitter) after a network drop. Every (re)connect
 * asks the page for a fresh URL, because connection tokens are single-use.
 *
 * A close with 1000 or 1001, or with an application code 4000–4999 (e.g.
 * 4000 "replaced by a newer connection", 4403 licence refused), means the
 * session is over: no reconnect. Anything else (1006 after a dropped network
 * or a refused handshake, 1011, 1012…) reconnects.
 *
 * @module
 */
import { MARK, mark } from "./marks.js";

/**
 * The tunnel's state, as reported to `onstate`.
 *
 * @typedef {{ state: "connecting", attempt: number }
 *   | { state: "connected" }
 *   | { state: "reconnecting", attempt: number, delayMs: number }
 *   | { state: "ended", reason: string, code?: number }} TunnelState
 */

/**
 * Thrown by a page's `connect()` when the session cannot be reached again
 * (e.g. the gateway no longer knows it): the tunnel ends instead of retrying.
 */
export class TunnelEndedError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "TunnelEndedError";
  }
}

/**
 * Whether a close code means the session ended for good.
 *
 * @param {number} code
 * @returns {boolean}
 */
export function isFinalClose(code) {
  return code === 1000 || code === 1001 || (code >= 4000 && code <= 4999);
}

/**
 * The delay before reconnect attempt `attempt` (1-based): `minMs` doubling up
 * to `maxMs`, then ±25 % jitter so many viewers of one host do not return in
 * step (never above `maxMs`).
 *
 * @param {number} attempt
 * @param {{ minMs?: number, maxMs?: number, random?: () => number }} [options]
 * @returns {number}
 */
export function backoffDelay(attempt, options = {}) {
  const min = options.minMs ?? 500;
  const max = options.maxMs ?? 10_000;
  const random = options.random ?? Math.random;
  const base = Math.min(max, min * 2 ** Math.max(0, attempt - 1));
  return Math.round(Math.min(max, base * (0.75 + random() * 0.5)));
}

/**
 * Options of a {@linkcode Tunnel}.
 *
 * @typedef {{
 *   connect: () => Promise<string>,
 *   minDelayMs?: number,
 *   maxDelayMs?: number,
 * }} TunnelOptions
 */

/** A reconnecting binary WebSocket. */
export class Tunnel {
  /** @type {(state: TunnelState) => void} */
  onstate = () => {};
  /** @type {(bytes: Uint8Array) => void} */
  onmessage = () => {};

  /** @type {WebSocket | undefined} */
  #socket;
  /** @type {TunnelOptions} */
  #options;
  /** @type {TunnelState} */
  #state = { state: "connecting", attempt: 0 };
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer;
  #retryNow = () => {};
  #onOnline = () => this.#retryNow();

  /** @param {TunnelOptions} options */
  constructor(options) {
    this.#options = options;
  }

  /** The current state. */
  get state() {
    return this.#state;
  }

  /** Bytes queued in the socket and not yet sent (0 without a socket). */
  get bufferedAmount() {
    return this.#socket?.bufferedAmount ?? 0;
  }

  /** Whether messages can be sent now. */
  get open() {
    return this.#socket?.readyState === WebSocket.OPEN;
  }

  /** Starts connecting. */
  start() {
    addEventListener("online", this.#onOnline);
    this.#connect();
  }

  /**
   * Sends one message; dropped when no socket is open.
   *
   * @param {Uint8Array} bytes
   * @returns {boolean} whether it was handed to the socket
   */
  send(bytes) {
    if (!this.open) return false;
    /** @type {WebSocket} */ (this.#socket).send(bytes);
    return true;
  }

  /**
   * Ends the tunnel for good.
   *
   * @param {string} [reason]
   * @param {number} [code] 1000 or 3000–4999
   */
  close(reason = "disconnected", code = 1000) {
    if (this.#state.state === "ended") return;
    const socket = this.#socket;
    this.#socket = undefined;
    if (socket) {
      socket.onclose = null;
      try {
        socket.close(code, reason.slice(0, 100));
      } catch {
        socket.close();
      }
    }
    this.#end(reason, code);
  }

  /** @param {TunnelState} state */
  #set(state) {
    this.#state = state;
    this.onstate(state);
  }

  /**
   * @param {string} reason
   * @param {number} [code]
   */
  #end(reason, code) {
    clearTimeout(this.#timer);
    removeEventListener("online", this.#onOnline);
    this.#set({ state: "ended", reason, code });
  }

  async #connect() {
    this.#set({ state: "connecting", attempt: this.#attempt });
    let url;
    try {
      url = await this.#options.connect();
    } catch (error) {
      if (this.#state.state === "ended") return;
      if (error instanceof TunnelEndedError) return this.#end(error.message);
      console.warn("webstream: cannot get a connection", error);
      return this.#retry();
    }
    if (this.#state.state === "ended") return;
    let socket;
    try {
      socket = new WebSocket(url);
    } catch (error) {
      return this.#end(`cannot connect: ${error}`);
    }
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    socket.onopen = () => {
      mark(MARK.open);
      this.#attempt = 0;
      this.#set({ state: "connected" });
    };
    socket.onmessage = (event) => {
      if (event.data instanceof ArrayBuffer) {
        this.onmessage(new Uint8Array(event.data));
      } else {
        console.warn("webstream: text message ignored");
      }
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (isFinalClose(event.code)) {
        this.#end(event.reason || closeText(event.code), event.code);
      } else {
        this.#retry();
      }
    };
  }

  #retry() {
    this.#attempt++;
    const delayMs = backoffDelay(this.#attempt, {
      minMs: this.#options.minDelayMs,
      maxMs: this.#options.maxDelayMs,
    });
    this.#retryNow = () => {
      clearTimeout(this.#timer);
      this.#retryNow = () => {};
      this.#connect();
    };
    this.#timer = setTimeout(this.#retryNow, delayMs);
    this.#set({ state: "reconnecting", attempt: this.#attempt, delayMs });
  }
}

/** @param {number} code */
function closeText(code) {
  if (code === 1000) return "session closed";
  if (code === 1001) return "session ended";
  return `closed (${code})`;
}
