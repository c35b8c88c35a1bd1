/**
 * JSON from outside, bounded in depth before anything walks it: a body of a
 * few kilobytes can nest arrays thousands deep, and the validators and error
 * formatters that walk a parsed value recursively would overflow the stack
 * (a 500 instead of a 400). A flat scan over the text decides first, so a
 * too-deep body is never parsed at all.
 *
 * @module
 */

/** The deepest nesting of arrays and objects accepted from outside. */
export const MAX_JSON_DEPTH = 64;

/**
 * The deepest nesting of arrays and objects in `text`, counting `[` and `{`
 * outside strings (`[]` is 1, `{"a":[1]}` is 2). The scan stops as soon as
 * the depth passes `stopAbove`. It does not validate: JSON that is not well
 * formed gets some count, and `JSON.parse` refuses it afterwards.
 */
export function jsonDepth(text: string, stopAbove = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Options for {@linkcode parseJson}. */
export interface ParseJsonOptions {
  /** The deepest nesting accepted. Default {@linkcode MAX_JSON_DEPTH}. */
  maxDepth?: number;
}

/** What {@linkcode parseJson} found. */
export type ParsedJson =
  | { ok: true; value: unknown }
  | { ok: false; reason: "too-deep" | "invalid"; error: string };

/**
 * Parses JSON from outside: refused unparsed when nested deeper than
 * `maxDepth` (`JSON nested deeper than 64 levels`), or when it is not JSON
 * (`not valid JSON (…)`).
 */
export function parseJson(
  text: string,
  options: ParseJsonOptions = {},
): ParsedJson {
  const max = options.maxDepth ?? MAX_JSON_DEPTH;
  if (jsonDepth(text, max) > max) {
    return {
      ok: false,
      reason: "too-deep",
      error: `JSON nested deeper than ${max} levels`,
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return {
      ok: false,
      reason: "invalid",
      error: `not valid JSON (${(error as Error).message})`,
    };
  }
}
