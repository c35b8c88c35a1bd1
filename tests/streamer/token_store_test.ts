/** Armed connection tokens: one use each, and only until they expire. */
import { TokenStore } from "../../mod/streamer/token_store.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("a token is accepted once", () => {
  const store = new TokenStore();
  store.arm("h1", 60);
  assertEquals(store.consume("h1"), true);
  assertEquals(store.consume("h1"), false);
  assertEquals(store.consume("never-armed"), false);
});

Deno.test("an expired token is refused and pruned", () => {
  let now = 1_000_000;
  const store = new TokenStore(() => now);
  store.arm("h1", 10);
  store.arm("h2", 30);
  assertEquals(store.size, 2);
  now += 10_000;
  assertEquals(store.consume("h1"), false, "expires exactly at its ttl");
  assertEquals(store.size, 1);
  now += 19_999;
  assertEquals(store.consume("h2"), true);
  assertEquals(store.size, 0);
});
