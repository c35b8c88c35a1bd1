/**
 * The `webstream/2` codec (`httpdocs/session/protocol.js`), run in Deno:
 * every streamer and browser message survives an encode/decode round trip
 * with its exact layout (type bytes, little-endian numbers); values outside
 * a field's range are clamped on encode; malformed input (truncated, unknown
 * type, bad JSON, wrong field types, oversize chunks and names, zero-sized
 * resize, bad UTF-8, clipboard images that are not PNG or too large) is
 * refused with a ProtocolError.
 * resize, bad UTF-8) is refused with a ProtocolError. Downloads
 * (`DOWNLOAD_START`/`_CHUNK`/`_END`, `DOWNLOAD_ACK`/`_CANCEL`) have their own
 * round trips, layouts and refusals.
 *
 * @module
 */
import {
  C,
  type ClientMessage,
  decodeClientMessage,
  decodeStreamerMessage,
  encodeClientMessage,
  encodeStreamerMessage,
  ENCODING,
  MAX_APP_NAME,
  MAX_CHUNK,
  MAX_CLIPBOARD_IMAGE,
  MAX_DOWNLOAD_CHUNK,
  MAX_FILE_NAME,
  MAX_JSON,
  PNG_SIGNATURE,
  PROTOCOL,
  ProtocolError,
  S,
  type StreamerMessage,
} from "../../../httpdocs/session/protocol.js";
import { assert, assertEquals, assertThrows } from "../../support/assert.ts";

const encoder = new TextEncoder();

/** A PNG signature and then some bytes (the codec reads no further). */
const PNG = Uint8Array.of(...PNG_SIGNATURE, 0, 0, 0, 13, 0x49, 0x48);

function json(type: number, value: unknown): Uint8Array {
  const body = encoder.encode(JSON.stringify(value));
  const out = new Uint8Array(1 + body.length);
  out[0] = type;
  out.set(body, 1);
  return out;
}

Deno.test("every streamer message survives a round trip", () => {
  const messages: StreamerMessage[] = [
    {
      type: "hello",
      hello: {
        protocol: PROTOCOL,
        sessionUuid: "6f1c7a52-8a0e-4d3f-9f49-1b1f8c3c2d10",
        width: 1280,
        height: 800,
        clipboard: { toSession: true, fromSession: false },
        upload: true,
        maxWidth: 1920,
        maxHeight: 1200,
        video: true,
        audio: false,
      },
    },
    { type: "screen", screen: { width: 1024, height: 768 } },
    {
      type: "frame",
      frame: {
        frameId: 0xfffffffe,
        tiles: [
          {
            x: 0,
            y: 64,
            width: 64,
            height: 64,
            encoding: ENCODING.JPEG,
            data: Uint8Array.of(0xff, 0xd8, 1, 2, 3),
          },
          {
            x: 65535,
            y: 1,
            width: 1,
            height: 2,
            encoding: ENCODING.PNG,
            data: Uint8Array.of(0x89, 0x50),
          },
          {
            x: 3,
            y: 4,
            width: 5,
            height: 6,
            encoding: ENCODING.SOLID,
            data: Uint8Array.of(1, 2, 3, 255),
          },
        ],
      },
    },
    { type: "frame", frame: { frameId: 7, tiles: [] } },
    {
      type: "cursor",
      cursor: {
        hotX: 1,
        hotY: 2,
        width: 2,
        height: 1,
        rgba: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8),
      },
    },
    {
      type: "cursor",
      cursor: { hotX: 0, hotY: 0, width: 0, height: 0, rgba: new Uint8Array() },
    },
    { type: "clipboard", text: "héllo\n✓ 🎉" },
    { type: "pong", id: 42, time: 1_763_700_000_000 },
    { type: "fileRequest", request: { dialogGuid: "{A-B}", title: "Open" } },
    {
      type: "uploadResult",
      result: { uploadId: 3, ok: true, path: "/home/u/Uploads/a.txt" },
    },
    { type: "uploadResult", result: { uploadId: 4, ok: false, error: "full" } },
    { type: "notice", notice: { level: "warn", text: "licence ends soon" } },
    {
      type: "frame",
      frame: {
        frameId: 8,
        tiles: [{
          x: 0,
          y: 16,
          width: 640,
          height: 400,
          encoding: ENCODING.COPY,
          data: Uint8Array.of(0, 0, 32, 0),
        }],
      },
    },
    {
      type: "video",
      video: {
        frameId: 9,
        x: 320,
        y: 180,
        width: 1280,
        height: 720,
        keyframe: true,
        codec: "avc1.42C028",
        data: Uint8Array.of(0, 0, 0, 1, 0x67, 0x42),
      },
    },
    {
      type: "video",
      video: {
        frameId: 10,
        x: 0,
        y: 0,
        width: 2,
        height: 2,
        keyframe: false,
        codec: "",
        data: new Uint8Array(),
      },
    },
    {
      type: "audio",
      audio: { timestampUs: 123_456_789, data: Uint8Array.of(0xfc, 1) },
    },
    { type: "clipboardImage", png: PNG },
    { type: "appClosed", closed: { name: "Text Editor" } },
  ];
  for (const message of messages) {
    const bytes = encodeStreamerMessage(message);
    assertEquals(decodeStreamerMessage(bytes), message, message.type);
  }
});

Deno.test("streamer message layouts are little-endian with the documented type bytes", () => {
  const frame = encodeStreamerMessage({
    type: "frame",
    frame: {
      frameId: 0x01020304,
      tiles: [{
        x: 0x0102,
        y: 3,
        width: 16,
        height: 8,
        encoding: ENCODING.SOLID,
        data: Uint8Array.of(9, 8, 7, 255),
      }],
    },
  });
  assertEquals(
    Array.from(frame),
    [
      S.FRAME,
      4,
      3,
      2,
      1,
      1,
      0,
      2,
      1,
      3,
      0,
      16,
      0,
      8,
      0,
      2,
      4,
      0,
      0,
      0,
      9,
      8,
      7,
      255,
    ],
  );
  const cursor = encodeStreamerMessage({
    type: "cursor",
    cursor: {
      hotX: 1,
      hotY: 0x0203,
      width: 1,
      height: 1,
      rgba: Uint8Array.of(5, 6, 7, 8),
    },
  });
  assertEquals(Array.from(cursor), [
    S.CURSOR,
    1,
    0,
    3,
    2,
    1,
    0,
    1,
    0,
    5,
    6,
    7,
    8,
  ]);
  const screen = encodeStreamerMessage({
    type: "screen",
    screen: { width: 1, height: 2 },
  });
  assertEquals(screen[0], S.SCREEN);
  assertEquals(JSON.parse(new TextDecoder().decode(screen.subarray(1))), {
    width: 1,
    height: 2,
  });
});

Deno.test("video and audio layouts are as documented", () => {
  const video = encodeStreamerMessage({
    type: "video",
    video: {
      frameId: 0x01020304,
      x: 0x0102,
      y: 3,
      width: 4,
      height: 2,
      keyframe: true,
      codec: "ab",
      data: Uint8Array.of(9, 8),
    },
  });
  assertEquals(Array.from(video), [
    S.VIDEO,
    4,
    3,
    2,
    1,
    2,
    1,
    3,
    0,
    4,
    0,
    2,
    0,
    1, // keyframe
    2, // codec length
    0x61,
    0x62,
    9,
    8,
  ]);
  const audio = encodeStreamerMessage({
    type: "audio",
    audio: { timestampUs: 1.5, data: Uint8Array.of(7) },
  });
  assertEquals(audio[0], S.AUDIO);
  assertEquals(new DataView(audio.buffer).getFloat64(1, true), 1.5);
  assertEquals(audio[9], 7);
  assertEquals(
    Array.from(encodeClientMessage({ type: "audioState", on: true })),
    [C.AUDIO_STATE, 1],
  );
  assertEquals(Array.from(encodeClientMessage({ type: "keyframe" })), [
    C.KEYFRAME,
  ]);
});

Deno.test("every browser message survives a round trip", () => {
  const messages: ClientMessage[] = [
    {
      type: "caps",
      caps: { video: ["avc1.42C028", "avc1.640028"], audio: true },
    },
    { type: "caps", caps: { video: [], audio: false } },
    { type: "keyframe" },
    { type: "audioState", on: false },
    { type: "audioState", on: true },
    { type: "ack", frameId: 0xffffffff },
    { type: "pointer", x: 65535, y: 0, buttons: 31 },
    { type: "wheel", dx: -3, dy: 32767 },
    { type: "key", down: true, code: "KeyA", key: "a" },
    { type: "key", down: false, code: "Digit2", key: "é" },
    { type: "key", down: true, code: "", key: "😀" },
    { type: "resize", width: 1920, height: 1080 },
    {
      type: "viewSize",
      width: 1280,
      height: 720,
      deviceWidth: 2560,
      deviceHeight: 1440,
    },
    { type: "clipboard", text: "ünïcode ✓" },
    { type: "clipboardImage", png: PNG },
    { type: "ping", id: 9 },
    {
      type: "uploadStart",
      uploadId: 1,
      name: "a b.txt",
      size: 0,
      dialogGuid: undefined,
    },
    {
      type: "uploadStart",
      uploadId: 2,
      name: "x",
      size: 1e9,
      dialogGuid: "{G}",
    },
    {
      type: "uploadChunk",
      uploadId: 2,
      data: new Uint8Array(MAX_CHUNK).fill(7),
    },
    { type: "uploadChunk", uploadId: 3, data: new Uint8Array() },
    { type: "uploadEnd", uploadId: 2 },
    { type: "fileCancel", dialogGuid: "{G}" },
    { type: "releaseAll" },
  ];
  for (const message of messages) {
    const bytes = encodeClientMessage(message);
    assertEquals(decodeClientMessage(bytes), message, message.type);
  }
});

Deno.test("clipboard images are the type byte, then the PNG file as is", () => {
  assertEquals(
    Array.from(encodeClientMessage({ type: "clipboardImage", png: PNG })),
    [0x94, ...PNG],
  );
  assertEquals(
    Array.from(encodeStreamerMessage({ type: "clipboardImage", png: PNG })),
    [0x10, ...PNG],
  );
  // The largest allowed image passes both ways.
  const largest = new Uint8Array(MAX_CLIPBOARD_IMAGE);
  largest.set(PNG_SIGNATURE);
  const up = decodeClientMessage(
    encodeClientMessage({ type: "clipboardImage", png: largest }),
  );
  assertEquals(up.type === "clipboardImage" && up.png.length, largest.length);
  const down = decodeStreamerMessage(
    encodeStreamerMessage({ type: "clipboardImage", png: largest }),
  );
  assertEquals(
    down.type === "clipboardImage" && down.png.length,
    largest.length,
  );
});

Deno.test("browser message layouts and clamping", () => {
  assertEquals(
    Array.from(encodeClientMessage({ type: "ack", frameId: 0x01020304 })),
    [C.ACK, 4, 3, 2, 1],
  );
  assertEquals(
    Array.from(
      encodeClientMessage({ type: "pointer", x: 0x0102, y: 3, buttons: 0xff }),
    ),
    [C.POINTER, 2, 1, 3, 0, 0x1f],
  );
  // Out-of-range values are clamped, not wrapped.
  assertEquals(
    decodeClientMessage(
      encodeClientMessage({ type: "pointer", x: -5, y: 70000.4, buttons: 1 }),
    ),
    { type: "pointer", x: 0, y: 65535, buttons: 1 },
  );
  assertEquals(
    decodeClientMessage(
      encodeClientMessage({ type: "wheel", dx: -40000, dy: 1.6 }),
    ),
    { type: "wheel", dx: -32768, dy: 2 },
  );
  assertEquals(
    Array.from(encodeClientMessage({ type: "wheel", dx: -1, dy: 1 })),
    [C.WHEEL, 0xff, 0xff, 1, 0],
  );
  assertEquals(
    Array.from(
      encodeClientMessage({ type: "key", down: true, code: "KeyQ", key: "q" }),
    ),
    [C.KEY, 1, 4, ...encoder.encode("KeyQ"), ...encoder.encode("q")],
  );
  // Overlong code and key are cut to what the decoder accepts.
  const long = decodeClientMessage(
    encodeClientMessage({
      type: "key",
      down: true,
      code: "C".repeat(100),
      key: "🎉".repeat(100),
    }),
  );
  assertEquals(long.type === "key" && long.code.length, 64);
  assertEquals(Array.from(encodeClientMessage({ type: "releaseAll" })), [
    C.RELEASE_ALL,
  ]);
  assertEquals(
    Array.from(
      encodeClientMessage({
        type: "uploadChunk",
        uploadId: 0x0102,
        data: Uint8Array.of(9),
      }),
    ),
    [C.UPLOAD_CHUNK, 2, 1, 0, 0, 9],
  );
});

Deno.test("malformed streamer messages are refused with a ProtocolError", () => {
  const bad: [string, Uint8Array][] = [
    ["empty", new Uint8Array()],
    ["unknown type", Uint8Array.of(0x7f)],
    ["hello not JSON", Uint8Array.of(S.HELLO, 0x7b)],
    ["hello not an object", json(S.HELLO, [1])],
    ["screen width 0", json(S.SCREEN, { width: 0, height: 1 })],
    ["screen width fractional", json(S.SCREEN, { width: 1.5, height: 1 })],
    ["screen height text", json(S.SCREEN, { width: 1, height: "2" })],
    ["clipboard without text", json(S.CLIPBOARD, { text: 1 })],
    ["pong without id", json(S.PONG, { time: 1 })],
    ["fileRequest without title", json(S.FILE_REQUEST, { dialogGuid: "g" })],
    ["bad UTF-8", Uint8Array.of(S.CLIPBOARD, 0xff, 0xfe)],
    ["short frame", Uint8Array.of(S.FRAME, 1, 0, 0)],
    ["frame missing a tile", Uint8Array.of(S.FRAME, 1, 0, 0, 0, 1, 0)],
    [
      "tile data cut short",
      Uint8Array.of(
        S.FRAME,
        1,
        0,
        0,
        0,
        1,
        0,
        0,
        0,
        0,
        0,
        1,
        0,
        1,
        0,
        2,
        4,
        0,
        0,
        0,
        1,
      ),
    ],
    ["short cursor", Uint8Array.of(S.CURSOR, 0, 0, 0)],
    [
      "cursor pixels cut short",
      Uint8Array.of(S.CURSOR, 0, 0, 0, 0, 2, 0, 2, 0, 1, 2, 3),
    ],
    ["short video", Uint8Array.of(S.VIDEO, 1, 0, 0, 0, 0, 0)],
    [
      "video codec cut short",
      Uint8Array.of(S.VIDEO, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 1, 9, 0x61),
    ],
    [
      "video of zero width",
      Uint8Array.of(S.VIDEO, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0),
    ],
    ["short audio", Uint8Array.of(S.AUDIO, 0, 0, 0, 0, 0, 0, 0, 0)],
    ["clipboard image empty", Uint8Array.of(S.CLIPBOARD_IMAGE)],
    [
      "clipboard image not PNG",
      Uint8Array.of(S.CLIPBOARD_IMAGE, 0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0),
    ],
    [
      "audio timestamp not finite",
      Uint8Array.of(S.AUDIO, 0, 0, 0, 0, 0, 0, 0xf8, 0x7f, 1),
    ],
  ];
  for (const [what, bytes] of bad) {
    let error: unknown;
    try {
      decodeStreamerMessage(bytes);
    } catch (thrown) {
      error = thrown;
    }
    assert(error instanceof ProtocolError, `${what}: ${error}`);
  }
});

Deno.test("malformed browser messages are refused with a ProtocolError", () => {
  const bad: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(), /message/],
    ["unknown type", Uint8Array.of(0x99), /unknown/],
    ["short ack", Uint8Array.of(C.ACK, 1, 2, 3), /ack/],
    ["short pointer", Uint8Array.of(C.POINTER, 1, 0, 1, 0), /pointer/],
    ["short wheel", Uint8Array.of(C.WHEEL, 1), /wheel/],
    ["key code longer than the message", Uint8Array.of(C.KEY, 1, 9, 65), /key/],
    ["key not UTF-8", Uint8Array.of(C.KEY, 1, 1, 0xff), /UTF-8/],
    [
      "key too long",
      new Uint8Array(3 + 64 + 256 + 1).fill(65).fill(C.KEY, 0, 1).fill(0, 1, 3),
      /longer/,
    ],
    ["resize to zero", Uint8Array.of(C.RESIZE, 0, 0, 1, 0), /above 0/],
    ["caps not JSON", Uint8Array.of(C.CAPS, 0x7b), /caps/],
    [
      "caps video not a list",
      json(C.CAPS, { video: "avc1", audio: true }),
      /video/,
    ],
    [
      "caps with too many codecs",
      json(C.CAPS, { video: new Array(17).fill("avc1.42C028"), audio: true }),
      /at most 16/,
    ],
    [
      "caps codec not ASCII",
      json(C.CAPS, { video: ["avc1.\u00e9"], audio: true }),
      /ASCII/,
    ],
    ["caps without audio", json(C.CAPS, { video: [] }), /audio/],
    ["short audioState", Uint8Array.of(C.AUDIO_STATE), /audioState/],
    ["audioState 2", Uint8Array.of(C.AUDIO_STATE, 2), /0 \(off\) or 1/],
    ["short resize", Uint8Array.of(C.RESIZE, 1, 0), /resize/],
    ["short viewSize", Uint8Array.of(C.VIEW_SIZE, 1, 0, 1, 0), /9 expected/],
    [
      "viewSize with a zero device width",
      Uint8Array.of(C.VIEW_SIZE, 1, 0, 1, 0, 0, 0, 1, 0),
      /above 0/,
    ],
    ["clipboard not JSON", Uint8Array.of(C.CLIPBOARD, 0x5b), /JSON/],
    [
      "clipboard image cut inside the signature",
      Uint8Array.of(C.CLIPBOARD_IMAGE, ...PNG_SIGNATURE.slice(0, 7)),
      /not a PNG/,
    ],
    [
      "clipboard image not PNG",
      Uint8Array.of(
        C.CLIPBOARD_IMAGE,
        0x47,
        0x49,
        0x46,
        0x38,
        0x39,
        0x61,
        1,
        2,
      ),
      /clipboardImage: not a PNG/,
    ],
    [
      "clipboard image over MAX_CLIPBOARD_IMAGE",
      (() => {
        const out = new Uint8Array(2 + MAX_CLIPBOARD_IMAGE);
        out[0] = C.CLIPBOARD_IMAGE;
        out.set(PNG_SIGNATURE, 1);
        return out;
      })(),
      /larger than/,
    ],
    [
      "clipboard over MAX_JSON",
      json(C.CLIPBOARD, { text: "x".repeat(MAX_JSON) }),
      /larger/,
    ],
    ["ping id negative", json(C.PING, { id: -1 }), /id/],
    [
      "upload name too long",
      json(C.UPLOAD_START, {
        uploadId: 1,
        name: "n".repeat(MAX_FILE_NAME + 1),
        size: 1,
      }),
      /name/,
    ],
    [
      "upload size missing",
      json(C.UPLOAD_START, { uploadId: 1, name: "n" }),
      /size/,
    ],
    [
      "upload id too large",
      json(C.UPLOAD_START, { uploadId: 2 ** 32, name: "n", size: 1 }),
      /uploadId/,
    ],
    [
      "dialogGuid not a string",
      json(C.UPLOAD_START, { uploadId: 1, name: "n", size: 1, dialogGuid: 5 }),
      /dialogGuid/,
    ],
    [
      "chunk too large",
      new Uint8Array(5 + MAX_CHUNK + 1).fill(C.UPLOAD_CHUNK, 0, 1),
      /larger/,
    ],
    ["short chunk", Uint8Array.of(C.UPLOAD_CHUNK, 1, 0), /uploadChunk/],
    ["short upload end", Uint8Array.of(C.UPLOAD_END), /uploadEnd/],
    ["fileCancel without guid", json(C.FILE_CANCEL, {}), /dialogGuid/],
  ];
  for (const [what, bytes, pattern] of bad) {
    const error = assertThrows(() => decodeClientMessage(bytes), ProtocolError);
    assertEquals(
      pattern.test(error.message),
      true,
      `${what}: ${error.message}`,
    );
  }
});

Deno.test("download messages survive a round trip with the documented layouts", () => {
  const streamer: StreamerMessage[] = [
    {
      type: "downloadStart",
      download: {
        downloadId: 7,
        name: "report ✓.pdf",
        size: 1 << 20,
        kind: "print",
      },
    },
    {
      type: "downloadChunk",
      downloadId: 0xfffffffe,
      data: Uint8Array.of(0, 1, 2, 255),
    },
    { type: "downloadEnd", end: { downloadId: 7, ok: true } },
    { type: "downloadEnd", end: { downloadId: 8, ok: false, error: "gone" } },
  ];
  for (const message of streamer) {
    assertEquals(
      decodeStreamerMessage(encodeStreamerMessage(message)),
      message,
    );
  }
  const chunk = encodeStreamerMessage(streamer[1]);
  assertEquals([...chunk], [
    S.DOWNLOAD_CHUNK,
    0xfe,
    0xff,
    0xff,
    0xff,
    0,
    1,
    2,
    255,
  ]);
  assertEquals(S.DOWNLOAD_START, 0x0c);
  assertEquals(S.DOWNLOAD_CHUNK, 0x0d);
  assertEquals(S.DOWNLOAD_END, 0x0e);
  const start = encodeStreamerMessage(streamer[0]);
  assertEquals(start[0], 0x0c);
  assertEquals(JSON.parse(new TextDecoder().decode(start.subarray(1))), {
    downloadId: 7,
    name: "report ✓.pdf",
    size: 1 << 20,
    kind: "print",
  });

  const client: ClientMessage[] = [
    { type: "downloadAck", downloadId: 3, chunks: 0x01020304 },
    { type: "downloadCancel", downloadId: 0xffffffff },
  ];
  for (const message of client) {
    assertEquals(decodeClientMessage(encodeClientMessage(message)), message);
  }
  assertEquals(
    [...encodeClientMessage(client[0])],
    [0x90, 3, 0, 0, 0, 4, 3, 2, 1],
  );
  assertEquals(
    [...encodeClientMessage(client[1])],
    [0x91, 0xff, 0xff, 0xff, 0xff],
  );
});

Deno.test("malformed download messages are refused with a ProtocolError", () => {
  const start = { downloadId: 1, name: "a.txt", size: 3, kind: "file" };
  const streamer: [string, Uint8Array, RegExp][] = [
    ["start not JSON", Uint8Array.of(S.DOWNLOAD_START, 0x7b), /JSON/],
    [
      "start kind unknown",
      json(S.DOWNLOAD_START, { ...start, kind: "x" }),
      /kind/,
    ],
    [
      "start name a path",
      json(S.DOWNLOAD_START, { ...start, name: "../a" }),
      /name/,
    ],
    [
      "start name empty",
      json(S.DOWNLOAD_START, { ...start, name: "" }),
      /name/,
    ],
    [
      "start name control",
      json(S.DOWNLOAD_START, { ...start, name: "a\nb" }),
      /name/,
    ],
    [
      "start name too long",
      json(S.DOWNLOAD_START, { ...start, name: "n".repeat(MAX_FILE_NAME + 1) }),
      /name/,
    ],
    [
      "start size negative",
      json(S.DOWNLOAD_START, { ...start, size: -1 }),
      /size/,
    ],
    [
      "start id too large",
      json(S.DOWNLOAD_START, { ...start, downloadId: 2 ** 32 }),
      /downloadId/,
    ],
    ["short chunk", Uint8Array.of(S.DOWNLOAD_CHUNK, 1, 0), /downloadChunk/],
    [
      "chunk too large",
      new Uint8Array(5 + MAX_DOWNLOAD_CHUNK + 1).fill(S.DOWNLOAD_CHUNK, 0, 1),
      /larger/,
    ],
    [
      "end ok not boolean",
      json(S.DOWNLOAD_END, { downloadId: 1, ok: "yes" }),
      /ok/,
    ],
    [
      "end failure without error",
      json(S.DOWNLOAD_END, { downloadId: 1, ok: false }),
      /error/,
    ],
    ["end without id", json(S.DOWNLOAD_END, { ok: true }), /downloadId/],
  ];
  for (const [what, bytes, pattern] of streamer) {
    const error = assertThrows(
      () => decodeStreamerMessage(bytes),
      ProtocolError,
    );
    assert(pattern.test(error.message), `${what}: ${error.message}`);
  }
  const client: [string, Uint8Array, RegExp][] = [
    ["short ack", Uint8Array.of(C.DOWNLOAD_ACK, 1, 0, 0, 0, 1), /downloadAck/],
    ["long ack", new Uint8Array(10).fill(C.DOWNLOAD_ACK, 0, 1), /downloadAck/],
    ["short cancel", Uint8Array.of(C.DOWNLOAD_CANCEL, 1), /downloadCancel/],
    [
      "long cancel",
      new Uint8Array(6).fill(C.DOWNLOAD_CANCEL, 0, 1),
      /downloadCancel/,
    ],
  ];
  for (const [what, bytes, pattern] of client) {
    const error = assertThrows(() => decodeClientMessage(bytes), ProtocolError);
    assert(pattern.test(error.message), `${what}: ${error.message}`);
  }
});

Deno.test("APP_CLOSED is 0x11 with JSON {name}; a bad name is refused", () => {
  const bytes = encodeStreamerMessage({
    type: "appClosed",
    closed: { name: "Büro" },
  });
  assertEquals(bytes[0], 0x11);
  assertEquals(S.APP_CLOSED, 0x11);
  assertEquals(JSON.parse(new TextDecoder().decode(bytes.subarray(1))), {
    name: "Büro",
  });
  assertThrows(
    () => decodeStreamerMessage(json(S.APP_CLOSED, { name: 3 })),
    ProtocolError,
    /appClosed: name must be a string/,
  );
  assertThrows(
    () =>
      decodeStreamerMessage(
        json(S.APP_CLOSED, { name: "x".repeat(MAX_APP_NAME + 1) }),
      ),
    ProtocolError,
    new RegExp(`appClosed: name longer than ${MAX_APP_NAME} characters`),
  );
});
