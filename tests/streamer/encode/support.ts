/**
 * What the tile encoder tests share: building BGRX frames and decoding the
 * tiles the encoder sends back to RGB pixels (PNG with `fast-png`, JPEG with
 * MozJPEG's decoder) to compare with the frame.
 *
 * @module
 */
import { convertIndexedToRgb, decode as decodePng } from "fast-png";
import { ENCODING, type Tile } from "../../../httpdocs/session/protocol.js";
import type { Frame } from "../../../mod/streamer/encode/mod.ts";
import { decodeJpeg } from "./jpeg_decoder.js";

/** A `width`×`height` BGRX frame filled by `colour(x, y)` → [r, g, b]. */
export function makeFrame(
  width: number,
  height: number,
  colour: (x: number, y: number) => [number, number, number],
  options: { stride?: number; junk?: number } = {},
): Frame {
  const stride = options.stride ?? width * 4;
  const data = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = colour(x, y);
      const i = y * stride + x * 4;
      data[i] = b;
      data[i + 1] = g;
      data[i + 2] = r;
      data[i + 3] = options.junk ?? 0;
    }
  }
  return { width, height, stride, data };
}

/** Sets one pixel of a BGRX frame. */
export function setPixel(
  frame: Frame,
  at: { x: number; y: number },
  rgb: [number, number, number],
): void {
  const i = at.y * frame.stride + at.x * 4;
  frame.data[i] = rgb[2];
  frame.data[i + 1] = rgb[1];
  frame.data[i + 2] = rgb[0];
}

/** The RGB bytes of a rectangle of a BGRX frame. */
export function frameRgb(
  frame: Frame,
  rect: { x: number; y: number; width: number; height: number },
): Uint8Array {
  const out = new Uint8Array(rect.width * rect.height * 3);
  let o = 0;
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    for (let x = rect.x; x < rect.x + rect.width; x++) {
      const i = y * frame.stride + x * 4;
      out[o++] = frame.data[i + 2];
      out[o++] = frame.data[i + 1];
      out[o++] = frame.data[i];
    }
  }
  return out;
}

/** A decoded tile: its size and RGB bytes. */
export interface DecodedTile {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** RGB, 3 bytes per pixel. */
  rgb: Uint8Array;
}

/** Decodes a PNG to RGB (indexed and RGB images). */
export function decodePngRgb(bytes: Uint8Array): DecodedTile {
  const png = decodePng(bytes);
  let data: Uint8Array;
  let channels = png.channels;
  if (png.palette) {
    data = convertIndexedToRgb(png) as Uint8Array;
    channels = png.palette[0].length;
  } else data = png.data as Uint8Array;
  if (png.depth !== 8 && !png.palette) {
    throw new Error(`unexpected PNG depth ${png.depth}`);
  }
  return { width: png.width, height: png.height, rgb: toRgb(data, channels) };
}

/** Decodes any tile to RGB. */
export async function decodeTile(tile: Tile): Promise<DecodedTile> {
  if (tile.encoding === ENCODING.PNG) return decodePngRgb(tile.data);
  if (tile.encoding === ENCODING.JPEG) {
    const image = await decodeJpeg(tile.data);
    return {
      width: image.width,
      height: image.height,
      rgb: toRgb(new Uint8Array(image.data.buffer), 4),
    };
  }
  if (tile.encoding === ENCODING.SOLID) {
    if (tile.data.length !== 4 || tile.data[3] !== 255) {
      throw new Error(`bad SOLID data ${tile.data}`);
    }
    const rgb = new Uint8Array(tile.width * tile.height * 3);
    for (let i = 0; i < rgb.length; i += 3) {
      rgb.set(tile.data.subarray(0, 3), i);
    }
    return { width: tile.width, height: tile.height, rgb };
  }
  throw new Error(`unknown encoding ${tile.encoding}`);
}

function toRgb(data: Uint8Array, channels: number): Uint8Array {
  if (channels === 3) return data;
  const out = new Uint8Array((data.length / channels) * 3);
  for (let i = 0, o = 0; o < out.length; i += channels, o += 3) {
    out[o] = data[i];
    out[o + 1] = data[i + 1];
    out[o + 2] = data[i + 2];
  }
  return out;
}

/** Mean absolute difference of two byte arrays of the same length. */
export function meanAbsError(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) {
    throw new Error(`lengths differ: ${a.length} and ${b.length}`);
  }
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i] - b[i]);
  return sum / a.length;
}

/**
 * What a viewer shows, as RGB: applies frames' tiles as the web client does
 * (`COPY` tiles first, each reading the picture as it was before the frame).
 */
export class ViewerPicture {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** RGB, 3 bytes per pixel. */
  readonly rgb: Uint8Array;

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.rgb = new Uint8Array(width * height * 3);
  }

  /** Applies one frame's tiles. */
  async apply(tiles: readonly Tile[]): Promise<void> {
    const before = this.rgb.slice();
    for (const tile of tiles) {
      if (tile.encoding !== ENCODING.COPY) continue;
      const dv = new DataView(tile.data.buffer, tile.data.byteOffset, 4);
      const sx = dv.getUint16(0, true), sy = dv.getUint16(2, true);
      for (let r = 0; r < tile.height; r++) {
        const from = ((sy + r) * this.width + sx) * 3;
        this.rgb.set(
          before.subarray(from, from + tile.width * 3),
          ((tile.y + r) * this.width + tile.x) * 3,
        );
      }
    }
    for (const tile of tiles) {
      if (tile.encoding === ENCODING.COPY) continue;
      const decoded = await decodeTile(tile);
      for (let r = 0; r < tile.height; r++) {
        this.rgb.set(
          decoded.rgb.subarray(r * tile.width * 3, (r + 1) * tile.width * 3),
          ((tile.y + r) * this.width + tile.x) * 3,
        );
      }
    }
  }
}
