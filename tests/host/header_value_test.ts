/**
 * Header values outside printable ASCII: `encodeHeaderValue` leaves printable
 * ASCII alone and writes anything else as one RFC 2047 encoded word
 * (`=?utf-8?b?…?=`, base64 of the UTF-8 bytes) that real HTTP headers carry;
 * `decodeHeaderValue` reverses it (any case of the charset and encoding
 * letters), and leaves plain values, other encodings, broken base64 and
 * invalid UTF-8 exactly as they came.
 *
 * @module
 */
import {
  decodeHeaderValue,
  encodeHeaderValue,
} from "../../mod/host/header_value.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

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
      "=?utf-8?q?not base64?=",
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
  for (const value of ["=?utf-8?b?QsO8cm8=?=", "=?UTF-8?B??="]) {
    const encoded = encodeHeaderValue(value);
    assert(encoded !== value, value);
    assertEquals(decodeHeaderValue(encoded), value);
  }
});

Deno.test("decoding: any letter case, and what is not an encoded word stays", () => {
  assertEquals(decodeHeaderValue("=?UTF-8?B?QsO8cm8=?="), "Büro");
  assertEquals(decodeHeaderValue("=?Utf-8?b?QsO8cm8=?="), "Büro");
  for (
    const value of [
      "Büro plain",
      "QsO8cm8=",
      "=?utf-8?q?B=C3=BCro?=", // quoted-printable: not what the gateway sends
      "=?iso-8859-1?b?QvxybW8=?=",
      "=?utf-8?b?QsO8cm8=?= and more",
      "=?utf-8?b?not base64!?=",
      "=?utf-8?b?QsO8cm8?=x",
      "=?utf-8?b?/w==?=", // 0xff: not UTF-8
    ]
  ) {
    assertEquals(decodeHeaderValue(value), value);
  }
  // An empty encoded word is the empty string.
  assertEquals(decodeHeaderValue("=?utf-8?b??="), "");
  assert(decodeHeaderValue(encodeHeaderValue("ä")) === "ä");
});
