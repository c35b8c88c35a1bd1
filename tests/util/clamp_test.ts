/** Tests for `mod/util/clamp.ts`. */
import { clamp } from "../../mod/util/clamp.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("clamp keeps a value within its bounds", () => {
  assertEquals(clamp(5, 1, 10), 5);
  assertEquals(clamp(-3, 1, 10), 1);
  assertEquals(clamp(42, 1, 10), 10);
});
