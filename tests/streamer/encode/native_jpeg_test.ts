/**
 * The native JPEG encoder (sharp) loads here, and its JPEG decodes to the
 * tile it was given (small mean error), like the WebAssembly one's; the tile
 * encoder gives the same tiles either way, only the JPEG bytes differ.
 *
 * @module
 */
import { ENCODING } from "../../../httpdocs/session/protocol.js";
import { encodeJpeg } from "../../../mod/streamer/encode/codecs.ts";
import { TileEncoder } from "../../../mod/streamer/encode/mod.ts";
import { nativeJpegEncoder } from "../../../mod/streamer/encode/native_jpeg.ts";
import { assert, assertEquals, assertRejects } from "../../support/assert.ts";
import { decodeTile, frameRgb, makeFrame, meanAbsError } from "./support.ts";

const frame = makeFrame(
  96,
  64,
  (x, y) => [(x * 3) & 255, (y * 4) & 255, ((x + y) * 2) & 255],
);

Deno.test("native JPEG decodes close to the tile, like mozjpeg's", async () => {
  const native = await nativeJpegEncoder();
  assert(native, "sharp loads on this platform");
  const job = {
    x: 0,
    y: 0,
    encoding: ENCODING.JPEG,
    width: 96,
    height: 64,
    quality: 80,
    pixels: frame.data,
  };
  const want = frameRgb(frame, { x: 0, y: 0, width: 96, height: 64 });
  await assertRejects(
    () => native(want.subarray(3), job),
    RangeError,
    /needs 18432 RGB bytes/,
  );
  for (
    const bytes of [
      await native(frameRgb(frame, job), job),
      await encodeJpeg(frame.data, job, { quality: 80 }),
    ]
  ) {
    assertEquals([bytes[0], bytes[1]], [0xff, 0xd8], "a JPEG");
    const decoded = await decodeTile({
      x: 0,
      y: 0,
      width: 96,
      height: 64,
      encoding: ENCODING.JPEG,
      data: bytes,
    });
    assertEquals([decoded.width, decoded.height], [96, 64]);
    assert(meanAbsError(decoded.rgb, want) < 6, "close to the source");
  }
});

Deno.test("the tile encoder gives the same tiles with either JPEG encoder", async () => {
  const runs: string[][] = [];
  for (const nativeJpeg of [true, false]) {
    const encoder = new TileEncoder({ workers: 0, lossyAfter: 1, nativeJpeg });
    try {
      const update = await encoder.encode(frame);
      runs.push(
        update.tiles.map((t) =>
          `${t.x},${t.y} ${t.width}×${t.height} ${t.encoding}`
        ),
      );
    } finally {
      encoder.close();
    }
  }
  assertEquals(runs[0], runs[1]);
});
