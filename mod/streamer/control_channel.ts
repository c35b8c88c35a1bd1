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

/** One handler per message type the session manager sends. */
export type ControlHandlers = {
  [K in ManagerMessage["type"]]: (
    message: Extract<ManagerMessage, { type: K }>,
  ) => void;
};

/** How the control channel closed. */
export interface ControlClosed {
  /** The close code. */
  code: number;
  /** The close reason (may be empty). */
  reason: string;
}

/** Options for {@linkcode ControlChannel}. */
export interface ControlChannelOptions {
  /** The pool account the streamer identifies as. */
  username: string;
  /** What to do with each message from the session manager. */
  handlers: ControlHandlers;
  /** Logger. */
  logger: Logger;
}

/** The connection to the session manager's `/control`. */
export class ControlChannel {
  /** Settles once, when the channel has closed (from either side). */
  readonly closed: Promise<ControlClosed>;
  readonly #socket: WebSocket;
  readonly #options: ControlChannelOptions;

  /** Connects to `url` (the session manager's `/control`). */
  constructor(url: string, options: ControlChannelOptions) {
    this.#options = options;
    const closed = Promise.withResolvers<ControlClosed>();
    this.closed = closed.promise;
    const socket = new WebSocket(url);
    this.#socket = socket;
    socket.onopen = () =>
      this.send({ type: "REQUEST_SESSION_INFO", username: options.username });
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onerror = () => {};
    socket.onclose = (event) =>
      closed.resolve({ code: event.code, reason: event.reason });
  }

  /** Sends `message` if the channel is open (else it is dropped). */
  send(message: StreamerMessage): void {
    if (this.#socket.readyState === WebSocket.OPEN) {
      this.#socket.send(encodeControl(message));
    }
  }

  /** Closes the channel (`code` 1000 or 3000-4999). */
  close(code: number, reason: string): void {
    this.#socket.close(code, reason);
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
