/**
 * The streamer's viewer endpoint: `Deno.serve` on the streamer's port,
 * answering only `/stream?token=…` WebSocket upgrades whose token the
 * session manager armed (each token once; it brings the viewer's policy,
 * the restrictive one when none came with it). One viewer at a time for
 * each view (the whole screen, or one app's tab) — a new one replaces the
 * old, e.g. after a network drop — unless the policy allows shadowing;
 * several apps of a shared session each have their own tab. Each viewer
 * gets its own tile encoder; everything else it works with comes from the
 * caller. One encoder waits warm for the next viewer (its worker started
 * when serving starts, then the last viewer's), so a first frame never
 * waits for an encoding worker to start.
 *
 * @module
 */
import { hashToken } from "../control/token_hash.ts";
import type { Logger } from "../log/mod.ts";
import { stopServer } from "../util/serve.ts";
import { TileEncoder } from "./encode/mod.ts";
import type { TokenStore } from "./token_store.ts";
import { Viewer, type ViewerContext } from "./viewer.ts";
import { RESTRICTIVE, type ViewerSettings } from "./viewer_settings.ts";

/** Options for {@linkcode serveViewers}. */
export interface ViewerServerOptions {
  /** Address to bind. */
  bind: string;
  /** Port to serve viewers on. */
  port: number;
  /** The armed connection tokens, with the settings armed with each. */
  tokens: TokenStore<ViewerSettings>;
  /**
   * What a new viewer works with, but its encoder; called as the viewer's
   * socket opens, and may throw (the screen is unavailable): the viewer is
   * then closed with 4011.
   */
  context: () => Omit<ViewerContext, "encoder">;
  /** A viewer started (its hello is sent). */
  onConnected: (viewer: Viewer) => void;
  /** The last viewer left. */
  onDisconnected: () => void;
  /** Logger. */
  logger: Logger;
}

/** The running viewer endpoint. */
export interface ViewerServer {
  /** The connected viewers (the first one answers file dialogs). */
  readonly viewers: ReadonlySet<Viewer>;
  /** Closes every viewer (1001) and stops serving. */
  close(): Promise<void>;
}

/**
 * Starts serving viewers.
 *
 * @throws when the port cannot be listened on.
 */
export function serveViewers(options: ViewerServerOptions): ViewerServer {
  const { logger, tokens } = options;
  const viewers = new Set<Viewer>();
  let spare: TileEncoder | undefined = warmEncoder(logger);
  let closing = false;

  function attach(socket: WebSocket, settings: ViewerSettings): void {
    if (!settings.policy.shadowing) {
      // The tab that reconnects replaces itself; other apps' tabs stay.
      for (const old of viewers) {
        if (old.settings.app !== settings.app) continue;
        old.close(4000, "replaced by a newer connection");
      }
    }
    socket.onopen = () => {
      try {
        start(socket, settings);
      } catch (error) {
        logger.error("cannot start streaming to the viewer", { error });
        socket.close(4011, "the session's screen is unavailable");
      }
    };
    socket.onerror = () => {};
  }

  function start(socket: WebSocket, settings: ViewerSettings): void {
    const context = options.context();
    const encoder = spare ?? new TileEncoder();
    spare = undefined;
    const viewer = new Viewer(socket, {
      settings,
      context: { ...context, encoder },
    });
    viewers.add(viewer);
    socket.addEventListener("close", () => {
      viewers.delete(viewer);
      viewer.close();
      // Kept warm for the next viewer (it starts with a full frame).
      if (spare || closing) encoder.close();
      else spare = encoder;
      if (!viewers.size) options.onDisconnected();
    });
    viewer.start();
    options.onConnected(viewer);
  }

  const server = Deno.serve({
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
    const redeemed = token ? tokens.redeem(await hashToken(token)) : undefined;
    if (!redeemed) {
      logger.warn("viewer refused: invalid or used token");
      return new Response("invalid connection token", { status: 401 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    attach(socket, redeemed.value ?? RESTRICTIVE);
    return response;
  });

  return {
    viewers,
    async close() {
      closing = true;
      spare?.close();
      spare = undefined;
      for (const viewer of viewers) viewer.close(1001, "session ended");
      await stopServer(server, { timeoutMs: 1000 });
    },
  };
}

/** A tile encoder whose worker is started and has encoded once. */
function warmEncoder(logger: Logger): TileEncoder {
  const encoder = new TileEncoder();
  encoder.warmUp().catch((error) => {
    // Closed before it was warm, or the worker failed: the first frame
    // starts it again (and reports what is wrong).
    logger.debug("tile encoder not warmed up", { error });
  });
  return encoder;
}
