/**
 * Reading a JSON request body through a zod schema: 400 with one line per
 * problem (the field named) when it does not fit.
 *
 * @module
 */
import type { Context } from "hono";
import type { z } from "zod";
import { formatIssues } from "../../util/zod_issues.ts";

/** The request body, validated; or the 400 response to return. */
export async function readJson<T extends z.ZodType>(
  c: Context,
  schema: T,
): Promise<
  { ok: true; value: z.infer<T> } | { ok: false; response: Response }
> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    return {
      ok: false,
      response: c.json({ error: "the body must be JSON", problems: [] }, 400),
    };
  }
  const result = schema.safeParse(body);
  if (result.success) return { ok: true, value: result.data };
  const problems = formatIssues(result.error.issues, body);
  return {
    ok: false,
    response: c.json({ error: problems.join("; "), problems }, 400),
  };
}
