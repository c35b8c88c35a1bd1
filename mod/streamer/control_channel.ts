/**
 * The streamer's `/control` WebSocket to the session manager. On open it
 * identifies the streamer with `REQUEST_SESSION_INFO:{username}`; each
 * message from the manager (`SESSION_INFO`, `VIEWER_SETTINGS`,
 * `CONNECTION_TOKEN`, `FILE_UPLOAD_COMPLETE`) is decoded and handed to the
 * handler for its type; the streamer's own messages (`CLIENT_CONNECTED`,
 * `CLIENT_DISCONNECTED`, `UPLOAD_LANDED`, `TOKEN_ARMED`) go back with
 * {@linkcode ControlChannel.send}. A malformed message closes the channel
 * with 4008.
 *
 * The session outlives its session manager: when the connection drops
 * without a close frame (the manager crashed or was restarted) or the
 * manager says "try again later" (1013), a streamer that has its identity
 * reconnects with backoff and sends `RESUME_SESSION:{username}|{sessionUuid}`
 * instead. A close the manager means (1000 recycled, 1001 shutting down,
 * 1008 refused…) ends the channel for good. An outage longer than
 * `orphanTimeoutMs`, or a manager that comes back and refuses the session
 * (1008 to `RESUME_SESSION`), ends it as orphaned: nobody owns the session
 * any more, and the streamer ends it.
 *
 * A client may only close with 1000 or 3000-4999: webstream uses 4000 + the
 * matching server code (4008 policy violation, 4011 internal error, 4403
 * forbidden).
 *
 * @module
 */
import {
  ControlCodecError,
  decodeControl,
  encodeControl,
  type ManagerMessage,
  type StreamerMessage,
} from "../control/codec.ts";
import type { Logger } from "../log/mod.ts";
import type { Timer } from "../util/async.ts";

/** One handler per message type the session manager sends. */
export type ControlHandlers = {
  [K in ManagerMessage["type"]]: (
    message: Extract<ManagerMessage, { type: K }>,
  ) => void;
};

/** How the control channel ended. */
export interface ControlClosed {
  /** The last close code. */
  code: number;
  /** The last close reason (may be empty). */
  reason: string;
  /**
   * True when the session manager stayed unreachable for the orphan
   * timeout: nobody owns the session any more.
   */
  orphaned: boolean;
}

/** Options for {@linkcode ControlChannel}. */
export interface ControlChannelOptions {
  /** The pool account the streamer identifies as. */
  username: string;
  /** What to do with each message from the session manager. */
  handlers: ControlHandlers;
  /** Logger. */
  logger: Logger;
  /**
   * The session this streamer serves once it has one: a drop is then
   * followed by reconnects naming it. Without one (or without this
   * option), the first close ends the channel.
   */
  resumeAs?: () => string | undefined;
  /**
   * How long the manager may stay unreachable before the channel gives up
   * as orphaned. Default 300 000 ms.
   */
  orphanTimeoutMs?: number;
  /** The manager took the session back after a drop. */
  onResumed?: () => void;
  /** Reconnect delays: `minMs` doubling up to `maxMs`. Default 250 / 2000. */
  retry?: { minMs: number; maxMs: number };
}

/**
 * Close codes after which a streamer with an identity reconnects: no close
 * frame (the manager's process died: 1006 in browsers, 0 in Deno; 1005 for
 * a frame without a code), and the manager's own "internal error",
 * "restarting" and "try again later" (1011-1014).
 */
export function reconnects(code: number): boolean {
  return code === 0 || code === 1005 || code === 1006 ||
    (code >= 1011 && code <= 1014);
}

/** The connection to the session manager's `/control`. */
export class ControlChannel {
  /** Settles once, when the channel has ended for good. */
  readonly closed: Promise<ControlClosed>;
  readonly #url: string;
  readonly #options: ControlChannelOptions;
  readonly #ended = Promise.withResolvers<ControlClosed>();
  #socket: WebSocket;
  #done = false;
  /** Set while the manager is unreachable: when the channel gives up. */
  #orphanTimer?: Timer;
  #retryTimer?: Timer;
  #attempt = 0;
  /** The session named by the `RESUME_SESSION` of the current socket. */
  #resuming?: string;

  /** Connects to `url` (the session manager's `/control`). */
  constructor(url: string, options: ControlChannelOptions) {
    this.#url = url;
    this.#options = options;
    this.closed = this.#ended.promise;
    this.#socket = this.#open();
  }

  /** Whether the manager is connected right now. */
  get connected(): boolean {
    return this.#socket.readyState === WebSocket.OPEN && !this.#resuming;
  }

  /** Sends `message` if the channel is open (else it is dropped). */
  send(message: StreamerMessage): void {
    if (this.#socket.readyState === WebSocket.OPEN) {
      this.#socket.send(encodeControl(message));
    }
  }

  /** Closes the channel for good (`code` 1000 or 3000-4999). */
  close(code: number, reason: string): void {
    if (this.#socket.readyState === WebSocket.CLOSED) {
      this.#finish({ code, reason, orphaned: false });
      return;
    }
    this.#done = true; // no reconnect after this close
    this.#socket.close(code, reason);
  }

  #open(): WebSocket {
    const socket = new WebSocket(this.#url);
    const resumeAs = this.#attempt > 0 ? this.#options.resumeAs?.() : undefined;
    this.#resuming = resumeAs;
    socket.onopen = () =>
      this.send(
        resumeAs
          ? {
            type: "RESUME_SESSION",
            username: this.#options.username,
            sessionUuid: resumeAs,
          }
          : { type: "REQUEST_SESSION_INFO", username: this.#options.username },
      );
    socket.onmessage = (event) => {
      if (socket !== this.#socket) return;
      if (this.#resuming) this.#resumed();
      this.#receive(event.data);
    };
    socket.onerror = () => {};
    socket.onclose = (event) => {
      if (socket !== this.#socket) return;
      this.#dropped({ code: event.code, reason: event.reason });
    };
    return socket;
  }

  /** The manager answered a `RESUME_SESSION`: the session is owned again. */
  #resumed(): void {
    const { logger } = this.#options;
    logger.info("control channel resumed", { sessionUuid: this.#resuming });
    this.#resuming = undefined;
    this.#attempt = 0;
    clearTimeout(this.#orphanTimer);
    this.#orphanTimer = undefined;
    this.#options.onResumed?.();
  }

  #dropped(closed: { code: number; reason: string }): void {
    const session = this.#options.resumeAs?.();
    if (this.#resuming && closed.code === 1008) {
      // The manager is back and does not know the session: nobody will
      // ever log it off.
      this.#options.logger.warn("session manager refused the session", {
        reason: closed.reason,
      });
      this.#finish({ ...closed, orphaned: true });
      return;
    }
    if (this.#done || !session || !reconnects(closed.code)) {
      this.#finish({ ...closed, orphaned: false });
      return;
    }
    const { logger } = this.#options;
    if (this.#orphanTimer === undefined) {
      const timeoutMs = this.#options.orphanTimeoutMs ?? 300_000;
      logger.warn("control channel lost; reconnecting", {
        code: closed.code,
        orphanTimeoutSeconds: timeoutMs / 1000,
      });
      this.#orphanTimer = setTimeout(() => {
        clearTimeout(this.#retryTimer);
        this.#done = true;
        this.#socket.onclose = null;
        try {
          this.#socket.close();
        } catch {
          // Not open.
        }
        this.#finish({ ...closed, orphaned: true });
      }, timeoutMs);
    }
    const { minMs, maxMs } = this.#options.retry ??
      { minMs: 250, maxMs: 2000 };
    const delay = Math.min(maxMs, minMs * 2 ** Math.min(this.#attempt, 10));
    this.#attempt++;
    this.#retryTimer = setTimeout(() => {
      if (!this.#done) this.#socket = this.#open();
    }, delay);
  }

  #finish(closed: ControlClosed): void {
    this.#done = true;
    clearTimeout(this.#orphanTimer);
    clearTimeout(this.#retryTimer);
    this.#ended.resolve(closed);
  }

  #receive(data: unknown): void {
    let message: ManagerMessage;
    try {
      message = decodeControl(data, { from: "manager" }) as ManagerMessage;
    } catch (error) {
      if (!(error instanceof ControlCodecError)) throw error;
      this.#options.logger.error("malformed control message", {
        reason: error.message,
      });
      this.close(4008, "malformed message");
      return;
    }
    const handle = this.#options.handlers[message.type] as (
      message: ManagerMessage,
    ) => void;
    handle(message);
  }
}
