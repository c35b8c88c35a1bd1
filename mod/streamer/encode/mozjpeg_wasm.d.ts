/**
 * Types of `mozjpeg_wasm.js`.
 *
 * @module
 */

/** The compiled MozJPEG encoder module of `@jsquash/jpeg`. */
export declare const mozjpegEncoderModule: WebAssembly.Module;
