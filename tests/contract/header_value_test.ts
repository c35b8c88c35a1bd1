/**
 * Header values outside printable ASCII: `encodeHeaderValue` leaves printable
 * ASCII alone and writes anything else as one RFC 2047 encoded word
 * (`=?utf-8?b?…?=`, base64 of the UTF-8 bytes) that real HTTP headers carry;
 * plain ASCII shaped like an encoded word is encoded too, so it round trips.
 * `readHeaderValue` / `decodeHeaderValue` reverse it (any case of the
 * charset and encoding letters), leave values that are not shaped like an
 * encoded word as they came, and refuse a value shaped like one that does
 * not decode (another charset or encoding, broken or unpadded base64,
 * invalid UTF-8, two words run together) instead of using it literally.
 *
 * @module
 */
import {
  decodeHeaderValue,
  encodeHeaderValue,
  HeaderValueError,
  readHeaderValue,
} from "../../mod/contract/header_value.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertThrows,
} from "../support/assert.ts";

const NON_ASCII = [
  "Büro",
  "C:\\Programme\\Büro\\app.exe --titel «Übersicht»",
  "日本語のデスクトップ",
  "emoji 😀 and tab\tinside",
  "line\nbreak",
  "ÿ",
];

Deno.test("printable ASCII is left as it is", () => {
  for (
    const value of [
      "",
      "Desktop",
      "xterm -fa 'Mono' -e \"top\"",
      "~!@#$%^&*()_+{}|:<>?`-=[]\\;',./",
      "=?not quite a word",
      "a word at the end =?x?=",
    ]
  ) {
    assertEquals(encodeHeaderValue(value), value);
  }
});

Deno.test("anything else becomes one encoded word that round trips", () => {
  for (const value of NON_ASCII) {
    const encoded = encodeHeaderValue(value);
    assertMatch(encoded, /^=\?utf-8\?b\?[A-Za-z0-9+/]*={0,2}\?=$/);
    // It can travel in a real header.
    assertEquals(
      new Headers({ "X-App-Name": encoded }).get("x-app-name"),
      encoded,
    );
    assertEquals(decodeHeaderValue(encoded), value);
  }
  assertEquals(encodeHeaderValue("Büro"), "=?utf-8?b?QsO8cm8=?=");
});

Deno.test("ASCII that reads as an encoded word is encoded, so it round trips", () => {
  for (
    const value of [
      "=?utf-8?b?QsO8cm8=?=",
      "=?UTF-8?B??=",
      "=?utf-8?q?not base64?=",
      "=??=",
    ]
  ) {
    const encoded = encodeHeaderValue(value);
    assert(encoded !== value, value);
    assertEquals(decodeHeaderValue(encoded), value);
  }
});

Deno.test("decoding: any letter case; what is not shaped like a word stays", () => {
  assertEquals(decodeHeaderValue("=?UTF-8?B?QsO8cm8=?="), "Büro");
  assertEquals(decodeHeaderValue("=?Utf-8?b?QsO8cm8=?="), "Büro");
  for (
    const value of [
      "Büro plain",
      "QsO8cm8=",
      "=?utf-8?b?QsO8cm8=?= and more",
      "=?utf-8?b?QsO8cm8?=x",
      "prefix =?utf-8?b?QsO8cm8=?=",
    ]
  ) {
    assertEquals(decodeHeaderValue(value), value);
    assertEquals(readHeaderValue(value), { ok: true, value });
  }
  // An empty encoded word is the empty string.
  assertEquals(decodeHeaderValue("=?utf-8?b??="), "");
  assert(decodeHeaderValue(encodeHeaderValue("ä")) === "ä");
});

Deno.test("a value shaped like an encoded word that does not decode is refused", () => {
  const malformed = "a malformed encoded word (expected =?utf-8?b?<base64>?=)";
  for (
    const value of [
      "=?utf-8?q?B=C3=BCro?=", // quoted-printable: not what the gateway sends
      "=?iso-8859-1?b?QvxybW8=?=",
      "=?utf-8?b?not base64!?=",
      "=?utf-8?b?%%%?=",
      "=?utf-8?b?QsO8cm8?=", // unpadded
      "=?utf-8?b?QsO8c?=", // a length no base64 has
      "=?utf-8?b?QsO8cm8=?= =?utf-8?b?QsO8cm8=?=", // two run together
      "=?utf-8?b?QsO8cm8=?=, =?utf-8?b?QsO8cm8=?=", // a repeated header
      "=?x?=",
      "=??=",
    ]
  ) {
    assertEquals(
      readHeaderValue(value),
      { ok: false, error: malformed },
      value,
    );
    const error = assertThrows(
      () => decodeHeaderValue(value),
      HeaderValueError,
    ) as HeaderValueError;
    assertEquals(error.message, malformed);
  }
  // 0xff is not UTF-8.
  assertEquals(readHeaderValue("=?utf-8?b?/w==?="), {
    ok: false,
    error: "a malformed encoded word (its bytes are not UTF-8)",
  });
});
