/**
 * PNG files from packed rows: the signature, `IHDR`, `PLTE` (palette
 * images), one `IDAT` and `IEND`, compressed with the runtime's native zlib
 * (`node:zlib` `deflateSync`, `crc32`). Every row has filter type 0 (none):
 * the PNG specification's advice for palette images, which is what text and
 * UI tiles are, and the cheapest. Native zlib compresses these rows 3 to 6
 * times faster than the pure-JavaScript deflate `fast-png` uses (measured
 * on the media benchmark's scrolling text: see `docs/dependencies.md`).
 *
 * @module
 */
import { crc32, deflateSync } from "node:zlib";

/** The pixels of one PNG. */
export type PngImage =
  | {
    /** Palette image: 1, 2, 4 or 8 bits per index. */
    kind: "palette";
    width: number;
    height: number;
    depth: 1 | 2 | 4 | 8;
    /** Up to 256 colours, `0xRRGGBB`. */
    palette: readonly number[];
    /** Rows of indices, packed from the high bits, each row byte-aligned. */
    rows: Uint8Array;
  }
  | {
    /** Truecolour: 8-bit R, G, B. */
    kind: "rgb";
    width: number;
    height: number;
    /** Rows of RGB bytes. */
    rows: Uint8Array;
  };

const SIGNATURE = Uint8Array.of(137, 80, 78, 71, 13, 10, 26, 10);

/** Encodes `image` as a PNG file; `level` is zlib's (1–9). */
export function writePng(
  image: PngImage,
  options: { level: number },
): Uint8Array {
  const { width, height } = image;
  const rowBytes = image.kind === "rgb"
    ? width * 3
    : Math.ceil(width * image.depth / 8);
  if (image.rows.length !== rowBytes * height) {
    throw new RangeError(
      `PNG rows: ${image.rows.length} bytes for ${width}×${height}, expected ${
        rowBytes * height
      }`,
    );
  }
  // Each row gets its filter byte (0: none) in front.
  const filtered = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) {
    filtered.set(
      image.rows.subarray(y * rowBytes, (y + 1) * rowBytes),
      y * (rowBytes + 1) + 1,
    );
  }
  const header = new Uint8Array(13);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  header[8] = image.kind === "rgb" ? 8 : image.depth;
  header[9] = image.kind === "rgb" ? 2 : 3; // colour type
  const chunks = [chunk("IHDR", header)];
  if (image.kind === "palette") {
    const plte = new Uint8Array(image.palette.length * 3);
    image.palette.forEach((c, i) => {
      plte[i * 3] = c >>> 16;
      plte[i * 3 + 1] = (c >>> 8) & 255;
      plte[i * 3 + 2] = c & 255;
    });
    chunks.push(chunk("PLTE", plte));
  }
  chunks.push(chunk("IDAT", deflateSync(filtered, { level: options.level })));
  chunks.push(chunk("IEND", new Uint8Array(0)));
  const out = new Uint8Array(
    SIGNATURE.length + chunks.reduce((n, c) => n + c.length, 0),
  );
  out.set(SIGNATURE, 0);
  let at = SIGNATURE.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** One chunk: length, type, data, CRC-32 of type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}
