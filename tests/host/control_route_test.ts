/**
 * The `/control` route: plain HTTP gets 426, a non-loopback peer 403, and a
 * local WebSocket is handed to the control protocol with its real peer
 * address (which the peer check receives).
 */
import { Hono } from "hono";
import type { StreamerDirectory } from "../../mod/control/mod.ts";
import { controlHandler } from "../../mod/host/control_route.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { assertEquals } from "../support/assert.ts";
import { openSocket } from "../support/ws.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";

Deno.test("/control: 426 without upgrade, 403 from afar, the protocol locally", async () => {
  const peers: string[] = [];
  const directory: StreamerDirectory = {
    attach: () => ({
      ok: true,
      reply: { type: "SESSION_INFO", sessionUuid: UUID, commandLineParams: "" },
    }),
    message: () => {},
    detach: () => {},
  };
  const app = new Hono();
  app.get(
    "/control",
    controlHandler({
      directory,
      logger: createLogger({ sink: () => {} }),
      verifyPeer: (_user, peer) => {
        peers.push(`${peer.hostname}:${peer.port}`);
        return Promise.resolve(true);
      },
    }),
  );
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, app.fetch);
  try {
    const plain = await fetch(`http://127.0.0.1:${server.addr.port}/control`);
    assertEquals(plain.status, 426);
    await plain.body?.cancel();
    const remote = await app.fetch(
      new Request("http://h/control", { headers: { upgrade: "websocket" } }),
      { remoteAddr: { transport: "tcp", hostname: "192.0.2.10", port: 4000 } },
    );
    assertEquals(remote.status, 403);
    const ws = await openSocket(`ws://127.0.0.1:${server.addr.port}/control`);
    ws.socket.send("REQUEST_SESSION_INFO:webs01");
    assertEquals(await ws.next(), `SESSION_INFO:${UUID}|`);
    assertEquals(peers.length, 1);
    assertEquals(peers[0].startsWith("127.0.0.1:"), true);
    await ws.close();
  } finally {
    await server.shutdown();
  }
});
