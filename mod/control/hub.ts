/**
 * The session manager's side of `/control`: accepts streamer WebSockets,
 * decodes their messages and hands them to a {@linkcode StreamerDirectory}
 * (the session pool). A malformed or unexpected message closes that one
 * connection; nothing else is touched.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import {
  ControlCodecError,
  decodeControl,
  encodeControl,
  type ManagerMessage,
  type StreamerMessage,
} from "./codec.ts";

/** One identified streamer connection, as the pool sees it. */
export interface StreamerLink {
  /** The pool account the streamer identified as. */
  readonly username: string;
  /**
   * The session a reconnecting streamer says it serves (`RESUME_SESSION`);
   * undefined for a streamer asking for its identity
   * (`REQUEST_SESSION_INFO`).
   */
  readonly resumes?: string;
  /** Sends a message; returns false if the connection is already gone. */
  send(message: ManagerMessage): boolean;
  /** Closes the connection (policy violation unless a code is given). */
  close(reason: string, code?: number): void;
}

/**
 * What the pool answers when a streamer identifies itself: accepted with a
 * reply, refused (closed with 1008), or "not now" (`retry`: closed with
 * 1013, Try Again Later, so a reconnecting streamer tries again; e.g. the
 * pool is still taking its sessions back after a restart).
 */
export type AttachResult =
  | {
    ok: true;
    reply: ManagerMessage;
    /** Sent right after `reply`, in order. */
    then?: ManagerMessage[];
  }
  | { ok: false; reason: string; retry?: boolean };

/** How an attached streamer's control connection closed. */
export interface LinkClosed {
  /**
   * The WebSocket close code: the streamer's own (4000–4999 when it ended
   * its session on purpose), or 0 (Deno; 1006 elsewhere) when the
   * connection dropped without a close frame (the process died).
   */
  code: number;
  /** The close reason (may be empty). */
  reason: string;
}

/** The pool's side of the control channel. */
export interface StreamerDirectory {
  /**
   * A streamer sent `REQUEST_SESSION_INFO` (or `RESUME_SESSION`, then
   * `link.resumes` is set); accept it or say why not.
   */
  attach(link: StreamerLink): AttachResult;
  /** A later message from an attached streamer. */
  message(link: StreamerLink, message: StreamerMessage): void;
  /** An attached streamer's connection closed, and how. */
  detach(link: StreamerLink, closed?: LinkClosed): void;
}

/** The close code for "try again later" (RFC 6455's 1013). */
export const TRY_AGAIN_LATER = 1013;

/** Decides whether a connecting peer may claim a pool account. */
export type PeerVerifier = (
  username: string,
  peer: Deno.NetAddr,
) => Promise<boolean>;

/** Options for {@linkcode acceptControlSocket}. */
export interface ControlSocketOptions {
  /** The pool. */
  directory: StreamerDirectory;
  /** Where the streamer connected from. */
  peer: Deno.NetAddr;
  /** Checks that the peer process really runs as the claimed account. */
  verifyPeer?: PeerVerifier;
  /** Logger for rejected connections. */
  logger: Logger;
  /** How long a streamer has to identify itself. Default 10 s. */
  identifyTimeoutMs?: number;
}

/**
 * True for a loopback address or one of this machine's own interface
 * addresses: a connection from there comes from a process on this host.
 */
export function isLocalAddress(hostname: string): boolean {
  if (isLoopback(hostname)) return true;
  const host = hostname.replace(/^\[|\]$/g, "").replace(/^::ffff:/i, "");
  try {
    return Deno.networkInterfaces().some((i) => i.address === host);
  } catch {
    return false;
  }
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback addresses. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  return host === "::1" || /^(::ffff:)?127\.\d+\.\d+\.\d+$/i.test(host);
}

/**
 * Runs the control protocol on an upgraded WebSocket. The first message must
 * be `REQUEST_SESSION_INFO` (or `RESUME_SESSION` from a streamer that
 * reconnects); afterwards the streamer's messages go to the directory until
 * the socket closes.
 */
export function acceptControlSocket(
  socket: WebSocket,
  options: ControlSocketOptions,
): void {
  const { directory, peer, logger } = options;
  const where = `${peer.hostname}:${peer.port}`;
  let link: StreamerLink | undefined;
  let identifying = false;
  let closed = false;

  const reject = (reason: string, retry = false): void => {
    logger.warn("control connection rejected", { peer: where, reason });
    closeSocket(socket, retry ? TRY_AGAIN_LATER : 1008, reason);
  };

  const timer = setTimeout(
    () => link || reject("did not identify in time"),
    options.identifyTimeoutMs ?? 10_000,
  );

  socket.onmessage = async (event) => {
    let message: StreamerMessage;
    try {
      message = decodeControl(event.data, {
        from: "streamer",
      }) as StreamerMessage;
    } catch (error) {
      if (!(error instanceof ControlCodecError)) throw error;
      return reject(`malformed message: ${error.message}`);
    }
    if (link) {
      if (
        message.type === "REQUEST_SESSION_INFO" ||
        message.type === "RESUME_SESSION"
      ) {
        return reject("already identified");
      }
      return directory.message(link, message);
    }
    if (
      message.type !== "REQUEST_SESSION_INFO" &&
      message.type !== "RESUME_SESSION"
    ) {
      return reject(`expected REQUEST_SESSION_INFO first, got ${message.type}`);
    }
    if (identifying) return reject("already identifying");
    identifying = true;
    const { username } = message;
    let verified = true;
    if (options.verifyPeer) {
      // A failing check is a refusal, never a crash of the session manager.
      verified = await options.verifyPeer(username, peer).catch(() => false);
    }
    if (!verified) {
      return reject(`peer does not run as pool account ${username}`);
    }
    if (closed) return;
    const candidate = createLink(
      socket,
      username,
      message.type === "RESUME_SESSION" ? message.sessionUuid : undefined,
    );
    const result = directory.attach(candidate);
    if (!result.ok) return reject(result.reason, result.retry);
    clearTimeout(timer);
    link = candidate;
    candidate.send(result.reply);
    for (const message of result.then ?? []) candidate.send(message);
  };
  socket.onclose = (event) => {
    closed = true;
    clearTimeout(timer);
    if (link) {
      directory.detach(link, { code: event.code, reason: event.reason });
    }
  };
  socket.onerror = () => {};
}

function createLink(
  socket: WebSocket,
  username: string,
  resumes: string | undefined,
): StreamerLink {
  return {
    username,
    ...(resumes ? { resumes } : {}),
    send(message) {
      if (socket.readyState !== WebSocket.OPEN) return false;
      socket.send(encodeControl(message));
      return true;
    },
    close(reason, code = 1008) {
      closeSocket(socket, code, reason);
    },
  };
}

function closeSocket(socket: WebSocket, code: number, reason: string): void {
  try {
    // Close reasons are limited to 123 bytes.
    socket.close(code, reason.slice(0, 120));
  } catch {
    // Already closing.
  }
}
