/**
 * The streamer's tile encoder: splits each captured BGRX frame into tiles
 * (64×64 by default; the right and bottom edges are smaller), finds the tiles
 * that changed since they were last sent, and encodes them for the
 * `webstream/2` protocol (`httpdocs/session/protocol.js` `Tile`).
 *
 * ## What is sent
 *
 * - **Changed tiles only.** Each candidate tile is compared, pixel by pixel
 *   and ignoring the unused 4th byte, with a private copy of what was last
 *   sent; a sent tile updates the copy. The first encode, the first after
 *   {@linkcode TileEncoder.reset} and the first after a size change send
 *   every tile.
 * - **Damage hints.** With `hints`, only tiles that meet a hint rectangle are
 *   compared; a change elsewhere goes unnoticed — until the next *full
 *   compare*: after `fullCompareEvery - 1` (default 29) hinted encodes the
 *   next encode compares every tile, so a missed damage event cannot leave
 *   the viewer stale for more than `fullCompareEvery` encodes. No `hints`
 *   means a full compare; `[]` means "nothing damaged" (no compare, but
 *   refinements and the full-compare count still advance).
 * - **Per-tile encoding.** A single-colour tile is `SOLID`. A tile that
 *   changed in at least `lossyAfter` (default 3) of the last 8 encodes is a
 *   fast-changing region (video, scrolling, animation) and goes `JPEG`.
 *   Anything else — static content, text, UI — goes `PNG` (lossless).
 *   Adjacent `JPEG` tiles of a row are merged into one run, and runs with
 *   the same left edge and width in consecutive rows into one block, so a
 *   full-screen animation is a handful of JPEGs rather than hundreds.
 * - **Refinement.** A tile last sent as JPEG that then stays unchanged for
 *   `refineAfter` (default 3) encodes is sent once more as PNG, so static
 *   content always ends up pixel-exact. Refinements count encodes, not
 *   time: the streamer should keep calling `encode` (with `[]` hints if
 *   nothing was damaged) while {@linkcode TileEncoder.pendingRefinements} is
 *   above zero.
 *
 * JPEG and PNG encoding runs on Deno module workers (pixels transferred both
 * ways) or, with `workers: 0`, on the calling thread; the comparison runs on
 * the calling thread. The tiles come back in row-major order and the codecs
 * are deterministic, so the result is the same either way. One encode runs
 * at a time (calls queue behind each other) and each awaits its own tiles, so
 * memory stays bounded by about two frames.
 *
 * @module
 */
import { ENCODING, type Tile } from "../../../httpdocs/session/protocol.js";
import { encodeTile, type TileJob } from "./codecs.ts";
import { nativeJpegEncoder } from "./native_jpeg.ts";
import {
  applyCopies,
  type CopyRect,
  findCopies,
  type Motion,
  type RowCache,
} from "./motion.ts";
import { WorkerPool } from "./pool.ts";
import {
  boundingBox,
  clipRect,
  contains,
  copyTile,
  diffBounds,
  extractRgb,
  extractTile,
  frameWords,
  hasManyColours,
  intersects,
  type Rect,
  solidColour,
  tileDiffers,
  type WordImage,
} from "./tiles.ts";

export type { Rect } from "./tiles.ts";
export type { Tile } from "../../../httpdocs/session/protocol.js";

/** Widest JPEG run of adjacent tiles, in pixels (a 1080p row fits). */
const MAX_RUN_WIDTH = 2048;

/**
 * Tallest JPEG block of runs stacked from tile rows, in pixels. A full
 * 1080p screen becomes three JPEGs (512, 512 and 56 rows): few calls, each
 * a thread hop and an encoder set-up, while two cores still share the work.
 * Measured on the media benchmark's animation with sharp, capture and
 * encoder pinned to one core: 41 fps against 32 with 256-row blocks (five
 * calls).
 */
const MAX_BLOCK_HEIGHT = 512;

/**
 * Colours a fast-changing tile needs before it goes lossy (and so, when it
 * lasts, to video). Text and UI stay exact however often they change:
 * anti-aliased text has tens to a hundred or so greys in a 64 × 64 tile,
 * coloured (syntax-highlighted, ANSI) text up to a few hundred; photos,
 * video and rendered scenes have a thousand and more.
 */
const LOSSY_MIN_COLOURS = 512;

/**
 * Encodes in a row without a move found before move detection rests, for
 * twice as many encodes as the last rest, from 2 up to 64 (a video or an
 * animation never moves as a whole: no need to search its every frame; a
 * 1080p search costs about 11 ms).
 */
const MOTION_MISSES = 3;
const MOTION_REST_MAX = 64;

/** Settings of a {@linkcode TileEncoder}. */
export interface EncoderOptions {
  /** Tile edge in pixels (8–1024). Default 64. */
  tileSize?: number;
  /** JPEG quality, 1–100. Default 70. */
  jpegQuality?: number;
  /**
   * Encoding workers: default 1 on 2 or fewer CPUs, else min(4, CPUs − 1);
   * 0 encodes on the calling thread.
   */
  workers?: number;
  /** Changes in the last 8 encodes that make a tile go JPEG (1–8). Default 3. */
  lossyAfter?: number;
  /** Unchanged encodes before a JPEG tile is re-sent as PNG (≥ 1). Default 3. */
  refineAfter?: number;
  /** At least every this many encodes, compare every tile (≥ 1). Default 30. */
  fullCompareEvery?: number;
  /**
   * Encode JPEG with the native libjpeg-turbo (`sharp`) when it loads, on
   * its own threads. Default true; false always uses mozjpeg (WebAssembly).
   */
  nativeJpeg?: boolean;
}

/** One frame's worth of encoded tiles and what they are. */
export interface EncodedUpdate {
  /** The tiles to send, in row-major order. */
  tiles: Tile[];
  /** Tiles whose pixels changed (refinements not included). */
  changedTiles: number;
  /** Bytes of tile data (headers not included). */
  bytes: number;
  /** `JPEG` tiles. */
  lossy: number;
  /** `PNG` tiles (refinements included). */
  lossless: number;
  /** `SOLID` tiles. */
  solid: number;
  /** `PNG` tiles re-sending unchanged content that was sent as JPEG. */
  refinements: number;
  /** `COPY` tiles: pixels the viewer copies from its own picture. */
  copies: number;
  /** Pixels those copies cover. */
  copiedPixels: number;
}

/** Options for one {@linkcode TileEncoder.encode}. */
export interface EncodeOptions {
  /**
   * Leave the tiles meeting this rectangle alone: the viewer gets that
   * region another way (video). They are neither compared nor sent, and
   * once no longer excluded they are sent again, lossless.
   */
  exclude?: Rect;
}

/** A captured frame: BGRX, `stride` bytes from one row to the next. */
export interface Frame {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Bytes per row (at least `width * 4`). */
  stride: number;
  /** The pixels. */
  data: Uint8Array;
}

/** The default worker count for `cpus` CPUs. */
export function defaultWorkers(cpus: number): number {
  return cpus <= 2 ? 1 : Math.min(4, cpus - 1);
}

/** Bits set in the low 8 bits of `n`. */
function popcount8(n: number): number {
  n = n - ((n >> 1) & 0x55);
  n = (n & 0x33) + ((n >> 2) & 0x33);
  return (n + (n >> 4)) & 0x0f;
}

function intOption(
  value: number | undefined,
  fallback: number,
  range: { name: string; min: number; max: number },
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < range.min || v > range.max) {
    throw new RangeError(
      `${range.name} must be an integer from ${range.min} to ${range.max}, got ${value}`,
    );
  }
  return v;
}

/** Per-screen state, rebuilt on the first encode and on a size change. */
interface ScreenState {
  width: number;
  height: number;
  tileSize: number;
  cols: number;
  rows: number;
  /** The last-sent pixels, packed (stride = width). */
  sent: WordImage;
  /** Per tile: bit i set = changed i encodes ago (bit 0 = this one). */
  history: Uint8Array;
  /** Per tile: 1 when last sent as JPEG and not refined yet. */
  lossy: Uint8Array;
  /** Per tile: encodes since the last change (saturating). */
  unchanged: Uint16Array;
  /** Per tile: 1 when the viewer shows something else there (video). */
  stale: Uint8Array;
  /** Per tile: the last colour count's verdict (1: photographic)… */
  photo: Uint8Array;
  /** …and how many more encodes it is trusted for. */
  photoTrust: Uint8Array;
  /** Hinted encodes since the last full compare. */
  sinceFull: number;
  /** Every tile goes out on the next encode. */
  sendAll: boolean;
  /** Move searches in a row that found nothing. */
  motionMisses: number;
  /** Encodes left before move detection runs again. */
  motionRest: number;
  /** Length of the last rest (doubles while searches keep failing). */
  motionRestLength: number;
  /** The move found by the last encode, if it found one. */
  lastMotion: Motion | undefined;
  /** The move found the encode before that. */
  motionBefore: Motion | undefined;
  /** Row hashes the move search keeps between encodes. */
  rowCache: RowCache;
}

/** Finds and encodes the tiles of a screen that changed. */
export class TileEncoder {
  readonly #tileSize: number;
  readonly #quality: number;
  readonly #nativeJpeg: boolean;
  readonly #lossyAfter: number;
  readonly #refineAfter: number;
  readonly #fullEvery: number;
  readonly #pool: WorkerPool | undefined;
  #state: ScreenState | undefined;
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;

  /** An encoder; workers start with the first encode that needs them. */
  constructor(options: EncoderOptions = {}) {
    this.#nativeJpeg = options.nativeJpeg ?? true;
    this.#tileSize = intOption(options.tileSize, 64, {
      name: "tileSize",
      min: 8,
      max: 1024,
    });
    this.#quality = intOption(options.jpegQuality, 70, {
      name: "jpegQuality",
      min: 1,
      max: 100,
    });
    this.#lossyAfter = intOption(options.lossyAfter, 3, {
      name: "lossyAfter",
      min: 1,
      max: 8,
    });
    this.#refineAfter = intOption(options.refineAfter, 3, {
      name: "refineAfter",
      min: 1,
      max: 1000,
    });
    this.#fullEvery = intOption(options.fullCompareEvery, 30, {
      name: "fullCompareEvery",
      min: 1,
      max: 1_000_000,
    });
    const workers = intOption(
      options.workers,
      defaultWorkers(navigator.hardwareConcurrency || 1),
      { name: "workers", min: 0, max: 64 },
    );
    this.#pool = workers > 0 ? new WorkerPool(workers) : undefined;
  }

  /** Encoding workers (0: the calling thread encodes). */
  get workers(): number {
    return this.#pool?.size ?? 0;
  }

  /** Workers running now (they start on first use). */
  get runningWorkers(): number {
    return this.#pool?.running ?? 0;
  }

  /** Tiles sent as JPEG that still await their lossless refinement. */
  get pendingRefinements(): number {
    return this.#state?.lossy.reduce((n, v) => n + v, 0) ?? 0;
  }

  /**
   * Compares `frame` with what was last sent, within the `hints` rectangles
   * (undefined: the whole screen), and returns the changed tiles encoded.
   */
  encode(
    frame: Frame,
    hints?: Rect[],
    options: EncodeOptions = {},
  ): Promise<EncodedUpdate> {
    const run = this.#queue.then(() => this.#encode(frame, hints, options));
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Starts the workers and has them encode a small lossless tile, so that
   * the first real frame does not wait for a worker to start and load its
   * modules (tens of ms, more on a busy machine). Resolves when done;
   * rejects if the encoder is closed meanwhile. The next encode sends
   * every tile, as if nothing had been encoded.
   */
  async warmUp(): Promise<void> {
    const pool = this.#pool;
    if (!pool) return;
    // One small tile per worker, two colours in every row (a real PNG).
    const jobs = Array.from({ length: pool.size }, (): TileJob => ({
      encoding: ENCODING.PNG,
      width: 16,
      height: 16,
      quality: this.#quality,
      pixels: new Uint8Array(16 * 16 * 4).map((_, i) => i % 8 < 4 ? 0xff : 0),
    }));
    const run = this.#queue.then(() => pool.encode(jobs));
    this.#queue = run.catch(() => {});
    await run;
  }

  /** Forgets what was sent: the next encode sends every tile. */
  reset(): void {
    if (this.#state) this.#state.sendAll = true;
  }

  /** Stops the workers; encodes in flight and later reject. */
  close(): void {
    this.#closed = true;
    this.#pool?.close();
  }

  async #encode(
    frame: Frame,
    hints: Rect[] | undefined,
    options: EncodeOptions,
  ): Promise<EncodedUpdate> {
    if (this.#closed) throw new Error("tile encoder is closed");
    checkFrame(frame);
    const state = this.#screen(frame.width, frame.height);
    const current = frameWords(frame);
    const size = this.#tileSize;
    const { cols, rows } = state;

    // Which tiles to compare this time.
    let compareAll = state.sendAll || hints === undefined ||
      state.sinceFull + 1 >= this.#fullEvery;
    let candidates: Uint8Array | undefined;
    if (!compareAll) {
      candidates = new Uint8Array(cols * rows);
      for (const hint of hints ?? []) {
        const r = clipRect(hint, state.width, state.height);
        if (!r) continue;
        const c1 = Math.ceil((r.x + r.width) / size);
        const r1 = Math.ceil((r.y + r.height) / size);
        for (let ty = Math.floor(r.y / size); ty < r1; ty++) {
          candidates.fill(
            1,
            ty * cols + Math.floor(r.x / size),
            ty * cols + c1,
          );
        }
      }
      if (candidates.every((c) => c === 1)) compareAll = true;
    }
    state.sinceFull = compareAll ? 0 : state.sinceFull + 1;

    const update: EncodedUpdate = {
      tiles: [],
      changedTiles: 0,
      bytes: 0,
      lossy: 0,
      lossless: 0,
      solid: 0,
      refinements: 0,
      copies: 0,
      copiedPixels: 0,
    };
    // Content that moved (scrolling, a dragged window) is copied by the
    // viewer from its own picture; the sent copy follows, so the compare
    // below only finds what is really new.
    const exclude = options.exclude &&
      clipRect(options.exclude, state.width, state.height);
    if (state.sendAll) state.stale.fill(0);
    if (exclude) markTiles(state, exclude, 1);
    const copies = state.sendAll ? [] : this.#findCopies(state, current, {
      hints,
      exclude: exclude ?? undefined,
    }).filter((c) =>
      !touchesStale(state, c) &&
      !touchesStale(state, { ...c, x: c.srcX, y: c.srcY })
    );
    if (copies.length) {
      applyCopies(state.sent, copies);
      update.copies = copies.length;
      for (const c of copies) update.copiedPixels += c.width * c.height;
    }
    // Tiles inside a copy were verified equal pixel by pixel when the copy
    // was found: no need to compare them again.
    const copied = copies.length ? coveredTiles(state, copies) : undefined;
    for (let ty = 0, t = 0; ty < rows; ty++) {
      // JPEG tiles side by side in a row become one wider JPEG: one encoder
      // call per run costs far less than one per tile (and compresses better).
      let run: Tile | undefined;
      // Lossless tiles side by side likewise share one PNG (their changed
      // rows and columns only), and the column of the run's last tile.
      let pngRun: Tile | undefined;
      let pngRunEnd = -1;
      // Changed tiles are copied into the sent copy after the row, adjacent
      // ones together (fewer, longer copies).
      const copies: Rect[] = [];
      for (let tx = 0; tx < cols; tx++, t++) {
        const x = tx * size;
        const y = ty * size;
        const rect = {
          x,
          y,
          width: Math.min(size, state.width - x),
          height: Math.min(size, state.height - y),
        };
        if (exclude && intersects(rect, exclude)) continue;
        // The viewer shows video here: paint it over, lossless.
        const paintOver = state.stale[t] === 1;
        state.stale[t] = 0;
        const compare = (compareAll || candidates?.[t] === 1) &&
          copied?.[t] !== 1;
        const differs = compare && tileDiffers(current, state.sent, rect);
        // After reset() every tile goes out, but only real changes count
        // towards "fast-changing".
        const changed = state.sendAll || differs || paintOver;
        state.history[t] = ((state.history[t] << 1) | (differs ? 1 : 0)) &
          0xff;
        let encoding: number;
        if (changed) {
          const last = copies.at(-1);
          if (last && last.x + last.width === rect.x) last.width += rect.width;
          else copies.push({ ...rect });
          state.unchanged[t] = 0;
          update.changedTiles++;
          const colour = solidColour(current, rect);
          if (colour) {
            state.lossy[t] = 0;
            update.solid++;
            update.bytes += colour.length;
            update.tiles.push({
              ...rect,
              encoding: ENCODING.SOLID,
              data: colour,
            });
            continue;
          }
          encoding = !paintOver &&
              popcount8(state.history[t]) >= this.#lossyAfter &&
              photographic(
                state,
                t,
                () => hasManyColours(current, rect, LOSSY_MIN_COLOURS),
              )
            ? ENCODING.JPEG
            : ENCODING.PNG;
        } else {
          if (state.unchanged[t] < 0xffff) state.unchanged[t]++;
          if (!state.lossy[t] || state.unchanged[t] < this.#refineAfter) {
            continue;
          }
          encoding = ENCODING.PNG;
          update.refinements++;
        }
        state.lossy[t] = encoding === ENCODING.JPEG ? 1 : 0;
        if (encoding === ENCODING.JPEG) update.lossy++;
        else update.lossless++;
        if (
          encoding === ENCODING.JPEG && run && run.x + run.width === rect.x &&
          run.width + rect.width <= MAX_RUN_WIDTH
        ) {
          run.width += rect.width;
          continue;
        }
        if (encoding === ENCODING.PNG) {
          // Only the rows and columns that changed (a new line of text is a
          // strip, not a tile); the sent copy has the rest already.
          const bounds = differs && !state.sendAll && !paintOver
            ? diffBounds(current, state.sent, rect) ?? rect
            : rect;
          if (
            pngRun && pngRunEnd === tx - 1 &&
            bounds.x + bounds.width - pngRun.x <= MAX_RUN_WIDTH
          ) {
            const bottom = Math.max(
              pngRun.y + pngRun.height,
              bounds.y + bounds.height,
            );
            pngRun.y = Math.min(pngRun.y, bounds.y);
            pngRun.height = bottom - pngRun.y;
            pngRun.width = bounds.x + bounds.width - pngRun.x;
            pngRunEnd = tx;
            run = undefined;
            continue;
          }
          const tile: Tile = { ...bounds, encoding, data: new Uint8Array(0) };
          pngRun = tile;
          pngRunEnd = tx;
          run = undefined;
          update.tiles.push(tile);
          continue;
        }
        const tile: Tile = { ...rect, encoding, data: new Uint8Array(0) };
        run = tile;
        update.tiles.push(tile);
      }
      for (const c of copies) copyTile(current, state.sent, c);
    }
    state.sendAll = false;
    update.tiles = stackRuns(update.tiles, MAX_BLOCK_HEIGHT);
    const copyTiles = copies.map((c): Tile => ({
      x: c.x,
      y: c.y,
      width: c.width,
      height: c.height,
      encoding: ENCODING.COPY,
      data: copySource(c),
    }));
    const jobTiles = update.tiles.filter((t) =>
      t.encoding === ENCODING.JPEG || t.encoding === ENCODING.PNG
    );

    let results: Uint8Array[];
    try {
      // The native encoder loads on the first JPEG (tens of ms), not with
      // the first frame, which is all lossless.
      const native = this.#nativeJpeg &&
          jobTiles.some((t) => t.encoding === ENCODING.JPEG)
        ? await nativeJpegEncoder()
        : undefined;
      const isNative = (tile: Tile) =>
        native !== undefined && tile.encoding === ENCODING.JPEG;
      // The native encoder takes RGB straight from the sent copy; the
      // others get packed BGRX to transfer to a worker.
      const nativeJobs = jobTiles.filter(isNative).map((tile) =>
        native!(extractRgb(state.sent, tile), {
          width: tile.width,
          height: tile.height,
          quality: this.#quality,
        })
      );
      const others: TileJob[] = jobTiles.filter((t) => !isNative(t)).map((
        tile,
      ) => ({
        encoding: tile.encoding,
        width: tile.width,
        height: tile.height,
        quality: this.#quality,
        pixels: extractTile(state.sent, tile),
      }));
      const [encoded, nativeResults] = await Promise.all([
        this.#pool ? this.#pool.encode(others) : encodeLocally(others),
        Promise.all(nativeJobs),
      ]);
      // Back in tile order.
      let o = 0, n = 0;
      results = jobTiles.map((tile) =>
        isNative(tile) ? nativeResults[n++] : encoded[o++]
      );
    } catch (error) {
      // These tiles are in the sent copy but never went out: start over.
      this.reset();
      throw error;
    }
    for (let i = 0; i < jobTiles.length; i++) {
      jobTiles[i].data = results[i];
      update.bytes += results[i].length;
    }
    // Copies first: they read the picture as it was before this frame.
    update.tiles = [...copyTiles, ...update.tiles];
    for (const c of copyTiles) update.bytes += c.data.length;
    return update;
  }

  /**
   * The copies that explain a move within the damaged area, if any. Damage
   * inside the excluded (video) region is not searched: that is video's.
   */
  #findCopies(
    state: ScreenState,
    current: WordImage,
    options: { hints: Rect[] | undefined; exclude: Rect | undefined },
  ): CopyRect[] {
    if (state.motionRest > 0) {
      state.motionRest--;
      return [];
    }
    const { exclude } = options;
    const screen = { x: 0, y: 0, width: state.width, height: state.height };
    const hints = (options.hints ?? [screen]).filter((h) =>
      !exclude || !contains(exclude, h)
    );
    const area = hintsBounds(hints, state.width, state.height);
    if (!area) return [];
    const found = findCopies(current, state.sent, {
      area,
      width: state.width,
      height: state.height,
      previous: state.lastMotion,
      before: state.motionBefore,
      cache: state.rowCache,
    });
    state.motionBefore = found ? state.lastMotion : undefined;
    state.lastMotion = found?.motion;
    if (found) {
      state.motionMisses = 0;
      state.motionRestLength = 1;
      return found.copies;
    }
    if (++state.motionMisses >= MOTION_MISSES) {
      state.motionMisses = 0;
      state.motionRestLength = Math.min(
        MOTION_REST_MAX,
        state.motionRestLength * 2,
      );
      state.motionRest = state.motionRestLength;
    }
    return [];
  }

  #screen(width: number, height: number): ScreenState {
    const s = this.#state;
    if (s && s.width === width && s.height === height) return s;
    const cols = Math.ceil(width / this.#tileSize);
    const rows = Math.ceil(height / this.#tileSize);
    this.#state = {
      width,
      height,
      tileSize: this.#tileSize,
      cols,
      rows,
      sent: { words: new Uint32Array(width * height), stride: width },
      history: new Uint8Array(cols * rows),
      lossy: new Uint8Array(cols * rows),
      unchanged: new Uint16Array(cols * rows),
      stale: new Uint8Array(cols * rows),
      photo: new Uint8Array(cols * rows),
      photoTrust: new Uint8Array(cols * rows),
      sinceFull: 0,
      sendAll: true,
      motionMisses: 0,
      motionRest: 0,
      motionRestLength: 1,
      lastMotion: undefined,
      motionBefore: undefined,
      rowCache: {},
    };
    return this.#state;
  }
}

/**
 * Stacks `JPEG` runs of consecutive tile rows that share their left edge and
 * width into blocks at most `maxHeight` tall. `tiles` is in row-major order;
 * so is the result (a block sits where its top run was).
 */
export function stackRuns(tiles: Tile[], maxHeight: number): Tile[] {
  const out: Tile[] = [];
  // Open blocks by "x,width", each awaiting a run that starts at its bottom.
  const open = new Map<string, Tile>();
  for (const tile of tiles) {
    if (tile.encoding !== ENCODING.JPEG) {
      out.push(tile);
      continue;
    }
    const key = `${tile.x},${tile.width}`;
    const block = open.get(key);
    if (
      block && block.y + block.height === tile.y &&
      block.height + tile.height <= maxHeight
    ) {
      block.height += tile.height;
      continue;
    }
    open.set(key, tile);
    out.push(tile);
  }
  return out;
}

/**
 * Per tile, 1 when `rects` (disjoint, as copies are) cover it wholly: the
 * areas they share with the tile add up to the tile's.
 */
function coveredTiles(state: ScreenState, rects: readonly Rect[]): Uint8Array {
  const shared = new Float64Array(state.cols * state.rows);
  for (const r of rects) {
    forTiles(state, r, (t) => {
      const tile = tileRect(state, t);
      const w = Math.min(tile.x + tile.width, r.x + r.width) -
        Math.max(tile.x, r.x);
      const h = Math.min(tile.y + tile.height, r.y + r.height) -
        Math.max(tile.y, r.y);
      shared[t] += w * h;
      return false;
    });
  }
  const covered = new Uint8Array(shared.length);
  for (let t = 0; t < shared.length; t++) {
    const tile = tileRect(state, t);
    if (shared[t] === tile.width * tile.height) covered[t] = 1;
  }
  return covered;
}

/** The rectangle of tile `t`. */
function tileRect(state: ScreenState, t: number): Rect {
  const size = state.tileSize;
  const x = (t % state.cols) * size;
  const y = Math.floor(t / state.cols) * size;
  return {
    x,
    y,
    width: Math.min(size, state.width - x),
    height: Math.min(size, state.height - y),
  };
}

/**
 * Encodes a tile's colour-count verdict is reused for: what a region shows
 * (text, a photo) rarely flips from one frame to the next, and counting a
 * changing text tile's colours every frame costs more than its compare.
 */
const PHOTO_TRUST = 8;

/** Whether tile `t` is photographic, counting (with `count`) only now and then. */
function photographic(
  state: ScreenState,
  t: number,
  count: () => boolean,
): boolean {
  if (state.photoTrust[t] > 0) {
    state.photoTrust[t]--;
    return state.photo[t] === 1;
  }
  state.photo[t] = count() ? 1 : 0;
  state.photoTrust[t] = PHOTO_TRUST;
  return state.photo[t] === 1;
}

/** Sets the `stale` flag of every tile meeting `rect`. */
function markTiles(state: ScreenState, rect: Rect, value: number): void {
  forTiles(state, rect, (t) => {
    state.stale[t] = value;
    return false;
  });
}

/** Whether any tile meeting `rect` is stale. */
function touchesStale(state: ScreenState, rect: Rect): boolean {
  return forTiles(state, rect, (t) => state.stale[t] === 1);
}

/** Calls `fn` for each tile meeting `rect` until it returns true. */
function forTiles(
  state: ScreenState,
  rect: Rect,
  fn: (tile: number) => boolean,
): boolean {
  const size = state.tileSize;
  const c0 = Math.max(0, Math.floor(rect.x / size));
  const c1 = Math.min(state.cols, Math.ceil((rect.x + rect.width) / size));
  const r0 = Math.max(0, Math.floor(rect.y / size));
  const r1 = Math.min(state.rows, Math.ceil((rect.y + rect.height) / size));
  for (let r = r0; r < r1; r++) {
    for (let c = c0; c < c1; c++) if (fn(r * state.cols + c)) return true;
  }
  return false;
}

/** The bounding box of `hints` on a `width`×`height` screen. */
function hintsBounds(
  hints: readonly Rect[],
  width: number,
  height: number,
): Rect | undefined {
  const clipped = hints.map((h) => clipRect(h, width, height)).filter((
    r,
  ): r is Rect => r !== undefined);
  return clipped.length ? boundingBox(clipped) : undefined;
}

/** A `COPY` tile's data: u16 source x, u16 source y. */
function copySource(copy: CopyRect): Uint8Array {
  const data = new Uint8Array(4);
  const dv = new DataView(data.buffer);
  dv.setUint16(0, copy.srcX, true);
  dv.setUint16(2, copy.srcY, true);
  return data;
}

async function encodeLocally(jobs: TileJob[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const job of jobs) out.push(await encodeTile(job));
  return out;
}

function checkFrame(frame: Frame): void {
  const { width, height, stride, data } = frame;
  const ok = Number.isInteger(width) && Number.isInteger(height) &&
    Number.isInteger(stride) && width >= 1 && height >= 1 &&
    width <= 65535 && height <= 65535 && stride >= width * 4 &&
    data instanceof Uint8Array &&
    data.length >= stride * (height - 1) + width * 4;
  if (!ok) {
    throw new RangeError(
      `bad frame: ${width}×${height}, stride ${stride}, ${data?.length} bytes`,
    );
  }
}
