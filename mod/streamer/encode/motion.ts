/**
 * Move detection for the tile encoder: finds content that moved between
 * what the viewer holds (the encoder's last-sent copy) and the new frame
 * (a scrolled text area, a dragged window), so the viewer can copy pixels it
 * already has instead of receiving them again. Pure: no I/O, no clock.
 *
 * How (the idea of x11vnc's scroll detection and of rsync's rolling
 * checksum, in two dimensions):
 *
 * 1. **Anchors.** A few textured 32-pixel row segments of the new frame
 *    inside the damaged area that the viewer does not already show there.
 * 2. **Search.** One pass of a rolling hash over every 32-pixel window of
 *    the last-sent copy within the same area; a window whose hash (and then
 *    pixels) equals an anchor votes for that anchor's displacement.
 * 3. **Verify.** For the displacement with the most anchors behind it,
 *    every 16×16 block of the area is compared exactly with the last-sent
 *    pixels it would be copied from; matching blocks that the viewer does
 *    not already show become copy rectangles (runs of blocks merged).
 *
 * A copy is only ever proposed where the pixels match exactly, so a wrong
 * guess costs time, never correctness.
 *
 * @module
 */
import { bytesEqual } from "../../../ffi/libc/mod.ts";
import { intersects, type Rect, RGB_MASK, type WordImage } from "./tiles.ts";

/** Pixels per anchor segment and per hashed window. */
const SEGMENT = 32;

/** Edge of the blocks compared when verifying a move. */
const BLOCK = 16;

/** Anchors taken at most, and per row. */
const MAX_ANCHORS = 48;
const ANCHORS_PER_ROW = 3;

/** Colour changes along a segment for it to be distinctive enough. */
const MIN_TEXTURE = 4;

/** Largest area searched, in pixels (a 1080p screen fits twice). */
const MAX_SEARCH_AREA = 4_200_000;

/** Multiplier of the polynomial rolling hash (odd, well mixed). */
const P = 0x01000193;

/** P^(SEGMENT-1), for removing the oldest pixel from the rolling hash. */
const P_OUT = (() => {
  let p = 1;
  for (let i = 0; i < SEGMENT - 1; i++) p = Math.imul(p, P);
  return p;
})();

/** A displacement: content at (x, y) in the old picture is now at (x + dx, y + dy). */
export interface Motion {
  /** Horizontal displacement in pixels. */
  dx: number;
  /** Vertical displacement in pixels. */
  dy: number;
}

/** A copy from the viewer's own picture: `width`×`height` from (`srcX`, `srcY`) to (`x`, `y`). */
export interface CopyRect extends Rect {
  /** Left edge of the source. */
  srcX: number;
  /** Top edge of the source. */
  srcY: number;
}

/** Options for {@linkcode findCopies}. */
export interface FindCopiesOptions {
  /** Screen width (sources stay inside it). */
  width: number;
  /** Screen height. */
  height: number;
  /** Fewest pixels a result may copy, else none. Default 1024 (four blocks). */
  minPixels?: number;
  /**
   * The move found last time, tried first: a drag or a steady scroll keeps
   * its displacement from frame to frame, and checking one costs a fraction
   * of a search.
   */
  previous?: Motion;
  /** The move found the time before `previous` (for its course). */
  before?: Motion;
  /**
   * Row hashes kept from the last search: this frame's rows are hashed
   * anyway, and after the encode the viewer holds them, so the next search
   * over the same area need not hash the sent picture again.
   */
  cache?: RowCache;
}

/** Hashes of an image's rows across an area. */
export interface RowHashes {
  /** The area hashed. */
  area: Rect;
  /** Per row from `area.y`: its hash (0 when the row is one colour). */
  hashes: Int32Array;
  /** Per row: 1 when it has more than one colour. */
  varied: Uint8Array;
}

/**
 * What {@linkcode findCopies} keeps between frames: the rows of the last
 * frame it looked at, which the viewer holds once that frame is sent.
 */
export interface RowCache {
  /** The last frame's row hashes, if it hashed rows. */
  rows?: RowHashes;
}

/** What {@linkcode findCopies} found: the move and its copy rectangles. */
export interface MoveFound {
  /** The displacement. */
  motion: Motion;
  /** Destination rectangles with their sources, disjoint. */
  copies: CopyRect[];
  /** Pixels copied. */
  pixels: number;
}

/**
 * Finds the dominant move within `area` from `sent` (what the viewer holds)
 * to `current` (the new frame), and the rectangles it explains exactly.
 * Returns undefined when nothing moved (or too little to be worth a copy).
 */
export function findCopies(
  current: WordImage,
  sent: WordImage,
  options: FindCopiesOptions & { area: Rect },
): MoveFound | undefined {
  const { area, previous, cache } = options;
  // Whatever happens, the rows kept are only good if this search hashes.
  const kept = cache?.rows;
  if (cache) cache.rows = undefined;
  if (area.width < SEGMENT || area.height < 2) return undefined;
  if (area.width * area.height > MAX_SEARCH_AREA) return undefined;
  const minPixels = options.minPixels ?? 1024;
  const explain = (motion: Motion): MoveFound | undefined => {
    const copies = copyRects(current, sent, { ...options, motion });
    let pixels = 0;
    for (const c of copies) pixels += c.width * c.height;
    return pixels >= minPixels ? { motion, copies, pixels } : undefined;
  };
  if (previous) {
    // The best of the likely moves, kept when it explains a good part of
    // the damage.
    let best: Motion | undefined, bestScore = 0.25;
    for (const motion of candidates(previous, options.before)) {
      const score = plausibility(current, sent, { ...options, motion });
      if (score > bestScore) {
        best = motion;
        bestScore = score;
      }
    }
    const again = best && explain(best);
    if (again && again.pixels * 4 >= area.width * area.height) return again;
  }
  // Scrolling is the common move and rows find it cheaply; anything else
  // (a dragged window) takes the two-dimensional search.
  const currentRows = hashRows(current, area);
  if (cache) cache.rows = currentRows;
  const sentRows = kept && sameRect(kept.area, area)
    ? kept
    : hashRows(sent, area);
  const vertical = findScroll(currentRows, sentRows);
  const scrolled = vertical && explain(vertical);
  if (scrolled) return scrolled;
  const motion = findMotion(current, sent, area);
  return motion && explain(motion);
}

/**
 * How well `motion` explains 16 rows sampled across `area`: of the 32-pixel
 * segments there that the viewer does not show already, the share that the
 * move explains (0 to 1). A cheap look before verifying a move block by
 * block; segments, not whole rows, so a dragged window (whose rows also
 * cross what it uncovered) scores too.
 */
function plausibility(
  current: WordImage,
  sent: WordImage,
  options: { area: Rect; motion: Motion; width: number; height: number },
): number {
  const { area, motion: { dx, dy }, width, height } = options;
  const x0 = Math.max(area.x, dx);
  const x1 = Math.min(area.x + area.width, width + dx);
  const samples = Math.min(16, area.height);
  let changed = 0, explained = 0;
  for (let k = 0; k < samples; k++) {
    const y = area.y + Math.floor((k + 0.5) * area.height / samples);
    if (y - dy < 0 || y - dy >= height) continue;
    for (let x = x0; x + SEGMENT <= x1; x += SEGMENT) {
      const at = { x, y };
      if (segmentEquals(current, sent, at, at)) continue;
      changed++;
      if (segmentEquals(current, sent, at, { x: x - dx, y: y - dy })) {
        explained++;
      }
    }
  }
  return changed ? explained / changed : 0;
}

/**
 * Moves worth a cheap look before any search: the last one, the next on
 * its course (a drag keeps its speed from frame to frame), and that one's
 * neighbours within 2 pixels.
 */
function candidates(previous: Motion, before: Motion | undefined): Motion[] {
  const out = [previous];
  if (!before) return out;
  const px = 2 * previous.dx - before.dx, py = 2 * previous.dy - before.dy;
  for (let oy = -2; oy <= 2; oy++) {
    for (let ox = -2; ox <= 2; ox++) {
      const c = { dx: px + ox, dy: py + oy };
      if ((c.dx || c.dy) && (c.dx !== previous.dx || c.dy !== previous.dy)) {
        out.push(c);
      }
    }
  }
  return out;
}

/**
 * A vertical move within `area`, found by hashing its rows: rows of the new
 * frame that the viewer shows elsewhere vote for the distance. Rows of one
 * colour say nothing and are left out.
 */
function findScroll(
  current: RowHashes,
  sent: RowHashes,
): Motion | undefined {
  const top = sent.area.y;
  const sentRows = new Map<number, number[]>();
  for (let r = 0; r < sent.hashes.length; r++) {
    if (!sent.varied[r]) continue;
    const h = sent.hashes[r];
    const list = sentRows.get(h);
    if (list) list.push(top + r);
    else sentRows.set(h, [top + r]);
  }
  const votes = new Map<number, number>();
  for (let r = 0; r < current.hashes.length; r++) {
    if (!current.varied[r]) continue;
    const y = current.area.y + r;
    const from = sentRows.get(current.hashes[r]);
    // A row repeated many times (a rule, a blank line with a cursor) is
    // no evidence of where it came from.
    if (!from || from.length > 8) continue;
    for (const ys of from) {
      if (ys !== y) votes.set(y - ys, (votes.get(y - ys) ?? 0) + 1);
    }
  }
  let best = 0, bestVotes = 0;
  for (const [dy, n] of votes) {
    if (n > bestVotes || (n === bestVotes && Math.abs(dy) < Math.abs(best))) {
      best = dy;
      bestVotes = n;
    }
  }
  return bestVotes >= 2 ? { dx: 0, dy: best } : undefined;
}

/**
 * The hashes of `image`'s rows across `area`. Every other pixel is hashed:
 * a hash only proposes a move, which is then checked pixel by pixel, and
 * this runs over every damaged row of two pictures per frame.
 */
function hashRows(image: WordImage, area: Rect): RowHashes {
  const hashes = new Int32Array(area.height);
  const varied = new Uint8Array(area.height);
  const w = image.words;
  for (let r = 0; r < area.height; r++) {
    let i = (area.y + r) * image.stride + area.x;
    const first = w[i] & RGB_MASK;
    let h = 0, differs = 0;
    for (const end = i + area.width; i < end; i += 2) {
      const v = w[i] & RGB_MASK;
      differs |= v ^ first;
      h = (Math.imul(h, P) + v) | 0;
    }
    hashes[r] = h;
    varied[r] = differs === 0 ? 0 : 1;
  }
  return { area: { ...area }, hashes, varied };
}

function sameRect(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width &&
    a.height === b.height;
}

/**
 * The displacement most anchors in `area` agree on, or undefined. Exported
 * for tests; {@linkcode findCopies} is the entry point.
 */
export function findMotion(
  current: WordImage,
  sent: WordImage,
  area: Rect,
): Motion | undefined {
  const anchors = pickAnchors(current, sent, area);
  if (!anchors.length) return undefined;
  // A 64 Ki-entry filter keeps the per-pixel cost to one array read.
  const filter = new Uint8Array(65536);
  const byHash = new Map<number, number[]>();
  for (let a = 0; a < anchors.length; a++) {
    const h = anchors[a].hash;
    filter[h & 0xffff] = 1;
    const list = byHash.get(h);
    if (list) list.push(a);
    else byHash.set(h, [a]);
  }
  // Votes per displacement, each anchor counted once per displacement.
  const votes = new Map<number, number>();
  const voted = new Set<number>();
  const sw = sent.words;
  const x1 = area.x + area.width;
  for (let y = area.y; y < area.y + area.height; y++) {
    const row = y * sent.stride;
    let h = 0;
    for (let x = area.x; x < area.x + SEGMENT; x++) {
      h = (Math.imul(h, P) + (sw[row + x] & RGB_MASK)) | 0;
    }
    for (let x = area.x;; x++) {
      if (filter[h & 0xffff] === 1) {
        const hits = byHash.get(h);
        if (hits) {
          for (const a of hits) {
            const anchor = anchors[a];
            const dx = anchor.x - x;
            const dy = anchor.y - y;
            if (dx === 0 && dy === 0) continue;
            if (!segmentEquals(current, sent, anchor, { x, y })) continue;
            const key = (dy + 32768) * 65536 + (dx + 32768);
            const once = key * MAX_ANCHORS + a;
            if (voted.has(once)) continue;
            voted.add(once);
            votes.set(key, (votes.get(key) ?? 0) + 1);
          }
        }
      }
      if (x + SEGMENT >= x1) break;
      const out = sw[row + x] & RGB_MASK;
      const next = sw[row + x + SEGMENT] & RGB_MASK;
      h = (Math.imul(h - Math.imul(out, P_OUT), P) + next) | 0;
    }
  }
  // Most anchors win; on a tie the shorter move (repeated content such as
  // identical lines makes far matches; scrolling is the common case).
  let best = -1, bestVotes = 0, bestLength = Infinity;
  for (const [key, n] of votes) {
    const length = Math.abs((key % 65536) - 32768) +
      Math.abs(Math.floor(key / 65536) - 32768);
    if (n > bestVotes || (n === bestVotes && length < bestLength)) {
      best = key;
      bestVotes = n;
      bestLength = length;
    }
  }
  // One anchor alone may be a coincidence of repeated content, unless it
  // was the only one there was.
  if (best < 0 || (bestVotes < 2 && anchors.length > 1)) return undefined;
  return {
    dx: (best % 65536) - 32768,
    dy: Math.floor(best / 65536) - 32768,
  };
}

interface Anchor {
  x: number;
  y: number;
  hash: number;
}

/** Textured segments of `current` in `area` that `sent` does not show there. */
function pickAnchors(
  current: WordImage,
  sent: WordImage,
  area: Rect,
): Anchor[] {
  const anchors: Anchor[] = [];
  const rows = Math.min(area.height, Math.ceil(MAX_ANCHORS / ANCHORS_PER_ROW));
  const step = area.height / rows;
  const cw = current.words;
  for (let r = 0; r < rows && anchors.length < MAX_ANCHORS; r++) {
    const y = area.y + Math.floor(r * step + step / 2);
    const row = y * current.stride;
    let taken = 0;
    for (
      let x = area.x;
      x + SEGMENT <= area.x + area.width && taken < ANCHORS_PER_ROW;
      x += SEGMENT
    ) {
      let changes = 0;
      let h = 0;
      let prev = cw[row + x] & RGB_MASK;
      for (let i = 0; i < SEGMENT; i++) {
        const v = cw[row + x + i] & RGB_MASK;
        if (v !== prev) changes++;
        prev = v;
        h = (Math.imul(h, P) + v) | 0;
      }
      if (changes < MIN_TEXTURE) continue;
      // Already what the viewer shows here: not evidence of a move.
      if (segmentEquals(current, sent, { x, y }, { x, y })) continue;
      anchors.push({ x, y, hash: h });
      taken++;
    }
  }
  return anchors;
}

/** Whether the segment of `current` at `at` equals the segment of `sent` at `from`. */
function segmentEquals(
  current: WordImage,
  sent: WordImage,
  at: { x: number; y: number },
  from: { x: number; y: number },
): boolean {
  let i = at.y * current.stride + at.x;
  let j = from.y * sent.stride + from.x;
  const cw = current.words, sw = sent.words;
  for (const end = i + SEGMENT; i < end; i++, j++) {
    if (((cw[i] ^ sw[j]) & RGB_MASK) !== 0) return false;
  }
  return true;
}

/**
 * The rectangles of `area` whose pixels in `current` equal the pixels of
 * `sent` displaced by `motion`, and which `sent` does not already show:
 * 16×16 blocks (clipped to the area), merged into runs per block row and
 * runs of equal extent stacked. Exported for tests.
 */
export function copyRects(
  current: WordImage,
  sent: WordImage,
  options: { area: Rect; motion: Motion; width: number; height: number },
): CopyRect[] {
  const { area, motion: { dx, dy }, width, height } = options;
  const out: CopyRect[] = [];
  const sameRows = shiftedRowsEqual(current, sent, options);
  // Open stacks by "x,width": the last rectangle of each, to grow downwards.
  let open = new Map<number, CopyRect>();
  for (let by = area.y; by < area.y + area.height; by += BLOCK) {
    const bh = Math.min(BLOCK, area.y + area.height - by);
    // A band whose rows all match whole needs no block-by-block look.
    let bandMatches = true;
    for (let y = by; y < by + bh && bandMatches; y++) {
      bandMatches = sameRows[y - area.y] === 1;
    }
    // In such a band, whether the viewer's picture is stale anywhere in it
    // (natively, whole rows): blocks need no look one by one. A stale column
    // outside the run only costs a copy of pixels that were right already.
    const bandStale = bandMatches &&
      !unshiftedRowsEqual(current, sent, { area, y: by, height: bh });
    const nextOpen = new Map<number, CopyRect>();
    let run: Rect | undefined;
    // Whether the run holds a block the viewer does not show already.
    let useful = false;
    const flush = () => {
      if (!run || !useful) {
        run = undefined;
        return;
      }
      const key = run.x * 65536 + run.width;
      const above = open.get(key);
      if (above && above.y + above.height === run.y) {
        above.height += run.height;
        nextOpen.set(key, above);
      } else {
        const rect = { ...run, srcX: run.x - dx, srcY: run.y - dy };
        out.push(rect);
        nextOpen.set(key, rect);
      }
      run = undefined;
    };
    for (let bx = area.x; bx < area.x + area.width; bx += BLOCK) {
      const bw = Math.min(BLOCK, area.x + area.width - bx);
      const block = { x: bx, y: by, width: bw, height: bh };
      const sx = bx - dx, sy = by - dy;
      const inside = sx >= 0 && sy >= 0 && sx + bw <= width &&
        sy + bh <= height;
      // Blocks the viewer already shows as they should be join a run (fewer,
      // larger copies; tiles wholly inside copies need no compare), but a
      // run of only those is no copy at all.
      const copy = inside &&
        (bandMatches || blockMatches(current, sent, block, { dx, dy }));
      if (copy) {
        if (run && run.x + run.width === bx) {
          run.width += bw;
          // Once the run is worth a copy, whether this block is needed
          // changes nothing: no need to look.
          useful ||= bandMatches
            ? bandStale
            : !blockMatches(current, sent, block, { dx: 0, dy: 0 });
        } else {
          flush();
          run = { ...block };
          useful = bandMatches
            ? bandStale
            : !blockMatches(current, sent, block, { dx: 0, dy: 0 });
        }
      } else flush();
    }
    flush();
    open = nextOpen;
  }
  return out;
}

/**
 * Per row of `area`: 1 when the row, across the columns whose source lies
 * on the screen, equals `sent`'s row it would come from (native `memcmp`
 * over the words, 4th byte included: a difference there only sends the row
 * to the block-by-block look).
 */
function shiftedRowsEqual(
  current: WordImage,
  sent: WordImage,
  options: { area: Rect; motion: Motion; width: number; height: number },
): Uint8Array {
  const { area, motion: { dx, dy }, width, height } = options;
  const equal = new Uint8Array(area.height);
  const x0 = Math.max(area.x, dx);
  const x1 = Math.min(area.x + area.width, width + dx);
  if (x1 <= x0) return equal;
  const cb = bytesOf(current), sb = bytesOf(sent);
  const bytes = (x1 - x0) * 4;
  for (let r = 0; r < area.height; r++) {
    const y = area.y + r;
    if (y - dy < 0 || y - dy >= height) continue;
    const i = (y * current.stride + x0) * 4;
    const j = ((y - dy) * sent.stride + x0 - dx) * 4;
    if (bytesEqual(cb.subarray(i, i + bytes), sb.subarray(j, j + bytes))) {
      equal[r] = 1;
    }
  }
  return equal;
}

/**
 * Whether rows `y` to `y + height` of `current` equal `sent`'s same rows
 * across `area`'s columns (native `memcmp`, 4th byte included: a
 * difference there only makes a copy that was not needed).
 */
function unshiftedRowsEqual(
  current: WordImage,
  sent: WordImage,
  options: { area: Rect; y: number; height: number },
): boolean {
  const { area, y, height } = options;
  const cb = bytesOf(current), sb = bytesOf(sent);
  const bytes = area.width * 4;
  for (let r = y; r < y + height; r++) {
    const i = (r * current.stride + area.x) * 4;
    const j = (r * sent.stride + area.x) * 4;
    if (!bytesEqual(cb.subarray(i, i + bytes), sb.subarray(j, j + bytes))) {
      return false;
    }
  }
  return true;
}

function bytesOf(image: WordImage): Uint8Array {
  const w = image.words;
  return new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
}

/** Whether `current` in `block` equals `sent` in `block` moved back by `shift`. */
function blockMatches(
  current: WordImage,
  sent: WordImage,
  block: Rect,
  shift: Motion,
): boolean {
  const cw = current.words, sw = sent.words;
  for (let r = 0; r < block.height; r++) {
    let i = (block.y + r) * current.stride + block.x;
    let j = (block.y + r - shift.dy) * sent.stride + block.x - shift.dx;
    for (const end = i + block.width; i < end; i++, j++) {
      if (((cw[i] ^ sw[j]) & RGB_MASK) !== 0) return false;
    }
  }
  return true;
}

/**
 * Applies `copies` to `image` as the viewer does: every copy reads the
 * picture as it was before any of them.
 */
export function applyCopies(
  image: WordImage,
  copies: readonly CopyRect[],
): void {
  if (readsUntouched(copies)) {
    // No copy writes where another reads (a scroll, a dragged window):
    // move each in place, one native memmove a row, rows in the order
    // that never overwrites a row still to be read.
    for (const c of copies) copyInPlace(image, c);
    return;
  }
  const sources = copies.map((c) => {
    const pixels = new Uint32Array(c.width * c.height);
    for (let r = 0; r < c.height; r++) {
      const i = (c.srcY + r) * image.stride + c.srcX;
      pixels.set(image.words.subarray(i, i + c.width), r * c.width);
    }
    return pixels;
  });
  copies.forEach((c, k) => {
    for (let r = 0; r < c.height; r++) {
      image.words.set(
        sources[k].subarray(r * c.width, (r + 1) * c.width),
        (c.y + r) * image.stride + c.x,
      );
    }
  });
}

/** Whether no copy's destination overlaps another copy's source. */
function readsUntouched(copies: readonly CopyRect[]): boolean {
  for (let i = 0; i < copies.length; i++) {
    for (let j = 0; j < copies.length; j++) {
      const src = copies[j];
      if (
        i !== j &&
        intersects(copies[i], {
          x: src.srcX,
          y: src.srcY,
          width: src.width,
          height: src.height,
        })
      ) return false;
    }
  }
  return true;
}

function copyInPlace(image: WordImage, c: CopyRect): void {
  const { words, stride } = image;
  const down = c.srcY < c.y;
  for (let k = 0; k < c.height; k++) {
    const r = down ? c.height - 1 - k : k;
    const from = (c.srcY + r) * stride + c.srcX;
    words.copyWithin((c.y + r) * stride + c.x, from, from + c.width);
  }
}
