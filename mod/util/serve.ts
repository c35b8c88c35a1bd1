/**
 * Stopping a Deno.serve server without hanging: a WebSocket whose client
 * gave up during the upgrade handshake can keep `shutdown()` waiting forever,
 * so the wait is bounded and whatever is left is abandoned.
 *
 * @module
 */
import { withTimeout } from "./async.ts";

/** Options for {@linkcode stopServer}. */
export interface StopServerOptions {
  /** Longest wait for a graceful shutdown. Default 2000 ms. */
  timeoutMs?: number;
}

/** Shuts `server` down; resolves true if it finished within the bound. */
export async function stopServer(
  server: Deno.HttpServer,
  options: StopServerOptions = {},
): Promise<boolean> {
  try {
    await withTimeout(server.shutdown(), options.timeoutMs ?? 2000);
    return true;
  } catch {
    return false;
  }
}
