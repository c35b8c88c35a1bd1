/**
 * Tests for `mod/streamer/encode/mod.ts` (`TileEncoder`): the first encode
 * sends every tile and the tiles decode to the frame; then only changed
 * tiles are sent (one pixel → one tile; the 4th byte ignored); edge tiles
 * are smaller; single-colour tiles are SOLID; a fast-changing tile goes JPEG
 * and, once it stops, gets one lossless refinement; damage hints restrict
 * the compare until the periodic full compare; size changes and reset()
 * send everything; padded strides work; workers and no workers give
 * identical tiles; close() stops the workers.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import {
  defaultWorkers,
  type EncodedUpdate,
  type Frame,
  TileEncoder,
} from "../../../mod/streamer/encode/mod.ts";
import { ENCODING, type Tile } from "../../../httpdocs/session/protocol.js";
import {
  decodeTile,
  frameRgb,
  makeFrame,
  meanAbsError,
  setPixel,
} from "./support.ts";

/** Text-like content: a few colours in a pattern that is never solid. */
function textLike(width: number, height: number, seed = 0): Frame {
  return makeFrame(
    width,
    height,
    (x, y) =>
      ((x * 7 + y * 3 + seed) % 11) < 3
        ? [20, 20, 20]
        : (y % 9 === 0 ? [40, 90, 180] : [255, 255, 255]),
  );
}

/** Photo-like content that moves with `t`. */
function photoLike(width: number, height: number, t: number): Frame {
  return makeFrame(width, height, (x, y) => [
    Math.round(128 + 100 * Math.sin((x + t * 5) / 7)),
    (x * 3 + y * 2 + t * 11) & 255,
    Math.round(128 + 90 * Math.cos((y - t * 3) / 5)),
  ]);
}

/** Decodes every tile and checks it against the frame. */
async function assertTilesMatch(
  tiles: Tile[],
  frame: Frame,
  options: { maxJpegError?: number } = {},
): Promise<void> {
  for (const tile of tiles) {
    const decoded = await decodeTile(tile);
    assertEquals([decoded.width, decoded.height], [tile.width, tile.height]);
    const want = frameRgb(frame, tile);
    if (tile.encoding === ENCODING.JPEG) {
      const error = meanAbsError(decoded.rgb, want);
      assert(
        error < (options.maxJpegError ?? 6),
        `JPEG tile at ${tile.x},${tile.y}: mean abs error ${error}`,
      );
    } else {
      assertEquals(decoded.rgb, want, `tile at ${tile.x},${tile.y} exact`);
    }
  }
}

function positions(update: EncodedUpdate): string[] {
  return update.tiles.map((t) => `${t.x},${t.y} ${t.width}×${t.height}`);
}

Deno.test("the first encode sends every tile, edge tiles smaller, exact", async () => {
  const encoder = new TileEncoder({ workers: 0 });
  try {
    const frame = textLike(150, 100);
    const update = await encoder.encode(frame);
    // Lossless tiles side by side share one PNG per tile row.
    assertEquals(positions(update), ["0,0 150×64", "0,64 150×36"]);
    assertEquals(update.changedTiles, 6);
    assertEquals(update.lossless, 6, "the first frame is lossless");
    assertEquals(update.lossy + update.solid + update.refinements, 0);
    assertEquals(
      update.bytes,
      update.tiles.reduce((n, t) => n + t.data.length, 0),
    );
    await assertTilesMatch(update.tiles, frame);
    // Nothing changed: nothing is sent.
    const again = await encoder.encode(textLike(150, 100));
    assertEquals(again.tiles, []);
    assertEquals(again.changedTiles, 0);
  } finally {
    encoder.close();
  }
});

Deno.test("one changed pixel sends exactly that pixel; the 4th byte is ignored", async () => {
  const encoder = new TileEncoder({ workers: 0, tileSize: 32 });
  try {
    const frame = textLike(200, 90);
    await encoder.encode(frame);
    setPixel(frame, { x: 100, y: 40 }, [255, 0, 0]);
    const update = await encoder.encode(frame);
    assertEquals(positions(update), ["100,40 1×1"]);
    assertEquals(update.changedTiles, 1);
    assertEquals(update.tiles[0].encoding, ENCODING.PNG);
    await assertTilesMatch(update.tiles, frame);
    // The unused byte changes everywhere: no tile changed.
    for (let i = 3; i < frame.data.length; i += 4) frame.data[i] = 0x5a;
    assertEquals((await encoder.encode(frame)).tiles, []);
    // A change in the last pixel of the bottom-right (edge) tile.
    setPixel(frame, { x: 199, y: 89 }, [1, 2, 3]);
    const edge = await encoder.encode(frame);
    assertEquals(positions(edge), ["199,89 1×1"]);
    await assertTilesMatch(edge.tiles, frame);
  } finally {
    encoder.close();
  }
});

Deno.test("single-colour tiles are SOLID with R, G, B, 255", async () => {
  const encoder = new TileEncoder({ workers: 0 });
  try {
    const frame = makeFrame(
      100,
      70,
      (x) => x < 64 ? [10, 20, 30] : [200, 100, 0],
    );
    setPixel(frame, { x: 70, y: 66 }, [0, 0, 0]); // bottom-right tile not solid
    const update = await encoder.encode(frame);
    assertEquals(update.solid, 3);
    assertEquals(update.lossless, 1);
    const solids = update.tiles.filter((t) => t.encoding === ENCODING.SOLID);
    assertEquals(solids.map((t) => [...t.data]), [
      [10, 20, 30, 255],
      [200, 100, 0, 255],
      [10, 20, 30, 255],
    ]);
    await assertTilesMatch(update.tiles, frame);
  } finally {
    encoder.close();
  }
});

Deno.test("a fast-changing tile goes JPEG, then gets one lossless refinement", async () => {
  const encoder = new TileEncoder({
    workers: 0,
    lossyAfter: 3,
    refineAfter: 3,
  });
  try {
    // A 64×64 animated region at the top-left of a static 128×64 screen.
    const frameAt = (t: number): Frame => {
      const frame = textLike(128, 64);
      const moving = photoLike(64, 64, t);
      for (let y = 0; y < 64; y++) {
        frame.data.set(
          moving.data.subarray(y * 256, y * 256 + 256),
          y * frame.stride,
        );
      }
      return frame;
    };
    const encodings: number[][] = [];
    for (let t = 0; t < 5; t++) {
      const frame = frameAt(t);
      const update = await encoder.encode(frame);
      await assertTilesMatch(update.tiles, frame);
      encodings.push(update.tiles.map((tile) => tile.encoding));
    }
    const { PNG, JPEG } = ENCODING;
    assertEquals(encodings, [[PNG], [PNG], [JPEG], [JPEG], [JPEG]]);
    assertEquals(encoder.pendingRefinements, 1);
    // It stops changing: two quiet encodes, then the refinement.
    const still = frameAt(4);
    assertEquals((await encoder.encode(still, [])).tiles, []);
    assertEquals((await encoder.encode(still)).tiles, []);
    const refined = await encoder.encode(still, []);
    assertEquals(positions(refined), ["0,0 64×64"]);
    assertEquals(refined.tiles[0].encoding, PNG);
    assertEquals(refined.refinements, 1);
    assertEquals(refined.changedTiles, 0);
    assertEquals(refined.lossless, 1);
    await assertTilesMatch(refined.tiles, still); // exact
    assertEquals(encoder.pendingRefinements, 0);
    assertEquals((await encoder.encode(still)).tiles, [], "refined once");
  } finally {
    encoder.close();
  }
});

Deno.test("hints restrict the compare until the periodic full compare", async (t) => {
  const encoder = new TileEncoder({ workers: 0, fullCompareEvery: 5 });
  try {
    const frame = textLike(256, 128);
    await encoder.encode(frame); // a full compare
    await t.step("a change inside a hint is sent at once", async () => {
      setPixel(frame, { x: 70, y: 10 }, [255, 0, 0]);
      const update = await encoder.encode(frame, [
        { x: 60, y: 0, width: 20, height: 20 }, // meets tiles 0,0 and 64,0
      ]);
      assertEquals(positions(update), ["70,10 1×1"]);
    });
    await t.step(
      "a change outside the hints waits for the full compare",
      async () => {
        setPixel(frame, { x: 200, y: 100 }, [0, 255, 0]);
        // That was hinted encode 1 since the full compare; 3 more miss it.
        for (let i = 0; i < 3; i++) {
          const missed = await encoder.encode(frame, [
            { x: 0, y: 0, width: 10, height: 10 },
          ]);
          assertEquals(missed.tiles, [], `hinted encode ${i + 2}`);
        }
        const found = await encoder.encode(frame, []);
        assertEquals(positions(found), ["200,100 1×1"]);
        await assertTilesMatch(found.tiles, frame);
      },
    );
    await t.step("no hints means a full compare", async () => {
      setPixel(frame, { x: 5, y: 120 }, [0, 0, 255]);
      assertEquals(positions(await encoder.encode(frame)), ["5,120 1×1"]);
    });
    await t.step("hints are clipped to the screen", async () => {
      setPixel(frame, { x: 255, y: 127 }, [9, 9, 9]);
      const update = await encoder.encode(frame, [
        { x: 250, y: 120, width: 500, height: 500 },
        { x: -50, y: -50, width: 10, height: 10 },
      ]);
      assertEquals(positions(update), ["255,127 1×1"]);
      await assertRejects(
        () => encoder.encode(frame, [{ x: NaN, y: 0, width: 1, height: 1 }]),
        RangeError,
      );
    });
  } finally {
    encoder.close();
  }
});

Deno.test("reset() and a size change send every tile again", async () => {
  const encoder = new TileEncoder({ workers: 0 });
  try {
    await encoder.encode(textLike(128, 128));
    encoder.reset();
    const again = await encoder.encode(textLike(128, 128));
    assertEquals(again.tiles.length, 2, "two tile rows");
    assertEquals(again.changedTiles, 4);
    const resized = textLike(100, 50, 3);
    const update = await encoder.encode(resized);
    assertEquals(positions(update), ["0,0 100×50"]);
    await assertTilesMatch(update.tiles, resized);
  } finally {
    encoder.close();
  }
});

Deno.test("padded strides and unaligned buffers are read correctly", async () => {
  const encoder = new TileEncoder({ workers: 0, tileSize: 16 });
  try {
    const padded = makeFrame(37, 21, (x, y) => [x * 6, y * 11, 77], {
      stride: 37 * 4 + 12,
    });
    const update = await encoder.encode(padded);
    assertEquals(update.tiles.length, 2, "one run per tile row");
    await assertTilesMatch(update.tiles, padded);
    // The same pixels at an odd offset with an odd stride.
    const odd = makeFrame(37, 21, (x, y) => [x * 6, y * 11, 77], {
      stride: 37 * 4 + 3,
    });
    const shifted = new Uint8Array(odd.data.length + 1);
    shifted.set(odd.data, 1);
    const unaligned = { ...odd, data: shifted.subarray(1) };
    assertEquals((await encoder.encode(unaligned)).tiles, []);
    setPixel(unaligned, { x: 36, y: 20 }, [1, 1, 1]);
    const changed = await encoder.encode(unaligned);
    assertEquals(positions(changed), ["36,20 1×1"]);
    await assertTilesMatch(changed.tiles, unaligned);
  } finally {
    encoder.close();
  }
});

Deno.test("workers and no workers give identical tiles", async () => {
  const local = new TileEncoder({ workers: 0 });
  const pooled = new TileEncoder({ workers: 2 });
  try {
    assertEquals(pooled.workers, 2);
    for (let t = 0; t < 6; t++) {
      // A moving photo-like band over text, with a solid bar.
      const frame = textLike(300, 200);
      const band = photoLike(300, 80, t);
      frame.data.set(band.data, 60 * frame.stride);
      frame.data.fill(128, 180 * frame.stride);
      const a = await local.encode(frame);
      const b = await pooled.encode(frame);
      assertEquals(b, a, `frame ${t}`);
      if (t >= 3) assert(a.lossy > 0, "the band went JPEG");
      assert(a.tiles.length > 0);
    }
    assertEquals(pooled.runningWorkers, 2);
  } finally {
    local.close();
    pooled.close();
  }
});

Deno.test("close() stops the workers; encode then rejects", async () => {
  const encoder = new TileEncoder({ workers: 2 });
  assertEquals(encoder.runningWorkers, 0, "workers start on first use");
  // Two tile rows: two PNG runs, one per worker.
  await encoder.encode(textLike(256, 128));
  assertEquals(encoder.runningWorkers, 2);
  encoder.close();
  assertEquals(encoder.runningWorkers, 0);
  await assertRejects(
    () => encoder.encode(textLike(256, 64)),
    Error,
    /closed/,
  );
});

Deno.test("warmUp() starts every worker; the next encode still sends every tile", async () => {
  const warmed = new TileEncoder({ workers: 2 });
  const fresh = new TileEncoder({ workers: 2 });
  try {
    await warmed.warmUp();
    assertEquals(warmed.runningWorkers, 2);
    assertEquals(fresh.runningWorkers, 0);
    const frame = textLike(256, 128);
    assertEquals(await warmed.encode(frame), await fresh.encode(frame));
    // Nothing else to send afterwards: the warm-up left no state behind.
    assertEquals((await warmed.encode(frame)).tiles, []);
  } finally {
    warmed.close();
    fresh.close();
  }
  // Closed while warming: the warm-up rejects, nothing is left running.
  const closing = new TileEncoder({ workers: 1 });
  const warming = closing.warmUp();
  closing.close();
  await assertRejects(() => warming, Error, /closed/);
  assertEquals(closing.runningWorkers, 0);
});

Deno.test("close() during an encode rejects it", async () => {
  const encoder = new TileEncoder({ workers: 1 });
  const pending = encoder.encode(photoLike(512, 256, 0));
  // Let the encode post its batch to the worker, then stop it.
  await new Promise((resolve) => setTimeout(resolve, 0));
  encoder.close();
  await assertRejects(() => pending, Error, /closed/);
  assertEquals(encoder.runningWorkers, 0);
});

Deno.test("concurrent encode calls run one after the other", async () => {
  const encoder = new TileEncoder({ workers: 0 });
  try {
    const frame = textLike(128, 64);
    const [first, second] = await Promise.all([
      encoder.encode(frame),
      encoder.encode(frame),
    ]);
    assertEquals(first.tiles.length, 1, "one PNG run");
    assertEquals(second.tiles, [], "the second saw the first's state");
  } finally {
    encoder.close();
  }
});

Deno.test("bad frames and options are refused", async () => {
  assertThrows(() => new TileEncoder({ tileSize: 3 }), RangeError);
  assertThrows(() => new TileEncoder({ jpegQuality: 101 }), RangeError);
  assertThrows(() => new TileEncoder({ workers: -1 }), RangeError);
  assertThrows(() => new TileEncoder({ lossyAfter: 9 }), RangeError);
  assertEquals(defaultWorkers(1), 1);
  assertEquals(defaultWorkers(2), 1);
  assertEquals(defaultWorkers(4), 3);
  assertEquals(defaultWorkers(16), 4);
  const encoder = new TileEncoder({ workers: 0 });
  try {
    const data = new Uint8Array(10 * 10 * 4);
    await assertRejects(
      () => encoder.encode({ width: 10, height: 10, stride: 36, data }),
      RangeError,
    );
    await assertRejects(
      () => encoder.encode({ width: 10, height: 11, stride: 40, data }),
      RangeError,
    );
    // Still usable after a refused frame.
    const ok = await encoder.encode({
      width: 10,
      height: 10,
      stride: 40,
      data,
    });
    assertEquals(ok.solid, 1);
  } finally {
    encoder.close();
  }
});

Deno.test("adjacent fast-changing tiles in a row go out as one wider JPEG", async () => {
  const encoder = new TileEncoder({ workers: 0, lossyAfter: 2 });
  try {
    // A 2560×64 band that changes every time: 40 tiles in one tile row.
    let last;
    for (let t = 0; t < 3; t++) {
      const frame = photoLike(2560, 64, t);
      last = await encoder.encode(frame);
      await assertTilesMatch(last.tiles, frame);
    }
    assertEquals(last!.lossy, 40, "every tile counts as lossy");
    // Runs are at most 2048 pixels wide: 2048 + 512.
    assertEquals(positions(last!), ["0,0 2048×64", "2048,0 512×64"]);
    assert(last!.tiles.every((tile) => tile.encoding === ENCODING.JPEG));
  } finally {
    encoder.close();
  }
});

Deno.test("runs of consecutive rows stack into blocks at most 512 tall", async () => {
  const encoder = new TileEncoder({ workers: 0, lossyAfter: 2 });
  try {
    // 640×700 changing everywhere except one tile at (128, 576): rows 0–8
    // are whole-width runs, row 9 is split around the still tile.
    const still = makeFrame(64, 64, (x, y) => [x * 4, y * 4, 9]);
    const frameAt = (t: number) => {
      const frame = photoLike(640, 700, t);
      for (let y = 0; y < 64; y++) {
        frame.data.set(
          still.data.subarray(y * 256, y * 256 + 256),
          (576 + y) * frame.stride + 128 * 4,
        );
      }
      return frame;
    };
    let last;
    for (let t = 0; t < 3; t++) {
      const frame = frameAt(t);
      last = await encoder.encode(frame);
      await assertTilesMatch(last.tiles, frame);
    }
    assertEquals(positions(last!), [
      "0,0 640×512", // rows 0–7 (eight rows of 64: the 512 limit)
      "0,512 640×64", // row 8 starts a new block
      "0,576 128×64", // row 9: left of the still tile…
      "192,576 448×64", // …and right of it
      "0,640 640×60", // row 10, the last, is 60 tall
    ]);
    assert(last!.tiles.every((tile) => tile.encoding === ENCODING.JPEG));
  } finally {
    encoder.close();
  }
});

Deno.test("an excluded region is left alone, then painted over lossless", async () => {
  const encoder = new TileEncoder({ workers: 0 });
  try {
    const frame = textLike(256, 128);
    await encoder.encode(frame);
    const region = { x: 64, y: 0, width: 128, height: 64 };
    // Changes inside the region (video) are not sent as tiles…
    for (let t = 0; t < 4; t++) {
      const moving = photoLike(128, 64, t);
      for (let y = 0; y < 64; y++) {
        frame.data.set(
          moving.data.subarray(y * 512, y * 512 + 512),
          y * frame.stride + 64 * 4,
        );
      }
      setPixel(frame, { x: 10, y: 100 + t }, [255, 0, 0]);
      const update = await encoder.encode(frame, undefined, {
        exclude: region,
      });
      assertEquals(positions(update), [`10,${100 + t} 1×1`], `frame ${t}`);
    }
    // …and once the region is back, its tiles go out exact, even though
    // the encoder's copy may hold the same pixels.
    const after = await encoder.encode(frame, []);
    assertEquals(positions(after), ["64,0 128×64"]);
    assertEquals(after.tiles[0].encoding, ENCODING.PNG);
    await assertTilesMatch(after.tiles, frame);
    assertEquals((await encoder.encode(frame)).tiles, [], "painted once");
  } finally {
    encoder.close();
  }
});
