/**
 * A probe run as its own process (for instance inside another network
 * namespace, where the test itself cannot connect): waits until the session
 * manager at `Deno.args[0]` (its `/getConnection` base URL) is healthy with a
 * ready slot, asks it for a session,
 * opens the streamer's WebSocket through the manager's relay, and prints one
 * JSON line `{ status, sessionUuid, hello }` (`hello` is the sessionUuid the
 * streamer greets with), or `{ error }`.
 *
 * @module
 */
import { helloAndPing, openSocket } from "./ws.ts";

if (import.meta.main) {
  const base = Deno.args[0];
  try {
    // The manager may still be starting: wait (bounded) for a ready slot.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const health = await fetch(`${base}/health`).then(
        (r) => r.json(),
        () => undefined,
      );
      if (health?.status === "healthy" && health.sessions.available > 0) break;
      if (Date.now() > deadline) throw new Error("no ready session in 60 s");
      await new Promise((r) => setTimeout(r, 200));
    }
    const response = await fetch(`${base}/getConnection`, {
      headers: { "X-Session-ID": "probe" },
    });
    const body = await response.json();
    if (response.status !== 200) {
      console.log(JSON.stringify({ status: response.status, body }));
    } else {
      const host = new URL(base).hostname;
      const ws = await openSocket(
        `ws://${host}:${body.relay.port}${body.relay.path}?token=${
          encodeURIComponent(body.token)
        }`,
      );
      const hello = await helloAndPing(ws);
      await ws.close();
      console.log(JSON.stringify({
        status: response.status,
        sessionUuid: body.sessionUuid,
        hello: hello.sessionUuid,
      }));
    }
  } catch (error) {
    console.log(JSON.stringify({ error: String(error) }));
  }
}
