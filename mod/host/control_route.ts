/**
 * The `/control` WebSocket endpoint, shared by `-backend` (on its HTTP port)
 * and `-sm` (on `basePortNumber`). Only loopback peers may connect; the
 * platform then checks the peer really runs as the account it claims.
 *
 * @module
 */
import type { Context } from "hono";
import { getConnInfo } from "hono/deno";
import {
  acceptControlSocket,
  isLocalAddress,
  type PeerVerifier,
  type StreamerDirectory,
} from "../control/mod.ts";
import type { Logger } from "../log/mod.ts";

/** Options for {@linkcode controlHandler}. */
export interface ControlRouteOptions {
  /** The pool. */
  directory: StreamerDirectory;
  /** Checks the peer's OS account. */
  verifyPeer?: PeerVerifier;
  /** Logger. */
  logger: Logger;
}

/** A hono handler that upgrades `/control` for local streamers. */
export function controlHandler(
  options: ControlRouteOptions,
): (c: Context) => Response {
  return (c) => {
    const remote = getConnInfo(c).remote;
    const peer: Deno.NetAddr = {
      transport: "tcp",
      hostname: remote.address ?? "",
      port: remote.port ?? 0,
    };
    if (!isLocalAddress(peer.hostname)) {
      options.logger.warn("control connection from a non-local peer refused", {
        peer: peer.hostname,
      });
      return c.json(
        { error: "the control channel is for local streamers" },
        403,
      );
    }
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      return c.json({ error: "expected a WebSocket upgrade" }, 426);
    }
    const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
    acceptControlSocket(socket, { ...options, peer });
    return response;
  };
}
