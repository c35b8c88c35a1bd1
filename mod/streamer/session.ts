/**
 * The session as the session manager drives it over `/control`: the first
 * `SESSION_INFO` gives the streamer its identity, and it starts serving
 * viewers (`viewer_server.ts`) and file dialogs; each `SESSION_INFO` may
 * start an app; `VIEWER_SETTINGS` then `CONNECTION_TOKEN` arm a token with
 * the next viewer's policy (and start the session's reporting);
 * `SESSION_IN_USE` (to a streamer restarted in a bound session) starts the
 * reporting too; `FILE_UPLOAD_COMPLETE` completes a waiting file dialog. Messages for
 * another session are ignored. When an app it started closes
 * ({@linkcode StreamerSession.appClosed}), the tabs showing it and the
 * manager are told.
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
import type {
  AppWindowSystem,
  SessionDevices,
  SessionScreen,
} from "../devices/mod.ts";
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
import { AppScreens } from "./app_screens.ts";
import {
  startAppWindowManager,
  untilWindowManager,
} from "./app_window_manager.ts";
import {
  appArea,
  areaSize,
  type ViewerScreen,
  wholeScreen,
} from "./viewer_screen.ts";
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
  /** Commands of apps this streamer started that have not closed. */
  readonly #started = new Set<string>();
  /** Commands of apps that closed and were not started again. */
  readonly #closed = new Set<string>();
  #state: State = { phase: "waiting" };
  /** Published apps' areas and windows: opened for the first app viewer. */
  #appScreens?: AppScreens | "unavailable";
  /** Resolves once the window manager started for the apps is up. */
  #windowManagerUp?: Promise<boolean>;
  /** Aborted when the session closes: apps still waiting do not start. */
  readonly #closing = new AbortController();

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

  /**
   * The connected viewers, the one the user last used first: with several
   * apps in several tabs, a file dialog or a download goes to the tab the
   * user is working in.
   */
  viewersByUse(): Viewer[] {
    return [...this.viewers].sort((a, b) => b.lastInputAt - a.lastInputAt);
  }

  /** Closes the viewers (1001), stops serving and ends the file dialogs. */
  async close(): Promise<void> {
    this.#closing.abort();
    const state = this.#state;
    if (state.phase !== "serving") return;
    await state.viewers.close();
    if (this.#appScreens instanceof AppScreens) this.#appScreens.close();
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
    const command = message.commandLineParams;
    if (now.phase !== "serving" || !command) return;
    this.#closed.delete(command);
    this.#started.add(command);
    // The window manager started for the apps first, or it may never
    // manage the app's first window.
    const up = this.#windowManagerUp;
    if (up) void up.then(() => this.#startApp(command));
    else this.#startApp(command);
  }

  #startApp(command: string): void {
    const now = this.#state;
    if (now.phase !== "serving" || !this.#started.has(command)) return;
    if (this.#closing.signal.aborted) return;
    const started = this.#options.apps.start(command, {
      ...(now.dialogs ? { [FILE_DIALOG_SOCKET_ENV]: now.dialogs.path } : {}),
      ...(now.downloads.command
        ? { [DOWNLOAD_SOCKET_ENV]: now.downloads.command.path }
        : {}),
    });
    // An app that cannot start is closed at once, for its tab and the host.
    if (!started) this.appClosed(command);
  }

  /**
   * The app started from `command` has closed (its process exited; or, for
   * a caller that tracks windows, its last window closed): each viewer whose
   * tab shows it (`settings.app`) gets `APP_CLOSED` and is ended, so does a
   * viewer of it that connects later, and the session manager is told
   * (`APP_CLOSED`), which ends an app session whose last app closed. Only
   * apps this streamer started count, each once until it is started again;
   * anything else is ignored.
   */
  appClosed(command: string): void {
    const state = this.#state;
    if (state.phase !== "serving" || !this.#started.delete(command)) return;
    this.#closed.add(command);
    // Its area goes: the other apps' tabs keep theirs.
    if (this.#appScreens instanceof AppScreens) {
      this.#appScreens.forget(command);
    }
    for (const viewer of [...state.viewers.viewers]) {
      if (viewer.settings.app === command) viewer.appClosed();
    }
    this.#options.control.send({
      type: "APP_CLOSED",
      sessionUuid: state.sessionUuid,
      commandLineParams: command,
    });
  }

  /** Whether the app started from `command` has a window on the screen now. */
  appHasWindows(command: string): boolean {
    return this.#appScreens instanceof AppScreens &&
      this.#appScreens.windowsOf(command) > 0;
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
        onConnected: (viewer) => {
          control.send({ type: "CLIENT_CONNECTED", sessionUuid });
          this.#options.reporting.viewerConnected();
          // A tab that arrives after its app closed is told at once.
          const app = viewer.settings.app;
          if (app && this.#closed.has(app)) viewer.appClosed();
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
      dialogs: startDialogs(() => this.viewersByUse(), logger),
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
    this.#adoptApps().catch((error) =>
      logger.warn("the session's earlier apps were not taken up", { error })
    );
  }

  /**
   * Takes up the apps an earlier streamer of this session started (it
   * died; they run on): they count as started here, so their close is
   * told like any app's.
   */
  async #adoptApps(): Promise<void> {
    // No exit of theirs is reported before this continues: watching one
    // needs a read of /proc, which completes after this microtask.
    for (const app of await this.#options.apps.adopt()) {
      this.#started.add(app.command);
    }
  }

  /**
   * Sends a file or a print job to the first viewer whose policy allows it;
   * says why not when none does (nothing is offered then).
   */
  download(request: DownloadRequest): Promise<DownloadOutcome> {
    const viewers = this.viewersByUse();
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
      viewerScreen: (settings) => this.#viewerScreen(settings),
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
    // The app's area (and a window manager) is ready before the app,
    // started next, maps its first window.
    const { app, width, height } = state.nextSettings;
    if (app) this.#openAppScreens()?.show(app, areaSize({ width, height }));
  }

  /** What a viewer sees: its app's area, or the whole screen. */
  #viewerScreen(settings: ViewerSettings): ViewerScreen {
    const { screen, captures } = this.#screen();
    const screens = settings.app ? this.#openAppScreens() : undefined;
    return settings.app && screens
      ? appArea(settings.app, { screens, captures })
      : wholeScreen(screen, captures);
  }

  /**
   * The session's app areas, opened on first use with a window manager for
   * them (started when none runs); undefined where that cannot be (no
   * window system for it, Windows): apps are then shown on the whole screen.
   */
  #openAppScreens(): AppScreens | undefined {
    if (this.#appScreens === undefined) {
      const { devices, logger } = this.#options;
      let windows;
      try {
        windows = devices.appWindows();
        if (!windows) throw new Error("not on this OS");
        if (!windows.hasWindowManager()) {
          this.#windowManagerUp = this.#startWindowManager(windows);
        }
        this.#appScreens = new AppScreens({
          screen: this.#screen().screen,
          windows,
          apps: () => this.#options.apps.list(),
          logger,
          onLastWindowClosed: (app) => {
            logger.info("an app's last window closed", { app });
            this.appClosed(app);
          },
        });
      } catch (error) {
        windows?.close();
        logger.warn("apps are shown on the whole screen", { error });
        this.#appScreens = "unavailable";
      }
    }
    return this.#appScreens instanceof AppScreens
      ? this.#appScreens
      : undefined;
  }

  /** Starts openbox for the apps; resolves whether it came up. */
  async #startWindowManager(windows: AppWindowSystem): Promise<boolean> {
    const { logger } = this.#options;
    const started = await startAppWindowManager({ logger });
    return started !== undefined &&
      await untilWindowManager(windows, {
        logger,
        signal: this.#closing.signal,
        exited: started.exited,
      });
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
 * by the first of `viewers()` (the one last used); undefined when they
 * cannot be offered.
 */
function startDialogs(
  viewers: () => Viewer[],
  logger: Logger,
): FileDialogServer | undefined {
  try {
    return new FileDialogServer({
      logger,
      // One viewer answers.
      onRequest: (dialog) => viewers()[0]?.askForFile(dialog),
    });
  } catch (error) {
    logger.warn("file dialogs unavailable", { error });
    return undefined;
  }
}
