/**
 * JSON request bodies: a guard that bounds their size and insists on
 * `Content-Type: application/json` for every state-changing request (so no
 * other site can send one from a browser without a CORS preflight, which the
 * gateway never grants), and reading one through a zod schema with a 400
 * naming each field that does not fit, or saying the JSON is nested too deep
 * (decided on the text before it is parsed; see `util/json_depth.ts`).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { z } from "zod";
import { parseJson } from "../../util/json_depth.ts";
import { formatIssues } from "../../util/zod_issues.ts";

/** The request body, validated; or the 400 response to return. */
export async function readJson<T extends z.ZodType>(
  c: Context,
  schema: T,
): Promise<
  { ok: true; value: z.infer<T> } | { ok: false; response: Response }
> {
  let text: string;
  try {
    text = await c.req.text();
  } catch {
    return {
      ok: false,
      response: c.json({ error: "the body must be JSON", problems: [] }, 400),
    };
  }
  // Depth is decided on the text: nothing recursive sees a too-deep body.
  const parsed = parseJson(text);
  if (!parsed.ok) {
    const response = parsed.reason === "too-deep"
      ? c.json({ error: parsed.error, problems: [parsed.error] }, 400)
      : c.json({ error: "the body must be JSON", problems: [] }, 400);
    return { ok: false, response };
  }
  const body = parsed.value;
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  const problems = formatIssues(result.error.issues, body);
  return {
    ok: false,
    response: c.json({ error: problems.join("; "), problems }, 400),
  };
}

/** The largest JSON body accepted. */
export const MAX_JSON_BODY = 64 * 1024;

/**
 * Middleware for API routes: POST bodies must be JSON (415 otherwise) and at
 * most {@linkcode MAX_JSON_BODY} bytes (413 otherwise).
 */
export function jsonOnly(): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: MAX_JSON_BODY,
    onError: (c) =>
      c.json({ error: `the body is larger than ${MAX_JSON_BODY} bytes` }, 413),
  });
  return async (c, next) => {
    if (c.req.method !== "POST") return await next();
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      return c.json(
        { error: "the body must be sent as application/json" },
        415,
      );
    }
    return await limit(c, next);
  };
}
