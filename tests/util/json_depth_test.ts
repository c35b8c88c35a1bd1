/**
 * Tests for `mod/util/json_depth.ts`: the depth scan counts `[` and `{`
 * outside strings only (brackets in strings, escaped quotes and backslashes
 * do not count), stops early once past its bound, and `parseJson` refuses a
 * body nested deeper than the bound unparsed, refuses what is not JSON, and
 * parses the rest.
 *
 * @module
 */
import {
  jsonDepth,
  MAX_JSON_DEPTH,
  parseJson,
} from "../../mod/util/json_depth.ts";
import { assertEquals } from "../support/assert.ts";

/** `[` × n then `]` × n. */
const nestedLists = (n: number) => "[".repeat(n) + "]".repeat(n);
/** `{"a":` × n around 1. */
const nestedObjects = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);

Deno.test("jsonDepth: scalars are 0, each array or object one level", () => {
  assertEquals(jsonDepth("1"), 0);
  assertEquals(jsonDepth('"text"'), 0);
  assertEquals(jsonDepth("null"), 0);
  assertEquals(jsonDepth("[]"), 1);
  assertEquals(jsonDepth("{}"), 1);
  assertEquals(jsonDepth('{"a":[1,{"b":2}],"c":[]}'), 3);
  // The deepest branch counts, not the sum of siblings.
  assertEquals(jsonDepth("[[1],[2],[[3]]]"), 3);
  assertEquals(jsonDepth(nestedLists(3000)), 3000);
  assertEquals(jsonDepth(nestedObjects(3000)), 3000);
});

Deno.test("jsonDepth: brackets inside strings do not count", () => {
  assertEquals(jsonDepth('{"name":"[[[[{{{{"}'), 1);
  assertEquals(jsonDepth('["]]]]", "[[[["]'), 1);
  assertEquals(jsonDepth(`"${"[".repeat(5000)}"`), 0);
  // A key may hold brackets too.
  assertEquals(jsonDepth('{"[[[":{"{{{":1}}'), 2);
});

Deno.test("jsonDepth: escapes in strings are honoured", () => {
  // An escaped quote does not end the string: the brackets after it are text.
  assertEquals(jsonDepth('["a\\"[[[[", 1]'), 1);
  // An escaped backslash does: the quote after it closes the string.
  assertEquals(jsonDepth('["a\\\\", [[1]]]'), 3);
  // Many backslashes: even count, the string ends; odd, it goes on.
  assertEquals(jsonDepth('["\\\\\\\\", [1]]'), 2);
  assertEquals(jsonDepth('["\\\\\\"[[", [1]]'), 2);
  // \u escapes are plain text to the scan.
  assertEquals(jsonDepth('["\\u005b\\u007b", 1]'), 1);
  // The scan agrees with what JSON.parse reads.
  for (
    const text of [
      '["a\\"[[[[", 1]',
      '["a\\\\", [[1]]]',
      '["\\\\\\"[[", [1]]',
    ]
  ) {
    JSON.parse(text);
  }
});

Deno.test("jsonDepth: stops once past the bound", () => {
  assertEquals(jsonDepth(nestedLists(3000), 64), 65);
  assertEquals(jsonDepth(nestedLists(64), 64), 64);
  // Text after the stop is never read, well formed or not.
  assertEquals(jsonDepth("[".repeat(65) + "garbage", 64), 65);
});

Deno.test("parseJson: too deep is refused unparsed, with the bound named", () => {
  assertEquals(MAX_JSON_DEPTH, 64);
  for (const text of [nestedLists(3000), nestedObjects(3000)]) {
    assertEquals(parseJson(text), {
      ok: false,
      reason: "too-deep",
      error: "JSON nested deeper than 64 levels",
    });
  }
  // Refused before parsing: a too-deep prefix of text that is not JSON.
  assertEquals(parseJson("[".repeat(65) + "not json").ok, false);
  assertEquals(
    (parseJson("[".repeat(65) + "not json") as { reason: string }).reason,
    "too-deep",
  );
  assertEquals(parseJson(nestedLists(4), { maxDepth: 3 }), {
    ok: false,
    reason: "too-deep",
    error: "JSON nested deeper than 3 levels",
  });
});

Deno.test("parseJson: up to the bound is parsed as JSON.parse would", () => {
  const atLimit = nestedLists(64);
  assertEquals(parseJson(atLimit), { ok: true, value: JSON.parse(atLimit) });
  const body = { user: "alice", password: 'p[{]}"\\', tags: [["a"], []] };
  assertEquals(parseJson(JSON.stringify(body)), { ok: true, value: body });
  assertEquals(parseJson("3"), { ok: true, value: 3 });
});

Deno.test("parseJson: what is not JSON is refused with the parser's reason", () => {
  for (const text of ["", "{not json", "[1,]", "name=x"]) {
    const result = parseJson(text);
    assertEquals(result.ok, false, text);
    if (result.ok) continue;
    assertEquals(result.reason, "invalid", text);
    assertEquals(result.error.startsWith("not valid JSON ("), true, text);
  }
});
