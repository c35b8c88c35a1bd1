/**
 * Tests for `mod/streamer/encode/tiles.ts`: comparing tiles ignores the 4th
 * byte, copying and extracting tiles, single-colour detection, clipping
 * damage hints, and reading unaligned frames.
 *
 * @module
 */
import { assertEquals, assertThrows } from "../../support/assert.ts";
import {
  clipRect,
  copyTile,
  diffBounds,
  extractRgb,
  extractTile,
  frameWords,
  solidColour,
  tileDiffers,
} from "../../../mod/streamer/encode/tiles.ts";
import { frameRgb, makeFrame, setPixel } from "./support.ts";

const gradient = (x: number, y: number): [number, number, number] => [
  x * 10,
  y * 10,
  x + y,
];

Deno.test("tileDiffers sees colour changes only, inside the tile only", () => {
  const a = makeFrame(8, 8, gradient);
  const b = makeFrame(8, 8, gradient, { junk: 0xff });
  const wa = frameWords(a);
  const wb = frameWords(b);
  const tile = { x: 4, y: 4, width: 4, height: 4 };
  assertEquals(tileDiffers(wa, wb, tile), false, "4th byte ignored");
  setPixel(b, { x: 3, y: 3 }, [1, 2, 3]);
  assertEquals(tileDiffers(wa, wb, tile), false, "outside the tile");
  setPixel(b, { x: 7, y: 7 }, [0, 0, 1]);
  assertEquals(tileDiffers(wa, wb, tile), true, "blue changed by 1");
});

Deno.test("copyTile and extractTile move exactly the tile", () => {
  const from = frameWords(makeFrame(8, 6, gradient));
  const to = { words: new Uint32Array(48), stride: 8 };
  const rect = { x: 5, y: 2, width: 3, height: 4 };
  copyTile(from, to, rect);
  assertEquals(tileDiffers(from, to, rect), false);
  assertEquals(to.words[0], 0, "nothing outside the tile");
  const packed = extractTile(from, rect);
  assertEquals(packed.length, 3 * 4 * 4);
  // Row 1, column 2 of the tile is pixel (7, 3): B, G, R = 10, 30, 70.
  assertEquals([...packed.subarray((1 * 3 + 2) * 4, (1 * 3 + 2) * 4 + 3)], [
    10,
    30,
    70,
  ]);
});

Deno.test("extractRgb gives the tile's R, G, B bytes, padded stride or not", () => {
  const rect = { x: 5, y: 2, width: 3, height: 4 };
  for (
    const frame of [
      makeFrame(8, 6, gradient),
      makeFrame(8, 6, gradient, { junk: 9, stride: 40 }),
    ]
  ) {
    const rgb = extractRgb(frameWords(frame), rect);
    assertEquals(rgb.length, 3 * 4 * 3);
    assertEquals([...rgb], [...frameRgb(frame, rect)]);
  }
  // Every width and offset: whole words where a row allows, bytes elsewhere.
  const wide = makeFrame(23, 5, (x, y) => [x * 11, y * 50 + x, 255 - x * 7], {
    junk: 0xee,
  });
  for (let w = 1; w <= 13; w++) {
    for (const x of [0, 1, 3, 10]) {
      const r = { x, y: 1, width: w, height: 4 };
      assertEquals(
        [...extractRgb(frameWords(wide), r)],
        [...frameRgb(wide, r)],
        `${w} wide at ${x}`,
      );
    }
  }
  // Row 1, column 2 of the tile is pixel (7, 3): R, G, B = 70, 30, 10.
  assertEquals([
    ...extractRgb(frameWords(makeFrame(8, 6, gradient)), {
      x: 7,
      y: 3,
      width: 1,
      height: 1,
    }),
  ], [70, 30, 10]);
});

Deno.test("solidColour gives R, G, B, 255 or undefined", () => {
  const frame = makeFrame(8, 8, () => [1, 2, 3], { junk: 7 });
  frame.data[4 * 9 + 3] = 99; // a different 4th byte is still the same colour
  const words = frameWords(frame);
  assertEquals([...solidColour(words, { x: 0, y: 0, width: 8, height: 8 })!], [
    1,
    2,
    3,
    255,
  ]);
  setPixel(frame, { x: 7, y: 7 }, [1, 2, 4]);
  assertEquals(
    solidColour(words, { x: 0, y: 0, width: 8, height: 8 }),
    undefined,
  );
  assertEquals(
    [...solidColour(words, { x: 0, y: 0, width: 7, height: 8 })!],
    [1, 2, 3, 255],
  );
});

Deno.test("clipRect clips to the screen and rounds outwards", () => {
  assertEquals(clipRect({ x: -5, y: 2.5, width: 10, height: 1 }, 100, 50), {
    x: 0,
    y: 2,
    width: 5,
    height: 2,
  });
  assertEquals(clipRect({ x: 90, y: 40, width: 50, height: 50 }, 100, 50), {
    x: 90,
    y: 40,
    width: 10,
    height: 10,
  });
  assertEquals(
    clipRect({ x: 100, y: 0, width: 5, height: 5 }, 100, 50),
    undefined,
  );
  assertEquals(
    clipRect({ x: 1, y: 1, width: 0, height: 5 }, 100, 50),
    undefined,
  );
  assertThrows(
    () => clipRect({ x: 0, y: 0, width: Infinity, height: 1 }, 100, 50),
    RangeError,
  );
});

Deno.test("frameWords views aligned frames and packs unaligned ones", () => {
  const frame = makeFrame(5, 3, gradient, { stride: 24 });
  const view = frameWords(frame);
  assertEquals(view.stride, 6);
  assertEquals(view.words.buffer, frame.data.buffer, "no copy");
  const odd = makeFrame(5, 3, gradient, { stride: 23 });
  const packed = frameWords(odd);
  assertEquals(packed.stride, 5);
  const rect = { x: 0, y: 0, width: 5, height: 3 };
  assertEquals(tileDiffers(view, packed, rect), false);
});

Deno.test("diffBounds is the bounding box of the differing pixels", () => {
  const size = 16;
  const a = frameWords(makeFrame(size, size, gradient));
  let seed = 7;
  const next = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
  for (let trial = 0; trial < 200; trial++) {
    const b = { words: a.words.slice(), stride: a.stride };
    const changed = next() % 5;
    let x0 = size, y0 = size, x1 = -1, y1 = -1;
    for (let k = 0; k < changed; k++) {
      const x = next() % size, y = next() % size;
      b.words[y * size + x] ^= 0x010101;
      x0 = Math.min(x0, x);
      y0 = Math.min(y0, y);
      x1 = Math.max(x1, x);
      y1 = Math.max(y1, y);
    }
    const rect = { x: 0, y: 0, width: size, height: size };
    const want = x1 < 0
      ? undefined
      : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
    assertEquals(diffBounds(a, b, rect), want, `trial ${trial}`);
  }
  // The 4th byte is not a difference.
  const c = { words: a.words.slice(), stride: a.stride };
  c.words[5] ^= 0xff000000;
  assertEquals(
    diffBounds(a, c, { x: 0, y: 0, width: size, height: size }),
    undefined,
  );
});
