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
import type { TileJob } from "./codecs.ts";

/** Encodes one BGRX tile job as JPEG. */
export type NativeJpeg = (job: TileJob) => Promise<Uint8Array>;

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
    return async (job) => {
      const { width, height, pixels } = job;
      const rgb = new Uint8Array(width * height * 3);
      for (let i = 0, o = 0; o < rgb.length; i += 4, o += 3) {
        rgb[o] = pixels[i + 2];
        rgb[o + 1] = pixels[i + 1];
        rgb[o + 2] = pixels[i];
      }
      const out = await sharp(rgb, { raw: { width, height, channels: 3 } })
        .jpeg({ quality: job.quality, chromaSubsampling: "4:2:0" })
        .toBuffer();
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    };
  } catch {
    return undefined;
  }
}
