/**
 * `collectGarbage` really collects: garbage made and dropped is gone from
 * V8's heap after one call (without `--expose-gc` on the command line),
 * and what is still referenced stays.
 *
 * @module
 */
import { collectGarbage } from "../../mod/util/collect_garbage.ts";
import { assert, assertEquals } from "../support/assert.ts";

Deno.test("garbage is collected, what is referenced kept", () => {
  const kept = Array.from({ length: 1000 }, (_, i) => ({ i }));
  let garbage: { i: number; text: string }[] | undefined = Array.from(
    { length: 500_000 },
    (_, i) => ({ i, text: `record ${i}` }),
  );
  assertEquals(garbage.length, 500_000);
  garbage = undefined;
  const before = Deno.memoryUsage().heapUsed;
  collectGarbage();
  const after = Deno.memoryUsage().heapUsed;
  assert(
    before - after > 20 * 1024 * 1024,
    `heap ${before >> 20} MB before, ${after >> 20} MB after`,
  );
  collectGarbage();
  assertEquals(kept[999].i, 999);
});
