/**
 * Tests for the gateway's shared secret on `/getConnection`: with no secret
 * configured every request passes; with one, only `Authorization: Bearer
 * <secret>` does (mismatch, missing header and other schemes are refused).
 *
 * @module
 */
import { bearer, hasSharedSecret } from "../../mod/contract/shared_secret.ts";
import { assert, assertEquals } from "../support/assert.ts";

const SECRET = "gw-shared-secret-0123";

const headers = (authorization?: string): Headers =>
  new Headers(authorization === undefined ? {} : { authorization });

Deno.test("no secret configured: every request is allowed", () => {
  for (const secret of [undefined, ""]) {
    assert(hasSharedSecret(headers(), secret));
    assert(hasSharedSecret(headers("Bearer anything"), secret));
    assert(hasSharedSecret(headers("Basic dXNlcjpwdw=="), secret));
  }
});

Deno.test("the right Bearer secret is allowed", () => {
  assert(hasSharedSecret(headers(`Bearer ${SECRET}`), SECRET));
  assert(hasSharedSecret(headers(bearer(SECRET)), SECRET));
  // The scheme name is case-insensitive (RFC 9110 §11.1).
  assert(hasSharedSecret(headers(`bearer ${SECRET}`), SECRET));
});

Deno.test("a wrong, missing or differently-schemed secret is refused", () => {
  const refused = [
    undefined,
    "",
    "Bearer",
    "Bearer ",
    "Bearer wrong-secret",
    `Bearer ${SECRET}x`,
    `Bearer ${SECRET.slice(0, -1)}`,
    `Bearer ${SECRET.toUpperCase()}`,
    SECRET,
    `Basic ${SECRET}`,
    `Token ${SECRET}`,
    `Bearer${SECRET}`,
  ];
  for (const value of refused) {
    assertEquals(hasSharedSecret(headers(value), SECRET), false, `${value}`);
  }
});

Deno.test("bearer builds the header value", () => {
  assertEquals(bearer("abc123xyz"), "Bearer abc123xyz");
});
