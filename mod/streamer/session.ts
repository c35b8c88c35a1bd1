/**
 * The session as the session manager drives it over `/control`: the first
 * `SESSION_INFO` gives the streamer its identity, and it starts serving
 * viewers (`viewer_server.ts`) and file dialogs; each `SESSION_INFO` may
 * start an app; `VIEWER_SETTINGS` then `CONNECTION_TOKEN` arm a token with
 * the next viewer's policy (and start the session's reporting);
 * `SESSION_IN_USE` (to a streamer restarted in a bound session) starts the
 * reporting too; `FILE_UPLOAD_COMPLETE` completes a waiting file dialog. Messages for
 * another session are ignored.
 *
 * {@linkcode StreamerSession.handlers} are the control channel's handlers;
 * what the session tells the manager goes out through the
 * {@linkcode ControlLink} it is given.
 *
 * @module
 */
import type {
  ConnectionToken,
  FileUploadComplete,
  SessionInfo,
  StreamerMessage,
  ViewerSettings as ViewerSettingsMessage,
} from "../control/codec.ts";
import type { SessionDevices, SessionScreen } from "../devices/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Apps } from "./apps.ts";
import type { ControlHandlers } from "./control_channel.ts";
import { FILE_DIALOG_SOCKET_ENV, FileDialogServer } from "./file_dialog.ts";
import type { DownloadOutcome, DownloadRequest } from "./download.ts";
import {
  DOWNLOAD_SOCKET_ENV,
  DownloadCommandServer,
} from "./download_command.ts";
import { WatchedFolder, watchedFolders } from "./watched_folder.ts";
import type { SessionMetrics } from "./session_metrics.ts";
import type { SessionReporting } from "./session_reporting.ts";
import type { SessionSound } from "./session_sound.ts";
import { SharedCapture } from "./shared_capture.ts";
import { TokenStore } from "./token_store.ts";
import type { Viewer, ViewerContext } from "./viewer.ts";
import { serveViewers, type ViewerServer } from "./viewer_server.ts";
import {
  parseViewerSettings,
  RESTRICTIVE,
  type ViewerSettings,
} from "./viewer_settings.ts";

/** What the session needs of the control channel. */
export interface ControlLink {
  /** Sends a message to the session manager (dropped when closed). */
  send(message: StreamerMessage): void;
  /** Closes the channel, which ends the streamer. */
  close(code: number, reason: string): void;
}

/** Options for {@linkcode StreamerSession}. */
export interface StreamerSessionOptions {
  /** Address to bind the viewer endpoint to. */
  bind: string;
  /** Port to serve viewers on. */
  port: number;
  /** The control channel. */
  control: ControlLink;
  /** The session's screen and clipboard. */
  devices: SessionDevices;
  /** The session's apps. */
  apps: Apps;
  /** Check-ins and reports. */
  reporting: SessionReporting;
  /** Metrics figures (input events are counted here). */
  metrics: SessionMetrics;
  /** Media flow control (tests). */
  media?: ViewerContext["media"];
  /** The session's sound. */
  sound: SessionSound;
  /** Whether viewers may get video (libx264 loads here). */
  videoAvailable: boolean;
  /**
   * Folders watched for files to send: downloads and print jobs. Default
   * {@linkcode watchedFolders}().
   */
  folders?: { downloads?: string; print?: string };
  /** Logger. */
  logger: Logger;
}

/**
 * Where the session stands: waiting for its identity, serving viewers, or
 * identified but unable to listen (the streamer is ending).
 */
type State =
  | { phase: "waiting" }
  | {
    phase: "serving";
    sessionUuid: string;
    viewers: ViewerServer;
    dialogs?: FileDialogServer;
    /** `webstream download`, and the watched folders. */
    downloads: { command?: DownloadCommandServer; folders: WatchedFolder[] };
    /** `VIEWER_SETTINGS` for the next token. */
    nextSettings?: ViewerSettings;
  }
  | { phase: "failed"; sessionUuid: string };

/** One streamer's session; see the module documentation. */
export class StreamerSession {
  /** The control channel's handlers: the manager's messages, applied. */
  readonly handlers: ControlHandlers;
  readonly #options: StreamerSessionOptions;
  readonly #tokens = new TokenStore<ViewerSettings>();
  readonly #screen: () => { screen: SessionScreen; captures: SharedCapture };
  #state: State = { phase: "waiting" };

  /** Waits for `SESSION_INFO`. */
  constructor(options: StreamerSessionOptions) {
    this.#options = options;
    this.#screen = screenSharing(options.devices);
    this.handlers = {
      SESSION_INFO: (message) => this.#sessionInfo(message),
      VIEWER_SETTINGS: (message) => this.#viewerSettings(message),
      CONNECTION_TOKEN: (message) => this.#connectionToken(message),
      FILE_UPLOAD_COMPLETE: (message) => this.#uploadComplete(message),
      SESSION_IN_USE: (message) => this.#inUse(message.sessionUuid),
    };
  }

  /** Whether `SESSION_INFO` has given the session its identity. */
  get identified(): boolean {
    return this.#state.phase !== "waiting";
  }

  /** The session this streamer serves, once `SESSION_INFO` has named it. */
  get sessionUuid(): string | undefined {
    return this.#state.phase === "waiting"
      ? undefined
      : this.#state.sessionUuid;
  }

  /**
   * The session manager took the session back after the control channel
   * dropped (it restarted): tells it whether a viewer is connected now.
   */
  resumed(): void {
    const state = this.#state;
    if (state.phase !== "serving") return;
    const { sessionUuid } = state;
    const present = state.viewers.viewers.size > 0;
    this.#options.control.send({
      type: present ? "CLIENT_CONNECTED" : "CLIENT_DISCONNECTED",
      sessionUuid,
    });
  }

  /** The connected viewers. */
  get viewers(): Iterable<Viewer> {
    return this.#state.phase === "serving" ? this.#state.viewers.viewers : [];
  }

  /** Closes the viewers (1001), stops serving and ends the file dialogs. */
  async close(): Promise<void> {
    const state = this.#state;
    if (state.phase !== "serving") return;
    await state.viewers.close();
    state.dialogs?.close();
    state.downloads.command?.close();
    for (const folder of state.downloads.folders) folder.close();
  }

  #sessionInfo(message: SessionInfo): void {
    const state = this.#state;
    if (state.phase === "waiting") this.#identify(message.sessionUuid);
    else if (state.sessionUuid !== message.sessionUuid) {
      this.#options.logger.warn("SESSION_INFO for another session ignored");
      return;
    }
    const now = this.#state;
    if (now.phase !== "serving" || !message.commandLineParams) return;
    this.#options.apps.start(message.commandLineParams, {
      ...(now.dialogs ? { [FILE_DIALOG_SOCKET_ENV]: now.dialogs.path } : {}),
      ...(now.downloads.command
        ? { [DOWNLOAD_SOCKET_ENV]: now.downloads.command.path }
        : {}),
    });
  }

  /** The first SESSION_INFO: serve viewers, and file dialogs for the apps. */
  #identify(sessionUuid: string): void {
    const { control, logger } = this.#options;
    logger.info("session identity received", { sessionUuid });
    let viewers: ViewerServer;
    try {
      viewers = serveViewers({
        bind: this.#options.bind,
        port: this.#options.port,
        tokens: this.#tokens,
        context: () => this.#viewerContext(sessionUuid),
        onConnected: () => {
          control.send({ type: "CLIENT_CONNECTED", sessionUuid });
          this.#options.reporting.viewerConnected();
        },
        onDisconnected: () =>
          control.send({ type: "CLIENT_DISCONNECTED", sessionUuid }),
        logger,
      });
    } catch (error) {
      logger.error("cannot listen", { port: this.#options.port, error });
      this.#state = { phase: "failed", sessionUuid };
      control.close(4011, "streamer cannot listen");
      return;
    }
    this.#state = {
      phase: "serving",
      sessionUuid,
      viewers,
      dialogs: startDialogs(viewers, logger),
      downloads: startDownloads({
        folders: this.#options.folders ?? watchedFolders(),
        send: (request) => this.download(request),
        logger,
      }),
    };
    // Opened now, not when the first viewer connects: a warm session has
    // its display and capture ready before anyone clicks.
    try {
      this.#screen();
    } catch (error) {
      logger.warn("the screen cannot be opened yet", { error });
    }
  }

  /**
   * Sends a file or a print job to the first viewer whose policy allows it;
   * says why not when none does (nothing is offered then).
   */
  download(request: DownloadRequest): Promise<DownloadOutcome> {
    const viewers = [...this.viewers];
    const viewer = viewers.find((v) => v.mayDownload(request.kind));
    if (viewer) return viewer.download(request);
    const error = !viewers.length
      ? "no browser is connected to this session"
      : request.kind === "print"
      ? "printing is not allowed in this session"
      : "file download is not allowed in this session";
    this.#options.logger.info("download refused", { reason: error });
    return Promise.resolve({ ok: false, error });
  }

  #viewerContext(sessionUuid: string): Omit<ViewerContext, "encoder"> {
    const { control, devices, metrics, reporting } = this.#options;
    const state = this.#state;
    return {
      sessionUuid,
      ...this.#screen(),
      clipboard: devices.clipboard,
      dialogs: state.phase === "serving" ? state.dialogs : undefined,
      logger: this.#options.logger,
      media: this.#options.media,
      sound: this.#options.sound,
      videoAvailable: this.#options.videoAvailable,
      onInput: () => metrics.countInput(),
      onUpload: (file) => reporting.activity("upload", `${file.size} bytes`),
      onLanded: (file) =>
        control.send({
          type: "UPLOAD_LANDED",
          dialogGuid: file.dialogGuid!,
          filePath: file.path,
        }),
    };
  }

  #viewerSettings(
    message: ViewerSettingsMessage,
  ): void {
    const state = this.#state;
    if (state.phase !== "serving") return;
    if (message.sessionUuid !== state.sessionUuid) return;
    const parsed = parseViewerSettings(message.settings);
    if (!parsed.ok) {
      this.#options.logger.error(
        "invalid viewer settings; restrictive policy applies",
        { reason: parsed.error },
      );
    }
    state.nextSettings = parsed.ok ? parsed.value : RESTRICTIVE;
  }

  #connectionToken(
    message: ConnectionToken,
  ): void {
    const state = this.#state;
    if (state.phase !== "serving") return;
    if (message.sessionUuid !== state.sessionUuid) return;
    this.#tokens.arm(message.tokenHash, message.ttlSeconds, state.nextSettings);
    state.nextSettings = undefined;
    this.#options.control.send({
      type: "TOKEN_ARMED",
      tokenHash: message.tokenHash,
    });
    // The session is in use from its first token on: check in.
    this.#options.reporting.start(state.sessionUuid);
  }

  /** A streamer restarted in a bound session: in use, so check in. */
  #inUse(sessionUuid: string): void {
    const state = this.#state;
    if (state.phase !== "serving" || state.sessionUuid !== sessionUuid) return;
    this.#options.reporting.start(sessionUuid);
  }

  #uploadComplete(
    message: FileUploadComplete,
  ): void {
    const { dialogGuid } = message;
    const { logger } = this.#options;
    logger.info("file upload complete", { dialogGuid });
    const state = this.#state;
    const dialogs = state.phase === "serving" ? state.dialogs : undefined;
    if (!dialogs?.complete(dialogGuid, message.filePath)) {
      logger.warn("no dialog waits for this upload", { dialogGuid });
    }
  }
}

/**
 * The session's screen with one capture its viewers share, both opened on
 * first use (when the session is identified; again at a viewer's start if
 * that failed).
 */
function screenSharing(
  devices: SessionDevices,
): () => { screen: SessionScreen; captures: SharedCapture } {
  let shared: { screen: SessionScreen; captures: SharedCapture } | undefined;
  return () => {
    if (!shared) {
      const screen = devices.screen();
      shared = { screen, captures: new SharedCapture(screen.capture) };
    }
    return shared;
  };
}

/**
 * `webstream download` and the watched folders; each part that cannot start
 * is logged and left out (the session streams anyway).
 */
function startDownloads(options: {
  folders: { downloads?: string; print?: string };
  send: (request: DownloadRequest) => Promise<DownloadOutcome>;
  logger: Logger;
}): { command?: DownloadCommandServer; folders: WatchedFolder[] } {
  const { logger, send } = options;
  let command: DownloadCommandServer | undefined;
  if (Deno.build.os !== "windows") {
    try {
      command = new DownloadCommandServer({
        logger,
        onRequest: (path) => send({ path, kind: "file" }),
      });
    } catch (error) {
      logger.warn("webstream download unavailable", { error });
    }
  }
  const folders: WatchedFolder[] = [];
  for (const [kind, directory] of Object.entries(options.folders)) {
    if (!directory) continue;
    try {
      folders.push(
        new WatchedFolder({
          directory,
          logger,
          onReady: (path) => {
            send({ path, kind: kind === "print" ? "print" : "file" });
          },
        }),
      );
    } catch (error) {
      logger.warn("folder not watched", { directory, error });
    }
  }
  return { command, folders };
}

/**
 * File dialogs for the session's apps (`webstream file-dialog`), answered
 * by the first viewer; undefined when they cannot be offered.
 */
function startDialogs(
  viewers: ViewerServer,
  logger: Logger,
): FileDialogServer | undefined {
  try {
    return new FileDialogServer({
      logger,
      onRequest: (dialog) => {
        for (const viewer of viewers.viewers) {
          viewer.askForFile(dialog);
          break; // one viewer answers
        }
      },
    });
  } catch (error) {
    logger.warn("file dialogs unavailable", { error });
    return undefined;
  }
}
