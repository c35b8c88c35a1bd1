/**
 * Tests for `mod/streamer/encode/pool.ts`: batches split over real workers
 * come back in job order and equal to encoding on this thread; workers
 * start on first use; close() stops them and rejects a batch in flight.
 *
 * @module
 */
import {
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import {
  encodeTile,
  type TileJob,
} from "../../../mod/streamer/encode/codecs.ts";
import { WorkerPool } from "../../../mod/streamer/encode/pool.ts";
import { ENCODING } from "../../../httpdocs/session/protocol.js";
import { makeFrame } from "./support.ts";

function jobs(count: number): TileJob[] {
  return Array.from({ length: count }, (_, i) => {
    const width = 8 + i * 3;
    const height = 5 + (i % 4) * 7;
    const frame = makeFrame(width, height, (x, y) => [x * i, y * 9, i * 20]);
    return {
      encoding: i % 2 ? ENCODING.JPEG : ENCODING.PNG,
      width,
      height,
      quality: 60,
      pixels: frame.data,
    };
  });
}

Deno.test("batches come back in job order, equal to this thread's", async () => {
  const pool = new WorkerPool(3);
  try {
    assertEquals(pool.running, 0);
    for (const count of [1, 2, 7]) {
      const local = await Promise.all(jobs(count).map((j) => encodeTile(j)));
      assertEquals(await pool.encode(jobs(count)), local, `${count} jobs`);
    }
    assertEquals(pool.running, 3);
    assertEquals(await pool.encode([]), []);
  } finally {
    pool.close();
  }
  assertEquals(pool.running, 0);
});

Deno.test("a worker's error rejects the batch; the pool keeps working", async () => {
  const pool = new WorkerPool(1);
  try {
    const bad = { ...jobs(1)[0], encoding: ENCODING.SOLID };
    await assertRejects(() => pool.encode([bad]), Error, /encoding 2/);
    assertEquals((await pool.encode(jobs(2))).length, 2);
  } finally {
    pool.close();
  }
});

Deno.test("close() rejects a batch in flight and later batches", async () => {
  const pool = new WorkerPool(2);
  const pending = pool.encode(jobs(6));
  pool.close();
  await assertRejects(() => pending, Error, /closed/);
  await assertRejects(() => pool.encode(jobs(1)), Error, /closed/);
  assertEquals(pool.running, 0);
  assertThrows(() => new WorkerPool(0), RangeError);
});
