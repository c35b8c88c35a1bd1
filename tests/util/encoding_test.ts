/**
 * Tests for the byte encodings against known vectors (RFC 4648 §10 for
 * base64, SHA-256 test vectors for hex) and against Node's own encoders, and
 * for `timingSafeEqual`.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import {
  encodeBase64Url,
  encodeHex,
  timingSafeEqual,
} from "../../mod/util/encoding.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

const bytes = (text: string): Uint8Array<ArrayBuffer> =>
  new TextEncoder().encode(text);

Deno.test("encodeHex: known vectors", () => {
  assertEquals(encodeHex(new Uint8Array()), "");
  assertEquals(
    encodeHex(new Uint8Array([0, 1, 0x0f, 0x10, 0xab, 0xff])),
    "00010f10abff",
  );
  assertEquals(encodeHex(bytes("foobar")), "666f6f626172");
});

Deno.test("encodeHex of a SHA-256 digest matches the published vector", async () => {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", bytes("abc")),
  );
  assertEquals(
    encodeHex(digest),
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
  );
});

Deno.test("encodeHex agrees with node:crypto on random input", () => {
  for (let i = 0; i < 20; i++) {
    const input = crypto.getRandomValues(new Uint8Array(i * 7));
    assertEquals(encodeHex(input), Buffer.from(input).toString("hex"));
  }
  const digest = createHash("sha256").update("webstream").digest();
  assertEquals(encodeHex(new Uint8Array(digest)), digest.toString("hex"));
});

Deno.test("encodeBase64Url: RFC 4648 vectors, without padding", () => {
  const vectors: [string, string][] = [
    ["", ""],
    ["f", "Zg"],
    ["fo", "Zm8"],
    ["foo", "Zm9v"],
    ["foob", "Zm9vYg"],
    ["fooba", "Zm9vYmE"],
    ["foobar", "Zm9vYmFy"],
  ];
  for (const [input, expected] of vectors) {
    assertEquals(encodeBase64Url(bytes(input)), expected, input);
  }
});

Deno.test("encodeBase64Url uses '-' and '_' instead of '+' and '/'", () => {
  assertEquals(encodeBase64Url(new Uint8Array([0xfb, 0xef, 0xbe])), "----");
  assertEquals(encodeBase64Url(new Uint8Array([0xff, 0xff, 0xff])), "____");
  assertEquals(encodeBase64Url(new Uint8Array([0xfb, 0xff])), "-_8");
});

Deno.test("encodeBase64Url agrees with Node's base64url on random input", () => {
  for (let i = 0; i < 50; i++) {
    const input = crypto.getRandomValues(new Uint8Array(i));
    const encoded = encodeBase64Url(input);
    assertEquals(encoded, Buffer.from(input).toString("base64url"));
    if (encoded) assertMatch(encoded, /^[A-Za-z0-9_-]+$/);
  }
});

Deno.test("timingSafeEqual", async (t) => {
  await t.step("equal strings", () => {
    assert(timingSafeEqual("", ""));
    assert(timingSafeEqual("secret-value", "secret-value"));
    assert(timingSafeEqual("päss→wörd", "päss→wörd"));
  });
  await t.step("different strings of the same length", () => {
    assert(!timingSafeEqual("secret-value", "secret-valuE"));
    assert(!timingSafeEqual("a", "b"));
  });
  await t.step("a prefix or an extension is not equal", () => {
    assert(!timingSafeEqual("secret", "secret-value"));
    assert(!timingSafeEqual("secret-value", "secret"));
    assert(!timingSafeEqual("", "x"));
    // Trailing NUL bytes must not pass for missing ones.
    assert(!timingSafeEqual("abc", "abc\0"));
  });
  await t.step("same UTF-16 length, different bytes", () => {
    assert(!timingSafeEqual("é", "e"));
  });
});
