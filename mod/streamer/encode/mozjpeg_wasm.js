// @ts-self-types="./mozjpeg_wasm.d.ts"
/**
 * The MozJPEG encoder's WebAssembly module, imported in the source phase so
 * that it is part of the module graph: `deno compile` embeds it, and nothing
 * fetches a `.wasm` file at run time. (Plain JS because TypeScript does not
 * parse `import source` yet; the types are in `mozjpeg_wasm.d.ts`.)
 *
 * @module
 */
import source mozjpegEncoder from "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm";

/** The compiled MozJPEG encoder module of `@jsquash/jpeg`. */
export const mozjpegEncoderModule = mozjpegEncoder;
