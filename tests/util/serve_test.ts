/** Stopping servers with a bound, including one a stuck upgrade keeps open. */
import { stopServer } from "../../mod/util/serve.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("an idle server stops gracefully", async () => {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, () => new Response("ok"));
  await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text();
  assertEquals(await stopServer(server), true);
});

Deno.test("a server held open by an abandoned WebSocket handshake stops within the bound", async () => {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, async (req) => {
    await new Promise((r) => setTimeout(r, 200));
    return Deno.upgradeWebSocket(req).response;
  });
  const client = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`);
  client.onerror = () => {};
  await new Promise((r) => setTimeout(r, 50));
  client.close();
  await new Promise((r) => setTimeout(r, 300));
  assertEquals(await stopServer(server, { timeoutMs: 300 }), false);
});
