// @ts-check
/**
 * The session's protocol state, between the tunnel and the display: decodes
 * what the streamer sends (`protocol.js`), acknowledges each frame once the
 * display has drawn it, keeps the remote screen size following the view
 * (VIEW_SIZE: its CSS and device pixels, so the session matches the device
 * pixels within the policy's `maxPixelRatio`; RESIZE to streamers from
 * before it), measures latency (PING every 2 s), carries the clipboard both
 * ways as the session's `hello` allows, and uploads files in chunks without
 * flooding the socket.
 *
 * @module
 */
import {
  decodeStreamerMessage,
  encodeClientMessage,
  ENCODING_NAME,
  MAX_CHUNK,
  MAX_CLIPBOARD_IMAGE,
  MAX_FILE_NAME,
  MAX_JSON,
  PROTOCOL,
  ProtocolError,
} from "./protocol.js";
import { sessionSize } from "./session_size.js";
import { MARK, mark } from "./marks.js";

/**
 * @typedef {import("./protocol.js").ClientMessage} ClientMessage
 * @typedef {import("./protocol.js").Hello} Hello
 * @typedef {import("./protocol.js").FileRequest} FileRequest
 * @typedef {import("./protocol.js").UploadResult} UploadResult
 * @typedef {import("./protocol.js").Notice} Notice
 * @typedef {import("./tunnel.js").Tunnel} Tunnel
 * @typedef {import("./session_size.js").ViewSize} ViewSize
 * @typedef {import("./session_size.js").SessionSize} SessionSize
 * What the client needs of the display (display.js implements it; typed
 * here structurally so this module stays free of DOM-only types).
 * @typedef {{ width: number, height: number,
 *   resize(width: number, height: number): void,
 *   draw(frame: import("./protocol.js").Frame): Promise<unknown>,
 *   drawVideo(video: import("./protocol.js").VideoFrameMessage): Promise<unknown>,
 *   setCursor(cursor: import("./protocol.js").Cursor): Promise<unknown> }} Display
 */

/** Interval of latency pings, ms. */
export const PING_INTERVAL_MS = 2000;
/** Quiet time after the last view size change before RESIZE is sent, ms. */
export const RESIZE_DEBOUNCE_MS = 300;
/** Upload chunks wait while the socket holds more than this many bytes. */
export const UPLOAD_BUFFER_LIMIT = 1024 * 1024;

/**
 * What the page hears from the client.
 *
 * @typedef {{
 *   hello?: (hello: Hello) => void,
 *   clipboard?: (text: string) => void,
 *   clipboardImage?: (png: Uint8Array, copied: boolean) => void,
 *   fileRequest?: (request: FileRequest) => void,
 *   uploadProgress?: (upload: { uploadId: number, name: string, sent: number, size: number }) => void,
 *   uploadResult?: (result: UploadResult) => void,
 *   notice?: (notice: Notice) => void,
 *   stats?: () => void,
 *   capabilities?: (hello: Hello) => Promise<import("./protocol.js").Caps>,
 *   audio?: (packet: import("./protocol.js").AudioPacket) => void,
 *   downloadProgress?: (download: Download) => void,
 *   downloadDone?: (download: Download) => void,
 *   appClosed?: (closed: import("./protocol.js").AppClosed) => void,
 * }} ClientEvents
 */

/**
 * A download from the session: its chunks are kept until it ends, then
 * assembled into `blob` (which the page takes when it saves the file);
 * `error` says why one failed.
 *
 * @typedef {{
 *   downloadId: number,
 *   name: string,
 *   size: number,
 *   kind: "file" | "print",
 *   received: number,
 *   state: "receiving" | "done" | "failed",
 *   blob?: Blob,
 *   error?: string,
 * }} Download
 */

/** The protocol state of one session (across reconnects). */
export class SessionClient {
  /** The latest `hello`, undefined before the first. @type {Hello | undefined} */
  hello;
  /** Frames drawn and acknowledged. */
  framesDrawn = 0;
  /** Frames drawn in the last full second. */
  fps = 0;
  /** Latest ping round trip, ms. @type {number | undefined} */
  latencyMs;
  /** The last clipboard text the session sent. @type {string | undefined} */
  lastClipboard;
  /**
   * The last clipboard image (PNG) the session sent.
   * @type {Uint8Array | undefined}
   */
  lastClipboardImage;
  /**
   * Tiles received by encoding name (`JPEG`, `PNG`, `SOLID`, `COPY`), for
   * statistics. @type {Record<string, number>}
   */
  tilesReceived = {};
  /** Sound packets received. */
  audioPacketsReceived = 0;
  /** Sound bytes received (messages whole). */
  audioBytesReceived = 0;
  /** Downloads of this page, newest last. @type {Download[]} */
  downloads = [];

  /** @type {Tunnel} */
  #tunnel;
  /** @type {Display} */
  #display;
  /** @type {ClientEvents} */
  #events;
  /** Counts connections, so late acks never reach a newer socket. */
  #generation = 0;
  /** Whether this connection's first frame has arrived (for its marks). */
  #framed = false;
  #pingId = 0;
  /** @type {Map<number, number>} */
  #pings = new Map();
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #pingTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #fpsTimer;
  #framesAtLastSecond = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #resizeTimer;
  /** @type {ViewSize | undefined} */
  #viewSize;
  /** The size last asked for on this connection, so it is asked once. */
  #requested = "";
  #uploadId = 0;
  /** @type {Map<number, { name: string, resolve: (r: UploadResult) => void }>} */
  #uploads = new Map();
  /**
   * Chunks of the downloads under way, with the count acknowledged.
   * @type {Map<number, { download: Download, chunks: BlobPart[] }>}
   */
  #receiving = new Map();

  /**
   * @param {Tunnel} tunnel
   * @param {Display} display
   * @param {ClientEvents} [events]
   */
  constructor(tunnel, display, events = {}) {
    this.#tunnel = tunnel;
    this.#display = display;
    this.#events = events;
    tunnel.onmessage = (bytes) => this.#receive(bytes);
    this.#fpsTimer = setInterval(() => {
      this.fps = this.framesDrawn - this.#framesAtLastSecond;
      this.#framesAtLastSecond = this.framesDrawn;
      this.#events.stats?.();
    }, 1000);
  }

  /** Whether the session accepts uploads. */
  get canUpload() {
    return this.hello?.upload === true;
  }

  /** Whether the session takes clipboard text from the browser. */
  get clipboardToSession() {
    return this.hello?.clipboard?.toSession === true;
  }

  /** Whether the session gives its clipboard to the browser. */
  get clipboardFromSession() {
    return this.hello?.clipboard?.fromSession === true;
  }

  /**
   * Sends one message if connected.
   *
   * @param {ClientMessage} message
   * @returns {boolean}
   */
  send(message) {
    return this.#tunnel.send(encodeClientMessage(message));
  }

  /** The tunnel (re)connected: a new hello is on its way. */
  connected() {
    this.#generation++;
    this.#framed = false;
    this.#requested = "";
    this.#pings.clear();
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
  }

  /** The tunnel lost its socket. */
  disconnected() {
    this.#generation++;
    clearInterval(this.#pingTimer);
    this.#pingTimer = undefined;
    // A chunked upload cannot continue on another connection.
    for (const [uploadId, upload] of this.#uploads) {
      upload.resolve({ uploadId, ok: false, error: "connection lost" });
    }
    this.#uploads.clear();
    // So does a download: it fails, and the streamer stops sending it.
    for (const { download } of this.#receiving.values()) {
      download.state = "failed";
      download.error = "connection lost";
      this.#events.downloadDone?.(download);
    }
    this.#receiving.clear();
  }

  /** Stops timers. */
  destroy() {
    this.disconnected();
    clearInterval(this.#fpsTimer);
    clearTimeout(this.#resizeTimer);
  }

  /** Sends a PING now. */
  ping() {
    const id = ++this.#pingId;
    if (this.send({ type: "ping", id })) this.#pings.set(id, performance.now());
    // Unanswered pings must not pile up.
    for (const old of this.#pings.keys()) {
      if (old < id - 10) this.#pings.delete(old);
    }
  }

  /**
   * The view (the area the screen is shown in) changed size or pixel
   * ratio: after a quiet period, ask the session to follow.
   *
   * @param {ViewSize} view
   */
  viewResized(view) {
    this.#viewSize = view;
    clearTimeout(this.#resizeTimer);
    this.#resizeTimer = setTimeout(
      () => this.#sendResize(),
      RESIZE_DEBOUNCE_MS,
    );
  }

  /**
   * Sends clipboard text to the session, when its policy allows.
   *
   * @param {string} text
   * @returns {boolean} whether it was sent
   */
  sendClipboard(text) {
    if (!this.clipboardToSession) return false;
    const bytes = encodeClientMessage({ type: "clipboard", text });
    // The streamer refuses (and drops the connection over) larger JSON.
    if (bytes.length - 1 > MAX_JSON) {
      this.#events.notice?.({
        level: "warn",
        text: "The clipboard text is too large to send to the session.",
      });
      return false;
    }
    return this.#tunnel.send(bytes);
  }

  /**
   * Sends a clipboard image (a PNG file) to the session, when its policy
   * allows and it is not too large.
   *
   * @param {Uint8Array} png
   * @returns {boolean} whether it was sent
   */
  sendClipboardImage(png) {
    if (!this.clipboardToSession) return false;
    if (png.length > MAX_CLIPBOARD_IMAGE) {
      this.#events.notice?.({
        level: "warn",
        text: "The clipboard image is too large to send to the session.",
      });
      return false;
    }
    return this.#tunnel.send(
      encodeClientMessage({ type: "clipboardImage", png }),
    );
  }

  /**
   * Declines a session's file request.
   *
   * @param {string} dialogGuid
   */
  cancelFileRequest(dialogGuid) {
    this.send({ type: "fileCancel", dialogGuid });
  }

  /**
   * Uploads a file: UPLOAD_START, chunks of at most MAX_CHUNK bytes (each
   * after the socket drained below a bound), UPLOAD_END; resolves with the
   * session's UPLOAD_RESULT (or a local failure).
   *
   * @param {Blob & { name?: string }} file
   * @param {{ dialogGuid?: string }} [options]
   * @returns {Promise<UploadResult>}
   */
  async upload(file, options = {}) {
    const uploadId = ++this.#uploadId;
    const name = fileName(file.name ?? "upload");
    if (!this.canUpload) {
      return { uploadId, ok: false, error: "uploads are not allowed" };
    }
    const generation = this.#generation;
    const { promise, resolve } = Promise.withResolvers();
    this.#uploads.set(uploadId, { name, resolve });
    const lost = () => generation !== this.#generation;
    if (
      !this.send({
        type: "uploadStart",
        uploadId,
        name,
        size: file.size,
        dialogGuid: options.dialogGuid,
      })
    ) {
      this.#uploads.delete(uploadId);
      return { uploadId, ok: false, error: "not connected" };
    }
    let sent = 0;
    while (sent < file.size) {
      while (this.#tunnel.bufferedAmount > UPLOAD_BUFFER_LIMIT && !lost()) {
        await new Promise((r) => setTimeout(r, 20));
      }
      if (lost()) return promise;
      const end = Math.min(file.size, sent + MAX_CHUNK);
      const data = new Uint8Array(await file.slice(sent, end).arrayBuffer());
      if (lost()) return promise;
      this.send({ type: "uploadChunk", uploadId, data });
      sent = end;
      this.#events.uploadProgress?.({ uploadId, name, sent, size: file.size });
    }
    this.send({ type: "uploadEnd", uploadId });
    return promise;
  }

  /**
   * The session size this page asks for its view (its CSS size before the
   * first `hello`, or to a streamer that does not take VIEW_SIZE), with the
   * session pixels per CSS pixel the page draws it at.
   *
   * @returns {SessionSize | undefined} undefined before any view size
   */
  get wantedSize() {
    const view = this.#viewSize;
    if (!view) return undefined;
    const hello = this.hello;
    if (!hello?.maxPixelRatio) {
      return {
        width: Math.min(hello?.maxWidth || 65535, view.width),
        height: Math.min(hello?.maxHeight || 65535, view.height),
        pixelRatio: 1,
      };
    }
    return sessionSize(view, {
      maxPixelRatio: hello.maxPixelRatio,
      maxWidth: hello.maxWidth || undefined,
      maxHeight: hello.maxHeight || undefined,
    });
  }

  #sendResize() {
    const view = this.#viewSize;
    const wanted = this.wantedSize;
    if (!view || !wanted || !this.hello || !this.#tunnel.open) return;
    const key = `${wanted.width}x${wanted.height}`;
    const current = `${this.#display.width}x${this.#display.height}`;
    if (key === current || key === this.#requested) return;
    // The streamer applies the policy's cap itself; it needs both sizes.
    const sent = this.hello.maxPixelRatio
      ? this.send({ type: "viewSize", ...view })
      : this.send({
        type: "resize",
        width: wanted.width,
        height: wanted.height,
      });
    if (sent) this.#requested = key;
  }

  /** Asks the streamer for a video keyframe (the decoder lost its place). */
  requestKeyframe() {
    this.send({ type: "keyframe" });
  }

  /**
   * Tells the streamer whether to send sound (the page plays it).
   *
   * @param {boolean} on
   */
  setAudio(on) {
    this.send({ type: "audioState", on });
  }

  /**
   * Tells the streamer what this page decodes.
   *
   * @param {Hello} hello
   */
  #sendCaps(hello) {
    const generation = this.#generation;
    const ask = this.#events.capabilities ??
      (() => Promise.resolve({ video: [], audio: false }));
    ask(hello).then((caps) => {
      if (generation === this.#generation) this.send({ type: "caps", caps });
    }).catch((error) => console.warn("webstream: no capabilities", error));
  }

  /**
   * Cancels a download under way (the streamer stops sending it).
   *
   * @param {number} downloadId
   */
  cancelDownload(downloadId) {
    const entry = this.#receiving.get(downloadId);
    if (entry) this.#failDownload(entry, "cancelled");
  }

  /**
   * @param {{ download: Download, chunks: BlobPart[] }} entry
   * @param {string} error
   * @param {{ tell?: boolean }} [options] tell the streamer (default true)
   */
  #failDownload(entry, error, options = {}) {
    const { download } = entry;
    this.#receiving.delete(download.downloadId);
    entry.chunks.length = 0;
    download.state = "failed";
    download.error = error;
    if (options.tell !== false) {
      this.send({ type: "downloadCancel", downloadId: download.downloadId });
    }
    this.#events.downloadDone?.(download);
  }

  /** Whether a frame arriving now is the connection's first (marked). */
  #firstFrame() {
    if (this.#framed) return false;
    this.#framed = true;
    mark(MARK.frame);
    return true;
  }

  /** @param {Uint8Array} bytes */
  #receive(bytes) {
    let message;
    try {
      message = decodeStreamerMessage(bytes);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      console.error("webstream:", error.message);
      this.#tunnel.close(`protocol error: ${error.message}`, 4002);
      return;
    }
    switch (message.type) {
      case "hello": {
        const hello = message.hello;
        if (hello.protocol !== PROTOCOL) {
          this.#tunnel.close(
            `the session speaks ${hello.protocol}, this page ${PROTOCOL}`,
            4002,
          );
          return;
        }
        mark(MARK.hello);
        this.hello = hello;
        this.#display.resize(hello.width, hello.height);
        this.#events.hello?.(hello);
        this.#sendCaps(hello);
        this.ping();
        // The view may have changed size while (re)connecting.
        if (this.#viewSize) this.#sendResize();
        return;
      }
      case "screen":
        this.#requested = "";
        this.#display.resize(message.screen.width, message.screen.height);
        return;
      case "frame": {
        const generation = this.#generation;
        const { frameId } = message.frame;
        for (const tile of message.frame.tiles) {
          const name = ENCODING_NAME[tile.encoding] ?? String(tile.encoding);
          this.tilesReceived[name] = (this.tilesReceived[name] ?? 0) + 1;
        }
        const first = this.#firstFrame();
        this.#display.draw(message.frame).then(() => {
          if (generation !== this.#generation) return;
          if (first) mark(MARK.drawn);
          this.framesDrawn++;
          this.send({ type: "ack", frameId });
        });
        return;
      }
      case "video": {
        const generation = this.#generation;
        const { frameId } = message.video;
        this.tilesReceived.VIDEO = (this.tilesReceived.VIDEO ?? 0) + 1;
        const first = this.#firstFrame();
        this.#display.drawVideo(message.video).then(() => {
          if (generation !== this.#generation) return;
          if (first) mark(MARK.drawn);
          this.framesDrawn++;
          this.send({ type: "ack", frameId });
        });
        return;
      }
      case "audio":
        this.audioPacketsReceived++;
        this.audioBytesReceived += bytes.length;
        this.#events.audio?.(message.audio);
        return;
      case "cursor":
        this.#display.setCursor(message.cursor).catch((error) => {
          console.warn("webstream: cursor not shown", error);
        });
        return;
      case "clipboard":
        if (!this.clipboardFromSession) return;
        this.lastClipboard = message.text;
        // Only works while the page has focus and the permission; the
        // page's clipboard panel always shows the text.
        // (Typed loosely: this module is also checked outside the DOM lib.)
        /** @type {{ clipboard?: { writeText(t: string): Promise<void> } }} */ (
          /** @type {unknown} */ (navigator)
        ).clipboard?.writeText(message.text).catch(() => {});
        this.#events.clipboard?.(message.text);
        return;
      case "clipboardImage":
        if (!this.clipboardFromSession) return;
        this.lastClipboardImage = message.png;
        // Written to the page's clipboard where the browser allows it (focus
        // and permission); the page's clipboard panel offers it anyway.
        writeImageToClipboard(message.png).then(
          (copied) => this.#events.clipboardImage?.(message.png, copied),
        );
        return;
      case "pong": {
        const sentAt = this.#pings.get(message.id);
        if (sentAt === undefined) return;
        this.#pings.delete(message.id);
        this.latencyMs = performance.now() - sentAt;
        this.#events.stats?.();
        return;
      }
      case "fileRequest":
        if (!this.canUpload) {
          this.cancelFileRequest(message.request.dialogGuid);
          return;
        }
        this.#events.fileRequest?.(message.request);
        return;
      case "uploadResult": {
        // A pending upload hears its result through upload()'s promise.
        const upload = this.#uploads.get(message.result.uploadId);
        this.#uploads.delete(message.result.uploadId);
        if (upload) upload.resolve(message.result);
        else this.#events.uploadResult?.(message.result);
        return;
      }
      case "notice":
        this.#events.notice?.(message.notice);
        return;
      case "appClosed":
        this.#events.appClosed?.(message.closed);
        return;
      case "downloadStart": {
        /** @type {Download} */
        const download = {
          ...message.download,
          received: 0,
          state: "receiving",
        };
        this.downloads.push(download);
        this.#receiving.set(download.downloadId, { download, chunks: [] });
        this.#events.downloadProgress?.(download);
        return;
      }
      case "downloadChunk": {
        const entry = this.#receiving.get(message.downloadId);
        if (!entry) return;
        const { download, chunks } = entry;
        if (download.received + message.data.length > download.size) {
          this.#failDownload(entry, "more bytes than announced");
          return;
        }
        // The chunk is a view of the socket's message: copy it.
        chunks.push(message.data.slice());
        download.received += message.data.length;
        this.send({
          type: "downloadAck",
          downloadId: download.downloadId,
          chunks: chunks.length,
        });
        this.#events.downloadProgress?.(download);
        return;
      }
      case "downloadEnd": {
        const entry = this.#receiving.get(message.end.downloadId);
        if (!entry) return;
        const { download, chunks } = entry;
        if (!message.end.ok) {
          this.#failDownload(entry, message.end.error, { tell: false });
          return;
        }
        if (download.received !== download.size) {
          this.#failDownload(
            entry,
            `${download.received} of ${download.size} bytes arrived`,
          );
          return;
        }
        this.#receiving.delete(download.downloadId);
        download.blob = new Blob(chunks, {
          type: download.kind === "print"
            ? "application/pdf"
            : "application/octet-stream",
        });
        download.state = "done";
        this.#events.downloadDone?.(download);
        return;
      }
    }
  }
}

/**
 * A file name the protocol accepts: at most MAX_FILE_NAME characters,
 * keeping the extension.
 *
 * @param {string} name
 * @returns {string}
 */
export function fileName(name) {
  // Path separators and control characters have no place in a file name.
  const clean =
    [...name].map((c) => c < " " || c === "/" || c === "\\" ? "_" : c)
      .join("") || "upload";
  if (clean.length <= MAX_FILE_NAME) return clean;
  const dot = clean.lastIndexOf(".");
  const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : "";
  return clean.slice(0, MAX_FILE_NAME - ext.length) + ext;
}

/**
 * Writes a PNG to the browser's clipboard with `navigator.clipboard.write`;
 * false when the browser does not allow it now (no focus, no permission, no
 * async clipboard API).
 *
 * @param {Uint8Array} png
 * @returns {Promise<boolean>}
 */
export async function writeImageToClipboard(png) {
  // Typed loosely: this module is also checked outside the DOM lib.
  /** @type {{ ClipboardItem?: new (items: Record<string, Blob>) => unknown, navigator?: { clipboard?: { write?(items: unknown[]): Promise<void> } } }} */
  const scope = /** @type {any} */ (globalThis);
  const write = scope.navigator?.clipboard?.write;
  if (!scope.ClipboardItem || !write) return false;
  try {
    const blob = new Blob([/** @type {Uint8Array<ArrayBuffer>} */ (png)], {
      type: "image/png",
    });
    await write.call(scope.navigator?.clipboard, [
      new scope.ClipboardItem({ "image/png": blob }),
    ]);
    return true;
  } catch {
    return false;
  }
}
