/**
 * Pixel work on the calling thread for the tile encoder: comparing a tile
 * of the frame with the last-sent copy, copying it, extracting packed tile
 * pixels and detecting single-colour tiles.
 *
 * Pixels are handled as 32-bit words (`Uint32Array`), which on little-endian
 * machines (x86-64, ARM64: every target) puts the unused 4th BGRX byte in the
 * top 8 bits; `RGB_MASK` drops it.
 *
 * @module
 */

/** The colour bits of a BGRX word on a little-endian machine. */
export const RGB_MASK = 0x00ffffff;

/** A rectangle in pixels. */
export interface Rect {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** 32-bit words of a frame, rows `stride` words apart. */
export interface WordImage {
  /** The pixels. */
  words: Uint32Array;
  /** Words from one row to the next. */
  stride: number;
}

/**
 * The frame as 32-bit words: a view when the data and stride are 4-byte
 * aligned (the normal case, no copy), else a packed copy.
 */
export function frameWords(
  frame: { width: number; height: number; stride: number; data: Uint8Array },
): WordImage {
  const { width, height, stride, data } = frame;
  if (data.byteOffset % 4 === 0 && stride % 4 === 0) {
    const words = new Uint32Array(
      data.buffer,
      data.byteOffset,
      Math.floor(data.byteLength / 4),
    );
    return { words, stride: stride / 4 };
  }
  const packed = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    packed.set(
      data.subarray(y * stride, y * stride + width * 4),
      y * width * 4,
    );
  }
  return { words: new Uint32Array(packed.buffer), stride: width };
}

/** Whether the tile `rect` differs between two images, ignoring the 4th byte. */
export function tileDiffers(a: WordImage, b: WordImage, rect: Rect): boolean {
  const { x, y, width, height } = rect;
  const aw = a.words;
  const bw = b.words;
  for (let r = 0; r < height; r++) {
    let i = (y + r) * a.stride + x;
    let j = (y + r) * b.stride + x;
    for (const end = i + width; i < end; i++, j++) {
      const d = aw[i] ^ bw[j];
      if (d !== 0 && (d & RGB_MASK) !== 0) return true;
    }
  }
  return false;
}

/** Copies the rectangle `rect` from `from` into `to` (same coordinates). */
export function copyTile(from: WordImage, to: WordImage, rect: Rect): void {
  const { x, y, width, height } = rect;
  if (x === 0 && width === from.stride && from.stride === to.stride) {
    // Whole rows: one copy.
    const i = y * from.stride;
    to.words.set(from.words.subarray(i, i + width * height), i);
    return;
  }
  for (let r = 0; r < height; r++) {
    const i = (y + r) * from.stride + x;
    to.words.set(from.words.subarray(i, i + width), (y + r) * to.stride + x);
  }
}

/** The tile `rect` as packed BGRX bytes (`width * 4` per row, a new buffer). */
export function extractTile(from: WordImage, rect: Rect): Uint8Array {
  const { x, y, width, height } = rect;
  const out = new Uint32Array(width * height);
  for (let r = 0; r < height; r++) {
    const i = (y + r) * from.stride + x;
    out.set(from.words.subarray(i, i + width), r * width);
  }
  return new Uint8Array(out.buffer);
}

/**
 * The tile `rect` as packed RGB bytes (`width * 3` per row, a new buffer):
 * what a JPEG encoder takes, converted straight from the words. Four pixels
 * are written as three little-endian words where a row allows (a third
 * fewer stores than byte by byte: this runs over every lossy pixel).
 */
export function extractRgb(from: WordImage, rect: Rect): Uint8Array {
  const { x, y, width, height } = rect;
  const w = from.words;
  // Rounded up to whole words; the view returned is exact.
  const out = new Uint8Array(Math.ceil(width * height * 3 / 4) * 4);
  const outWords = new Uint32Array(out.buffer);
  const quads = width >> 2;
  let o = 0;
  for (let r = 0; r < height; r++) {
    let i = (y + r) * from.stride + x;
    if ((o & 3) === 0) {
      // R G B of four pixels a, b, c, d: [ar ag ab br] [bg bb cr cg] [cb dr dg db].
      let ow = o >> 2;
      for (let q = 0; q < quads; q++, i += 4, ow += 3) {
        const a = w[i], b = w[i + 1], c = w[i + 2], d = w[i + 3];
        outWords[ow] = ((a >>> 16) & 0xff) | (a & 0xff00) |
          ((a & 0xff) << 16) | (((b >>> 16) & 0xff) << 24);
        outWords[ow + 1] = ((b >>> 8) & 0xff) | ((b & 0xff) << 8) |
          (c & 0xff0000) | ((c & 0xff00) << 16);
        outWords[ow + 2] = (c & 0xff) | ((d >>> 8) & 0xff00) |
          ((d & 0xff00) << 8) | ((d & 0xff) << 24);
      }
      o = ow << 2;
    }
    for (const end = (y + r) * from.stride + x + width; i < end; i++, o += 3) {
      const v = w[i];
      out[o] = v >>> 16;
      out[o + 1] = v >>> 8;
      out[o + 2] = v;
    }
  }
  return out.subarray(0, width * height * 3);
}

/**
 * The colour of the tile `rect` as 4 bytes R, G, B, 255 when every pixel has
 * the same colour, else undefined.
 */
export function solidColour(
  from: WordImage,
  rect: Rect,
): Uint8Array | undefined {
  const { x, y, width, height } = rect;
  const w = from.words;
  const first = w[y * from.stride + x] & RGB_MASK;
  for (let r = 0; r < height; r++) {
    let i = (y + r) * from.stride + x;
    for (const end = i + width; i < end; i++) {
      if ((w[i] & RGB_MASK) !== first) return undefined;
    }
  }
  return Uint8Array.of(first >> 16, (first >> 8) & 255, first & 255, 255);
}

/**
 * The intersection of `rect` with a `width`×`height` screen, in whole
 * pixels, or undefined when it is empty.
 */
export function clipRect(
  rect: Rect,
  width: number,
  height: number,
): Rect | undefined {
  const values = [rect.x, rect.y, rect.width, rect.height];
  if (!values.every(Number.isFinite)) {
    throw new RangeError(`damage hint is not finite: ${JSON.stringify(rect)}`);
  }
  const x0 = Math.max(0, Math.floor(rect.x));
  const y0 = Math.max(0, Math.floor(rect.y));
  const x1 = Math.min(width, Math.ceil(rect.x + rect.width));
  const y1 = Math.min(height, Math.ceil(rect.y + rect.height));
  if (x1 <= x0 || y1 <= y0) return undefined;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * The smallest rectangle within `rect` holding every pixel that differs
 * between `a` and `b` (ignoring the 4th byte), or undefined when none does.
 */
export function diffBounds(
  a: WordImage,
  b: WordImage,
  rect: Rect,
): Rect | undefined {
  const { x, y, width, height } = rect;
  const aw = a.words, bw = b.words;
  const differs = (r: number, c: number) =>
    ((aw[(y + r) * a.stride + x + c] ^ bw[(y + r) * b.stride + x + c]) &
      RGB_MASK) !== 0;
  const rowDiffers = (r: number) => {
    for (let c = 0; c < width; c++) if (differs(r, c)) return true;
    return false;
  };
  // Each edge is searched from its own side and stops at the first
  // difference, so a wholly changed tile costs a few rows, not all pixels.
  let top = 0;
  while (top < height && !rowDiffers(top)) top++;
  if (top === height) return undefined;
  let bottom = height - 1;
  while (!rowDiffers(bottom)) bottom--;
  let left = width - 1, right = 0;
  for (let r = top; r <= bottom; r++) {
    for (let c = 0; c < left; c++) {
      if (differs(r, c)) {
        left = c;
        break;
      }
    }
    for (let c = width - 1; c > right; c--) {
      if (differs(r, c)) {
        right = c;
        break;
      }
    }
  }
  // A row with its only difference at `left` (or `right`) is caught by the
  // loops' bounds: make sure both edges hold a difference.
  if (right < left) right = left;
  return {
    x: x + left,
    y: y + top,
    width: right - left + 1,
    height: bottom - top + 1,
  };
}

/**
 * Whether the tile `rect` of `from` has at least `limit` distinct colours
 * (at most 512). Stops counting as soon as it knows.
 */
export function hasManyColours(
  from: WordImage,
  rect: Rect,
  limit: number,
): boolean {
  // Open addressing over a power-of-two table twice the limit's size,
  // slots from the product's high bits (its low bits depend only on the
  // colour's low bits: blue).
  const bits = Math.ceil(Math.log2(Math.max(2, limit) * 2));
  const table = new Int32Array(1 << bits).fill(-1);
  const mask = (1 << bits) - 1;
  const w = from.words;
  let count = 0;
  let last = -1;
  for (let r = 0; r < rect.height; r++) {
    let i = (rect.y + r) * from.stride + rect.x;
    for (const end = i + rect.width; i < end; i++) {
      const c = w[i] & RGB_MASK;
      if (c === last) continue;
      last = c;
      let k = Math.imul(c, 0x9e3779b1) >>> (32 - bits);
      while (table[k] !== -1 && table[k] !== c) k = (k + 1) & mask;
      if (table[k] === c) continue;
      table[k] = c;
      if (++count >= limit) return true;
    }
  }
  return false;
}

/** The smallest rectangle holding all of `rects` (at least one). */
export function boundingBox(rects: readonly Rect[]): Rect {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const r of rects) {
    x0 = Math.min(x0, r.x);
    y0 = Math.min(y0, r.y);
    x1 = Math.max(x1, r.x + r.width);
    y1 = Math.max(y1, r.y + r.height);
  }
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** Whether two rectangles share a pixel. */
export function intersects(a: Rect, b: Rect): boolean {
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height &&
    b.y < a.y + a.height;
}

/** Whether `outer` holds all of `inner`. */
export function contains(outer: Rect, inner: Rect): boolean {
  return inner.x >= outer.x && inner.y >= outer.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height;
}
