/** The token hash carried by CONNECTION_TOKEN is the hex SHA-256 of the token. */
import { createHash } from "node:crypto";
import { hashToken } from "../../mod/control/token_hash.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

Deno.test("hashToken is the lowercase hex SHA-256 of the token text", async () => {
  for (
    const token of [
      "",
      "abc",
      "upn4TyQ1r4mmLMEQtaW_-B8HfO72A1WxhbJFj41EzjY",
      "ünï",
    ]
  ) {
    const expected = createHash("sha256").update(token, "utf8").digest("hex");
    const actual = await hashToken(token);
    assertEquals(actual, expected);
    assertMatch(actual, /^[0-9a-f]{64}$/);
  }
});
