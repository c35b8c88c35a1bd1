/**
 * The tile encoder on everyday content, checked through a model of the
 * viewer's picture: scrolled text and a dragged window go out as `COPY`
 * tiles plus only what is new, and the picture stays exact; text that
 * changes often stays lossless.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import { type Frame, TileEncoder } from "../../../mod/streamer/encode/mod.ts";
import { ENCODING } from "../../../httpdocs/session/protocol.js";
import { frameRgb, makeFrame, ViewerPicture } from "./support.ts";

const W = 640, H = 448, LINE = 16;

/** Line `n` of a document: glyph-like strokes, different on every line. */
function textPixel(
  n: number,
  x: number,
  row: number,
): [number, number, number] {
  if (row >= 12 || x < 8) return [255, 255, 255];
  const glyph = ((x >> 3) * 7 + n * 13) >>> 0;
  const on = ((Math.imul(glyph, 2654435761) >>> ((x + row) & 7)) & 1) === 1;
  return on ? [30, 30, 30] : [255, 255, 255];
}

/** An editor showing document lines from `first` on. */
function textScreen(first: number): Frame {
  return makeFrame(
    W,
    H,
    (x, y) => textPixel(first + Math.floor(y / LINE), x, y % LINE),
  );
}

function assertShows(picture: ViewerPicture, frame: Frame, what: string) {
  assertEquals(
    picture.rgb,
    frameRgb(frame, { x: 0, y: 0, width: W, height: H }),
    what,
  );
}

Deno.test("scrolling text: a copy and the new line, never JPEG, picture exact", async () => {
  const encoder = new TileEncoder({ workers: 0 });
  const picture = new ViewerPicture(W, H);
  const hint = [{ x: 0, y: 0, width: W, height: H }];
  try {
    const first = await encoder.encode(textScreen(0));
    await picture.apply(first.tiles);
    const fullBytes = first.bytes;
    let scrollBytes = 0;
    for (let line = 1; line <= 12; line++) {
      const frame = textScreen(line);
      const update = await encoder.encode(frame, hint);
      await picture.apply(update.tiles);
      assertShows(picture, frame, `after scrolling ${line} lines`);
      assertEquals(update.copies, 1, `line ${line}: one copy`);
      assertEquals(update.tiles[0].encoding, ENCODING.COPY);
      assertEquals(update.lossy, 0, "text stays lossless");
      // The new line only: one strip of LINE rows.
      const drawn = update.tiles.filter((t) => t.encoding !== ENCODING.COPY);
      for (const t of drawn) assert(t.y >= H - LINE, `strip at ${t.y}`);
      scrollBytes += update.bytes;
    }
    assert(
      scrollBytes / 12 < fullBytes / 10,
      `a scrolled line (${
        scrollBytes / 12
      } B) costs a fraction of the screen (${fullBytes} B)`,
    );
  } finally {
    encoder.close();
  }
});

Deno.test("a dragged window: copies plus the uncovered background, exact", async () => {
  const encoder = new TileEncoder({ workers: 0 });
  const picture = new ViewerPicture(W, H);
  const screen = (wx: number, wy: number) =>
    makeFrame(W, H, (x, y) => {
      const inside = x >= wx && x < wx + 240 && y >= wy && y < wy + 160;
      if (!inside) return [40, 80, 120];
      return textPixel(Math.floor((y - wy) / LINE), x - wx, (y - wy) % LINE);
    });
  try {
    await picture.apply((await encoder.encode(screen(20, 30))).tiles);
    let copied = 0;
    for (let step = 1; step <= 8; step++) {
      const frame = screen(20 + step * 13, 30 + step * 7);
      const update = await encoder.encode(frame, [
        { x: 0, y: 0, width: W, height: H },
      ]);
      await picture.apply(update.tiles);
      assertShows(picture, frame, `step ${step}`);
      copied += update.copiedPixels;
    }
    assert(copied > 8 * 240 * 160 / 2, `most of the window copied: ${copied}`);
  } finally {
    encoder.close();
  }
});
