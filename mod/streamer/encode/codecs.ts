/**
 * Image codecs for one tile: JPEG through MozJPEG (`@jsquash/jpeg`, Wasm)
 * and PNG through `png.ts` (native zlib), from packed BGRX pixels (4 bytes per pixel,
 * rows `width * 4` bytes apart; the 4th byte is ignored). The colour
 * conversion to RGB(A) happens here. Both encoders are deterministic, so the
 * same tile gives the same bytes on any thread. See `docs/dependencies.md`
 * for why these two.
 *
 * @module
 */
import encodeMozjpeg, { init as initMozjpeg } from "@jsquash/jpeg/encode.js";
import { ENCODING } from "../../../httpdocs/session/protocol.js";
import { mozjpegEncoderModule } from "./mozjpeg_wasm.js";
import { type PngImage, writePng } from "./png.ts";

let mozjpegReady: Promise<void> | undefined;

/**
 * MozJPEG settings: baseline (not progressive: one scan is faster to encode
 * and to show), 4:2:0 chroma, optimised Huffman tables. Measured 4× faster
 * than the progressive default at a smaller size for 64×64 tiles.
 */
const MOZJPEG_OPTIONS = {
  baseline: true,
  progressive: false,
  optimize_coding: true,
  auto_subsample: false,
  chroma_subsample: 2,
};

/** zlib level of PNG tiles: level 6 is as fast as 1 on palette tiles and smaller. */
const PNG_ZLIB_LEVEL = 6;

/** Encodes BGRX pixels as a JPEG of the given quality (1–100). */
export async function encodeJpeg(
  bgrx: Uint8Array,
  size: { width: number; height: number },
  options: { quality: number },
): Promise<Uint8Array> {
  const { width, height } = size;
  const quality = Math.round(options.quality);
  if (!(quality >= 1 && quality <= 100)) {
    throw new RangeError(`JPEG quality ${options.quality} is not 1–100`);
  }
  checkSize(bgrx, width, height);
  mozjpegReady ??= initMozjpeg(mozjpegEncoderModule);
  await mozjpegReady;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < rgba.length; i += 4) {
    rgba[i] = bgrx[i + 2];
    rgba[i + 1] = bgrx[i + 1];
    rgba[i + 2] = bgrx[i];
    rgba[i + 3] = 255;
  }
  const image = { data: rgba, width, height, colorSpace: "srgb" } as ImageData;
  const out = await encodeMozjpeg(image, { ...MOZJPEG_OPTIONS, quality });
  return new Uint8Array(out);
}

/**
 * Encodes BGRX pixels as a lossless PNG: indexed (1, 2, 4 or 8 bits) when
 * the tile has at most 256 colours, which text and UI usually do, else RGB.
 */
export function encodePng(
  bgrx: Uint8Array,
  size: { width: number; height: number },
): Uint8Array {
  const { width, height } = size;
  checkSize(bgrx, width, height);
  const indexed = toIndexed(bgrx, width, height);
  if (indexed) return writePng(indexed, { level: PNG_ZLIB_LEVEL });
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0, o = 0; o < rgb.length; i += 4, o += 3) {
    rgb[o] = bgrx[i + 2];
    rgb[o + 1] = bgrx[i + 1];
    rgb[o + 2] = bgrx[i];
  }
  return writePng({ kind: "rgb", width, height, rows: rgb }, {
    level: PNG_ZLIB_LEVEL,
  });
}

function checkSize(bgrx: Uint8Array, width: number, height: number): void {
  if (
    !Number.isInteger(width) || !Number.isInteger(height) || width < 1 ||
    height < 1 || bgrx.length < width * height * 4
  ) {
    throw new RangeError(
      `tile ${width}×${height} needs ${
        width * height * 4
      } bytes, got ${bgrx.length}`,
    );
  }
}

/** The exact palette image of `bgrx`, or undefined beyond 256 colours. */
function toIndexed(
  bgrx: Uint8Array,
  width: number,
  height: number,
): PngImage | undefined {
  const pixels = width * height;
  // Whole pixels at once where the buffer allows (workers hand over
  // fresh, aligned buffers).
  const aligned = bgrx.byteOffset % 4 === 0;
  const words = aligned
    ? new Uint32Array(bgrx.buffer, bgrx.byteOffset, pixels)
    : undefined;
  const index = new Uint8Array(pixels);
  // Open addressing over 1024 slots: colour → palette index (a Map per
  // pixel run costs more than the rest of the encode).
  const keys = new Int32Array(1024).fill(-1);
  const values = new Uint8Array(1024);
  const palette: number[] = [];
  let last = -1;
  let lastIndex = 0;
  for (let p = 0, i = 0; p < pixels; p++, i += 4) {
    const c = words
      ? words[p] & 0xffffff
      : (bgrx[i + 2] << 16) | (bgrx[i + 1] << 8) | bgrx[i];
    if (c !== last) {
      let k = Math.imul(c, 0x9e3779b1) >>> 22;
      while (keys[k] !== -1 && keys[k] !== c) k = (k + 1) & 1023;
      if (keys[k] === -1) {
        if (palette.length === 256) return undefined;
        keys[k] = c;
        values[k] = palette.length;
        palette.push(c);
      }
      last = c;
      lastIndex = values[k];
    }
    index[p] = lastIndex;
  }
  const n = palette.length;
  const depth = n <= 2 ? 1 : n <= 4 ? 2 : n <= 16 ? 4 : 8;
  let rows = index;
  if (depth < 8) {
    // PNG packs sub-byte samples from the high bits, each row byte-aligned.
    const rowBytes = Math.ceil(width * depth / 8);
    const perByte = 8 / depth;
    rows = new Uint8Array(rowBytes * height);
    for (let y = 0; y < height; y++) {
      const row = y * rowBytes;
      const from = y * width;
      for (let x = 0; x < width; x++) {
        const shift = 8 - depth * (1 + (x % perByte));
        rows[row + Math.floor(x / perByte)] |= index[from + x] << shift;
      }
    }
  }
  return { kind: "palette", width, height, depth, palette, rows };
}

/** One tile to encode, as posted to a worker (the pixels are transferred). */
export interface TileJob {
  /** `ENCODING.JPEG` or `ENCODING.PNG`. */
  encoding: number;
  /** Tile width in pixels. */
  width: number;
  /** Tile height in pixels. */
  height: number;
  /** JPEG quality (1–100); unused for PNG. */
  quality: number;
  /** Packed BGRX pixels, `width * 4` bytes per row. */
  pixels: Uint8Array;
}

/** Encodes one job with the codec it names. */
export function encodeTile(job: TileJob): Promise<Uint8Array> {
  if (job.encoding === ENCODING.JPEG) {
    return encodeJpeg(job.pixels, job, { quality: job.quality });
  }
  if (job.encoding === ENCODING.PNG) {
    return Promise.resolve(encodePng(job.pixels, job));
  }
  return Promise.reject(
    new RangeError(`cannot encode a tile as encoding ${job.encoding}`),
  );
}
