/** The viewer socket's JSON messages before media exists: hello, ping, pong. */
import {
  decodeViewerMessage,
  VIEWER_PROTOCOL,
} from "../../mod/streamer/viewer.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

Deno.test("ping is understood with its id; anything else is not", () => {
  assertEquals(decodeViewerMessage('{"type":"ping","id":3}'), {
    type: "ping",
    id: 3,
  });
  assertEquals(decodeViewerMessage('{"type":"ping"}'), {
    type: "ping",
    id: null,
  });
  for (
    const data of [
      "ping",
      "{",
      "null",
      "[]",
      '{"type":"pong"}',
      new ArrayBuffer(2),
      `{"type":"ping","pad":"${"x".repeat(5000)}"}`,
    ]
  ) {
    assertEquals(decodeViewerMessage(data), undefined);
  }
});

Deno.test("the protocol is versioned", () => {
  assertMatch(VIEWER_PROTOCOL, /^webstream\/\d+$/);
});
