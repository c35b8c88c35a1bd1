/**
 * Tests for `mod/platform/linux/output_tail.ts`: the whole stream is
 * drained while only its last characters are kept, and a stream still open
 * does not hold up the reading for long.
 *
 * @module
 */
import { assertEquals } from "../../support/assert.ts";
import { keepTail } from "../../../mod/platform/linux/output_tail.ts";

function streamOf(chunks: string[], close = true): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(new TextEncoder().encode(c));
      if (close) controller.close();
    },
  });
}

Deno.test("keepTail keeps the last characters of a drained stream", async () => {
  const read = keepTail(streamOf(["abc", "def", "ghij"]), { size: 5 });
  assertEquals(await read(), "fghij");
});

Deno.test("keepTail reads what came so far from a stream still open", async () => {
  const read = keepTail(streamOf(["early"], false));
  assertEquals(await read(), "early");
});
