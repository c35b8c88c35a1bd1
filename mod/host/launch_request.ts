/**
 * Reads a `/getConnection` request: `X-Session-ID`, `?width=&height=` (each
 * at most once), the `X-Workspace-*` and `X-App-*` headers (encoded words
 * decoded, each within its length limit and free of control characters;
 * `X-Workspace-Shell` a shell this host knows, for a desktop only) and
 * `X-Policy-JSON` (bounded in length and depth, validated with zod). Every
 * problem is reported by name, all at once, so the gateway's operator can fix
 * it; a request with any problem starts nothing.
 *
 * @module
 */
import { SHELL_HEADER_VALUES } from "../contract/desktop_shell.ts";
import { policySchema } from "../contract/get_connection.ts";
import { SCREEN_BOUNDS } from "../contract/limits.ts";
import type { LaunchRequest, SessionPolicy } from "../pool/mod.ts";
import { parseJson } from "../util/json_depth.ts";
import { formatIssues } from "../util/zod_issues.ts";
import { readHeaderValue } from "../contract/header_value.ts";

/** `X-Policy-JSON`: what the session may do. */
export { policySchema };

const SESSION_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/**
 * The longest value of each known `X-Workspace-*` and `X-App-*` header, in
 * characters once decoded: ids and names well beyond what the gateway's
 * configuration allows (64 and 100), a command as long as a configured one
 * (8000). Other headers with those prefixes get
 * {@linkcode OTHER_HEADER_LIMIT}.
 */
export const HEADER_LIMITS: Readonly<Record<string, number>> = {
  "x-workspace-id": 128,
  "x-workspace-name": 256,
  "x-workspace-type": 16,
  "x-app-id": 128,
  "x-app-name": 256,
  "x-app-command": 8000,
  "x-workspace-shell": 16,
  "x-workspace-shell-command": 8000,
};

/** The longest value of any other `X-Workspace-*` or `X-App-*` header. */
export const OTHER_HEADER_LIMIT = 1024;

/** The longest `X-Policy-JSON` accepted, in characters. */
export const MAX_POLICY_LENGTH = 4096;

/** How each header is written in problems. */
const HEADER_NAMES: Record<string, string> = {
  "x-workspace-id": "X-Workspace-ID",
  "x-app-id": "X-App-ID",
};

// C0 controls, DEL and C1 controls. A command may hold tabs and line breaks,
// which split it into words like spaces (a YAML block scalar ends in one).
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const CONTROL_IN_COMMAND =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/;

/** The headers that hold command lines (tabs and line breaks allowed). */
const COMMANDS = new Set(["x-app-command", "x-workspace-shell-command"]);

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

  shellProblems(workspace, problems);

  let policy: SessionPolicy = policySchema.parse({});
  const rawPolicy = headers.get("x-policy-json");
  if (rawPolicy !== null && rawPolicy.length > MAX_POLICY_LENGTH) {
    problems.push(`X-Policy-JSON: longer than ${MAX_POLICY_LENGTH} characters`);
  } else if (rawPolicy !== null) {
    const parsed = parseJson(rawPolicy);
    if (!parsed.ok) problems.push(`X-Policy-JSON: ${parsed.error}`);
    else {
      const json = parsed.value;
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

/**
 * `X-Workspace-Shell` names a shell the host knows, or `command` with
 * `X-Workspace-Shell-Command` beside it; both only for a desktop.
 */
function shellProblems(
  workspace: Record<string, string>,
  problems: string[],
): void {
  const { shell, type } = workspace;
  const command = workspace["shell-command"];
  if (shell === undefined) {
    if (command !== undefined) {
      problems.push(
        'X-Workspace-Shell-Command: given without "X-Workspace-Shell: command"',
      );
    }
    return;
  }
  if (!(SHELL_HEADER_VALUES as readonly string[]).includes(shell)) {
    problems.push(
      `X-Workspace-Shell: expected one of ${
        SHELL_HEADER_VALUES.join(", ")
      }, got "${shell.slice(0, 40)}"`,
    );
  } else if (type !== "desktop") {
    problems.push(
      'X-Workspace-Shell: only for "X-Workspace-Type: desktop"',
    );
  } else if (shell === "command" && !command?.trim()) {
    problems.push(
      'X-Workspace-Shell-Command: required with "X-Workspace-Shell: command"',
    );
  } else if (shell !== "command" && command !== undefined) {
    problems.push(
      'X-Workspace-Shell-Command: given without "X-Workspace-Shell: command"',
    );
  }
}

function dimension(
  query: URLSearchParams,
  name: "width" | "height",
  problems: string[],
): number | undefined {
  const all = query.getAll(name);
  if (all.length > 1) {
    problems.push(`${name}: given ${all.length} times, expected at most once`);
    return undefined;
  }
  const raw = all[0];
  if (raw === undefined) return undefined;
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

/**
 * The headers starting with `prefix`, decoded and keyed by their lowercased
 * suffix. Each is refused by name when it is longer than its limit, is a
 * malformed encoded word, or holds control characters.
 */
function prefixed(
  headers: Headers,
  prefix: string,
  problems: string[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) {
    if (!name.startsWith(prefix) || name.length === prefix.length) continue;
    const shown = headerName(name);
    const limit = HEADER_LIMITS[name] ?? OTHER_HEADER_LIMIT;
    const tooLong = `${shown}: longer than ${limit} characters`;
    // Not even decoded when longer than any encoding of `limit` characters.
    if (value.length > maxEncodedLength(limit)) {
      problems.push(tooLong);
      continue;
    }
    const read = readHeaderValue(value);
    if (!read.ok) {
      problems.push(`${shown}: ${read.error}`);
      continue;
    }
    const text = read.value;
    if ([...text].length > limit) {
      problems.push(tooLong);
      continue;
    }
    const control = (COMMANDS.has(name) ? CONTROL_IN_COMMAND : CONTROL)
      .exec(text);
    if (control) {
      const code = control[0].charCodeAt(0).toString(16).toUpperCase();
      problems.push(
        `${shown}: contains a control character (U+${code.padStart(4, "0")})`,
      );
      continue;
    }
    out[name.slice(prefix.length)] = text;
  }
  return out;
}

/** `x-workspace-name` as it is usually written: `X-Workspace-Name`. */
function headerName(name: string): string {
  return HEADER_NAMES[name] ??
    name.replace(/(^|-)([a-z])/g, (_, dash, c) => dash + c.toUpperCase());
}

/** The longest encoded word `limit` characters can take (4 UTF-8 bytes each). */
function maxEncodedLength(limit: number): number {
  return "=?utf-8?b??=".length + 4 * Math.ceil((4 * limit) / 3);
}
