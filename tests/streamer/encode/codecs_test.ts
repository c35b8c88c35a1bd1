/**
 * Tests for `mod/streamer/encode/codecs.ts`: PNG tiles decode to exactly the
 * pixels given (indexed at 1, 2, 4 and 8 bits, and RGB beyond 256 colours,
 * at odd sizes), with BGRX turned into RGB and the 4th byte ignored; JPEG
 * tiles decode close to the pixels; bad sizes and qualities are refused.
 *
 * @module
 */
import { decode as decodePng } from "fast-png";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import {
  encodeJpeg,
  encodePng,
  encodeTile,
} from "../../../mod/streamer/encode/codecs.ts";
import { ENCODING } from "../../../httpdocs/session/protocol.js";
import { decodePngRgb, frameRgb, makeFrame, meanAbsError } from "./support.ts";
import { seeded } from "../../support/seeded.ts";
import { decodeJpeg } from "./jpeg_decoder.js";

/** `colours` distinct colours in a pseudo-random layout. */
function paletteFrame(width: number, height: number, colours: number) {
  const rnd = seeded(colours);
  // Distinct: the first two channels spell out the index.
  const table = Array.from({ length: colours }, (_, i) =>
    [
      i & 255,
      ((i >> 8) * 41 + 7) & 255,
      (i * 13 + 200) & 255,
    ] as [number, number, number]);
  // Every colour at least once, then random.
  let n = 0;
  return makeFrame(
    width,
    height,
    () => table[n < colours ? n++ : Math.floor(rnd() * colours)],
    { junk: 0xab },
  );
}

Deno.test("PNG round trip is exact at every palette depth and as RGB", () => {
  const cases: [number, number, number, number | undefined][] = [
    // width, height, colours, expected PNG bit depth of the index
    [64, 64, 2, 1],
    [13, 7, 2, 1],
    [63, 5, 4, 2],
    [17, 33, 16, 4],
    [64, 64, 200, 8],
    [64, 64, 256, 8],
    [64, 64, 4000, undefined],
    [1, 1, 1, 1],
  ];
  for (const [width, height, colours, depth] of cases) {
    const frame = paletteFrame(
      width,
      height,
      Math.min(colours, width * height),
    );
    const png = encodePng(frame.data, frame);
    const raw = decodePng(png);
    if (depth === undefined) {
      assertEquals(raw.palette, undefined, "RGB beyond 256 colours");
      assertEquals(raw.channels, 3);
    } else {
      assert(raw.palette, `${colours} colours: indexed`);
      assertEquals(raw.depth, depth, `${colours} colours: ${depth}-bit`);
    }
    const decoded = decodePngRgb(png);
    assertEquals([decoded.width, decoded.height], [width, height]);
    assertEquals(
      decoded.rgb,
      frameRgb(frame, { x: 0, y: 0, width, height }),
      `${width}×${height}, ${colours} colours`,
    );
  }
});

Deno.test("BGRX becomes RGB: a red tile stays red", async () => {
  const frame = makeFrame(16, 16, () => [250, 10, 0]);
  const png = decodePngRgb(encodePng(frame.data, frame));
  assertEquals([...png.rgb.subarray(0, 3)], [250, 10, 0]);
  const jpeg = await decodeJpeg(
    await encodeJpeg(frame.data, frame, {
      quality: 90,
    }),
  );
  const [r, g, b] = jpeg.data;
  assert(r > 230 && g < 40 && b < 30, `JPEG red decoded as ${r},${g},${b}`);
});

Deno.test("JPEG round trip is close; higher quality is closer and larger", async () => {
  const frame = makeFrame(61, 45, (x, y) => [
    Math.round(128 + 100 * Math.sin(x / 9)),
    (x * 3 + y * 2) & 255,
    Math.round(200 - y * 3),
  ]);
  const want = frameRgb(frame, { x: 0, y: 0, width: 61, height: 45 });
  const errors: number[] = [];
  const sizes: number[] = [];
  for (const quality of [30, 90]) {
    const bytes = await encodeJpeg(frame.data, frame, { quality });
    assertEquals([...bytes.subarray(0, 2)], [0xff, 0xd8], "JPEG SOI marker");
    const image = await decodeJpeg(bytes);
    assertEquals([image.width, image.height], [61, 45]);
    const rgb = new Uint8Array(61 * 45 * 3);
    for (let i = 0, o = 0; o < rgb.length; i += 4, o += 3) {
      rgb.set(image.data.subarray(i, i + 3), o);
    }
    errors.push(meanAbsError(rgb, want));
    sizes.push(bytes.length);
  }
  assert(errors[1] < 3, `quality 90 mean abs error ${errors[1]}`);
  assert(errors[0] < 8, `quality 30 mean abs error ${errors[0]}`);
  assert(errors[1] < errors[0], `errors ${errors}`);
  assert(sizes[1] > sizes[0], `sizes ${sizes}`);
});

Deno.test("encodings are deterministic", async () => {
  const frame = paletteFrame(64, 64, 4000);
  const a = await encodeJpeg(frame.data, frame, { quality: 70 });
  const b = await encodeJpeg(frame.data, frame, { quality: 70 });
  assertEquals(a, b);
  assertEquals(encodePng(frame.data, frame), encodePng(frame.data, frame));
});

Deno.test("bad sizes, qualities and encodings are refused", async () => {
  const data = new Uint8Array(16);
  assertThrows(() => encodePng(data, { width: 3, height: 2 }), RangeError);
  assertThrows(() => encodePng(data, { width: 0, height: 1 }), RangeError);
  await assertRejects(
    () => encodeJpeg(data, { width: 2, height: 2 }, { quality: 0 }),
    RangeError,
  );
  await assertRejects(
    () => encodeJpeg(data, { width: 5, height: 2 }, { quality: 50 }),
    RangeError,
  );
  await assertRejects(
    () =>
      encodeTile({
        encoding: ENCODING.SOLID,
        width: 2,
        height: 2,
        quality: 70,
        pixels: data,
      }),
    RangeError,
  );
});
