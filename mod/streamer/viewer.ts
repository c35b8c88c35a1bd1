/**
 * One viewer's WebSocket (`/stream?token=…`) speaking `webstream/2`
 * (`httpdocs/session/protocol.js`, documented in `docs/protocol.md`): hello,
 * then frames and cursor from a {@linkcode MediaStream}; input, resize,
 * clipboard, pings and uploads back. Every inbound message is decoded by the
 * protocol codec; a malformed one closes the socket with 4008 and names what
 * was wrong, and nothing else in the session is affected.
 *
 * @module
 */
import {
  decodeClientMessage,
  encodeStreamerMessage,
  PROTOCOL,
  ProtocolError,
  type StreamerMessage,
} from "../../httpdocs/session/protocol.js";
import type { Logger } from "../log/mod.ts";
import type { ScreenCapture } from "../devices/capture.ts";
import type { FileDialogServer, PendingDialog } from "./file_dialog.ts";
import { carriesImages, type SessionClipboard } from "../devices/clipboard.ts";
import type { SessionSound } from "./session_sound.ts";
import { MediaStream } from "./media.ts";
import type { TileEncoder } from "./encode/mod.ts";
import type { SessionScreen } from "../devices/screen.ts";
import type { SharedCapture } from "./shared_capture.ts";
import { type LandedFile, UploadError, UploadReceiver } from "./upload.ts";
import {
  type DownloadOutcome,
  type DownloadRequest,
  DownloadSender,
} from "./download.ts";
import { clipboardDirections, type ViewerSettings } from "./viewer_settings.ts";
import { type ViewerScreen, wholeScreen } from "./viewer_screen.ts";
import { sessionSize } from "../../httpdocs/session/session_size.js";
import { programName } from "./command_line.ts";

/** Socket bytes waiting beyond which sound packets are dropped. */
const AUDIO_MAX_BUFFERED = 256 * 1024;

/** What a viewer works with; shared by the streamer's viewers. */
export interface ViewerContext {
  /** The session. */
  sessionUuid: string;
  /** The screen. */
  screen: SessionScreen;
  /** The screen's capture, shared with other viewers. */
  captures: SharedCapture;
  /** The tile encoder. */
  encoder: TileEncoder;
  /** The session's clipboard (X11 or Win32). */
  clipboard: SessionClipboard;
  /** File dialogs waiting in the session. */
  dialogs?: FileDialogServer;
  /** An upload for a dialog landed: tell the session manager. */
  onLanded: (file: LandedFile) => void;
  /** Counts input events (for metrics). */
  onInput: () => void;
  /** An upload landed (activity). */
  onUpload: (file: LandedFile) => void;
  /** Logger. */
  logger: Logger;
  /** Options for the media stream (tests). */
  media?: { maxInFlight?: number; maxBuffered?: number };
  /** Whether this streamer can encode video (libx264 loads). */
  videoAvailable: boolean;
  /** The session's sound, if it has any. */
  sound?: SessionSound;
  /**
   * What a viewer with `settings` sees of the session (an app's viewer, its
   * app's area). Default: the whole screen.
   */
  viewerScreen?: (settings: ViewerSettings) => ViewerScreen;
}

/** A connected viewer. */
export class Viewer {
  readonly socket: WebSocket;
  readonly settings: ViewerSettings;
  readonly #ctx: ViewerContext;
  readonly #uploads: UploadReceiver;
  readonly #downloads: DownloadSender;
  readonly #clip: { toSession: boolean; fromSession: boolean };
  #media?: MediaStream;
  /** Stops this viewer's sound, while it listens. */
  #unlisten?: () => void;
  /** Sound packets not sent because the socket was backed up. */
  audioDropped = 0;
  #capture?: ScreenCapture;
  /** What this viewer sees of the session. */
  readonly #view: ViewerScreen;
  /** Pointer buttons held, as last reported. */
  #buttons = 0;
  /** When this viewer last sent input (`performance.now()`), 0: never. */
  lastInputAt = 0;
  #closed = false;
  /** Serializes upload steps: chunks must be written in order. */
  #uploadQueue: Promise<void> = Promise.resolve();

  constructor(
    socket: WebSocket,
    options: { settings: ViewerSettings; context: ViewerContext },
  ) {
    this.socket = socket;
    this.settings = options.settings;
    this.#ctx = options.context;
    this.#uploads = new UploadReceiver();
    this.#downloads = new DownloadSender({
      send: (message) => this.send(message),
      buffered: () => this.socket.bufferedAmount,
      maxBytes: options.settings.policy.downloadMaxBytes,
    });
    this.#clip = clipboardDirections(options.settings.policy);
    this.#view = options.context.viewerScreen?.(options.settings) ??
      wholeScreen(options.context.screen, options.context.captures);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => this.#onMessage(event.data));
  }

  /** The media stream, once started. */
  get media(): MediaStream | undefined {
    return this.#media;
  }

  /** Sends hello and starts streaming (call when the socket is open). */
  start(): void {
    const { encoder, sessionUuid } = this.#ctx;
    const view = this.#view;
    const { width, height } = this.settings;
    // An app's viewer gets its area first: the capture shows that area.
    const viewport = width && height
      ? view.resize({ width, height })
      : view.size();
    this.#capture = view.openCapture();
    const media = new MediaStream({
      capture: this.#capture,
      encoder,
      send: (bytes) => this.#sendBytes(bytes),
      buffered: () => this.socket.bufferedAmount,
      ...this.#ctx.media,
      onClipboardChange: () => this.#clipboardChanged(),
      onViewport: (screen) => this.send({ type: "screen", screen }),
      onVideo: (event) => this.#ctx.logger.info(`video ${event.action}`, event),
      onError: (error) => {
        this.#ctx.logger.error("screen capture failed", { error });
        this.close(4011, "screen capture failed");
      },
    });
    this.#media = media;
    encoder.reset();
    media.setViewport(viewport);
    // The largest view the screen allows (RandR's range).
    const max = view.maxSize();
    this.send({
      type: "hello",
      hello: {
        protocol: PROTOCOL,
        sessionUuid,
        ...media.viewport,
        clipboard: this.#clip,
        upload: this.settings.policy.fileUpload,
        maxWidth: max.width,
        maxHeight: max.height,
        maxPixelRatio: this.settings.policy.maxPixelRatio,
        video: this.#videoAllowed,
        audio: this.#audioAllowed,
        download: this.settings.policy.fileDownload,
      },
    });
    media.start();
    for (const dialog of this.#ctx.dialogs?.pending() ?? []) {
      this.askForFile(dialog);
    }
    // What the session already holds is offered at once.
    if (this.#clip.fromSession) this.#clipboardChanged();
  }

  /** Asks the viewer for a file for a waiting dialog. */
  askForFile(dialog: PendingDialog): void {
    if (!this.settings.policy.fileUpload) {
      this.#ctx.dialogs?.cancel(dialog.dialogGuid, "uploads are not allowed");
      return;
    }
    this.send({
      type: "fileRequest",
      request: { dialogGuid: dialog.dialogGuid, title: dialog.title },
    });
  }

  /**
   * Whether this viewer's policy lets it receive `kind`: files need
   * `fileDownload`, print jobs `printing`.
   */
  mayDownload(kind: DownloadRequest["kind"]): boolean {
    return kind === "print"
      ? this.settings.policy.printing
      : this.settings.policy.fileDownload;
  }

  /**
   * Sends a file (or a print job's PDF) to this viewer; resolves when the
   * browser has every byte, or says why not (the browser is told too).
   */
  async download(request: DownloadRequest): Promise<DownloadOutcome> {
    if (!this.mayDownload(request.kind)) {
      return {
        ok: false,
        error: request.kind === "print"
          ? "printing is not allowed in this session"
          : "file download is not allowed in this session",
      };
    }
    const outcome = await this.#downloads.send(request);
    this.#ctx.logger.info("download", {
      kind: request.kind,
      ok: outcome.ok,
      ...(outcome.ok ? { size: outcome.size } : { reason: outcome.error }),
    });
    if (!outcome.ok && !this.#closed) {
      this.#notice("error", `Download refused: ${outcome.error}`);
    }
    return outcome;
  }

  /**
   * Tells the viewer that the app its tab shows has closed (`APP_CLOSED`,
   * named as the portal names it, else by its program), then ends it with
   * 4001: the tab has nothing left to show, and does not reconnect.
   */
  appClosed(): void {
    const { app, appName } = this.settings;
    if (!app || this.#closed) return;
    const name = appName ?? programName(app) ?? "The app";
    this.send({ type: "appClosed", closed: { name } });
    this.close(4001, "the app closed");
  }

  /** Sends a protocol message if the socket is open. */
  send(message: StreamerMessage): void {
    this.#sendBytes(encodeStreamerMessage(message));
  }

  /** Stops streaming and releases input; the socket is closed with `code`. */
  close(code = 1000, reason = ""): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#media?.stop();
    this.#unlisten?.();
    this.#unlisten = undefined;
    this.#capture?.close();
    try {
      this.#ctx.screen.input.releaseAll();
    } catch (error) {
      this.#ctx.logger.warn("cannot release input", { error });
    }
    this.#downloads.close();
    this.#uploadQueue = this.#uploadQueue.then(() => this.#uploads.abortAll());
    if (
      this.socket.readyState === WebSocket.OPEN ||
      this.socket.readyState === WebSocket.CONNECTING
    ) {
      this.socket.close(code, reason);
    }
  }

  /** Input arrived from this viewer. */
  #input(): void {
    this.lastInputAt = performance.now();
    this.#ctx.onInput();
  }

  #sendBytes(bytes: Uint8Array): void {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(bytes);
  }

  #onMessage(data: unknown): void {
    if (this.#closed) return;
    if (!(data instanceof ArrayBuffer)) {
      return this.#refuse("text frames are not part of webstream/2");
    }
    let message;
    try {
      message = decodeClientMessage(new Uint8Array(data));
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      return this.#refuse(error.message);
    }
    const { input } = this.#ctx.screen;
    switch (message.type) {
      case "ack":
        return this.#media?.ack(message.frameId);
      case "pointer": {
        this.#input();
        // A press: the app under this tab gets the keyboard.
        if (message.buttons & ~this.#buttons) this.#view.beforeInput();
        this.#buttons = message.buttons;
        const at = this.#view.toScreen(message);
        return input.pointer(at.x, at.y, message.buttons);
      }
      case "wheel":
        this.#input();
        return input.wheel(message.dx, message.dy);
      case "key":
        this.#input();
        if (message.down) this.#view.beforeInput();
        return input.key(message.code, message.key, message.down);
      case "releaseAll":
        return input.releaseAll();
      case "resize":
        return this.#resize(message);
      case "viewSize": {
        // The policy's cap is applied here too: a page gets no more.
        const max = this.#view.maxSize();
        return this.#resize(sessionSize(message, {
          maxPixelRatio: this.settings.policy.maxPixelRatio,
          maxWidth: max.width,
          maxHeight: max.height,
        }));
      }
      case "ping":
        return this.send({ type: "pong", id: message.id, time: Date.now() });
      case "clipboard":
        if (!this.#clip.toSession) {
          return this.#notice(
            "warn",
            "clipboard to the session is not allowed",
          );
        }
        this.#ctx.clipboard.write(message.text).catch((error) =>
          this.#ctx.logger.warn("cannot set the clipboard", { error })
        );
        return;
      case "clipboardImage": {
        if (!this.#clip.toSession) {
          return this.#notice(
            "warn",
            "clipboard to the session is not allowed",
          );
        }
        const clipboard = this.#ctx.clipboard;
        if (!carriesImages(clipboard)) {
          return this.#notice(
            "warn",
            "this session's clipboard takes text only",
          );
        }
        clipboard.writeImage(message.png).catch((error) =>
          this.#ctx.logger.warn("cannot set the clipboard image", { error })
        );
        return;
      }
      case "uploadStart":
      case "uploadChunk":
      case "uploadEnd":
        return this.#upload(message);
      case "fileCancel":
        this.#ctx.dialogs?.cancel(message.dialogGuid, "cancelled by the user");
        return;
      case "caps":
        if (this.#videoAllowed && message.caps.video.length) {
          this.#media?.enableVideo(message.caps.video, {
            maxKbps: this.settings.policy.videoMaxKbps,
          });
        }
        return;
      case "keyframe":
        return this.#media?.requestKeyframe();
      case "audioState":
        return this.#listen(message.on);
      case "downloadAck":
        return this.#downloads.ack(message.downloadId, message.chunks);
      case "downloadCancel":
        return this.#downloads.cancel(message.downloadId);
    }
  }

  #resize(size: { width: number; height: number }): void {
    const viewport = this.#view.resize(size);
    const applied = this.#media?.setViewport(viewport);
    if (applied) this.send({ type: "screen", screen: applied });
  }

  #upload(
    message:
      | {
        type: "uploadStart";
        uploadId: number;
        name: string;
        size: number;
        dialogGuid?: string;
      }
      | { type: "uploadChunk"; uploadId: number; data: Uint8Array }
      | { type: "uploadEnd"; uploadId: number },
  ): void {
    const uploadId = message.uploadId;
    if (!this.settings.policy.fileUpload) {
      if (message.type === "uploadStart") {
        this.send({
          type: "uploadResult",
          result: { uploadId, ok: false, error: "uploads are not allowed" },
        });
      }
      return;
    }
    // The chunk's bytes are a view of the message: copy before queueing.
    const data = message.type === "uploadChunk"
      ? message.data.slice()
      : undefined;
    this.#uploadQueue = this.#uploadQueue.then(async () => {
      try {
        if (message.type === "uploadStart") {
          if (
            message.dialogGuid && !this.#ctx.dialogs?.has(message.dialogGuid)
          ) {
            throw new UploadError("no file dialog is waiting for this upload");
          }
          await this.#uploads.start(uploadId, message);
        } else if (message.type === "uploadChunk") {
          await this.#uploads.chunk(uploadId, data!);
        } else {
          const landed = await this.#uploads.end(uploadId);
          this.#ctx.logger.info("upload landed", {
            size: landed.size,
            dialog: landed.dialogGuid !== undefined,
          });
          this.#ctx.onUpload(landed);
          if (landed.dialogGuid) this.#ctx.onLanded(landed);
          this.send({
            type: "uploadResult",
            result: { uploadId, ok: true, path: landed.path },
          });
        }
      } catch (error) {
        if (!(error instanceof UploadError)) {
          this.#ctx.logger.error("upload failed", { error });
        }
        await this.#uploads.abort(uploadId);
        this.send({
          type: "uploadResult",
          result: {
            uploadId,
            ok: false,
            error: error instanceof UploadError
              ? error.message
              : "the upload could not be written",
          },
        });
      }
    });
  }

  /** Whether this viewer may get video. */
  get #videoAllowed(): boolean {
    return this.#ctx.videoAvailable && this.settings.policy.videoMaxKbps > 0;
  }

  /** Whether this viewer may hear the session. */
  get #audioAllowed(): boolean {
    return this.settings.policy.audio && this.#ctx.sound?.available === true;
  }

  /** Starts or stops sending the session's sound (the page plays it or not). */
  #listen(on: boolean): void {
    if (on && this.#audioAllowed && !this.#unlisten) {
      this.#unlisten = this.#ctx.sound!.listen((packet) => {
        // A viewer that falls behind loses sound, never picture: late audio
        // is worthless and a queue would only delay the screen.
        if (this.socket.bufferedAmount > AUDIO_MAX_BUFFERED) {
          this.audioDropped++;
          return;
        }
        this.send({
          type: "audio",
          audio: { timestampUs: packet.timestampUs, data: packet.data },
        });
      });
    } else if (!on) {
      this.#unlisten?.();
      this.#unlisten = undefined;
    }
  }

  #clipboardChanged(): void {
    if (!this.#clip.fromSession) return;
    const clipboard = this.#ctx.clipboard;
    const change = carriesImages(clipboard)
      ? clipboard.readContentChange()
      : clipboard.readChange().then((text) =>
        text === undefined ? undefined : { kind: "text" as const, text }
      );
    change.then((content) => {
      if (!content || this.#closed) return;
      if (content.kind === "text") {
        this.send({ type: "clipboard", text: content.text });
      } else {
        this.send({ type: "clipboardImage", png: content.png });
      }
    }).catch((error) =>
      this.#ctx.logger.warn("cannot read the clipboard", { error })
    );
  }

  #notice(level: "info" | "warn" | "error", text: string): void {
    this.send({ type: "notice", notice: { level, text } });
  }

  #refuse(reason: string): void {
    this.#ctx.logger.warn("viewer sent a malformed message", { reason });
    this.close(4008, reason.slice(0, 120));
  }
}
