/**
 * `webstream streamer`: runs inside a pool session. It connects to the
 * session manager's `/control`, identifies itself with
 * `REQUEST_SESSION_INFO:{username}`, applies `SESSION_INFO` (starting the
 * session's app when a command line comes with it), then serves viewers on
 * its port. A viewer must present a one-time token the session manager armed;
 * one viewer at a time (a new one replaces the old, e.g. after a network
 * drop). When the control channel closes, the streamer exits.
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
import type { Logger } from "../log/mod.ts";
import { LICENCE_PROOF_ENV } from "../registration/licence_proof.ts";
import { stopServer } from "../util/serve.ts";
import { CommandLineError, splitCommandLine } from "./command_line.ts";
import { type LicenceCheckins, startLicenceCheckins } from "./licence.ts";
import { TokenStore } from "./token_store.ts";
import { decodeViewerMessage, sendViewer, VIEWER_PROTOCOL } from "./viewer.ts";

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
  const tokens = new TokenStore();
  const apps = new Set<Deno.ChildProcess>();
  const exit = Promise.withResolvers<StreamerExit>();
  let sessionUuid: string | undefined;
  let server: Deno.HttpServer | undefined;
  let viewer: WebSocket | undefined;
  let checkins: LicenceCheckins | undefined;

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
        env: appEnv(),
        clearEnv: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      apps.add(child);
      logger.info("app started", { program: argv[0], pid: child.pid });
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
      if (!token || !tokens.consume(await hashToken(token))) {
        logger.warn("viewer refused: invalid or used token");
        return new Response("invalid connection token", { status: 401 });
      }
      const { socket, response } = Deno.upgradeWebSocket(request);
      attachViewer(socket);
      return response;
    });
  }

  function attachViewer(socket: WebSocket): void {
    const previous = viewer;
    viewer = socket;
    if (previous) previous.close(4000, "replaced by a newer connection");
    socket.onopen = () => {
      sendViewer(socket, {
        type: "hello",
        protocol: VIEWER_PROTOCOL,
        sessionUuid: sessionUuid!,
      });
      send({ type: "CLIENT_CONNECTED", sessionUuid: sessionUuid! });
    };
    socket.onmessage = (event) => {
      const message = decodeViewerMessage(event.data);
      if (message?.type === "ping") {
        sendViewer(socket, { type: "pong", id: message.id, time: Date.now() });
      }
    };
    socket.onclose = () => {
      if (viewer !== socket) return;
      viewer = undefined;
      send({ type: "CLIENT_DISCONNECTED", sessionUuid: sessionUuid! });
    };
    socket.onerror = () => {};
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
        } else if (sessionUuid !== message.sessionUuid) {
          logger.warn("SESSION_INFO for another session ignored");
          return;
        }
        if (message.commandLineParams) launch(message.commandLineParams);
        return;
      case "CONNECTION_TOKEN":
        if (message.sessionUuid !== sessionUuid) return;
        tokens.arm(message.tokenHash, message.ttlSeconds);
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
        return;
      case "FILE_UPLOAD_COMPLETE":
        logger.info("file upload complete", {
          dialogGuid: message.dialogGuid,
          filePath: message.filePath,
        });
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
  viewer?.close(1001, "session ended");
  if (server) await stopServer(server, { timeoutMs: 1000 });
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
