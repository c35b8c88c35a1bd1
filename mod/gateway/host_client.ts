/**
 * The gateway's call to a session host: `GET /getConnection` with the
 * session id, the workspace and app context, the session policy and the
 * browser's size (and, for a desktop, its shell: `X-Workspace-Shell`),
 * authenticated with the shared secret. The answer is
 * validated before it is trusted.
 *
 * @module
 */
import type { Resources, Workspace } from "../config/mod.ts";
import { DEFAULT_DESKTOP_SHELL } from "../contract/desktop_shell.ts";
import {
  type ConnectionAnswer,
  connectionAnswerSchema,
  type SessionPolicy,
} from "../contract/get_connection.ts";
import { encodeHeaderValue } from "../contract/header_value.ts";
import { bearer } from "../contract/shared_secret.ts";

/** What the gateway asks of a host. */
export interface ConnectionRequest {
  /** The client-facing session id (`X-Session-ID`). */
  sessionId: string;
  /** The workspace launched. */
  workspace: Workspace;
  /** The command line for the host's platform (apps). */
  command?: string;
  /** The session's resource profile, sent as `X-Policy-JSON`. */
  resources: Resources;
  /** The browser's size. */
  width?: number;
  /** The browser's size. */
  height?: number;
}

/** A host that could not give a connection; `retryable` says whether another host might. */
export class HostError extends Error {
  /** The host's HTTP status, when it answered. */
  readonly status?: number;
  /** True when another host may succeed (5xx, timeouts, network errors). */
  readonly retryable: boolean;

  constructor(message: string, status?: number) {
    super(message);
    this.name = "HostError";
    this.status = status;
    this.retryable = status === undefined || status >= 500;
  }
}

/** Options for {@linkcode getConnection}. */
export interface HostCallOptions {
  /** The farm's shared secret. */
  sharedSecret?: string;
  /** Timeout of the call. Default 30 s (a cold start waits for a logon). */
  timeoutMs?: number;
}

/** The `X-Policy-JSON` value for a resource profile. */
export function policyFor(resources: Resources): string {
  const policy: SessionPolicy = {
    clipboard: resources.clipboard ? "both" : "none",
    fileUpload: resources.fileUpload,
    fileDownload: resources.fileDownload,
    printing: resources.printing,
    shadowing: false,
    audio: resources.audio,
    videoMaxKbps: resources.videoMaxKbps,
    downloadMaxBytes: resources.downloadMaxBytes,
    maxPixelRatio: resources.maxPixelRatio,
  };
  return JSON.stringify(policy);
}

/**
 * Calls `serverUrl/getConnection`.
 *
 * @throws {HostError} for a refusal, a timeout, a network error or an answer
 * that is not what the contract says.
 */
export async function getConnection(
  serverUrl: string,
  request: ConnectionRequest,
  options: HostCallOptions = {},
): Promise<ConnectionAnswer> {
  const url = new URL(`${serverUrl.replace(/\/$/, "")}/getConnection`);
  if (request.width) url.searchParams.set("width", String(request.width));
  if (request.height) url.searchParams.set("height", String(request.height));
  const { workspace } = request;
  const headers: Record<string, string> = {
    "X-Session-ID": request.sessionId,
    "X-Workspace-ID": workspace.id,
    "X-Workspace-Name": encodeHeaderValue(workspace.name),
    "X-Workspace-Type": workspace.kind,
    "X-Policy-JSON": policyFor(request.resources),
  };
  if (workspace.kind === "app") {
    headers["X-App-ID"] = workspace.id;
    headers["X-App-Name"] = encodeHeaderValue(workspace.name);
  }
  if (workspace.kind === "desktop") {
    const desktop = workspace.desktop ?? { shell: DEFAULT_DESKTOP_SHELL };
    headers["X-Workspace-Shell"] = desktop.shell;
    if (desktop.shell === "command") {
      headers["X-Workspace-Shell-Command"] = encodeHeaderValue(
        desktop.command,
      );
    }
  }
  if (request.command) {
    headers["X-App-Command"] = encodeHeaderValue(request.command);
  }
  if (options.sharedSecret) {
    headers.Authorization = bearer(options.sharedSecret);
  }
  let response: Response;
  try {
    response = await fetch(url, {
      headers,
      signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
    });
  } catch (error) {
    throw new HostError(
      `${serverUrl} did not answer: ${(error as Error).message}`,
    );
  }
  const body = await response.json().catch(() => undefined);
  if (!response.ok) {
    const detail = (body as { error?: string } | undefined)?.error ??
      response.statusText;
    throw new HostError(
      `${serverUrl} answered ${response.status}: ${detail}`,
      response.status,
    );
  }
  const parsed = connectionAnswerSchema.safeParse(body);
  if (!parsed.success) {
    throw new HostError(
      `${serverUrl} gave an answer webstream does not understand`,
    );
  }
  return parsed.data;
}
