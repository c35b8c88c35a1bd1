// @ts-self-types="./jpeg_decoder.d.ts"
/**
 * A JPEG decoder for the tests: MozJPEG's decoder from `@jsquash/jpeg`, its
 * Wasm imported in the source phase (plain JS: TypeScript does not parse
 * `import source` yet).
 *
 * @module
 */
import decode, { init } from "@jsquash/jpeg/decode.js";
import source decoderModule from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";

/** @type {Promise<void> | undefined} */
let ready;

/**
 * Decodes a JPEG to RGBA.
 *
 * @param {Uint8Array} bytes
 * @returns {Promise<{ width: number, height: number, data: Uint8ClampedArray }>}
 */
export async function decodeJpeg(bytes) {
  ready ??= init(decoderModule);
  await ready;
  const image = await decode(bytes.slice().buffer);
  return { width: image.width, height: image.height, data: image.data };
}
