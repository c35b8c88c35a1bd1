/**
 * Tests for `mod/registration/gateway_post.ts`: the POST reaches
 * `/gateway/{path}` (one slash however the URL ends) as JSON, with the
 * shared secret when there is one and without `Authorization` otherwise.
 */
import { GatewayEndpoints } from "../../mod/registration/gateway_endpoints.ts";
import { postToGateway } from "../../mod/registration/gateway_post.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("posts JSON to /gateway/{path} with the shared secret", async () => {
  const seen: {
    path: string;
    auth: string | null;
    type: string | null;
    body: unknown;
  }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      seen.push({
        path: new URL(request.url).pathname,
        auth: request.headers.get("authorization"),
        type: request.headers.get("content-type"),
        body: await request.json(),
      });
      return Response.json({ ok: true });
    },
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const a = await postToGateway(
      { gateway: new GatewayEndpoints(`${base}/`), sharedSecret: "s3cret" },
      "sessionEnded",
      { body: { a: 1 }, timeoutMs: 5000 },
    );
    await a.body?.cancel();
    const b = await postToGateway(
      { gateway: new GatewayEndpoints(base) },
      "heartbeat",
      { body: [2], timeoutMs: 5000 },
    );
    await b.body?.cancel();
    assertEquals(seen, [
      {
        path: "/gateway/sessionEnded",
        auth: "Bearer s3cret",
        type: "application/json",
        body: { a: 1 },
      },
      {
        path: "/gateway/heartbeat",
        auth: null,
        type: "application/json",
        body: [2],
      },
    ]);
  } finally {
    await server.shutdown();
  }
});
