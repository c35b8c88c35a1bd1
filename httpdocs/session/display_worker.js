// @ts-check
/// <reference lib="dom" />
/**
 * The display's worker: owns the session canvas (an OffscreenCanvas handed
 * over by `display.js`), decodes JPEG and PNG tiles off the main thread and
 * draws whole frames. Work runs strictly in order; after every tile of a
 * frame is drawn it answers `{ drawn: frameId, seq }`, which the page turns
 * into the frame's ACK.
 *
 * Messages in: `{ type: "init", canvas }`, `{ type: "resize", width, height }`,
 * `{ type: "frame", seq, frame }`, `{ type: "read", id, x, y, width, height }`.
 *
 * @module
 */
import { ENCODING, ENCODING_MIME } from "./protocol.js";

/**
 * @typedef {import("./protocol.js").Frame} Frame
 * @typedef {{ type: "init", canvas: OffscreenCanvas }
 *   | { type: "resize", width: number, height: number }
 *   | { type: "frame", seq: number, frame: Frame }
 *   | { type: "read", id: number, x: number, y: number, width: number,
 *       height: number }} WorkerRequest
 */

// The DOM lib types `self` as a Window; this is a dedicated worker.
const scope =
  /** @type {{ postMessage(message: unknown, transfer?: Transferable[]): void, onmessage: ((event: MessageEvent) => void) | null }} */ (
    /** @type {unknown} */ (self)
  );

/** @type {OffscreenCanvas | undefined} */
let canvas;
/** @type {OffscreenCanvasRenderingContext2D | undefined} */
let context;
/** Work runs in arrival order, one item at a time. */
let queue = Promise.resolve();

scope.onmessage = (/** @type {MessageEvent} */ event) => {
  const request = /** @type {WorkerRequest} */ (event.data);
  // A frame's tiles start decoding as soon as it arrives (the browser
  // decodes on its own threads), so the next frame decodes while this one
  // is drawn; drawing and everything else stay in arrival order.
  const decoded = request.type === "frame"
    ? decodeFrame(request.frame)
    : undefined;
  queue = queue.then(() => handle(request, decoded)).catch((error) => {
    console.error("webstream display worker:", error);
  });
};

/**
 * @typedef {{ images: (ImageBitmap | undefined)[], errors: number }} Decoded
 */

/**
 * @param {WorkerRequest} request
 * @param {Promise<Decoded> | undefined} decoded the frame's tiles, decoding
 * @returns {Promise<void> | void}
 */
function handle(request, decoded) {
  switch (request.type) {
    case "init":
      canvas = request.canvas;
      context = /** @type {OffscreenCanvasRenderingContext2D} */ (
        canvas.getContext("2d", { alpha: false })
      );
      return;
    case "resize":
      if (!canvas || !context) return;
      // Setting the size clears the canvas; the streamer follows SCREEN with
      // a full frame.
      canvas.width = request.width;
      canvas.height = request.height;
      context.fillStyle = "#000";
      context.fillRect(0, 0, request.width, request.height);
      return;
    case "frame":
      return decoded?.then((d) => drawFrame(request.seq, request.frame, d));
    case "read": {
      const { id, x, y, width, height } = request;
      if (!context) {
        return scope.postMessage({ read: id, error: "no canvas" });
      }
      const pixels = context.getImageData(x, y, width, height).data;
      return scope.postMessage({ read: id, pixels }, [pixels.buffer]);
    }
  }
}

/**
 * Decodes every image tile of a frame (solid tiles need no decoding).
 *
 * @param {Frame} frame
 * @returns {Promise<Decoded>}
 */
async function decodeFrame(frame) {
  let errors = 0;
  const images = await Promise.all(frame.tiles.map(async (tile) => {
    if (tile.encoding === ENCODING.SOLID) return undefined;
    const type = ENCODING_MIME[/** @type {0 | 1} */ (tile.encoding)];
    if (!type) {
      errors++;
      return undefined;
    }
    try {
      return await createImageBitmap(
        new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (tile.data)], {
          type,
        }),
      );
    } catch {
      errors++;
      return undefined;
    }
  }));
  return { images, errors };
}

/**
 * Draws a decoded frame's tiles in one task, so a frame never shows half
 * drawn, and reports it drawn.
 *
 * @param {number} seq
 * @param {Frame} frame
 * @param {Decoded} decoded
 */
function drawFrame(seq, frame, decoded) {
  const { images } = decoded;
  let { errors } = decoded;
  if (context) {
    frame.tiles.forEach((tile, i) => {
      const image = images[i];
      if (image) {
        context?.drawImage(image, tile.x, tile.y, tile.width, tile.height);
      } else if (tile.encoding === ENCODING.SOLID && tile.data.length >= 3) {
        const [r, g, b] = tile.data;
        /** @type {OffscreenCanvasRenderingContext2D} */ (context).fillStyle =
          `rgb(${r},${g},${b})`;
        context?.fillRect(tile.x, tile.y, tile.width, tile.height);
      } else if (tile.encoding === ENCODING.SOLID) {
        errors++;
      }
    });
  }
  for (const image of images) image?.close();
  scope.postMessage({ drawn: frame.frameId, seq, errors });
}
