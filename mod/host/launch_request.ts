/**
 * Reads a `/getConnection` request: `X-Session-ID`, `?width=&height=`, the
 * `X-Workspace-*` and `X-App-*` headers and `X-Policy-JSON`, validated with
 * zod. Every problem is reported by name so the gateway's operator can fix it.
 *
 * @module
 */
import { z } from "zod";
import { SCREEN_BOUNDS } from "../contract/limits.ts";
import type { LaunchRequest, SessionPolicy } from "../pool/mod.ts";
import { formatIssues } from "../util/zod_issues.ts";
import { decodeHeaderValue } from "./header_value.ts";

/** `X-Policy-JSON`: what the session may do. Unknown properties are refused. */
export const policySchema = z.object({
  clipboard: z.enum(["none", "to-session", "from-session", "both"]).default(
    "both",
  ),
  fileUpload: z.boolean().default(true),
  fileDownload: z.boolean().default(false),
  printing: z.boolean().default(false),
  shadowing: z.boolean().default(false),
  audio: z.boolean().default(true),
  videoMaxKbps: z.number().int().min(0).max(100_000).default(8000),
}).strict();

const SESSION_ID = /^[A-Za-z0-9._:@-]{1,128}$/;
const MAX_HEADER = 8192;

/** Screen bounds accepted for `?width=&height=`. */
export { SCREEN_BOUNDS };

/** A request that cannot be served as sent; `problems` says why. */
export class LaunchRequestError extends Error {
  /** One line per problem. */
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join("; "));
    this.name = "LaunchRequestError";
    this.problems = problems;
  }
}

/**
 * Parses a `/getConnection` request.
 *
 * @throws {LaunchRequestError} listing every problem found.
 */
export function parseLaunchRequest(
  headers: Headers,
  query: URLSearchParams,
): LaunchRequest {
  const problems: string[] = [];
  const sessionId = headers.get("x-session-id");
  if (sessionId === null || sessionId === "") {
    problems.push("X-Session-ID header is required");
  } else if (!SESSION_ID.test(sessionId)) {
    problems.push(
      "X-Session-ID: expected 1-128 letters, digits, '.', '_', ':', '@' or '-'",
    );
  }

  const width = dimension(query, "width", problems);
  const height = dimension(query, "height", problems);

  const workspace = prefixed(headers, "x-workspace-", problems);
  const app = prefixed(headers, "x-app-", problems);
  const kind = workspace.type;
  if (kind !== undefined && kind !== "app" && kind !== "desktop") {
    problems.push(
      `X-Workspace-Type: expected "app" or "desktop", got "${
        kind.slice(0, 40)
      }"`,
    );
  }

  let policy: SessionPolicy = policySchema.parse({});
  const rawPolicy = headers.get("x-policy-json");
  if (rawPolicy !== null) {
    let json: unknown;
    try {
      json = JSON.parse(rawPolicy);
    } catch (error) {
      problems.push(
        `X-Policy-JSON: not valid JSON (${(error as Error).message})`,
      );
    }
    if (json !== undefined) {
      const result = policySchema.safeParse(json);
      if (result.success) policy = result.data;
      else {
        problems.push(
          ...formatIssues(result.error.issues, json, {
            prefix: "X-Policy-JSON",
          }),
        );
      }
    }
  }

  if (problems.length) throw new LaunchRequestError(problems);
  return { sessionId: sessionId!, workspace, app, policy, width, height };
}

function dimension(
  query: URLSearchParams,
  name: "width" | "height",
  problems: string[],
): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  const { min, max } = SCREEN_BOUNDS[name];
  const value = Number(raw);
  if (!/^\d{1,5}$/.test(raw) || value < min || value > max) {
    problems.push(
      `${name}: expected an integer from ${min} to ${max}, got "${
        raw.slice(0, 20)
      }"`,
    );
    return undefined;
  }
  return value;
}

/** The headers starting with `prefix`, keyed by their lowercased suffix. */
function prefixed(
  headers: Headers,
  prefix: string,
  problems: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (!name.startsWith(prefix) || name.length === prefix.length) continue;
    if (value.length > MAX_HEADER) {
      problems.push(`${name}: longer than ${MAX_HEADER} characters`);
      continue;
    }
    out[name.slice(prefix.length)] = decodeHeaderValue(value);
  }
  return out;
}
