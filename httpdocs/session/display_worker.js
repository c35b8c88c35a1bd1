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
import { VideoLayer } from "./video.js";

/**
 * @typedef {import("./protocol.js").Frame} Frame
 * @typedef {{ type: "init", canvas: OffscreenCanvas }
 *   | { type: "resize", width: number, height: number }
 *   | { type: "frame", seq: number, frame: Frame }
 *   | { type: "video", seq: number, video: import("./protocol.js").VideoFrameMessage }
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
  const picture = request.type === "video"
    ? decodeVideo(request.video).then((frame) => () =>
      drawVideo(request, frame)
    )
    : undefined;
  queue = queue.then(() =>
    picture ? picture.then((draw) => draw()) : handle(request, decoded)
  ).catch((error) => {
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

/** The video decoder, made for the codec the stream uses. @type {VideoLayer | undefined} */
let video;

/**
 * Starts decoding a video frame (in arrival order, so the decoder sees the
 * stream in order); resolves with the picture, or undefined when it cannot
 * be decoded (the page is told a keyframe is needed).
 *
 * @param {import("./protocol.js").VideoFrameMessage} message
 * @returns {Promise<VideoFrame | undefined>}
 */
function decodeVideo(message) {
  if (!video || video.codec !== message.codec) {
    video?.close();
    video = new VideoLayer(message.codec, {
      onNeedKeyframe: (reason) => scope.postMessage({ needKeyframe: reason }),
    });
  }
  return video.decode({
    data: message.data,
    keyframe: message.keyframe,
    timestamp: message.frameId * 1000,
  }).catch(() => undefined);
}

/**
 * Draws a decoded video frame at its place, cropped to its size (the coded
 * picture may be padded), and reports it drawn.
 *
 * @param {{ seq: number, video: import("./protocol.js").VideoFrameMessage }} request
 * @param {VideoFrame | undefined} frame
 */
function drawVideo(request, frame) {
  const { x, y, width, height, frameId } = request.video;
  if (frame && context) {
    context.drawImage(frame, 0, 0, width, height, x, y, width, height);
  }
  frame?.close();
  scope.postMessage({
    drawn: frameId,
    seq: request.seq,
    errors: frame ? 0 : 1,
  });
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
    if (tile.encoding === ENCODING.SOLID || tile.encoding === ENCODING.COPY) {
      return undefined;
    }
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

/** Scratch surface for copies (grown as needed, never shrunk). */
/** @type {OffscreenCanvas | undefined} */
let scratch;

/**
 * Draws a frame's `COPY` tiles: each reads the picture as it was before any
 * of them, so their sources are taken into a scratch surface first.
 * Returns how many were malformed.
 *
 * @param {OffscreenCanvasRenderingContext2D} context
 * @param {Frame["tiles"]} tiles
 * @returns {number}
 */
function drawCopies(context, tiles) {
  /** @type {{ x: number, y: number, width: number, height: number, sx: number, sy: number }[]} */
  const copies = [];
  let errors = 0;
  for (const tile of tiles) {
    if (tile.encoding !== ENCODING.COPY) continue;
    if (tile.data.length < 4) {
      errors++;
      continue;
    }
    const dv = new DataView(
      tile.data.buffer,
      tile.data.byteOffset,
      tile.data.byteLength,
    );
    copies.push({
      ...tile,
      sx: dv.getUint16(0, true),
      sy: dv.getUint16(2, true),
    });
  }
  if (!copies.length) return errors;
  let x0 = Infinity, y0 = Infinity, x1 = 0, y1 = 0;
  for (const c of copies) {
    x0 = Math.min(x0, c.sx);
    y0 = Math.min(y0, c.sy);
    x1 = Math.max(x1, c.sx + c.width);
    y1 = Math.max(y1, c.sy + c.height);
  }
  const w = x1 - x0, h = y1 - y0;
  if (!scratch || scratch.width < w || scratch.height < h) {
    scratch = new OffscreenCanvas(
      Math.max(w, scratch?.width ?? 0),
      Math.max(h, scratch?.height ?? 0),
    );
  }
  const s = /** @type {OffscreenCanvasRenderingContext2D} */ (
    scratch.getContext("2d", { alpha: false })
  );
  s.drawImage(context.canvas, x0, y0, w, h, 0, 0, w, h);
  for (const c of copies) {
    context.drawImage(
      scratch,
      c.sx - x0,
      c.sy - y0,
      c.width,
      c.height,
      c.x,
      c.y,
      c.width,
      c.height,
    );
  }
  return errors;
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
    errors += drawCopies(context, frame.tiles);
    frame.tiles.forEach((tile, i) => {
      const image = images[i];
      if (tile.encoding === ENCODING.COPY) return;
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
