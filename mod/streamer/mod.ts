/**
 * `webstream streamer`: runs inside a pool session. It connects to the
 * session manager's `/control`, identifies itself with
 * `REQUEST_SESSION_INFO:{username}`, applies `SESSION_INFO` (starting the
 * session's app when a command line comes with it), then serves viewers on
 * its port with `webstream/1` (screen, input, clipboard, uploads). A viewer
 * must present a one-time token the session manager armed, and gets the
 * policy armed with it; one viewer at a time (a new one replaces the old,
 * e.g. after a network drop) unless the policy allows shadowing. It checks
 * in with the gateway's licence endpoint and reports metrics and activity as
 * the host is configured. When the control channel closes, the streamer
 * exits.
 *
 * @module
 */
import { userInfo } from "node:os";
import {
  ControlCodecError,
  decodeControl,
  encodeControl,
  type ManagerMessage,
  type StreamerMessage,
} from "../control/codec.ts";
import { hashToken } from "../control/token_hash.ts";
import {
  openSessionDevices,
  type SessionDevices,
  type SessionScreen,
} from "../devices/mod.ts";
import type { Logger } from "../log/mod.ts";
import { LICENCE_PROOF_ENV } from "../registration/licence_proof.ts";
import { stopServer } from "../util/serve.ts";
import { CommandLineError, splitCommandLine } from "./command_line.ts";
import { TileEncoder } from "./encode/mod.ts";
import { FILE_DIALOG_SOCKET_ENV, FileDialogServer } from "./file_dialog.ts";
import { type LicenceCheckins, startLicenceCheckins } from "./licence.ts";
import {
  type Reporting,
  reportingSchema,
  type ReportingSettings,
  startReporting,
} from "./reporting.ts";
import { SharedCapture } from "./shared_capture.ts";
import { TokenStore } from "./token_store.ts";
import { Viewer, type ViewerContext } from "./viewer.ts";
import {
  parseViewerSettings,
  RESTRICTIVE,
  type ViewerSettings,
} from "./viewer_settings.ts";

/** Options for {@linkcode runStreamer}. */
export interface StreamerOptions {
  /** The session manager's `/control` URL. */
  control: string;
  /** Port to serve viewers on. */
  port: number;
  /** Address to bind. */
  bind: string;
  /** Pool account to identify as. Default: the OS user this process runs as. */
  user?: string;
  /** Licence check-ins with the gateway, when one is configured. */
  licence?: { gatewayUrl: string; serverUrl: string; caCertificate?: string };
  /** `-reporting JSON`: metrics and activity settings (with `licence`). */
  reporting?: string;
  /**
   * The session's screen and clipboard; closed when the streamer stops.
   * Default: this OS's ({@linkcode openSessionDevices}; tests may pass
   * their own display's).
   */
  devices?: SessionDevices;
  /** Media flow control (tests). */
  media?: ViewerContext["media"];
  /** Logger. */
  logger: Logger;
}

/** Why the streamer stopped. */
export interface StreamerExit {
  /** Exit code for the process. */
  code: number;
  /** Human-readable reason. */
  reason: string;
}

/** Runs the streamer until its control channel closes. */
export async function runStreamer(
  options: StreamerOptions,
): Promise<StreamerExit> {
  const { logger } = options;
  const username = options.user ?? userInfo().username;
  const tokens = new TokenStore<ViewerSettings>();
  const apps = new Set<Deno.ChildProcess>();
  const viewers = new Set<Viewer>();
  const exit = Promise.withResolvers<StreamerExit>();
  const devices = options.devices ?? openSessionDevices();
  const clipboard = devices.clipboard;
  let sessionUuid: string | undefined;
  let server: Deno.HttpServer | undefined;
  let checkins: LicenceCheckins | undefined;
  let reporting: Reporting | undefined;
  let screen: SessionScreen | undefined;
  let captures: SharedCapture | undefined;
  let dialogs: FileDialogServer | undefined;
  let nextSettings: ViewerSettings | undefined;
  let sessionStarted = false;
  let inputEvents = 0;
  let sampledAt = performance.now();

  let reportingSettings: ReportingSettings | undefined;
  if (options.reporting && options.licence) {
    const parsed = reportingSchema.safeParse(
      (() => {
        try {
          return JSON.parse(options.reporting!);
        } catch {
          return undefined;
        }
      })(),
    );
    if (parsed.success) reportingSettings = parsed.data;
    else logger.error("invalid -reporting settings; not reporting");
  }

  // A client may only close with 1000 or 3000-4999: webstream uses 4000 + the
  // matching server code (4008 policy violation, 4011 internal error).
  const control = new WebSocket(options.control);
  const send = (message: StreamerMessage): void => {
    if (control.readyState === WebSocket.OPEN) {
      control.send(encodeControl(message));
    }
  };

  function launch(commandLine: string): void {
    let argv: string[];
    try {
      argv = splitCommandLine(commandLine);
    } catch (error) {
      if (!(error instanceof CommandLineError)) throw error;
      return logger.error("cannot start app", { reason: error.message });
    }
    if (!argv.length) return;
    try {
      const child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        env: {
          ...appEnv(),
          ...(dialogs ? { [FILE_DIALOG_SOCKET_ENV]: dialogs.path } : {}),
        },
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      apps.add(child);
      logger.info("app started", { program: argv[0], pid: child.pid });
      reporting?.activity("app_launch", argv[0]);
      child.status.then((status) => {
        apps.delete(child);
        logger.info("app exited", { program: argv[0], code: status.code });
      });
    } catch (error) {
      logger.error("cannot start app", { program: argv[0], error });
    }
  }

  function serve(): void {
    server = Deno.serve({
      hostname: options.bind,
      port: options.port,
      onListen: () => logger.info("streamer listening", { port: options.port }),
      onError: () => new Response("internal error", { status: 500 }),
    }, async (request) => {
      const url = new URL(request.url);
      if (url.pathname !== "/stream") {
        return new Response("not found", { status: 404 });
      }
      if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return new Response("expected a WebSocket upgrade", { status: 426 });
      }
      const token = url.searchParams.get("token");
      const redeemed = token
        ? tokens.redeem(await hashToken(token))
        : undefined;
      if (!redeemed) {
        logger.warn("viewer refused: invalid or used token");
        return new Response("invalid connection token", { status: 401 });
      }
      const { socket, response } = Deno.upgradeWebSocket(request);
      attachViewer(socket, redeemed.value ?? RESTRICTIVE);
      return response;
    });
  }

  function openScreen(): { screen: SessionScreen; captures: SharedCapture } {
    if (!screen) {
      screen = devices.screen();
      captures = new SharedCapture(screen.capture);
    }
    return { screen, captures: captures! };
  }

  function attachViewer(socket: WebSocket, settings: ViewerSettings): void {
    // One viewer at a time (a new one replaces the old, e.g. after a network
    // drop), unless the policy allows shadowing.
    if (!settings.policy.shadowing) {
      for (const old of viewers) {
        old.close(4000, "replaced by a newer connection");
      }
    }
    socket.onopen = () => {
      try {
        startViewer(socket, settings);
      } catch (error) {
        logger.error("cannot start streaming to the viewer", { error });
        socket.close(4011, "the session's screen is unavailable");
      }
    };
    socket.onerror = () => {};
  }

  function startViewer(socket: WebSocket, settings: ViewerSettings): void {
    {
      const shared = openScreen();
      const encoder = new TileEncoder();
      const viewer = new Viewer(socket, {
        settings,
        context: {
          sessionUuid: sessionUuid!,
          screen: shared.screen,
          captures: shared.captures,
          encoder,
          clipboard,
          dialogs,
          logger,
          media: options.media,
          onInput: () => inputEvents++,
          onUpload: (file) =>
            reporting?.activity("upload", `${file.size} bytes`),
          onLanded: (file) =>
            send({
              type: "UPLOAD_LANDED",
              dialogGuid: file.dialogGuid!,
              filePath: file.path,
            }),
        },
      });
      viewers.add(viewer);
      socket.addEventListener("close", () => {
        viewers.delete(viewer);
        viewer.close();
        encoder.close();
        if (!viewers.size) {
          send({ type: "CLIENT_DISCONNECTED", sessionUuid: sessionUuid! });
        }
      });
      viewer.start();
      send({ type: "CLIENT_CONNECTED", sessionUuid: sessionUuid! });
      if (!sessionStarted) {
        sessionStarted = true;
        reporting?.activity("session_start");
      }
    }
  }

  function sample() {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - sampledAt) / 1000);
    sampledAt = now;
    let frames = 0, bytes = 0, acked = 0, ackMs = 0;
    for (const viewer of viewers) {
      const stats = viewer.media?.takeStats();
      if (!stats) continue;
      frames += stats.frames;
      bytes += stats.bytes;
      acked += stats.acked;
      ackMs += stats.ackMsTotal;
    }
    const events = inputEvents;
    inputEvents = 0;
    return {
      fps: frames / seconds,
      bytes,
      latencyMs: acked ? ackMs / acked : undefined,
      inputEvents: events,
    };
  }

  function startDialogs(): void {
    try {
      dialogs = new FileDialogServer({
        logger,
        onRequest: (dialog) => {
          for (const viewer of viewers) {
            viewer.askForFile(dialog);
            break; // one viewer answers
          }
        },
      });
    } catch (error) {
      logger.warn("file dialogs unavailable", { error });
    }
  }

  function handle(message: ManagerMessage): void {
    switch (message.type) {
      case "SESSION_INFO":
        if (!sessionUuid) {
          sessionUuid = message.sessionUuid;
          logger.info("session identity received", { sessionUuid });
          try {
            serve();
          } catch (error) {
            logger.error("cannot listen", { port: options.port, error });
            control.close(4011, "streamer cannot listen");
            return;
          }
          startDialogs();
        } else if (sessionUuid !== message.sessionUuid) {
          logger.warn("SESSION_INFO for another session ignored");
          return;
        }
        if (message.commandLineParams) launch(message.commandLineParams);
        return;
      case "VIEWER_SETTINGS": {
        if (message.sessionUuid !== sessionUuid) return;
        const parsed = parseViewerSettings(message.settings);
        if (!parsed.ok) {
          logger.error("invalid viewer settings; restrictive policy applies", {
            reason: parsed.error,
          });
        }
        nextSettings = parsed.ok ? parsed.value : RESTRICTIVE;
        return;
      }
      case "CONNECTION_TOKEN":
        if (message.sessionUuid !== sessionUuid) return;
        tokens.arm(message.tokenHash, message.ttlSeconds, nextSettings);
        nextSettings = undefined;
        send({ type: "TOKEN_ARMED", tokenHash: message.tokenHash });
        // The session is in use from its first token on: check in.
        if (options.licence && !checkins) {
          checkins = startLicenceCheckins({
            ...options.licence,
            proof: Deno.env.get(LICENCE_PROOF_ENV),
            sessionUuid,
            logger,
            onRefused: (reason) => {
              logger.warn("ending the session", { reason });
              control.close(4403, reason.slice(0, 100));
            },
          });
        }
        if (options.licence && reportingSettings && !reporting) {
          reporting = startReporting({
            ...options.licence,
            proof: Deno.env.get(LICENCE_PROOF_ENV),
            sessionUuid,
            settings: reportingSettings,
            sample,
            logger,
          });
        }
        return;
      case "FILE_UPLOAD_COMPLETE":
        logger.info("file upload complete", { dialogGuid: message.dialogGuid });
        if (!dialogs?.complete(message.dialogGuid, message.filePath)) {
          logger.warn("no dialog waits for this upload", {
            dialogGuid: message.dialogGuid,
          });
        }
        return;
    }
  }

  control.onopen = () => send({ type: "REQUEST_SESSION_INFO", username });
  control.onmessage = (event) => {
    try {
      handle(decodeControl(event.data, { from: "manager" }) as ManagerMessage);
    } catch (error) {
      if (!(error instanceof ControlCodecError)) throw error;
      logger.error("malformed control message", { reason: error.message });
      control.close(4008, "malformed message");
    }
  };
  control.onerror = () => {};
  control.onclose = (event) => {
    exit.resolve({
      code: sessionUuid ? 0 : 1,
      reason: `control channel closed (${event.code}${
        event.reason ? ` ${event.reason}` : ""
      })`,
    });
  };

  const result = await exit.promise;
  checkins?.stop();
  if (sessionStarted) reporting?.activity("session_end");
  await reporting?.stop();
  for (const viewer of viewers) viewer.close(1001, "session ended");
  if (server) await stopServer(server, { timeoutMs: 1000 });
  dialogs?.close();
  devices.close();
  for (const app of apps) {
    try {
      app.kill("SIGTERM");
    } catch {
      // Already gone.
    }
  }
  logger.info("streamer stopping", { reason: result.reason });
  return result;
}

/** The session's environment, minus webstream's own variables. */
function appEnv(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) {
    if (name.startsWith("WEBSTREAM_") || name === "DENO_DIR") delete env[name];
  }
  return env;
}
