/**
 * `poolAccounts: current` (what a host runs with when it is not root): no
 * OS accounts are created, every slot runs as this user in its own home
 * under the runtime directory, and the session flow works end to end.
 */
import { assertEquals } from "../support/assert.ts";
import { writeTestConfig } from "../support/config.ts";
import { poolUsers, streamerPid } from "../support/pool_users.ts";
import { nextStreamerMessage, openSocket } from "../support/ws.ts";
import { waitFor } from "../support/wait.ts";
import { startWebstream } from "../support/webstream_process.ts";

Deno.test({
  name: "current-user pool: sessions run as this user with per-slot homes",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cfg = await writeTestConfig({
      slots: 1,
      settings: { poolAccounts: "current", reconnectGracePeriod: 1 },
    });
    const host = startWebstream(["-backend", "-config", cfg.path]);
    try {
      const base = `http://127.0.0.1:${cfg.httpPort}`;
      // Healthy first: while the pool starts, its free slots are counted
      // available but launches are refused.
      await waitFor(async () => {
        const health = await (await fetch(`${base}/health`)).json();
        return health.status === "healthy" && health.sessions.available === 1;
      });
      assertEquals(
        await poolUsers(cfg.username),
        [],
        "no OS account is created",
      );
      const response = await fetch(`${base}/getConnection`, {
        headers: {
          "X-Session-ID": "me",
          "X-App-Command": `/bin/sh -c 'echo "$HOME" > "$HOME/where"'`,
        },
      });
      const body = await response.json();
      assertEquals(response.status, 200, JSON.stringify(body));
      const home = `${cfg.dir}/runtime/homes/${cfg.username}01`;
      const where = await waitFor(() =>
        Deno.readTextFile(`${home}/where`).catch(() => "")
      );
      assertEquals(where.trim(), home);
      const pid = await streamerPid(body.port);
      const status = await Deno.readTextFile(`/proc/${pid}/status`);
      assertEquals(Number(status.match(/^Uid:\s+(\d+)/m)?.[1]), Deno.uid());
      const ws = await openSocket(
        `ws://127.0.0.1:${body.port}/stream?token=${
          encodeURIComponent(body.token)
        }`,
      );
      assertEquals(
        (await nextStreamerMessage(ws, "hello")).hello.sessionUuid,
        body.sessionUuid,
      );
      await ws.close();
      // Grace period over: recycled, and the home is rebuilt without the file.
      await host.waitForLog((r) =>
        r.msg === "recycling session" && r.sessionId === "me"
      );
      await waitFor(
        () => Deno.stat(`${home}/where`).then(() => false, () => true),
        {
          what: "the home to be reset",
        },
      );
    } finally {
      const status = await host.stop();
      await cfg.remove();
      assertEquals(status.code, 0);
    }
  },
});
