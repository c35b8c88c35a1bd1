/**
 * The gateway's calls about a host's sessions (`mod/contract/sessions.ts`):
 * the host's own list, to reconcile with on registration, and logging a
 * session off on its host. Authenticated with the farm's shared secret;
 * answers are validated before they are trusted.
 *
 * @module
 */
import { type HostSession, hostSessionsSchema } from "../contract/mod.ts";
import { bearer } from "../contract/shared_secret.ts";

/** Options for the calls in this module. */
export interface HostSessionCallOptions {
  /** The farm's shared secret. */
  sharedSecret?: string;
  /** Timeout of the call. Default 10 s. */
  timeoutMs?: number;
}

/** How a log-off call ended. */
export type LogOffOutcome =
  | { kind: "ended" }
  | { kind: "unknown"; detail: string }
  | { kind: "failed"; detail: string };

function headers(options: HostSessionCallOptions): Record<string, string> {
  const out: Record<string, string> = { "Content-Type": "application/json" };
  if (options.sharedSecret) out.Authorization = bearer(options.sharedSecret);
  return out;
}

function base(serverUrl: string): string {
  return serverUrl.replace(/\/$/, "");
}

/**
 * The sessions `serverUrl` has (`GET /sessions`).
 *
 * @throws {Error} when the host does not answer, refuses, or answers
 * something the contract does not allow.
 */
export async function listHostSessions(
  serverUrl: string,
  options: HostSessionCallOptions = {},
): Promise<HostSession[]> {
  const response = await fetch(`${base(serverUrl)}/sessions`, {
    headers: headers(options),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    throw new Error(`${serverUrl}/sessions answered ${response.status}`);
  }
  const parsed = hostSessionsSchema.safeParse(body);
  if (!parsed.success) {
    throw new Error(`${serverUrl}/sessions gave an answer out of contract`);
  }
  return parsed.data.sessions;
}

/** Ends `sessionUuid` on `serverUrl` (`POST /sessions/{uuid}/logoff`). */
export async function logOffHostSession(
  serverUrl: string,
  sessionUuid: string,
  options: HostSessionCallOptions & { reason: string },
): Promise<LogOffOutcome> {
  let response: Response;
  try {
    response = await fetch(
      `${base(serverUrl)}/sessions/${encodeURIComponent(sessionUuid)}/logoff`,
      {
        method: "POST",
        headers: headers(options),
        body: JSON.stringify({ reason: options.reason }),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      },
    );
  } catch (error) {
    return {
      kind: "failed",
      detail: `${serverUrl} did not answer: ${(error as Error).message}`,
    };
  }
  const body = await response.json().catch(() => undefined) as
    | { error?: string }
    | undefined;
  if (response.ok) return { kind: "ended" };
  const detail = `${serverUrl} answered ${response.status}: ${
    body?.error ?? response.statusText
  }`;
  return response.status === 404
    ? { kind: "unknown", detail }
    : { kind: "failed", detail };
}
