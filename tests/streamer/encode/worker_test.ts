/**
 * Tests for `mod/streamer/encode/worker.ts`, the real module worker spoken
 * to directly: a batch comes back encoded in order with the same bytes as
 * this thread's codecs, and an error is answered, not thrown.
 *
 * @module
 */
import { assertEquals, assertMatch } from "../../support/assert.ts";
import {
  encodeTile,
  type TileJob,
} from "../../../mod/streamer/encode/codecs.ts";
import type {
  WorkerReply,
  WorkerRequest,
} from "../../../mod/streamer/encode/worker.ts";
import { ENCODING } from "../../../httpdocs/session/protocol.js";
import { makeFrame } from "./support.ts";

function ask(worker: Worker, request: WorkerRequest): Promise<WorkerReply> {
  return new Promise((resolve) => {
    worker.onmessage = (event: MessageEvent<WorkerReply>) =>
      resolve(event.data);
    worker.postMessage(request);
  });
}

Deno.test("the worker encodes a batch in order and reports errors", async () => {
  const worker = new Worker(
    new URL("../../../mod/streamer/encode/worker.ts", import.meta.url),
    { type: "module" },
  );
  try {
    const job = (encoding: number): TileJob => ({
      encoding,
      width: 20,
      height: 10,
      quality: 75,
      pixels: makeFrame(20, 10, (x, y) => [x * 12, y * 25, 99]).data,
    });
    const reply = await ask(worker, {
      id: 7,
      jobs: [job(ENCODING.JPEG), job(ENCODING.PNG)],
    });
    assertEquals(reply, {
      id: 7,
      results: [
        await encodeTile(job(ENCODING.JPEG)),
        await encodeTile(job(ENCODING.PNG)),
      ],
    });
    const failed = await ask(worker, { id: 8, jobs: [job(9)] });
    assertEquals(failed.id, 8);
    assertMatch("error" in failed ? failed.error : "", /encoding 9/);
  } finally {
    worker.terminate();
  }
});
