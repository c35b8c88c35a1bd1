/**
 * JPEG through a native libjpeg-turbo (`sharp`, which bundles libvips and
 * libjpeg-turbo per platform): several times faster than mozjpeg in
 * WebAssembly, and it encodes on libvips' own threads, so a frame's JPEG runs
 * proceed in parallel off the streamer's thread. Loaded on first use; where
 * it cannot load (no prebuilt binary for the platform, a compiled executable
 * without it), {@linkcode nativeJpegEncoder} resolves undefined and the
 * encoder keeps using mozjpeg.
 *
 * @module
 */

/** Encodes packed RGB pixels (`width * 3` bytes per row) as JPEG. */
export type NativeJpeg = (
  rgb: Uint8Array,
  options: { width: number; height: number; quality: number },
) => Promise<Uint8Array>;

let loading: Promise<NativeJpeg | undefined> | undefined;

/** The native JPEG encoder, or undefined when it cannot be loaded. */
export function nativeJpegEncoder(): Promise<NativeJpeg | undefined> {
  loading ??= load();
  return loading;
}

async function load(): Promise<NativeJpeg | undefined> {
  try {
    const { default: sharp } = await import("sharp");
    // libvips caches operations by default; frames never repeat.
    sharp.cache(false);
    return async (rgb, { width, height, quality }) => {
      if (rgb.length !== width * height * 3) {
        throw new RangeError(
          `JPEG of ${width}×${height} needs ${
            width * height * 3
          } RGB bytes, got ${rgb.length}`,
        );
      }
      const out = await sharp(rgb, { raw: { width, height, channels: 3 } })
        .jpeg({ quality, chromaSubsampling: "4:2:0", optimiseCoding: false })
        .toBuffer();
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    };
  } catch {
    return undefined;
  }
}
