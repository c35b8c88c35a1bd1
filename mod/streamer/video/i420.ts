/**
 * BGRX → I420 (planar Y, U, V; 4:2:0) for the H.264 encoder: BT.601
 * coefficients, limited ("TV") range: Y 16–235, U and V 16–240, which is what
 * H.264 decoders assume unless the stream says otherwise (the encoder also
 * signals it in the SPS's VUI: matrix SMPTE 170M, limited range). Each 2×2
 * block's chroma is the mean of its four pixels.
 *
 * Integer arithmetic with 8-bit fixed-point coefficients (the usual studio
 * swing formulas):
 *
 * ```text
 * Y = ((  66 R + 129 G +  25 B + 128) >> 8) + 16
 * U = (( -38 R -  74 G + 112 B + 128) >> 8) + 128
 * V = (( 112 R -  94 G -  18 B + 128) >> 8) + 128
 * ```
 *
 * The full 2×2 blocks go through libyuv's SIMD `ARGBToI420` when
 * `libyuv.so.0` is installed (same coefficients: luma identical, chroma
 * within one step; about 25× faster at 1080p), otherwise through the
 * TypeScript loop here; odd edges and padding are always done here.
 *
 * @module
 */
import { argbToI420, libyuvAvailable } from "../../../ffi/libyuv/mod.ts";

/** A BGRX frame: 4 bytes a pixel (blue, green, red, unused), rows `stride` bytes apart. */
export interface BgrxFrame {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Bytes from one row to the next (at least `width * 4`). */
  stride: number;
  /** The pixels. */
  data: Uint8Array;
}

/** A rectangle in a frame, in pixels. */
export interface Region {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/**
 * An I420 picture of even size with tightly packed planes: Y `width` bytes
 * a row, U and V `width / 2`.
 */
export interface I420Planes {
  /** Width in pixels (even). */
  width: number;
  /** Height in pixels (even). */
  height: number;
  /** Luma, `width × height`. */
  y: Uint8Array;
  /** Cb, `width/2 × height/2`. */
  u: Uint8Array;
  /** Cr, `width/2 × height/2`. */
  v: Uint8Array;
}

/** Options for {@linkcode bgrxToI420}. */
export interface BgrxToI420Options {
  /** The part of the frame to convert; the whole frame by default. */
  region?: Region;
  /**
   * Use libyuv's SIMD conversion when `libyuv.so.0` is installed (default
   * true); false always runs the TypeScript loop.
   */
  accelerate?: boolean;
}

/** Whether libyuv loaded, once known. */
let libyuv: boolean | undefined;

/** Whether {@linkcode bgrxToI420} can use libyuv on this machine. */
export function conversionAccelerated(): boolean {
  libyuv ??= libyuvAvailable();
  return libyuv;
}

/** Allocates the planes of an even-sized I420 picture. */
export function allocateI420(width: number, height: number): I420Planes {
  if (!(width > 0 && height > 0) || width % 2 || height % 2) {
    throw new RangeError(`I420 size ${width}×${height} is not even`);
  }
  const chroma = (width / 2) * (height / 2);
  return {
    width,
    height,
    y: new Uint8Array(width * height),
    u: new Uint8Array(chroma),
    v: new Uint8Array(chroma),
  };
}

/**
 * Converts `options.region` of `frame` (the whole frame by default) into the
 * top-left corner of `target`. A region larger than the target is cropped
 * to it; where the target is larger (an odd region in an even picture, say)
 * the last converted column and row are repeated to its edges, so padding
 * never shows up as a coloured border when it is scaled or cropped away.
 */
export function bgrxToI420(
  frame: BgrxFrame,
  target: I420Planes,
  options: BgrxToI420Options = {},
): void {
  const region = options.region ??
    { x: 0, y: 0, width: frame.width, height: frame.height };
  checkRegion(frame, region);
  const { width: tw, height: th } = target;
  if (tw % 2 || th % 2) {
    throw new RangeError(`I420 target size ${tw}×${th} is not even`);
  }
  const cw = Math.min(region.width, tw);
  const ch = Math.min(region.height, th);
  if (cw <= 0 || ch <= 0) return;
  const src = frame.data;
  const stride = frame.stride;
  const origin = region.y * stride + region.x * 4;
  const cwEven = cw & ~1;
  const chEven = ch & ~1;
  if (cwEven && chEven) {
    if (options.accelerate !== false && conversionAccelerated()) {
      argbToI420(
        { data: frame.data.subarray(origin), stride },
        {
          y: target.y,
          strideY: tw,
          u: target.u,
          v: target.v,
          strideUV: tw >> 1,
        },
        { width: cwEven, height: chEven },
      );
    } else {
      convertBlocks(src, { origin, stride }, target, {
        width: cwEven,
        height: chEven,
      });
    }
  }
  if (cw !== cwEven || ch !== chEven) {
    convertOddEdges(frame, region, target, { cw, ch });
  }
  padEdges(target, cw, ch);
}

/** The full 2×2 blocks in TypeScript: the hot loop, two source rows at a time. */
function convertBlocks(
  src: Uint8Array,
  at: { origin: number; stride: number },
  target: I420Planes,
  size: { width: number; height: number },
): void {
  const { origin, stride } = at;
  const { width: cwEven, height: chEven } = size;
  const { y: yPlane, u: uPlane, v: vPlane, width: tw } = target;
  const chromaWidth = tw >> 1;
  for (let row = 0; row < chEven; row += 2) {
    let s0 = origin + row * stride;
    let s1 = s0 + stride;
    let y0 = row * tw;
    let y1 = y0 + tw;
    let c = (row >> 1) * chromaWidth;
    for (let col = 0; col < cwEven; col += 2) {
      const b00 = src[s0], g00 = src[s0 + 1], r00 = src[s0 + 2];
      const b01 = src[s0 + 4], g01 = src[s0 + 5], r01 = src[s0 + 6];
      const b10 = src[s1], g10 = src[s1 + 1], r10 = src[s1 + 2];
      const b11 = src[s1 + 4], g11 = src[s1 + 5], r11 = src[s1 + 6];
      yPlane[y0] = ((66 * r00 + 129 * g00 + 25 * b00 + 128) >> 8) + 16;
      yPlane[y0 + 1] = ((66 * r01 + 129 * g01 + 25 * b01 + 128) >> 8) + 16;
      yPlane[y1] = ((66 * r10 + 129 * g10 + 25 * b10 + 128) >> 8) + 16;
      yPlane[y1 + 1] = ((66 * r11 + 129 * g11 + 25 * b11 + 128) >> 8) + 16;
      const r = r00 + r01 + r10 + r11;
      const g = g00 + g01 + g10 + g11;
      const b = b00 + b01 + b10 + b11;
      uPlane[c] = ((-38 * r - 74 * g + 112 * b + 512) >> 10) + 128;
      vPlane[c] = ((112 * r - 94 * g - 18 * b + 512) >> 10) + 128;
      s0 += 8;
      s1 += 8;
      y0 += 2;
      y1 += 2;
      c++;
    }
  }
}

/** Throws a RangeError unless `region` is a whole number rectangle inside `frame`. */
function checkRegion(frame: BgrxFrame, region: Region): void {
  const { x, y, width, height } = region;
  const whole = [x, y, width, height].every(Number.isInteger);
  if (
    !whole || x < 0 || y < 0 || width < 0 || height < 0 ||
    x + width > frame.width || y + height > frame.height
  ) {
    throw new RangeError(
      `region ${width}×${height}+${x}+${y} is not inside the ${frame.width}×${frame.height} frame`,
    );
  }
  if (frame.stride < frame.width * 4) {
    throw new RangeError(
      `stride ${frame.stride} is less than ${frame.width} pixels × 4`,
    );
  }
  if (frame.data.length < (frame.height - 1) * frame.stride + frame.width * 4) {
    throw new RangeError(
      `${frame.data.length} bytes cannot hold a ${frame.width}×${frame.height} frame of stride ${frame.stride}`,
    );
  }
}

/**
 * The last column and/or row of an odd-sized copy: each 2×2 block there
 * uses the pixels it has, repeated (rare, so written for clarity).
 */
function convertOddEdges(
  frame: BgrxFrame,
  region: Region,
  target: I420Planes,
  size: { cw: number; ch: number },
): void {
  const { cw, ch } = size;
  const tw = target.width;
  const src = frame.data;
  const at = (col: number, row: number): number =>
    (region.y + Math.min(row, ch - 1)) * frame.stride +
    (region.x + Math.min(col, cw - 1)) * 4;
  const block = (col: number, row: number): void => {
    let r = 0, g = 0, b = 0;
    for (let dy = 0; dy < 2; dy++) {
      for (let dx = 0; dx < 2; dx++) {
        const s = at(col + dx, row + dy);
        const pb = src[s], pg = src[s + 1], pr = src[s + 2];
        if (col + dx < cw && row + dy < ch) {
          target.y[(row + dy) * tw + col + dx] =
            ((66 * pr + 129 * pg + 25 * pb + 128) >> 8) + 16;
        }
        r += pr;
        g += pg;
        b += pb;
      }
    }
    const c = (row >> 1) * (tw >> 1) + (col >> 1);
    target.u[c] = ((-38 * r - 74 * g + 112 * b + 512) >> 10) + 128;
    target.v[c] = ((112 * r - 94 * g - 18 * b + 512) >> 10) + 128;
  };
  const cwEven = cw & ~1;
  const chEven = ch & ~1;
  if (cw !== cwEven) {
    for (let row = 0; row < ch; row += 2) block(cwEven, row);
  }
  if (ch !== chEven) {
    for (let col = 0; col < cwEven; col += 2) block(col, chEven);
  }
}

/** Repeats the last converted column and row to the target's edges. */
function padEdges(target: I420Planes, cw: number, ch: number): void {
  const { width: tw, height: th } = target;
  padPlane(target.y, tw, th, cw, ch);
  const chromaW = tw >> 1;
  const chromaH = th >> 1;
  const ccw = (cw + 1) >> 1;
  const cch = (ch + 1) >> 1;
  padPlane(target.u, chromaW, chromaH, ccw, cch);
  padPlane(target.v, chromaW, chromaH, ccw, cch);
}

function padPlane(
  plane: Uint8Array,
  width: number,
  height: number,
  filledWidth: number,
  filledHeight: number,
): void {
  if (filledWidth < width) {
    for (let row = 0; row < filledHeight; row++) {
      const start = row * width;
      plane.fill(
        plane[start + filledWidth - 1],
        start + filledWidth,
        start + width,
      );
    }
  }
  const last = plane.subarray((filledHeight - 1) * width, filledHeight * width);
  for (let row = filledHeight; row < height; row++) {
    plane.set(last, row * width);
  }
}
