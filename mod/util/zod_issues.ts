/**
 * Turns zod issues into one line each: the property path, what was expected
 * and what was found, e.g.
 * `gateway.backend.heartbeatInterval: expected number, got string "x"`.
 * Values under secret-looking names are shown as `[redacted]`.
 *
 * @module
 */
import type { z } from "zod";
import { redact } from "../log/mod.ts";

/** Options for {@linkcode formatIssues}. */
export interface FormatIssuesOptions {
  /** Put in front of every path (e.g. `X-Policy-JSON`). */
  prefix?: string;
}

/** One line per issue; `input` is what was validated. */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  input: unknown,
  options: FormatIssuesOptions = {},
): string[] {
  return issues.map((issue) => {
    const where = formatPath(issue.path, options.prefix);
    if (issue.code === "unrecognized_keys") {
      return `${where}: unknown propert${issue.keys.length > 1 ? "ies" : "y"} ${
        issue.keys.map((k) => `"${k}"`).join(", ")
      }`;
    }
    if (issue.code === "custom") return `${where}: ${issue.message}`;
    const key = issue.path.at(-1);
    const raw = getPath(input, issue.path);
    const value = redact(raw, typeof key === "string" ? key : "");
    // A secret-named value of the wrong type still says what type it was.
    const got = typeof raw !== "string" && value === "[redacted]"
      ? describeRedacted(raw)
      : describeValue(value);
    return `${where}: expected ${expectation(issue)}, got ${got}`;
  });
}

/** Formats a property path as written in docs: `a.b[0].c`. */
export function formatPath(
  path: readonly PropertyKey[],
  prefix = "",
): string {
  const tail = path.map((key, i) =>
    typeof key === "number"
      ? `[${key}]`
      : `${i || prefix ? "." : ""}${String(key)}`
  ).join("");
  return prefix + tail || "(top level)";
}

/** A short description of a value for error messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return `a list (${JSON.stringify(value)})`;
  if (typeof value === "object") return "a mapping";
  const text = JSON.stringify(value);
  return `${typeof value} ${text.length > 60 ? text.slice(0, 57) + "…" : text}`;
}

function describeRedacted(raw: unknown): string {
  if (Array.isArray(raw)) return "a list ([redacted])";
  if (typeof raw === "object") return "a mapping";
  return `${typeof raw} [redacted]`;
}

function expectation(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return issue.expected;
    case "invalid_value":
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "too_small":
      return issue.origin === "array"
        ? `at least ${issue.minimum} entr${issue.minimum === 1 ? "y" : "ies"}`
        : issue.origin === "string"
        ? issue.message.replace(/^Too small: expected string to have /, "")
        : `a number ${issue.inclusive ? "≥" : ">"} ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array"
        ? `at most ${issue.maximum} entries`
        : issue.origin === "string"
        ? issue.message.replace(/^Too big: expected string to have /, "")
        : `a number ${issue.inclusive ? "≤" : "<"} ${issue.maximum}`;
    default:
      return issue.message.replace(/^Invalid input: /, "");
  }
}

function getPath(root: unknown, path: readonly PropertyKey[]): unknown {
  let node = root;
  for (const key of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}
