/**
 * Tests for `mod/streamer/encode/png.ts`: palette images of every depth and
 * truecolour images decode (with an independent decoder, `fast-png`, which
 * checks every chunk's CRC) to the exact pixels; rows of the wrong length
 * are refused.
 *
 * @module
 */
import { decode } from "fast-png";
import { assertEquals, assertThrows } from "../../support/assert.ts";
import { writePng } from "../../../mod/streamer/encode/png.ts";

Deno.test("palette PNGs of 1, 2, 4 and 8 bits decode to their indices and colours", () => {
  for (const depth of [1, 2, 4, 8] as const) {
    const width = 13, height = 5, colours = 1 << depth;
    const indices = Array.from(
      { length: width * height },
      (_, i) => (i * 7) % colours,
    );
    const rowBytes = Math.ceil(width * depth / 8);
    const rows = new Uint8Array(rowBytes * height);
    indices.forEach((v, i) => {
      const x = i % width, y = Math.floor(i / width);
      const bit = x * depth;
      rows[y * rowBytes + (bit >> 3)] |= v << (8 - depth - (bit & 7));
    });
    const palette = Array.from(
      { length: colours },
      (_, i) => (i << 16) | ((255 - i) << 8) | ((i * 3) & 255),
    );
    const png = decode(
      writePng({ kind: "palette", width, height, depth, palette, rows }, {
        level: 6,
      }),
    );
    assertEquals([png.width, png.height, png.depth], [width, height, depth]);
    assertEquals(png.palette?.length, colours);
    const last = colours - 1;
    assertEquals(png.palette?.[last], [last, 255 - last, (last * 3) & 255]);
    assertEquals(png.data, rows, `depth ${depth}`);
  }
});

Deno.test("truecolour PNGs decode to their RGB bytes", () => {
  const rows = Uint8Array.from({ length: 7 * 3 * 4 }, (_, i) => (i * 37) & 255);
  const png = decode(
    writePng({ kind: "rgb", width: 7, height: 4, rows }, { level: 1 }),
  );
  assertEquals([png.channels, png.depth], [3, 8]);
  assertEquals(new Uint8Array(png.data), rows);
});

Deno.test("rows of the wrong length are refused", () => {
  assertThrows(
    () =>
      writePng({
        kind: "rgb",
        width: 2,
        height: 2,
        rows: new Uint8Array(11),
      }, { level: 6 }),
    RangeError,
    /expected 12/,
  );
});
