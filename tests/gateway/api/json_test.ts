/**
 * `readJson`: a request body read through a zod schema on a real loopback
 * server — the parsed value when it fits, 400 "the body must be JSON" for
 * what is not JSON, and 400 with one problem per field (named, with what was
 * expected and what came) when it does not fit.
 */
import { Hono } from "hono";
import { z } from "zod";
import { readJson } from "../../../mod/gateway/api/json.ts";
import { assert, assertEquals } from "../../support/assert.ts";
import { postJson, serveApp } from "../../support/gateway_parts.ts";

const schema = z.object({
  name: z.string().min(1),
  count: z.number().int(),
  tags: z.array(z.string()).optional(),
});

function app(): Hono {
  const app = new Hono();
  app.post("/echo", async (c) => {
    const body = await readJson(c, schema);
    if (!body.ok) return body.response;
    return c.json({ received: body.value });
  });
  return app;
}

Deno.test("readJson: a fitting body is parsed; unknown fields are dropped", async () => {
  const served = serveApp(app());
  try {
    const { status, body } = await postJson(`${served.url}/echo`, {
      name: "x",
      count: 3,
      tags: ["a"],
      extra: true,
    });
    assertEquals(status, 200);
    assertEquals(body, { received: { name: "x", count: 3, tags: ["a"] } });
  } finally {
    await served.stop();
  }
});

Deno.test("readJson: a body that is not JSON is a 400 with no field problems", async () => {
  const served = serveApp(app());
  try {
    for (const text of ["{not json", "", "name=x"]) {
      const { status, body } = await postJson(`${served.url}/echo`, text);
      assertEquals(status, 400, text);
      assertEquals(body, { error: "the body must be JSON", problems: [] });
    }
  } finally {
    await served.stop();
  }
});

Deno.test("readJson: each missing or mistyped field is a problem naming it", async (t) => {
  const served = serveApp(app());
  try {
    await t.step("one missing field", async () => {
      const { status, body } = await postJson(`${served.url}/echo`, {
        count: 1,
      });
      assertEquals(status, 400);
      assertEquals(body.problems, ["name: expected string, got nothing"]);
      assertEquals(body.error, "name: expected string, got nothing");
    });
    await t.step("two problems, joined in `error`", async () => {
      const { status, body } = await postJson(`${served.url}/echo`, {
        name: 5,
        count: "three",
      });
      assertEquals(status, 400);
      const problems = body.problems as string[];
      assertEquals(problems.length, 2);
      assert(problems.some((p) => p.startsWith("name: expected string")));
      assert(
        problems.includes('count: expected number, got string "three"'),
        problems.join("\n"),
      );
      assertEquals(body.error, problems.join("; "));
    });
    await t.step("a nested path is written as in the docs", async () => {
      const { status, body } = await postJson(`${served.url}/echo`, {
        name: "x",
        count: 1,
        tags: ["ok", 7],
      });
      assertEquals(status, 400);
      assertEquals(body.problems, ["tags[1]: expected string, got number 7"]);
    });
    await t.step("JSON that is not an object", async () => {
      const { status, body } = await postJson(`${served.url}/echo`, [1, 2]);
      assertEquals(status, 400);
      assertEquals(body.problems, [
        "(top level): expected object, got a list ([1,2])",
      ]);
    });
  } finally {
    await served.stop();
  }
});
