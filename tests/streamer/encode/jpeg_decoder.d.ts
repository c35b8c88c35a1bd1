/**
 * Types of `jpeg_decoder.js`.
 *
 * @module
 */

/** Decodes a JPEG to RGBA. */
export declare function decodeJpeg(
  bytes: Uint8Array,
): Promise<{ width: number; height: number; data: Uint8ClampedArray }>;
