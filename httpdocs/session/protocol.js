// @ts-check
/**
 * The streamer ⇄ browser protocol, `webstream/2`: one codec used by both
 * ends (the streamer imports this file; the browser loads it as is). Every
 * message is a binary WebSocket frame: one type byte, then the payload.
 * Numbers are little-endian. Small structured messages carry UTF-8 JSON after
 * the type byte; media and input carry fixed binary layouts. The layouts are
 * documented in `docs/protocol.md`.
 *
 * @module
 */

/** Protocol name and version, sent in `hello`. */
export const PROTOCOL = "webstream/2";

/** Streamer → browser message types. */
export const S = Object.freeze({
  HELLO: 0x01,
  SCREEN: 0x02,
  FRAME: 0x03,
  CURSOR: 0x04,
  CLIPBOARD: 0x05,
  PONG: 0x06,
  FILE_REQUEST: 0x07,
  UPLOAD_RESULT: 0x08,
  NOTICE: 0x09,
  VIDEO: 0x0a,
  AUDIO: 0x0b,
  CLIPBOARD_IMAGE: 0x10,
  DOWNLOAD_START: 0x0c,
  DOWNLOAD_CHUNK: 0x0d,
  DOWNLOAD_END: 0x0e,
  APP_CLOSED: 0x11,
});

/** Browser → streamer message types. */
export const C = Object.freeze({
  ACK: 0x81,
  POINTER: 0x82,
  WHEEL: 0x83,
  KEY: 0x84,
  RESIZE: 0x85,
  CLIPBOARD: 0x86,
  PING: 0x87,
  UPLOAD_START: 0x88,
  UPLOAD_CHUNK: 0x89,
  UPLOAD_END: 0x8a,
  FILE_CANCEL: 0x8b,
  RELEASE_ALL: 0x8c,
  CAPS: 0x8d,
  KEYFRAME: 0x8e,
  AUDIO_STATE: 0x8f,
  CLIPBOARD_IMAGE: 0x94,
  DOWNLOAD_ACK: 0x90,
  DOWNLOAD_CANCEL: 0x91,
  VIEW_SIZE: 0x95,
});

/** Tile encodings. */
export const ENCODING = Object.freeze({
  /** Lossy: a JPEG image of the tile. */
  JPEG: 0,
  /** Lossless: a PNG image of the tile. */
  PNG: 1,
  /** One colour: 4 bytes R, G, B, 255. */
  SOLID: 2,
  /**
   * Pixels the viewer already has: u16 source x, u16 source y. Every copy
   * of a frame reads the picture as it was before the frame; copies come
   * before the frame's other tiles.
   */
  COPY: 3,
});

/** Names of the encodings, by number (for statistics and messages). */
export const ENCODING_NAME = Object.freeze(
  /** @type {Record<number, string>} */ (Object.fromEntries(
    Object.entries(ENCODING).map(([name, value]) => [value, name]),
  )),
);

/** MIME types of the image encodings. */
export const ENCODING_MIME = Object.freeze({ 0: "image/jpeg", 1: "image/png" });

/** Pointer button bits in `POINTER.buttons` (browser `MouseEvent.buttons`). */
export const BUTTON = Object.freeze({
  LEFT: 1,
  RIGHT: 2,
  MIDDLE: 4,
  BACK: 8,
  FORWARD: 16,
});

/** Largest upload chunk payload, in bytes. */
export const MAX_CHUNK = 256 * 1024;

/** Largest clipboard image (a PNG file) carried either way, in bytes. */
export const MAX_CLIPBOARD_IMAGE = 8 * 1024 * 1024;

/** The 8 bytes every PNG file starts with. */
export const PNG_SIGNATURE = Object.freeze([
  0x89,
  0x50,
  0x4e,
  0x47,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
]);
/** Largest download chunk payload, in bytes. */
export const MAX_DOWNLOAD_CHUNK = 256 * 1024;

/** What a download carries: a file from the session, or a print job (PDF). */
export const DOWNLOAD_KINDS = Object.freeze(["file", "print"]);

/** Longest app name in `APP_CLOSED`, in characters (`X-App-Name`'s limit). */
export const MAX_APP_NAME = 256;

/** Largest JSON payload accepted, in bytes (clipboard text included). */
export const MAX_JSON = 1024 * 1024;

/**
 * The H.264 codec strings a page asks its decoder about and offers in
 * `CAPS`, most preferred first: Constrained Baseline (what the streamer
 * sends by default) at levels 3.1, 4.0, 4.2 and 5.1, then High at 4.0 and
 * 5.1.
 */
export const H264_CODECS = Object.freeze([
  "avc1.42C01F",
  "avc1.42C028",
  "avc1.42C02A",
  "avc1.42C033",
  "avc1.640028",
  "avc1.640033",
]);

/** Video flag: the access unit is a keyframe (IDR, with SPS and PPS). */
export const VIDEO_KEYFRAME = 1;

/** Longest codec string in `VIDEO` and `CAPS`. */
export const MAX_CODEC = 64;

/** Most codec strings a `CAPS` may list. */
export const MAX_CODECS = 16;

/**
 * @typedef {{ protocol: string, sessionUuid: string, width: number,
 *   height: number, clipboard: { toSession: boolean, fromSession: boolean },
 *   upload: boolean, maxWidth: number, maxHeight: number,
 *   video: boolean, audio: boolean, download?: boolean,
 *   maxPixelRatio?: number }} Hello
 * @typedef {{ width: number, height: number }} Screen
 * @typedef {{ x: number, y: number, width: number, height: number,
 *   encoding: number, data: Uint8Array }} Tile
 * @typedef {{ frameId: number, tiles: Tile[] }} Frame
 * @typedef {{ hotX: number, hotY: number, width: number, height: number,
 *   rgba: Uint8Array }} Cursor
 * @typedef {{ dialogGuid: string, title: string }} FileRequest
 * @typedef {{ uploadId: number, ok: boolean, path?: string,
 *   error?: string }} UploadResult
 * @typedef {{ level: "info" | "warn" | "error", text: string }} Notice
 * @typedef {{ frameId: number, x: number, y: number, width: number,
 *   height: number, keyframe: boolean, codec: string,
 *   data: Uint8Array }} VideoFrameMessage
 * @typedef {{ timestampUs: number, data: Uint8Array }} AudioPacket
 * @typedef {{ video: string[], audio: boolean }} Caps
 * @typedef {{ downloadId: number, name: string, size: number,
 *   kind: "file" | "print" }} DownloadStart
 * @typedef {{ downloadId: number, ok: true }
 *   | { downloadId: number, ok: false, error: string }} DownloadEnd
 * @typedef {{ name: string }} AppClosed
 *
 * @typedef {{ type: "hello", hello: Hello }
 *   | { type: "screen", screen: Screen }
 *   | { type: "frame", frame: Frame }
 *   | { type: "cursor", cursor: Cursor }
 *   | { type: "clipboard", text: string }
 *   | { type: "clipboardImage", png: Uint8Array }
 *   | { type: "pong", id: number, time: number }
 *   | { type: "fileRequest", request: FileRequest }
 *   | { type: "uploadResult", result: UploadResult }
 *   | { type: "notice", notice: Notice }
 *   | { type: "video", video: VideoFrameMessage }
 *   | { type: "audio", audio: AudioPacket }
 *   | { type: "downloadStart", download: DownloadStart }
 *   | { type: "downloadChunk", downloadId: number, data: Uint8Array }
 *   | { type: "downloadEnd", end: DownloadEnd }
 *   | { type: "appClosed", closed: AppClosed }} StreamerMessage
 *
 * @typedef {{ type: "ack", frameId: number }
 *   | { type: "pointer", x: number, y: number, buttons: number }
 *   | { type: "wheel", dx: number, dy: number }
 *   | { type: "key", down: boolean, code: string, key: string }
 *   | { type: "resize", width: number, height: number }
 *   | { type: "viewSize", width: number, height: number,
 *       deviceWidth: number, deviceHeight: number }
 *   | { type: "clipboard", text: string }
 *   | { type: "clipboardImage", png: Uint8Array }
 *   | { type: "ping", id: number }
 *   | { type: "uploadStart", uploadId: number, name: string, size: number,
 *       dialogGuid?: string }
 *   | { type: "uploadChunk", uploadId: number, data: Uint8Array }
 *   | { type: "uploadEnd", uploadId: number }
 *   | { type: "fileCancel", dialogGuid: string }
 *   | { type: "releaseAll" }
 *   | { type: "caps", caps: Caps }
 *   | { type: "keyframe" }
 *   | { type: "audioState", on: boolean }
 *   | { type: "downloadAck", downloadId: number, chunks: number }
 *   | { type: "downloadCancel", downloadId: number }} ClientMessage
 */

/** A message that does not follow the protocol. */
export class ProtocolError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "ProtocolError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * @param {number} type
 * @param {unknown} value
 * @returns {Uint8Array}
 */
function jsonMessage(type, value) {
  const body = encoder.encode(JSON.stringify(value));
  const out = new Uint8Array(1 + body.length);
  out[0] = type;
  out.set(body, 1);
  return out;
}

/**
 * @param {Uint8Array} bytes
 * @param {string} what
 * @returns {Record<string, unknown>}
 */
function readJson(bytes, what) {
  if (bytes.length - 1 > MAX_JSON) {
    throw new ProtocolError(`${what}: larger than ${MAX_JSON} bytes`);
  }
  let value;
  try {
    value = JSON.parse(decoder.decode(bytes.subarray(1)));
  } catch {
    throw new ProtocolError(`${what}: not UTF-8 JSON`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new ProtocolError(`${what}: expected a JSON object`);
  }
  return value;
}

/**
 * @param {Record<string, unknown>} value
 * @param {string} field
 * @param {string} what
 * @param {{ max?: number }} [options]
 * @returns {string}
 */
function str(value, field, what, options = {}) {
  const v = value[field];
  if (typeof v !== "string") {
    throw new ProtocolError(`${what}: ${field} must be a string`);
  }
  if (options.max !== undefined && v.length > options.max) {
    throw new ProtocolError(
      `${what}: ${field} longer than ${options.max} characters`,
    );
  }
  return v;
}

/**
 * @param {Record<string, unknown>} value
 * @param {string} field
 * @param {string} what
 * @param {{ min?: number, max?: number }} [options]
 * @returns {number}
 */
function int(value, field, what, options = {}) {
  const v = value[field];
  const min = options.min ?? 0;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ProtocolError(
      `${what}: ${field} must be an integer from ${min} to ${max}`,
    );
  }
  return v;
}

/**
 * @param {Uint8Array} bytes
 * @param {number} length
 * @param {string} what
 */
function need(bytes, length, what) {
  if (bytes.length < length) {
    throw new ProtocolError(
      `${what}: ${bytes.length} bytes, at least ${length} expected`,
    );
  }
}

/**
 * The PNG after a clipboard image's type byte: it must start with the PNG
 * signature and fit in {@linkcode MAX_CLIPBOARD_IMAGE}.
 *
 * @param {Uint8Array} bytes the whole message
 * @returns {Uint8Array}
 */
function clipboardPng(bytes) {
  const png = bytes.subarray(1);
  if (png.length > MAX_CLIPBOARD_IMAGE) {
    throw new ProtocolError(
      `clipboardImage: larger than ${MAX_CLIPBOARD_IMAGE} bytes`,
    );
  }
  if (
    png.length < 8 || PNG_SIGNATURE.some((byte, i) => png[i] !== byte)
  ) {
    throw new ProtocolError("clipboardImage: not a PNG file");
  }
  return png;
}

/**
 * A type byte, then `data`.
 *
 * @param {number} type
 * @param {Uint8Array} data
 * @returns {Uint8Array}
 */
function prefixed(type, data) {
  const out = new Uint8Array(1 + data.length);
  out[0] = type;
  out.set(data, 1);
  return out;
}

/** @param {Uint8Array} bytes */
function view(bytes) {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Encodes a streamer → browser message.
 *
 * @param {StreamerMessage} message
 * @returns {Uint8Array}
 */
export function encodeStreamerMessage(message) {
  switch (message.type) {
    case "hello":
      return jsonMessage(S.HELLO, message.hello);
    case "screen":
      return jsonMessage(S.SCREEN, message.screen);
    case "clipboard":
      return jsonMessage(S.CLIPBOARD, { text: message.text });
    case "clipboardImage":
      return prefixed(S.CLIPBOARD_IMAGE, message.png);
    case "pong":
      return jsonMessage(S.PONG, { id: message.id, time: message.time });
    case "fileRequest":
      return jsonMessage(S.FILE_REQUEST, message.request);
    case "uploadResult":
      return jsonMessage(S.UPLOAD_RESULT, message.result);
    case "notice":
      return jsonMessage(S.NOTICE, message.notice);
    case "downloadStart":
      return jsonMessage(S.DOWNLOAD_START, message.download);
    case "downloadChunk": {
      const out = new Uint8Array(5 + message.data.length);
      out[0] = S.DOWNLOAD_CHUNK;
      view(out).setUint32(1, message.downloadId, true);
      out.set(message.data, 5);
      return out;
    }
    case "downloadEnd":
      return jsonMessage(S.DOWNLOAD_END, message.end);
    case "appClosed":
      return jsonMessage(S.APP_CLOSED, { name: message.closed.name });
    case "frame":
      return encodeFrame(message.frame);
    case "video":
      return encodeVideo(message.video);
    case "audio": {
      const { timestampUs, data } = message.audio;
      const out = new Uint8Array(9 + data.length);
      out[0] = S.AUDIO;
      view(out).setFloat64(1, timestampUs, true);
      out.set(data, 9);
      return out;
    }
    case "cursor": {
      const { hotX, hotY, width, height, rgba } = message.cursor;
      const out = new Uint8Array(9 + rgba.length);
      const dv = view(out);
      out[0] = S.CURSOR;
      dv.setUint16(1, hotX, true);
      dv.setUint16(3, hotY, true);
      dv.setUint16(5, width, true);
      dv.setUint16(7, height, true);
      out.set(rgba, 9);
      return out;
    }
  }
}

/** Bytes before the first tile of a frame. */
const FRAME_HEADER = 7;
/** Bytes of a tile header. */
const TILE_HEADER = 13;

/**
 * Encodes a frame: type, u32 frameId, u16 tile count, then per tile u16 x,
 * y, width, height, u8 encoding, u32 length and the bytes.
 *
 * @param {Frame} frame
 * @returns {Uint8Array}
 */
function encodeFrame(frame) {
  let size = FRAME_HEADER;
  for (const tile of frame.tiles) size += TILE_HEADER + tile.data.length;
  const out = new Uint8Array(size);
  const dv = view(out);
  out[0] = S.FRAME;
  dv.setUint32(1, frame.frameId, true);
  dv.setUint16(5, frame.tiles.length, true);
  let at = FRAME_HEADER;
  for (const tile of frame.tiles) {
    dv.setUint16(at, tile.x, true);
    dv.setUint16(at + 2, tile.y, true);
    dv.setUint16(at + 4, tile.width, true);
    dv.setUint16(at + 6, tile.height, true);
    out[at + 8] = tile.encoding;
    dv.setUint32(at + 9, tile.data.length, true);
    out.set(tile.data, at + TILE_HEADER);
    at += TILE_HEADER + tile.data.length;
  }
  return out;
}

/** Bytes of a `VIDEO` message before its codec string. */
const VIDEO_HEADER = 15;

/**
 * Encodes a video frame: type, u32 frameId, u16 x, y, width, height, u8
 * flags, u8 codec length, the codec (ASCII), then the access unit.
 *
 * @param {VideoFrameMessage} video
 * @returns {Uint8Array}
 */
function encodeVideo(video) {
  const codec = encoder.encode(video.codec.slice(0, MAX_CODEC));
  const out = new Uint8Array(VIDEO_HEADER + codec.length + video.data.length);
  const dv = view(out);
  out[0] = S.VIDEO;
  dv.setUint32(1, video.frameId, true);
  dv.setUint16(5, video.x, true);
  dv.setUint16(7, video.y, true);
  dv.setUint16(9, video.width, true);
  dv.setUint16(11, video.height, true);
  out[13] = video.keyframe ? VIDEO_KEYFRAME : 0;
  out[14] = codec.length;
  out.set(codec, VIDEO_HEADER);
  out.set(video.data, VIDEO_HEADER + codec.length);
  return out;
}

/**
 * Decodes a streamer → browser message (the browser's side).
 *
 * @param {Uint8Array} bytes
 * @returns {StreamerMessage}
 */
export function decodeStreamerMessage(bytes) {
  need(bytes, 1, "message");
  switch (bytes[0]) {
    case S.HELLO: {
      const v = readJson(bytes, "hello");
      return { type: "hello", hello: /** @type {Hello} */ (v) };
    }
    case S.SCREEN: {
      const v = readJson(bytes, "screen");
      return {
        type: "screen",
        screen: {
          width: int(v, "width", "screen", { min: 1, max: 65535 }),
          height: int(v, "height", "screen", { min: 1, max: 65535 }),
        },
      };
    }
    case S.CLIPBOARD:
      return {
        type: "clipboard",
        text: str(readJson(bytes, "clipboard"), "text", "clipboard"),
      };
    case S.CLIPBOARD_IMAGE:
      return { type: "clipboardImage", png: clipboardPng(bytes) };
    case S.PONG: {
      const v = readJson(bytes, "pong");
      return {
        type: "pong",
        id: int(v, "id", "pong"),
        time: int(v, "time", "pong"),
      };
    }
    case S.FILE_REQUEST: {
      const v = readJson(bytes, "fileRequest");
      return {
        type: "fileRequest",
        request: {
          dialogGuid: str(v, "dialogGuid", "fileRequest"),
          title: str(v, "title", "fileRequest"),
        },
      };
    }
    case S.UPLOAD_RESULT: {
      const v = readJson(bytes, "uploadResult");
      return {
        type: "uploadResult",
        result: /** @type {UploadResult} */ (v),
      };
    }
    case S.NOTICE: {
      const v = readJson(bytes, "notice");
      return { type: "notice", notice: /** @type {Notice} */ (v) };
    }
    case S.CURSOR: {
      need(bytes, 9, "cursor");
      const dv = view(bytes);
      const width = dv.getUint16(5, true);
      const height = dv.getUint16(7, true);
      need(bytes, 9 + width * height * 4, "cursor");
      return {
        type: "cursor",
        cursor: {
          hotX: dv.getUint16(1, true),
          hotY: dv.getUint16(3, true),
          width,
          height,
          rgba: bytes.subarray(9, 9 + width * height * 4),
        },
      };
    }
    case S.FRAME: {
      need(bytes, FRAME_HEADER, "frame");
      const dv = view(bytes);
      const frameId = dv.getUint32(1, true);
      const count = dv.getUint16(5, true);
      /** @type {Tile[]} */
      const tiles = [];
      let at = FRAME_HEADER;
      for (let i = 0; i < count; i++) {
        need(bytes, at + TILE_HEADER, "frame tile");
        const length = dv.getUint32(at + 9, true);
        need(bytes, at + TILE_HEADER + length, "frame tile data");
        tiles.push({
          x: dv.getUint16(at, true),
          y: dv.getUint16(at + 2, true),
          width: dv.getUint16(at + 4, true),
          height: dv.getUint16(at + 6, true),
          encoding: bytes[at + 8],
          data: bytes.subarray(at + TILE_HEADER, at + TILE_HEADER + length),
        });
        at += TILE_HEADER + length;
      }
      return { type: "frame", frame: { frameId, tiles } };
    }
    case S.VIDEO: {
      need(bytes, VIDEO_HEADER, "video");
      const dv = view(bytes);
      const codecEnd = VIDEO_HEADER + bytes[14];
      need(bytes, codecEnd, "video codec");
      const width = dv.getUint16(9, true);
      const height = dv.getUint16(11, true);
      if (!width || !height) {
        throw new ProtocolError("video: width and height must be above 0");
      }
      return {
        type: "video",
        video: {
          frameId: dv.getUint32(1, true),
          x: dv.getUint16(5, true),
          y: dv.getUint16(7, true),
          width,
          height,
          keyframe: (bytes[13] & VIDEO_KEYFRAME) !== 0,
          codec: String.fromCharCode(...bytes.subarray(VIDEO_HEADER, codecEnd)),
          data: bytes.subarray(codecEnd),
        },
      };
    }
    case S.AUDIO: {
      need(bytes, 10, "audio");
      const timestampUs = view(bytes).getFloat64(1, true);
      if (!Number.isFinite(timestampUs)) {
        throw new ProtocolError("audio: the timestamp must be finite");
      }
      return { type: "audio", audio: { timestampUs, data: bytes.subarray(9) } };
    }
    case S.DOWNLOAD_START: {
      const v = readJson(bytes, "downloadStart");
      const kind = v.kind;
      if (kind !== "file" && kind !== "print") {
        throw new ProtocolError(
          'downloadStart: kind must be "file" or "print"',
        );
      }
      const name = str(v, "name", "downloadStart", { max: MAX_FILE_NAME });
      // deno-lint-ignore no-control-regex
      if (!name || /[\u0000-\u001f\u007f/\\]/.test(name)) {
        throw new ProtocolError(
          "downloadStart: name must be a non-empty file name (no path or control characters)",
        );
      }
      return {
        type: "downloadStart",
        download: {
          downloadId: int(v, "downloadId", "downloadStart", {
            max: 0xffffffff,
          }),
          name,
          size: int(v, "size", "downloadStart"),
          kind,
        },
      };
    }
    case S.DOWNLOAD_CHUNK:
      need(bytes, 5, "downloadChunk");
      if (bytes.length - 5 > MAX_DOWNLOAD_CHUNK) {
        throw new ProtocolError(
          `downloadChunk: larger than ${MAX_DOWNLOAD_CHUNK} bytes`,
        );
      }
      return {
        type: "downloadChunk",
        downloadId: view(bytes).getUint32(1, true),
        data: bytes.subarray(5),
      };
    case S.DOWNLOAD_END: {
      const v = readJson(bytes, "downloadEnd");
      const downloadId = int(v, "downloadId", "downloadEnd", {
        max: 0xffffffff,
      });
      if (v.ok === true) {
        return { type: "downloadEnd", end: { downloadId, ok: true } };
      }
      if (v.ok !== false) {
        throw new ProtocolError("downloadEnd: ok must be true or false");
      }
      return {
        type: "downloadEnd",
        end: {
          downloadId,
          ok: false,
          error: str(v, "error", "downloadEnd", { max: 1000 }),
        },
      };
    }
    case S.APP_CLOSED: {
      const v = readJson(bytes, "appClosed");
      const name = str(v, "name", "appClosed", { max: MAX_APP_NAME });
      return { type: "appClosed", closed: { name } };
    }
    default:
      throw new ProtocolError(`unknown streamer message type ${bytes[0]}`);
  }
}

/**
 * Encodes a browser → streamer message.
 *
 * @param {ClientMessage} message
 * @returns {Uint8Array}
 */
export function encodeClientMessage(message) {
  switch (message.type) {
    case "ack":
      return fixed(C.ACK, 4, (dv) => dv.setUint32(1, message.frameId, true));
    case "pointer":
      return fixed(C.POINTER, 5, (dv) => {
        dv.setUint16(1, clampU16(message.x), true);
        dv.setUint16(3, clampU16(message.y), true);
        dv.setUint8(5, message.buttons & 0x1f);
      });
    case "wheel":
      return fixed(C.WHEEL, 4, (dv) => {
        dv.setInt16(1, clampI16(message.dx), true);
        dv.setInt16(3, clampI16(message.dy), true);
      });
    case "key": {
      const code = encoder.encode(message.code.slice(0, 64));
      const key = encoder.encode(message.key.slice(0, 64));
      const out = new Uint8Array(3 + code.length + key.length);
      out[0] = C.KEY;
      out[1] = message.down ? 1 : 0;
      out[2] = code.length;
      out.set(code, 3);
      out.set(key, 3 + code.length);
      return out;
    }
    case "resize":
      return fixed(C.RESIZE, 4, (dv) => {
        dv.setUint16(1, clampU16(message.width), true);
        dv.setUint16(3, clampU16(message.height), true);
      });
    case "viewSize":
      return fixed(C.VIEW_SIZE, 8, (dv) => {
        dv.setUint16(1, clampU16(message.width), true);
        dv.setUint16(3, clampU16(message.height), true);
        dv.setUint16(5, clampU16(message.deviceWidth), true);
        dv.setUint16(7, clampU16(message.deviceHeight), true);
      });
    case "clipboard":
      return jsonMessage(C.CLIPBOARD, { text: message.text });
    case "clipboardImage":
      return prefixed(C.CLIPBOARD_IMAGE, message.png);
    case "ping":
      return jsonMessage(C.PING, { id: message.id });
    case "uploadStart":
      return jsonMessage(C.UPLOAD_START, {
        uploadId: message.uploadId,
        name: message.name,
        size: message.size,
        dialogGuid: message.dialogGuid,
      });
    case "uploadChunk": {
      const out = new Uint8Array(5 + message.data.length);
      out[0] = C.UPLOAD_CHUNK;
      view(out).setUint32(1, message.uploadId, true);
      out.set(message.data, 5);
      return out;
    }
    case "uploadEnd":
      return fixed(
        C.UPLOAD_END,
        4,
        (dv) => dv.setUint32(1, message.uploadId, true),
      );
    case "fileCancel":
      return jsonMessage(C.FILE_CANCEL, { dialogGuid: message.dialogGuid });
    case "releaseAll":
      return new Uint8Array([C.RELEASE_ALL]);
    case "caps":
      return jsonMessage(C.CAPS, message.caps);
    case "keyframe":
      return new Uint8Array([C.KEYFRAME]);
    case "audioState":
      return new Uint8Array([C.AUDIO_STATE, message.on ? 1 : 0]);
    case "downloadAck":
      return fixed(C.DOWNLOAD_ACK, 8, (dv) => {
        dv.setUint32(1, message.downloadId, true);
        dv.setUint32(5, message.chunks, true);
      });
    case "downloadCancel":
      return fixed(
        C.DOWNLOAD_CANCEL,
        4,
        (dv) => dv.setUint32(1, message.downloadId, true),
      );
  }
}

/**
 * @param {number} type
 * @param {number} size payload bytes
 * @param {(dv: DataView) => void} fill
 * @returns {Uint8Array}
 */
function fixed(type, size, fill) {
  const out = new Uint8Array(1 + size);
  out[0] = type;
  fill(view(out));
  return out;
}

/** @param {number} n */
function clampU16(n) {
  return Math.max(0, Math.min(65535, Math.round(n)));
}

/** @param {number} n */
function clampI16(n) {
  return Math.max(-32768, Math.min(32767, Math.round(n)));
}

/** Longest file name accepted in `uploadStart`. */
export const MAX_FILE_NAME = 255;

/**
 * Decodes a browser → streamer message (the streamer's side). Throws a
 * {@linkcode ProtocolError} naming what was wrong.
 *
 * @param {Uint8Array} bytes
 * @returns {ClientMessage}
 */
export function decodeClientMessage(bytes) {
  need(bytes, 1, "message");
  const dv = view(bytes);
  switch (bytes[0]) {
    case C.ACK:
      need(bytes, 5, "ack");
      return { type: "ack", frameId: dv.getUint32(1, true) };
    case C.POINTER:
      need(bytes, 6, "pointer");
      return {
        type: "pointer",
        x: dv.getUint16(1, true),
        y: dv.getUint16(3, true),
        buttons: bytes[5] & 0x1f,
      };
    case C.WHEEL:
      need(bytes, 5, "wheel");
      return {
        type: "wheel",
        dx: dv.getInt16(1, true),
        dy: dv.getInt16(3, true),
      };
    case C.KEY: {
      need(bytes, 3, "key");
      const codeLength = bytes[2];
      need(bytes, 3 + codeLength, "key");
      if (bytes.length > 3 + 64 + 64 * 4) {
        throw new ProtocolError("key: longer than a key event can be");
      }
      let code, key;
      try {
        code = decoder.decode(bytes.subarray(3, 3 + codeLength));
        key = decoder.decode(bytes.subarray(3 + codeLength));
      } catch {
        throw new ProtocolError("key: code and key must be UTF-8");
      }
      return { type: "key", down: bytes[1] === 1, code, key };
    }
    case C.RESIZE: {
      need(bytes, 5, "resize");
      const width = dv.getUint16(1, true);
      const height = dv.getUint16(3, true);
      if (!width || !height) {
        throw new ProtocolError("resize: width and height must be above 0");
      }
      return { type: "resize", width, height };
    }
    case C.VIEW_SIZE: {
      if (bytes.length !== 9) {
        throw new ProtocolError(`viewSize: ${bytes.length} bytes, 9 expected`);
      }
      const [width, height, deviceWidth, deviceHeight] = [1, 3, 5, 7].map((
        at,
      ) => dv.getUint16(at, true));
      if (!width || !height || !deviceWidth || !deviceHeight) {
        throw new ProtocolError("viewSize: every size must be above 0");
      }
      return { type: "viewSize", width, height, deviceWidth, deviceHeight };
    }
    case C.CLIPBOARD:
      return {
        type: "clipboard",
        text: str(readJson(bytes, "clipboard"), "text", "clipboard"),
      };
    case C.CLIPBOARD_IMAGE:
      return { type: "clipboardImage", png: clipboardPng(bytes) };
    case C.PING:
      return { type: "ping", id: int(readJson(bytes, "ping"), "id", "ping") };
    case C.UPLOAD_START: {
      const v = readJson(bytes, "uploadStart");
      const dialogGuid = v.dialogGuid === undefined
        ? undefined
        : str(v, "dialogGuid", "uploadStart", { max: 100 });
      return {
        type: "uploadStart",
        uploadId: int(v, "uploadId", "uploadStart", { max: 0xffffffff }),
        name: str(v, "name", "uploadStart", { max: MAX_FILE_NAME }),
        size: int(v, "size", "uploadStart"),
        dialogGuid,
      };
    }
    case C.UPLOAD_CHUNK:
      need(bytes, 5, "uploadChunk");
      if (bytes.length - 5 > MAX_CHUNK) {
        throw new ProtocolError(`uploadChunk: larger than ${MAX_CHUNK} bytes`);
      }
      return {
        type: "uploadChunk",
        uploadId: dv.getUint32(1, true),
        data: bytes.subarray(5),
      };
    case C.UPLOAD_END:
      need(bytes, 5, "uploadEnd");
      return { type: "uploadEnd", uploadId: dv.getUint32(1, true) };
    case C.FILE_CANCEL:
      return {
        type: "fileCancel",
        dialogGuid: str(
          readJson(bytes, "fileCancel"),
          "dialogGuid",
          "fileCancel",
          {
            max: 100,
          },
        ),
      };
    case C.RELEASE_ALL:
      return { type: "releaseAll" };
    case C.CAPS: {
      const v = readJson(bytes, "caps");
      const video = v.video;
      if (
        !Array.isArray(video) || video.length > MAX_CODECS ||
        !video.every((c) =>
          typeof c === "string" && c.length <= MAX_CODEC &&
          /^[\x20-\x7e]*$/.test(c)
        )
      ) {
        throw new ProtocolError(
          `caps: video must be a list of at most ${MAX_CODECS} codec strings (ASCII, at most ${MAX_CODEC} characters)`,
        );
      }
      if (typeof v.audio !== "boolean") {
        throw new ProtocolError("caps: audio must be true or false");
      }
      return { type: "caps", caps: { video, audio: v.audio } };
    }
    case C.KEYFRAME:
      return { type: "keyframe" };
    case C.AUDIO_STATE:
      need(bytes, 2, "audioState");
      if (bytes[1] > 1) {
        throw new ProtocolError("audioState: expected 0 (off) or 1 (on)");
      }
      return { type: "audioState", on: bytes[1] === 1 };
    case C.DOWNLOAD_ACK:
      if (bytes.length !== 9) {
        throw new ProtocolError(
          `downloadAck: ${bytes.length} bytes, 9 expected`,
        );
      }
      return {
        type: "downloadAck",
        downloadId: dv.getUint32(1, true),
        chunks: dv.getUint32(5, true),
      };
    case C.DOWNLOAD_CANCEL:
      if (bytes.length !== 5) {
        throw new ProtocolError(
          `downloadCancel: ${bytes.length} bytes, 5 expected`,
        );
      }
      return { type: "downloadCancel", downloadId: dv.getUint32(1, true) };
    default:
      throw new ProtocolError(`unknown message type ${bytes[0]}`);
  }
}
