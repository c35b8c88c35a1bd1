/**
 * The control protocol codec: the seed's three messages byte for byte,
 * webstream's additions, round trips, direction checks and malformed input.
 */
import {
  ControlCodecError,
  type ControlMessage,
  decodeControl,
  encodeControl,
  MAX_MESSAGE_LENGTH,
} from "../../mod/control/codec.ts";
import { assertEquals, assertThrows } from "../support/assert.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";
const HASH = "ab".repeat(32);

Deno.test("the seed's messages have exactly the seed's wire form", () => {
  assertEquals(
    encodeControl({ type: "REQUEST_SESSION_INFO", username: "webs01" }),
    "REQUEST_SESSION_INFO:webs01",
  );
  assertEquals(
    encodeControl({
      type: "SESSION_INFO",
      sessionUuid: UUID,
      commandLineParams: "xterm -e top",
    }),
    `SESSION_INFO:${UUID}|xterm -e top`,
  );
  assertEquals(
    encodeControl({
      type: "FILE_UPLOAD_COMPLETE",
      dialogGuid: "{0D5B3C2A-1111-2222-3333-444455556666}",
      filePath: "/home/webs01/Uploads/report.pdf",
    }),
    "FILE_UPLOAD_COMPLETE:{0D5B3C2A-1111-2222-3333-444455556666}|/home/webs01/Uploads/report.pdf",
  );
});

Deno.test("every message survives a round trip", () => {
  const messages: ControlMessage[] = [
    { type: "REQUEST_SESSION_INFO", username: "webs07" },
    { type: "RESUME_SESSION", username: "webs07", sessionUuid: UUID },
    { type: "SESSION_INFO", sessionUuid: UUID, commandLineParams: "" },
    {
      type: "SESSION_INFO",
      sessionUuid: UUID,
      commandLineParams: `a|b "c d" 'e:f' ünïcødé`,
    },
    {
      type: "FILE_UPLOAD_COMPLETE",
      dialogGuid: UUID,
      filePath: "C:\\Users\\webs01\\Uploads\\a|b.txt",
    },
    {
      type: "CONNECTION_TOKEN",
      sessionUuid: UUID,
      tokenHash: HASH,
      ttlSeconds: 60,
    },
    { type: "TOKEN_ARMED", tokenHash: HASH },
    { type: "CLIENT_CONNECTED", sessionUuid: UUID },
    { type: "CLIENT_DISCONNECTED", sessionUuid: UUID },
    { type: "SESSION_IN_USE", sessionUuid: UUID },
    {
      type: "VIEWER_SETTINGS",
      sessionUuid: UUID,
      settings: '{"policy":{"clipboard":"both"},"width":1280}',
    },
    {
      type: "UPLOAD_LANDED",
      dialogGuid: UUID,
      filePath: "/home/webs01/Uploads/a|b.txt",
    },
  ];
  for (const message of messages) {
    assertEquals(decodeControl(encodeControl(message)), message);
  }
});

Deno.test("the payload after the first '|' is kept whole", () => {
  const decoded = decodeControl(`SESSION_INFO:${UUID}|x|y|z`);
  assertEquals(decoded, {
    type: "SESSION_INFO",
    sessionUuid: UUID,
    commandLineParams: "x|y|z",
  });
});

Deno.test("malformed input is refused with a reason", () => {
  const cases: [unknown, RegExp][] = [
    [new ArrayBuffer(4), /text/],
    ["", /TYPE:payload/],
    ["REQUEST_SESSION_INFO", /TYPE:payload/],
    [":webs01", /TYPE:payload/],
    ["HELLO:webs01", /unknown message type "HELLO"/],
    ["request_session_info:webs01", /unknown message type/],
    ["REQUEST_SESSION_INFO:", /invalid username/],
    ["REQUEST_SESSION_INFO:web s01", /invalid username/],
    ["REQUEST_SESSION_INFO:" + "a".repeat(65), /invalid username/],
    ["SESSION_INFO:not-a-uuid|x", /invalid sessionUuid/],
    [`SESSION_INFO:${UUID}`, /sessionUuid\|commandLineParams/],
    [`SESSION_INFO:${UUID}|a\0b`, /NUL/],
    ["FILE_UPLOAD_COMPLETE:nope|/tmp/x", /invalid dialogGuid/],
    [`FILE_UPLOAD_COMPLETE:${UUID}|`, /filePath/],
    [`FILE_UPLOAD_COMPLETE:${UUID}|/tmp/a\nb`, /filePath/],
    [`CONNECTION_TOKEN:${UUID}|${HASH}`, /ttlSeconds/],
    [`VIEWER_SETTINGS:not-a-uuid|{}`, /invalid sessionUuid/],
    [`VIEWER_SETTINGS:${UUID}|{"a":"\u0001"}`, /control characters/],
    [`UPLOAD_LANDED:${UUID}|`, /filePath must be non-empty/],
    [`CONNECTION_TOKEN:${UUID}|${HASH}|0`, /invalid ttlSeconds/],
    [`CONNECTION_TOKEN:${UUID}|${HASH.toUpperCase()}|5`, /invalid tokenHash/],
    ["TOKEN_ARMED:abc", /invalid tokenHash/],
    ["CLIENT_CONNECTED:x", /invalid sessionUuid/],
    ["REQUEST_SESSION_INFO:" + "a".repeat(MAX_MESSAGE_LENGTH), /exceeds/],
  ];
  for (const [text, reason] of cases) {
    assertThrows(() => decodeControl(text), ControlCodecError, reason);
  }
});

Deno.test("each side accepts only the other side's messages", () => {
  assertThrows(
    () => decodeControl(`SESSION_INFO:${UUID}|x`, { from: "streamer" }),
    ControlCodecError,
    /not sent by the streamer/,
  );
  assertThrows(
    () => decodeControl("REQUEST_SESSION_INFO:webs01", { from: "manager" }),
    ControlCodecError,
    /not sent by the manager/,
  );
  assertEquals(
    decodeControl("REQUEST_SESSION_INFO:webs01", { from: "streamer" }).type,
    "REQUEST_SESSION_INFO",
  );
});

Deno.test("encoding refuses a message it could not decode", () => {
  assertThrows(
    () => encodeControl({ type: "REQUEST_SESSION_INFO", username: "a:b" }),
    ControlCodecError,
  );
  assertThrows(
    () =>
      encodeControl({
        type: "SESSION_INFO",
        sessionUuid: "x",
        commandLineParams: "",
      }),
    ControlCodecError,
  );
});

Deno.test("error text never echoes control characters", () => {
  const error = assertThrows(
    () => decodeControl("BAD\u0007\u001b[31m:x"),
    ControlCodecError,
  );
  // deno-lint-ignore no-control-regex
  assertEquals(/[\u0000-\u001f]/.test(error.message), false);
});

Deno.test("RESUME_SESSION: username|sessionUuid from the streamer only", () => {
  assertEquals(
    encodeControl({
      type: "RESUME_SESSION",
      username: "webs01",
      sessionUuid: UUID,
    }),
    `RESUME_SESSION:webs01|${UUID}`,
  );
  assertEquals(
    decodeControl(`RESUME_SESSION:webs01|${UUID}`, { from: "streamer" }),
    {
      type: "RESUME_SESSION",
      username: "webs01",
      sessionUuid: UUID,
    },
  );
  for (
    const [text, reason] of [
      ["RESUME_SESSION:webs01", /expected username\|sessionUuid/],
      [`RESUME_SESSION:bad name|${UUID}`, /invalid username/],
      ["RESUME_SESSION:webs01|not-a-uuid", /invalid sessionUuid/],
    ] as const
  ) {
    assertThrows(() => decodeControl(text), ControlCodecError, reason);
  }
  assertThrows(
    () => decodeControl(`RESUME_SESSION:webs01|${UUID}`, { from: "manager" }),
    ControlCodecError,
    /not sent by the manager/,
  );
});

Deno.test("APP_CLOSED: sessionUuid|commandLine from the streamer only", () => {
  const message = {
    type: "APP_CLOSED" as const,
    sessionUuid: UUID,
    commandLineParams: "xterm -T 'a|b'",
  };
  assertEquals(encodeControl(message), `APP_CLOSED:${UUID}|xterm -T 'a|b'`);
  assertEquals(
    decodeControl(`APP_CLOSED:${UUID}|xterm -T 'a|b'`, { from: "streamer" }),
    message,
  );
  for (
    const [text, reason] of [
      [`APP_CLOSED:${UUID}|`, /names no command line/],
      [`APP_CLOSED:${UUID}`, /expected sessionUuid\|commandLineParams/],
      ["APP_CLOSED:nope|xterm", /invalid sessionUuid/],
      [`APP_CLOSED:${UUID}|a\0b`, /NUL/],
    ] as const
  ) {
    assertThrows(() => decodeControl(text), ControlCodecError, reason);
  }
  assertThrows(
    () => decodeControl(`APP_CLOSED:${UUID}|xterm`, { from: "manager" }),
    ControlCodecError,
    /not sent by the manager/,
  );
});
