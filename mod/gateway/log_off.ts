/**
 * Logging a session off from the gateway (a user from the portal or the
 * session toolbar, an administrator from the admin page): the session ends
 * on its host, then disappears from the gateway. A host that no longer has
 * it has nothing to end, so the gateway forgets it too; a host that cannot
 * be reached keeps it, and the caller is told why.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { logOffHostSession } from "./host_sessions.ts";
import type { SessionMap } from "./sessions.ts";
import type { SessionRecord } from "./types.ts";

/** Options for {@linkcode logOffSession}. */
export interface LogOffOptions {
  /** The gateway's sessions. */
  sessions: SessionMap;
  /** The farm's shared secret. */
  sharedSecret?: string;
  /** Who logs it off, for the logs and the host's reason. */
  by: string;
  /** Logger. */
  logger: Logger;
}

/** How a log-off ended. */
export type LogOffResult =
  | { kind: "ended" }
  | { kind: "failed"; detail: string };

/** Ends `session` on its host and at the gateway. */
export async function logOffSession(
  session: SessionRecord,
  options: LogOffOptions,
): Promise<LogOffResult> {
  const reason = `logged off by ${options.by}`;
  const outcome = await logOffHostSession(
    session.serverUrl,
    session.sessionUuid,
    { sharedSecret: options.sharedSecret, reason },
  );
  if (outcome.kind === "failed") {
    options.logger.warn("log-off failed", {
      sessionId: session.sessionId,
      serverUrl: session.serverUrl,
      detail: outcome.detail,
    });
    return { kind: "failed", detail: outcome.detail };
  }
  options.sessions.delete(session.sessionId, reason);
  return { kind: "ended" };
}
