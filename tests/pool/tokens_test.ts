/**
 * Tests for connection tokens and pool passwords: tokens are 32 random bytes
 * as base64url (43 characters, URL-safe alphabet, never repeated),
 * `hashToken` is the lowercase hex SHA-256 of the token (checked against
 * node:crypto), and pool passwords are 24 characters without ':' or newline.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { hashToken, newPassword, newToken } from "../../mod/pool/tokens.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

const BASE64URL = /^[A-Za-z0-9_-]+$/;

Deno.test("newToken: 43 base64url characters encoding 32 bytes", () => {
  for (let i = 0; i < 200; i++) {
    const token = newToken();
    assertEquals(token.length, 43);
    assertMatch(token, BASE64URL);
    assertEquals(Buffer.from(token, "base64url").length, 32);
  }
});

Deno.test("newToken: tokens are random", () => {
  const tokens = new Set(Array.from({ length: 1000 }, () => newToken()));
  assertEquals(tokens.size, 1000);
  // Every alphabet character turns up across many tokens; a biased or
  // constant source would not produce them all.
  const seen = new Set([...tokens].join(""));
  assertEquals(seen.size, 64);
});

Deno.test("hashToken is the lowercase hex SHA-256 of the token", async () => {
  for (const token of [newToken(), newToken(), "", "päss→wörd"]) {
    const expected = createHash("sha256").update(token, "utf8").digest("hex");
    const hash = await hashToken(token);
    assertEquals(hash, expected);
    assertMatch(hash, /^[0-9a-f]{64}$/);
  }
});

Deno.test("hashToken differs for different tokens", async () => {
  const a = newToken();
  const b = newToken();
  assert(await hashToken(a) !== await hashToken(b));
  assertEquals(await hashToken(a), await hashToken(a));
});

Deno.test("newPassword: 24 characters, no ':' or newline, random", () => {
  const passwords = new Set<string>();
  for (let i = 0; i < 500; i++) {
    const password = newPassword();
    assertEquals(password.length, 24);
    assert(!password.includes(":"), password);
    assert(!password.includes("\n") && !password.includes("\r"), password);
    assertMatch(password, BASE64URL);
    passwords.add(password);
  }
  assertEquals(passwords.size, 500);
});
