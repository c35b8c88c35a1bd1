/**
 * Tests for turning zod issues into one line each (`path: expected …, got
 * …`): path formatting including array indexes (`a[0].b`) and a prefix,
 * every issue kind the schemas produce, value descriptions and redaction of
 * values under secret-looking names.
 *
 * @module
 */
import { z } from "zod";
import {
  describeValue,
  formatIssues,
  formatPath,
} from "../../mod/util/zod_issues.ts";
import { assertEquals } from "../support/assert.ts";

/** The formatted issues of `input` against `schema`, which must refuse it. */
function lines(
  schema: z.ZodType,
  input: unknown,
  prefix?: string,
): string[] {
  const result = schema.safeParse(input);
  if (result.success) throw new Error("expected the input to be refused");
  return formatIssues(result.error.issues, input, { prefix });
}

Deno.test("formatPath", async (t) => {
  await t.step("dots between names, brackets for indexes", () => {
    assertEquals(formatPath(["a", 0, "b"]), "a[0].b");
    assertEquals(formatPath(["a", "b", 2, 3, "c"]), "a.b[2][3].c");
    assertEquals(
      formatPath(["gateway", "backend", "tags", 1]),
      "gateway.backend.tags[1]",
    );
  });
  await t.step("an index first", () => {
    assertEquals(formatPath([0, "b"]), "[0].b");
  });
  await t.step("the empty path is the top level", () => {
    assertEquals(formatPath([]), "(top level)");
  });
  await t.step("with a prefix", () => {
    assertEquals(formatPath([], "X-Policy-JSON"), "X-Policy-JSON");
    assertEquals(
      formatPath(["clipboard"], "X-Policy-JSON"),
      "X-Policy-JSON.clipboard",
    );
    assertEquals(formatPath([0, "a"], "P"), "P[0].a");
  });
});

Deno.test("describeValue", () => {
  assertEquals(describeValue(undefined), "nothing");
  assertEquals(describeValue(null), "null");
  assertEquals(describeValue(3), "number 3");
  assertEquals(describeValue(false), "boolean false");
  assertEquals(describeValue("x"), 'string "x"');
  assertEquals(describeValue([1, "a"]), 'a list ([1,"a"])');
  assertEquals(describeValue({ a: 1 }), "a mapping");
  const long = describeValue("y".repeat(100));
  assertEquals(long, `string "${"y".repeat(56)}…`);
});

Deno.test("formatIssues: wrong type names the path, the type and the value", () => {
  const schema = z.object({
    a: z.array(z.object({ b: z.number() })),
  });
  assertEquals(lines(schema, { a: [{ b: 1 }, { b: "x" }] }), [
    'a[1].b: expected number, got string "x"',
  ]);
  assertEquals(lines(schema, { a: [{}] }), [
    "a[0].b: expected number, got nothing",
  ]);
  assertEquals(lines(schema, { a: "no" }), [
    'a: expected array, got string "no"',
  ]);
});

Deno.test("formatIssues: a prefix goes in front of every path", () => {
  const schema = z.object({ clipboard: z.enum(["none", "both"]) }).strict();
  assertEquals(lines(schema, { clipboard: "up" }, "X-Policy-JSON"), [
    'X-Policy-JSON.clipboard: expected one of "none", "both", got string "up"',
  ]);
  assertEquals(lines(schema, [1], "X-Policy-JSON"), [
    "X-Policy-JSON: expected object, got a list ([1])",
  ]);
});

Deno.test("formatIssues: unknown properties, one or several", () => {
  const schema = z.object({ inner: z.object({}).strict() }).strict();
  assertEquals(lines(schema, { inner: {}, x: 1 }), [
    '(top level): unknown property "x"',
  ]);
  assertEquals(lines(schema, { inner: { p: 1, q: 2 } }), [
    'inner: unknown properties "p", "q"',
  ]);
  assertEquals(lines(schema, { inner: { p: 1 } }, "H"), [
    'H.inner: unknown property "p"',
  ]);
});

Deno.test("formatIssues: bounds of numbers, strings and lists", () => {
  const schema = z.object({
    n: z.number().gt(0).lte(10).optional(),
    m: z.number().min(1).max(5).optional(),
    s: z.string().min(8, "at least 8 characters").optional(),
    list: z.array(z.number()).min(2).max(3).optional(),
    one: z.array(z.number()).min(1).optional(),
  });
  assertEquals(lines(schema, { n: 0 }), [
    "n: expected a number > 0, got number 0",
  ]);
  assertEquals(lines(schema, { n: 11 }), [
    "n: expected a number ≤ 10, got number 11",
  ]);
  assertEquals(lines(schema, { m: 0 }), [
    "m: expected a number ≥ 1, got number 0",
  ]);
  assertEquals(lines(schema, { m: 6 }), [
    "m: expected a number ≤ 5, got number 6",
  ]);
  assertEquals(lines(schema, { s: "short" }), [
    's: expected at least 8 characters, got string "short"',
  ]);
  assertEquals(lines(schema, { list: [1] }), [
    "list: expected at least 2 entries, got a list ([1])",
  ]);
  assertEquals(lines(schema, { list: [1, 2, 3, 4] }), [
    "list: expected at most 3 entries, got a list ([1,2,3,4])",
  ]);
  assertEquals(lines(schema, { one: [] }), [
    "one: expected at least 1 entry, got a list ([])",
  ]);
});

Deno.test("formatIssues: custom issues keep their message", () => {
  const schema = z.object({ port: z.number() }).superRefine((v, ctx) => {
    ctx.addIssue({
      code: "custom",
      path: ["port"],
      message: `port ${v.port} is taken`,
    });
  });
  assertEquals(lines(schema, { port: 9010 }), ["port: port 9010 is taken"]);
});

Deno.test("formatIssues: a format check says what it wanted", () => {
  const schema = z.object({
    url: z.url({ protocol: /^https?$/, error: "an http(s) URL" }),
  });
  assertEquals(lines(schema, { url: "ftp://x" }), [
    'url: expected an http(s) URL, got string "ftp://x"',
  ]);
});

Deno.test("formatIssues: values under secret-looking names are redacted", () => {
  const schema = z.object({
    serverSessionPwd: z.string().min(8, "at least 8 characters"),
    sharedSecret: z.string(),
    nested: z.object({ password: z.string() }).optional(),
  });
  const out = lines(schema, {
    serverSessionPwd: "abc1234",
    sharedSecret: 99887766,
    nested: { password: ["x-secret-x"] },
  });
  assertEquals(out, [
    'serverSessionPwd: expected at least 8 characters, got string "[redacted]"',
    "sharedSecret: expected string, got number [redacted]",
    "nested.password: expected string, got a list ([redacted])",
  ]);
  for (const line of out) {
    for (const secret of ["abc1234", "99887766", "x-secret-x"]) {
      assertEquals(line.includes(secret), false, line);
    }
  }
});

Deno.test("formatIssues: several issues come out in order, one line each", () => {
  const schema = z.object({ a: z.number(), b: z.boolean() }).strict();
  assertEquals(lines(schema, { a: "1", b: "yes", c: 0 }), [
    'a: expected number, got string "1"',
    'b: expected boolean, got string "yes"',
    '(top level): unknown property "c"',
  ]);
});
