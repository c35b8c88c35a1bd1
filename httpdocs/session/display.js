// @ts-check
/// <reference lib="dom" />
/**
 * The session canvas. Its drawing surface is transferred to a worker
 * (`display_worker.js`) that decodes and draws tiles off the main thread;
 * this side posts frames (transferring their bytes), learns when each frame
 * is drawn, and shows the remote cursor as the canvas' CSS cursor.
 *
 * @module
 */

/**
 * @typedef {import("./protocol.js").Frame} Frame
 * @typedef {import("./protocol.js").Cursor} Cursor
 * @typedef {import("./protocol.js").VideoFrameMessage} VideoFrameMessage
 */

/** A canvas drawn by a worker. */
export class Display {
  /** The canvas element (its surface belongs to the worker). */
  canvas;
  /** Remote screen width in pixels. */
  width = 0;
  /** Remote screen height in pixels. */
  height = 0;
  /** Called after each resize. @type {(width: number, height: number) => void} */
  onresize = () => {};
  /**
   * Called when video cannot be decoded until a keyframe arrives.
   * @type {(reason: string) => void}
   */
  onneedkeyframe = () => {};
  /** Video frames decoded and drawn (for statistics and tests). */
  videoFramesShown = 0;
  /** Draws that were video frames. @type {Set<number>} */
  #videoSeqs = new Set();

  /** @type {Worker} */
  #worker;
  #seq = 0;
  #readId = 0;
  #cursorSeq = 0;
  /** @type {Map<number, () => void>} */
  #drawn = new Map();
  /** @type {Map<number, { resolve: (p: Uint8ClampedArray) => void, reject: (e: Error) => void }>} */
  #reads = new Map();

  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    const surface = canvas.transferControlToOffscreen();
    this.#worker = new Worker(new URL("./display_worker.js", import.meta.url), {
      type: "module",
      name: "webstream display",
    });
    this.#worker.onmessage = (event) => this.#answer(event.data);
    this.#worker.onerror = (event) => {
      console.error("webstream display worker failed:", event.message);
    };
    this.#worker.postMessage({ type: "init", canvas: surface }, [surface]);
  }

  /**
   * Sets the remote screen size (clears the canvas).
   *
   * @param {number} width
   * @param {number} height
   */
  resize(width, height) {
    if (width === this.width && height === this.height) return;
    this.width = width;
    this.height = height;
    this.#worker.postMessage({ type: "resize", width, height });
    this.onresize(width, height);
  }

  /**
   * Hands a frame to the worker; resolves once all of its tiles are drawn.
   * The tiles' bytes are transferred: `frame` must not be used afterwards.
   *
   * @param {Frame} frame
   * @returns {Promise<void>}
   */
  draw(frame) {
    const seq = ++this.#seq;
    const { promise, resolve } = Promise.withResolvers();
    this.#drawn.set(seq, () => resolve(undefined));
    /** @type {Set<ArrayBuffer>} */
    const buffers = new Set();
    for (const tile of frame.tiles) {
      buffers.add(/** @type {ArrayBuffer} */ (tile.data.buffer));
    }
    this.#worker.postMessage({ type: "frame", seq, frame }, [...buffers]);
    return promise;
  }

  /**
   * Hands a video frame to the worker; resolves once it is drawn (or
   * dropped: a frame that cannot be decoded is reported through
   * `onneedkeyframe`). Its bytes are transferred.
   *
   * @param {VideoFrameMessage} video
   * @returns {Promise<void>}
   */
  drawVideo(video) {
    const seq = ++this.#seq;
    const { promise, resolve } = Promise.withResolvers();
    this.#drawn.set(seq, () => resolve(undefined));
    this.#videoSeqs.add(seq);
    this.#worker.postMessage({ type: "video", seq, video }, [
      /** @type {ArrayBuffer} */ (video.data.buffer),
    ]);
    return promise;
  }

  /**
   * Shows the remote cursor (straight RGBA) as the canvas' CSS cursor; an
   * empty image hides the pointer.
   *
   * @param {Cursor} cursor
   * @returns {Promise<void>}
   */
  async setCursor(cursor) {
    const seq = ++this.#cursorSeq;
    const { width, height, hotX, hotY, rgba } = cursor;
    if (!width || !height) {
      this.canvas.style.cursor = "none";
      return;
    }
    const surface = new OffscreenCanvas(width, height);
    const context = /** @type {OffscreenCanvasRenderingContext2D} */ (
      surface.getContext("2d")
    );
    const pixels = new Uint8ClampedArray(width * height * 4);
    pixels.set(rgba.subarray(0, pixels.length));
    context.putImageData(new ImageData(pixels, width, height), 0, 0);
    const url = await dataUrl(
      await surface.convertToBlob({ type: "image/png" }),
    );
    // A later cursor may have been set meanwhile.
    if (seq !== this.#cursorSeq) return;
    this.canvas.style.cursor = `url(${url}) ${Math.min(hotX, width - 1)} ${
      Math.min(hotY, height - 1)
    }, default`;
  }

  /**
   * Reads back canvas pixels (RGBA) once everything posted so far is drawn;
   * for tests and diagnostics.
   *
   * @param {number} x
   * @param {number} y
   * @param {number} width
   * @param {number} height
   * @returns {Promise<Uint8ClampedArray>}
   */
  readPixels(x, y, width, height) {
    const id = ++this.#readId;
    const { promise, resolve, reject } = Promise.withResolvers();
    this.#reads.set(id, { resolve, reject });
    this.#worker.postMessage({ type: "read", id, x, y, width, height });
    return promise;
  }

  /** Stops the worker. */
  destroy() {
    this.#worker.terminate();
    for (const resolve of this.#drawn.values()) resolve();
    this.#drawn.clear();
    for (const { reject } of this.#reads.values()) {
      reject(new Error("display closed"));
    }
    this.#reads.clear();
  }

  /** @param {any} data */
  #answer(data) {
    if (typeof data?.needKeyframe === "string") {
      this.onneedkeyframe(data.needKeyframe);
    } else if (typeof data?.seq === "number") {
      if (this.#videoSeqs.delete(data.seq) && !data.errors) {
        this.videoFramesShown++;
      }
      if (data.errors) {
        console.warn(
          `webstream: ${data.errors} tile(s) of frame ${data.drawn} not drawn`,
        );
      }
      this.#drawn.get(data.seq)?.();
      this.#drawn.delete(data.seq);
    } else if (typeof data?.read === "number") {
      const read = this.#reads.get(data.read);
      this.#reads.delete(data.read);
      if (data.error) read?.reject(new Error(data.error));
      else read?.resolve(data.pixels);
    }
  }
}

/**
 * @param {Blob} blob
 * @returns {Promise<string>}
 */
function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(/** @type {string} */ (reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}
