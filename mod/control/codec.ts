/**
 * The Session Manager ↔ Streamer text protocol on the `/control` WebSocket.
 *
 * The seed's three messages are kept byte for byte:
 * `REQUEST_SESSION_INFO:{username}`, `SESSION_INFO:{sessionUuid}|{commandLineParams}`
 * and `FILE_UPLOAD_COMPLETE:{dialogGuid}|{filePath}`. webstream adds four
 * messages of the same `TYPE:payload` shape (see `docs/protocol.md`): arming a
 * one-time connection token, the viewer settings that come with it (policy and
 * screen size), reporting a viewer's arrival and departure, an upload that
 * landed (which the manager answers with `FILE_UPLOAD_COMPLETE`),
 * `RESUME_SESSION`, which a streamer whose control channel dropped sends
 * instead of `REQUEST_SESSION_INFO` to take its session up again, and
 * `SESSION_IN_USE`, which tells a streamer started in a session already
 * bound to a user session that it is in use, and `APP_CLOSED`, an app the
 * streamer started in the session has closed.
 *
 * @module
 */

/** A streamer asks for its identity (streamer → manager). */
export interface RequestSessionInfo {
  type: "REQUEST_SESSION_INFO";
  username: string;
}
/**
 * A streamer that already serves a session reconnects after its control
 * channel dropped (the session manager restarted): "I run as this pool
 * account and serve this session" (streamer → manager). Sent instead of
 * `REQUEST_SESSION_INFO`; the manager answers with that session's
 * `SESSION_INFO` (empty parameters) or closes the channel.
 */
export interface ResumeSession {
  type: "RESUME_SESSION";
  username: string;
  sessionUuid: string;
}
/** The session identity and launch parameters (manager → streamer). */
export interface SessionInfo {
  type: "SESSION_INFO";
  sessionUuid: string;
  commandLineParams: string;
}
/** An upload has landed for a waiting file dialog (manager → streamer). */
export interface FileUploadComplete {
  type: "FILE_UPLOAD_COMPLETE";
  dialogGuid: string;
  filePath: string;
}
/**
 * Arms a one-time connection token, given as its SHA-256 in hex, valid for
 * `ttlSeconds` (manager → streamer).
 */
export interface ConnectionToken {
  type: "CONNECTION_TOKEN";
  sessionUuid: string;
  tokenHash: string;
  ttlSeconds: number;
}
/**
 * The session is bound to a user session (manager → streamer, after the
 * `SESSION_INFO` that answers a streamer restarted in it): it is in use, so
 * the streamer checks in with the gateway as it would from a first
 * connection token on.
 */
export interface SessionInUse {
  type: "SESSION_IN_USE";
  sessionUuid: string;
}
/** The streamer has armed the token (streamer → manager). */
export interface TokenArmed {
  type: "TOKEN_ARMED";
  tokenHash: string;
}
/** A viewer connected with a valid token (streamer → manager). */
export interface ClientConnected {
  type: "CLIENT_CONNECTED";
  sessionUuid: string;
}
/** The viewer went away (streamer → manager). */
export interface ClientDisconnected {
  type: "CLIENT_DISCONNECTED";
  sessionUuid: string;
}

/**
 * What the next viewer may do and the screen size it asked for (manager →
 * streamer, before each `CONNECTION_TOKEN`). `settings` is JSON; the streamer
 * validates it.
 */
export interface ViewerSettings {
  type: "VIEWER_SETTINGS";
  sessionUuid: string;
  settings: string;
}
/** An upload for a waiting file dialog has landed (streamer → manager). */
export interface UploadLanded {
  type: "UPLOAD_LANDED";
  dialogGuid: string;
  filePath: string;
}

/**
 * An app the streamer started has closed (streamer → manager):
 * `commandLineParams` is the command line its `SESSION_INFO` carried. The
 * manager may launch it again, and ends an app session whose last app
 * closed.
 */
export interface AppClosed {
  type: "APP_CLOSED";
  sessionUuid: string;
  commandLineParams: string;
}

/** Messages a streamer sends. */
export type StreamerMessage =
  | RequestSessionInfo
  | ResumeSession
  | TokenArmed
  | ClientConnected
  | ClientDisconnected
  | UploadLanded
  | AppClosed;
/** Messages the session manager sends. */
export type ManagerMessage =
  | SessionInfo
  | FileUploadComplete
  | ConnectionToken
  | ViewerSettings
  | SessionInUse;
/** Any control message. */
export type ControlMessage = StreamerMessage | ManagerMessage;

/** A control message that cannot be decoded; `reason` says why. */
export class ControlCodecError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "ControlCodecError";
  }
}

/** The longest control message accepted, in UTF-16 code units. */
export const MAX_MESSAGE_LENGTH = 65_536;

const USERNAME = /^[A-Za-z0-9._-]{1,64}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GUID =
  /^\{?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}?$/i;
const SHA256_HEX = /^[0-9a-f]{64}$/;
// deno-lint-ignore no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
// deno-lint-ignore no-control-regex
const CONTROL_CHARS_ALL = /[\u0000-\u001f\u007f]/g;
const TTL = /^[1-9][0-9]{0,5}$/;

const FROM_STREAMER = new Set([
  "REQUEST_SESSION_INFO",
  "RESUME_SESSION",
  "TOKEN_ARMED",
  "CLIENT_CONNECTED",
  "CLIENT_DISCONNECTED",
  "UPLOAD_LANDED",
  "APP_CLOSED",
]);
const FROM_MANAGER = new Set([
  "SESSION_INFO",
  "FILE_UPLOAD_COMPLETE",
  "CONNECTION_TOKEN",
  "VIEWER_SETTINGS",
  "SESSION_IN_USE",
]);

/** Encodes a control message as its wire text, validating every field. */
export function encodeControl(message: ControlMessage): string {
  const text = render(message);
  decodeControl(text); // one set of rules for both directions
  return text;
}

function render(message: ControlMessage): string {
  switch (message.type) {
    case "REQUEST_SESSION_INFO":
      return `REQUEST_SESSION_INFO:${message.username}`;
    case "RESUME_SESSION":
      return `RESUME_SESSION:${message.username}|${message.sessionUuid}`;
    case "SESSION_INFO":
    case "APP_CLOSED":
      return `${message.type}:${message.sessionUuid}|${message.commandLineParams}`;
    case "FILE_UPLOAD_COMPLETE":
    case "UPLOAD_LANDED":
      return `${message.type}:${message.dialogGuid}|${message.filePath}`;
    case "VIEWER_SETTINGS":
      return `VIEWER_SETTINGS:${message.sessionUuid}|${message.settings}`;
    case "CONNECTION_TOKEN":
      return `CONNECTION_TOKEN:${message.sessionUuid}|${message.tokenHash}|${message.ttlSeconds}`;
    case "TOKEN_ARMED":
      return `TOKEN_ARMED:${message.tokenHash}`;
    case "CLIENT_CONNECTED":
    case "CLIENT_DISCONNECTED":
    case "SESSION_IN_USE":
      return `${message.type}:${message.sessionUuid}`;
  }
}

/** Options for {@linkcode decodeControl}. */
export interface DecodeOptions {
  /** Accept only messages this side sends. Default: either side. */
  from?: "streamer" | "manager";
}

/**
 * Decodes one control message.
 *
 * @throws {ControlCodecError} for anything malformed, unknown, or (with
 * `from`) sent in the wrong direction.
 */
export function decodeControl(
  text: unknown,
  options: DecodeOptions = {},
): ControlMessage {
  if (typeof text !== "string") {
    throw new ControlCodecError("control messages are text, got binary");
  }
  if (text.length > MAX_MESSAGE_LENGTH) {
    throw new ControlCodecError(
      `message of ${text.length} characters exceeds ${MAX_MESSAGE_LENGTH}`,
    );
  }
  const colon = text.indexOf(":");
  if (colon < 1) throw new ControlCodecError("expected TYPE:payload");
  const type = text.slice(0, colon);
  const payload = text.slice(colon + 1);
  if (!FROM_STREAMER.has(type) && !FROM_MANAGER.has(type)) {
    throw new ControlCodecError(`unknown message type "${clip(type)}"`);
  }
  const allowed = options.from === "streamer"
    ? FROM_STREAMER
    : options.from === "manager"
    ? FROM_MANAGER
    : undefined;
  if (allowed && !allowed.has(type)) {
    throw new ControlCodecError(`${type} is not sent by the ${options.from}`);
  }
  switch (type) {
    case "REQUEST_SESSION_INFO":
      return { type, username: field(payload, USERNAME, "username") };
    case "RESUME_SESSION": {
      const [username, uuid] = pair(payload, "username|sessionUuid");
      return {
        type,
        username: field(username, USERNAME, "username"),
        sessionUuid: field(uuid, UUID, "sessionUuid"),
      };
    }
    case "SESSION_INFO":
    case "APP_CLOSED": {
      const [uuid, params] = pair(payload, "sessionUuid|commandLineParams");
      if (params.includes("\0")) {
        throw new ControlCodecError("commandLineParams contains a NUL");
      }
      if (type === "APP_CLOSED" && !params) {
        throw new ControlCodecError("APP_CLOSED names no command line");
      }
      return {
        type,
        sessionUuid: field(uuid, UUID, "sessionUuid"),
        commandLineParams: params,
      };
    }
    case "FILE_UPLOAD_COMPLETE":
    case "UPLOAD_LANDED": {
      const [guid, path] = pair(payload, "dialogGuid|filePath");
      if (!path || CONTROL_CHARS.test(path)) {
        throw new ControlCodecError(
          "filePath must be non-empty, without control characters",
        );
      }
      return {
        type,
        dialogGuid: field(guid, GUID, "dialogGuid"),
        filePath: path,
      };
    }
    case "CONNECTION_TOKEN": {
      const [uuid, rest] = pair(payload, "sessionUuid|tokenHash|ttlSeconds");
      const [hash, ttl] = pair(rest, "sessionUuid|tokenHash|ttlSeconds");
      return {
        type,
        sessionUuid: field(uuid, UUID, "sessionUuid"),
        tokenHash: field(hash, SHA256_HEX, "tokenHash"),
        ttlSeconds: Number(field(ttl, TTL, "ttlSeconds")),
      };
    }
    case "VIEWER_SETTINGS": {
      const [uuid, settings] = pair(payload, "sessionUuid|settings");
      if (CONTROL_CHARS.test(settings)) {
        throw new ControlCodecError("settings contain control characters");
      }
      return {
        type,
        sessionUuid: field(uuid, UUID, "sessionUuid"),
        settings,
      };
    }
    case "TOKEN_ARMED":
      return { type, tokenHash: field(payload, SHA256_HEX, "tokenHash") };
    case "CLIENT_CONNECTED":
    case "CLIENT_DISCONNECTED":
    case "SESSION_IN_USE":
      return { type, sessionUuid: field(payload, UUID, "sessionUuid") };
  }
  throw new ControlCodecError(`unknown message type "${clip(type)}"`);
}

function pair(payload: string, shape: string): [string, string] {
  const bar = payload.indexOf("|");
  if (bar < 0) throw new ControlCodecError(`expected ${shape}`);
  return [payload.slice(0, bar), payload.slice(bar + 1)];
}

function field(value: string, pattern: RegExp, name: string): string {
  if (!pattern.test(value)) {
    throw new ControlCodecError(`invalid ${name} "${clip(value)}"`);
  }
  return value;
}

function clip(value: string): string {
  const safe = value.replace(CONTROL_CHARS_ALL, "?");
  return safe.length > 40 ? `${safe.slice(0, 40)}…` : safe;
}
