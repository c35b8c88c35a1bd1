/**
 * Tests for `mod/streamer/encode/motion.ts`: a scrolled text area and a
 * dragged window are found with their exact displacement, their copies
 * reproduce the new picture wherever they claim to, nothing is proposed
 * when nothing moved or content merely changed, and copies read the
 * picture as it was before any of them.
 *
 * @module
 */
import { assert, assertEquals } from "../../support/assert.ts";
import {
  applyCopies,
  type CopyRect,
  copyRects,
  findCopies,
  findMotion,
} from "../../../mod/streamer/encode/motion.ts";
import {
  RGB_MASK,
  type WordImage,
} from "../../../mod/streamer/encode/tiles.ts";

/** A `width`×`height` word image filled by `colour(x, y)`. */
function image(
  width: number,
  height: number,
  colour: (x: number, y: number) => number,
): WordImage {
  const words = new Uint32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) words[y * width + x] = colour(x, y);
  }
  return { words, stride: width };
}

/** Text-like lines: line `n` of the document is drawn at row `y`. */
function textLine(n: number, x: number, row: number): number {
  // 14-pixel lines, glyph-like strokes that differ from line to line.
  if (row >= 11) return 0xffffff;
  const glyph = (x >> 3) * 7 + n * 13;
  return ((glyph * 2654435761) >>> ((x + row) & 7)) & 1 ? 0x202020 : 0xffffff;
}

/** A text area of `lines` lines starting at document line `first`. */
function textScreen(first: number, size: { width: number; height: number }) {
  return image(size.width, size.height, (x, y) => {
    if (x < 16 || x >= size.width - 16) return 0x3050a0; // frame
    return textLine(first + Math.floor(y / 14), x, y % 14);
  });
}

function equalIn(a: WordImage, b: WordImage, r: CopyRect): boolean {
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      if (
        ((a.words[y * a.stride + x] ^ b.words[y * b.stride + x]) &
          RGB_MASK) !== 0
      ) return false;
    }
  }
  return true;
}

Deno.test("a text area scrolled by three lines is found and copied exactly", () => {
  const size = { width: 640, height: 420 };
  const sent = textScreen(0, size);
  const current = textScreen(3, size); // three lines up: dy = -42
  const area = { x: 0, y: 0, ...size };
  assertEquals(findMotion(current, sent, area), { dx: 0, dy: -42 });
  const found = findCopies(current, sent, { area, ...size });
  assert(found, "a move was found");
  assertEquals(found.motion, { dx: 0, dy: -42 });
  // Everything but the frame (unchanged) and the three new lines at the
  // bottom is copied.
  const rows = new Set(found.copies.flatMap((c) => [c.y, c.y + c.height]));
  assert(Math.min(...rows) === 0 && Math.max(...rows) <= 420 - 42);
  assert(found.pixels >= (640 - 32) * (420 - 42 - 16), `${found.pixels}`);
  const viewer = { words: sent.words.slice(), stride: sent.stride };
  applyCopies(viewer, found.copies);
  for (const c of found.copies) {
    assertEquals(c.srcY - c.y, 42);
    assert(equalIn(viewer, current, c), `copy at ${c.x},${c.y} is exact`);
  }
});

Deno.test("a dragged window is found with its 2-D displacement", () => {
  const size = { width: 800, height: 600 };
  const window = (wx: number, wy: number) =>
    image(size.width, size.height, (x, y) => {
      const inside = x >= wx && x < wx + 300 && y >= wy && y < wy + 200;
      if (!inside) return 0x336699;
      const lx = x - wx, ly = y - wy;
      return ly < 20 ? 0x224488 : textLine(Math.floor(ly / 14), lx, ly % 14);
    });
  const sent = window(100, 80);
  const current = window(123, 91);
  const area = { x: 100, y: 80, width: 323, height: 211 };
  const found = findCopies(current, sent, { area, ...size });
  assert(found);
  assertEquals(found.motion, { dx: 23, dy: 11 });
  const viewer = { words: sent.words.slice(), stride: sent.stride };
  applyCopies(viewer, found.copies);
  for (const c of found.copies) {
    assert(equalIn(viewer, current, c), `copy at ${c.x},${c.y}`);
  }
  assert(found.pixels > 300 * 200 / 2, `most of the window: ${found.pixels}`);
});

Deno.test("nothing moved, or content changed in place: no copies", () => {
  const size = { width: 320, height: 200 };
  const area = { x: 0, y: 0, ...size };
  const a = textScreen(0, size);
  assertEquals(findCopies(a, a, { area, ...size }), undefined);
  // Noise that changes everywhere has no move to find.
  let seed = 1;
  const noise = () =>
    image(size.width, size.height, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 8;
    });
  assertEquals(findCopies(noise(), noise(), { area, ...size }), undefined);
  // An area narrower than one segment is not searched.
  assertEquals(
    findCopies(textScreen(1, size), a, {
      area: { x: 0, y: 0, width: 20, height: 200 },
      ...size,
    }),
    undefined,
  );
});

Deno.test("copy rectangles never read outside the screen", () => {
  const size = { width: 256, height: 128 };
  const sent = textScreen(0, size);
  const current = textScreen(2, size);
  const copies = copyRects(current, sent, {
    area: { x: 0, y: 0, ...size },
    motion: { dx: 0, dy: -28 },
    ...size,
  });
  assert(copies.length > 0);
  for (const c of copies) {
    assert(c.srcY >= 0 && c.srcY + c.height <= 128, JSON.stringify(c));
  }
});

Deno.test("applyCopies reads the picture as it was before any copy", () => {
  // Row values 0..3; copy row 0 → row 1 and row 1 → row 2 at once.
  const img = image(4, 4, (_x, y) => y);
  applyCopies(img, [
    { x: 0, y: 1, width: 4, height: 1, srcX: 0, srcY: 0 },
    { x: 0, y: 2, width: 4, height: 1, srcX: 0, srcY: 1 },
  ]);
  assertEquals([...img.words.filter((_, i) => i % 4 === 0)], [0, 0, 1, 3]);
});

Deno.test("a copy overlapping its own source moves as if read first, any direction", () => {
  const w = 12, h = 10;
  const distinct = (x: number, y: number) => y * 100 + x;
  for (const [dx, dy] of [[0, 3], [0, -3], [2, 0], [-2, 0], [3, 2], [-1, -3]]) {
    const img = image(w, h, distinct);
    // A 6 × 5 block at (3, 3) moved by (dx, dy): it overlaps its source.
    const copy = {
      x: 3 + dx,
      y: 3 + dy,
      width: 6,
      height: 5,
      srcX: 3,
      srcY: 3,
    };
    applyCopies(img, [copy]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const inside = x >= copy.x && x < copy.x + 6 && y >= copy.y &&
          y < copy.y + 5;
        const expected = inside ? distinct(x - dx, y - dy) : distinct(x, y);
        assertEquals(
          img.words[y * w + x],
          expected,
          `(${dx},${dy}) at ${x},${y}`,
        );
      }
    }
  }
});
