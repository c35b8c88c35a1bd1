/**
 * `readJson`: a request body read through a zod schema on a real loopback
 * server — the parsed value when it fits, 400 "the body must be JSON" for
 * what is not JSON, and 400 with one problem per field (named, with what was
 * expected and what came) when it does not fit, and 400 "JSON nested deeper
 * than 64 levels" for a body nested deeper, before it is parsed. `jsonOnly`: POSTs that are
 * not `application/json` are a 415, bodies over 64 KiB (with a length or
 * streamed) a 413, other methods pass.
 */
import { Hono } from "hono";
import { z } from "zod";
import {
  jsonOnly,
  MAX_JSON_BODY,
  readJson,
} from "../../../mod/gateway/api/json.ts";
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

Deno.test("readJson: JSON nested deeper than 64 levels is a 400 saying so", async () => {
  const served = serveApp(app());
  try {
    const message = "JSON nested deeper than 64 levels";
    for (
      const text of [
        "[".repeat(3000) + "]".repeat(3000),
        '{"name":"x","count":1,"tags":' + "[".repeat(3000) + "]".repeat(3000) +
        "}",
      ]
    ) {
      const { status, body } = await postJson(`${served.url}/echo`, text);
      assertEquals(status, 400);
      assertEquals(body, { error: message, problems: [message] });
    }
    // 64 deep is read (and then judged by the schema).
    const { status, body } = await postJson(
      `${served.url}/echo`,
      '{"name":"x","count":1,"tags":' + "[".repeat(63) + "]".repeat(63) + "}",
    );
    assertEquals(status, 400);
    const problems = body.problems as string[];
    assertEquals(problems.length, 1);
    assert(problems[0].startsWith("tags[0]: expected string, got a list"));
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

/** An app with `jsonOnly()` in front of an echo and a GET. */
function guarded(): Hono {
  const app = new Hono();
  app.use("*", jsonOnly());
  app.post(
    "/echo",
    async (c) => c.json({ length: (await c.req.text()).length }),
  );
  app.get("/page", (c) => c.text("a page"));
  return app;
}

Deno.test("jsonOnly: POSTs must be application/json", async () => {
  const served = serveApp(guarded());
  try {
    for (
      const type of [
        null,
        "text/plain",
        "text/json",
        "application/json-patch+json",
      ]
    ) {
      const response = await fetch(`${served.url}/echo`, {
        method: "POST",
        headers: type ? { "Content-Type": type } : {},
        body: "{}",
      });
      assertEquals(response.status, 415, String(type));
      assertEquals(await response.json(), {
        error: "the body must be sent as application/json",
      });
    }
    const ok = await postJson(`${served.url}/echo`, { a: 1 });
    assertEquals(ok.status, 200);
    assertEquals(ok.body, { length: 7 });
    // Other methods pass untouched.
    const page = await fetch(`${served.url}/page`);
    assertEquals(await page.text(), "a page");
  } finally {
    await served.stop();
  }
});

Deno.test("jsonOnly: a body over MAX_JSON_BODY is a 413, streamed or not", async () => {
  const served = serveApp(guarded());
  try {
    assertEquals(MAX_JSON_BODY, 64 * 1024);
    const exact = await postJson(
      `${served.url}/echo`,
      "x".repeat(MAX_JSON_BODY),
    );
    assertEquals(exact.body, { length: MAX_JSON_BODY });
    const over = await postJson(
      `${served.url}/echo`,
      "x".repeat(MAX_JSON_BODY + 1),
    );
    assertEquals(over.status, 413);
    assertEquals(over.body, { error: "the body is larger than 65536 bytes" });
    // Without a Content-Length (chunked), the count is kept as it streams.
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const response = await fetch(`${served.url}/echo`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: new ReadableStream({
        pull(controller) {
          if (sent++ < 5) controller.enqueue(chunk);
          else controller.close();
        },
      }),
    });
    assertEquals(response.status, 413);
    await response.body?.cancel();
  } finally {
    await served.stop();
  }
});
