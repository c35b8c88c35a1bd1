/**
 * libyuv (Debian's `libyuv0`, `libyuv.so.0`) through `Deno.dlopen`: its
 * SIMD `ARGBToI420`, an optional accelerator for the video path's colour
 * conversion (`mod/streamer/video/i420.ts` falls back to TypeScript without
 * it). libyuv's "ARGB" is little-endian words, so B, G, R, A in memory:
 * exactly the X11 and GDI BGRX layout. Its coefficients are BT.601 limited
 * range, the same as the TypeScript conversion (luma identical, chroma
 * within one step: libyuv rounds its 2×2 means differently).
 *
 * ```c
 * // libyuv/convert.h
 * int ARGBToI420(const uint8_t* src_argb, int src_stride_argb,
 *                uint8_t* dst_y, int dst_stride_y,
 *                uint8_t* dst_u, int dst_stride_u,
 *                uint8_t* dst_v, int dst_stride_v,
 *                int width, int height);   // 0 on success
 * ```
 *
 * The call is short (well under a millisecond for 1080p) and runs on the
 * calling thread.
 *
 * @module
 */

/** The soname loaded. */
export const LIBYUV_LIBRARY = "libyuv.so.0";
/** The Debian package that installs it. */
export const LIBYUV_PACKAGE = "libyuv0";

/** The libyuv symbols bound. */
export const LIBYUV_SYMBOLS = {
  ARGBToI420: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "i32",
      "i32",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The raw libyuv symbols. */
export type LibyuvSymbols = Deno.DynamicLibrary<
  typeof LIBYUV_SYMBOLS
>["symbols"];

let library: Deno.DynamicLibrary<typeof LIBYUV_SYMBOLS> | undefined;
let loadError: Error | undefined;

/**
 * libyuv's symbols, loaded once. Throws an Error naming the library and its
 * Debian package when it is missing.
 */
export function openLibyuv(): LibyuvSymbols {
  if (library) return library.symbols;
  if (loadError) throw loadError;
  try {
    library = Deno.dlopen(LIBYUV_LIBRARY, LIBYUV_SYMBOLS);
    return library.symbols;
  } catch (error) {
    loadError = new Error(
      `cannot load ${LIBYUV_LIBRARY} (install the Debian package ${LIBYUV_PACKAGE}): ${
        (error as Error).message
      }`,
    );
    throw loadError;
  }
}

/** Whether libyuv loads. */
export function libyuvAvailable(): boolean {
  try {
    openLibyuv();
    return true;
  } catch {
    return false;
  }
}

/** Source pixels for {@linkcode argbToI420}: BGRX rows `stride` bytes apart. */
export interface ArgbSource {
  /** The first pixel of the first row, and everything after it. */
  data: Uint8Array;
  /** Bytes from one row to the next. */
  stride: number;
}

/** I420 destination planes for {@linkcode argbToI420}, each with its stride. */
export interface I420Destination {
  /** Luma. */
  y: Uint8Array;
  /** Luma row stride. */
  strideY: number;
  /** Cb. */
  u: Uint8Array;
  /** Cr. */
  v: Uint8Array;
  /** Chroma row stride (both planes). */
  strideUV: number;
}

/**
 * libyuv `ARGBToI420` of `size.width × size.height` pixels (even sizes) from
 * `source` into `target`. The caller guarantees the buffers are big enough:
 * libyuv does not check.
 */
export function argbToI420(
  source: ArgbSource,
  target: I420Destination,
  size: { width: number; height: number },
): void {
  const { width, height } = size;
  const enough =
    source.data.length >= (height - 1) * source.stride + width * 4 &&
    target.y.length >= (height - 1) * target.strideY + width &&
    target.u.length >= (height / 2 - 1) * target.strideUV + width / 2 &&
    target.v.length >= (height / 2 - 1) * target.strideUV + width / 2;
  if (!enough || width % 2 || height % 2 || width <= 0 || height <= 0) {
    throw new RangeError(
      `ARGBToI420 of ${width}×${height}: buffers too small or size not even`,
    );
  }
  const result = openLibyuv().ARGBToI420(
    source.data,
    source.stride,
    target.y,
    target.strideY,
    target.u,
    target.strideUV,
    target.v,
    target.strideUV,
    width,
    height,
  );
  if (result !== 0) throw new Error(`libyuv ARGBToI420 failed (${result})`);
}
