/**
 * A real `webstream -backend` process against a recording fake gateway:
 * registration, heartbeats, `/getConnection` to a streamer answering in a
 * real Xvfb session, reconnect, exhaustion, recycle, a killed streamer
 * (restarted in the same session), bad input, and unregister on SIGTERM.
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
} from "../support/assert.ts";
import { writeTestConfig } from "../support/config.ts";
import {
  HEARTBEAT_KEYS,
  REGISTER_KEYS,
  startFakeGateway,
} from "../support/fake_gateway.ts";
import {
  connectionOf,
  getConnection as askHost,
  type GetConnectionInit,
  pingStreamer,
} from "../support/host_client.ts";
import { openSocket } from "../support/ws.ts";
import { waitFor } from "../support/wait.ts";
import { startWebstream } from "../support/webstream_process.ts";
import {
  poolUserProcesses,
  poolUsers,
  shadowHash,
  streamerPid,
} from "../support/pool_users.ts";

const ROOT = Deno.uid() === 0;
const SECRET = "s3cret-for-tests";

/** `/getConnection` with this test's secret unless `init.secret` differs. */
function getConnection(
  port: number,
  sessionId: string | null,
  init: GetConnectionInit = {},
): Promise<Response> {
  const secret = init.secret === undefined ? SECRET : init.secret;
  return askHost(port, sessionId, { ...init, secret });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return await response.json();
}

Deno.test({
  name:
    "backend: registers, serves sessions from real Xvfb sessions, recycles, unregisters",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const gateway = startFakeGateway({ secret: SECRET });
    const cfg = await writeTestConfig({
      slots: 2,
      backend: {
        gatewayUrl: gateway.url,
        sharedSecret: SECRET,
        capabilities: ["autocad-2025"],
        instanceType: "m7i.large",
      },
      settings: { reconnectGracePeriod: 3 },
    });
    const host = startWebstream([
      "-backend",
      "-config",
      cfg.path,
      "-tags",
      "gpu,autocad",
    ]);
    const port = cfg.httpPort;
    try {
      await t.step(
        "registers after its self-check with the seed's payload",
        async () => {
          const register = await waitFor(() => gateway.of("register")[0], {
            what: "register",
          });
          assertEquals(
            register.headers.get("authorization"),
            `Bearer ${SECRET}`,
          );
          const body = register.body;
          assertEquals(Object.keys(body).sort(), REGISTER_KEYS);
          assertEquals(body.serverUrl, `http://127.0.0.1:${port}`);
          assertEquals(body.maxSessions, 2);
          assertEquals(body.instanceType, "m7i.large");
          assertEquals(body.ec2InstanceId, "unknown");
          assertEquals(body.tags, ["gpu", "autocad"]);
          assert((body.capabilities as string[]).includes("autocad-2025"));
          assert((body.capabilities as string[]).includes("xvfb"));
          assertMatch(String(body.version), /^\d+\.\d+\.\d+/);
          // The host logs it once the gateway's answer is in.
          await waitFor(
            () => host.logs.some((r) => r.msg === "registered with gateway"),
            { what: "the host's registered log line" },
          );
        },
      );

      await t.step(
        "heartbeats at the configured interval with live figures",
        async () => {
          await waitFor(() => gateway.of("heartbeat").length >= 3, {
            what: "3 heartbeats",
          });
          const beats = gateway.of("heartbeat");
          for (const beat of beats) {
            assertEquals(Object.keys(beat.body).sort(), HEARTBEAT_KEYS);
            assert(typeof beat.body.cpuUsage === "number");
            const memory = beat.body.memoryUsage as number;
            assert(memory > 0 && memory <= 100, `memoryUsage ${memory}`);
            assert(!Number.isNaN(Date.parse(String(beat.body.timestamp))));
          }
          // Never faster than configured (1 s); a slow machine may be slower.
          for (let i = 1; i < beats.length; i++) {
            assertGreater(beats[i].at - beats[i - 1].at, 800);
          }
        },
      );

      await t.step(
        "re-registers when a heartbeat is answered 404",
        async () => {
          const before = gateway.of("register").length;
          gateway.forget();
          await waitFor(() => gateway.of("register").length > before, {
            what: "a second register",
          });
        },
      );

      let first: Record<string, unknown> = {};
      await t.step(
        "/getConnection reaches a streamer in a real Xvfb session",
        async () => {
          await waitFor(async () => {
            const r = await fetch(`http://127.0.0.1:${port}/health`);
            const h = await r.json();
            return h.status === "healthy" && h.sessions.available === 2;
          }, { what: "healthy pool" });
          const response = await getConnection(port, "session-a", {
            query: "?width=1280&height=720",
            headers: {
              "X-Workspace-ID": "desk",
              "X-Workspace-Type": "desktop",
              "X-Policy-JSON": JSON.stringify({ clipboard: "none" }),
            },
          });
          assertEquals(response.status, 200);
          assertEquals(response.headers.get("cache-control"), "no-store");
          first = await json(response);
          assertEquals(first.sessionId, "session-a");
          assertEquals(first.host, "127.0.0.1");
          assertEquals(first.port, cfg.base + 10 * Number(first.slot));
          assertEquals(first.username, `${cfg.username}0${first.slot}`);
          assertEquals(first.reconnect, false);
          await pingStreamer(first);
          if (ROOT) {
            const users = await poolUsers(cfg.username);
            const streamers = await poolUserProcesses(users, /streamer/);
            assert(
              streamers.some((p) => p.user === first.username),
              "the streamer runs as its pool user",
            );
          }
        },
      );

      await t.step("a token is good for one connection only", async () => {
        const reuse =
          `ws://127.0.0.1:${first.port}/stream?token=${first.token}`;
        let failed = false;
        await openSocket(reuse).catch(() => failed = true);
        assert(failed, "a used token was accepted again");
      });

      await t.step(
        "the same X-Session-ID reconnects to the same session",
        async () => {
          const again = await json(await getConnection(port, "session-a"));
          assertEquals(again.sessionUuid, first.sessionUuid);
          assertEquals(again.reconnect, true);
          assert(again.token !== first.token);
          await pingStreamer(again);
        },
      );

      await t.step(
        "an exhausted pool answers 503 with Retry-After",
        async () => {
          const second = await getConnection(port, "session-b");
          assertEquals(second.status, 200);
          const other = await json(second);
          assert(other.sessionUuid !== first.sessionUuid);
          const third = await getConnection(port, "session-c");
          assertEquals(third.status, 503);
          assertMatch(third.headers.get("retry-after") ?? "", /^\d+$/);
          await third.body?.cancel();
          const health = await json(
            await fetch(`http://127.0.0.1:${port}/health`),
          );
          assertEquals(health.sessions, { total: 2, active: 2, available: 0 });
        },
      );

      await t.step(
        "bad input gets a 400 or 401 naming the problem",
        async () => {
          const cases: [Response, number, RegExp][] = [
            [
              await getConnection(port, null),
              400,
              /X-Session-ID header is required/,
            ],
            [
              await getConnection(port, "x", { secret: null }),
              401,
              /shared secret/,
            ],
            [
              await getConnection(port, "x", { secret: "wrong-secret" }),
              401,
              /shared secret/,
            ],
            [await getConnection(port, "bad id!"), 400, /X-Session-ID/],
            [
              await getConnection(port, "x", { query: "?width=abc" }),
              400,
              /width/,
            ],
            [
              await getConnection(port, "x", { query: "?height=99999" }),
              400,
              /height/,
            ],
            [
              await getConnection(port, "x", {
                headers: { "X-Policy-JSON": "{nope" },
              }),
              400,
              /X-Policy-JSON: not valid JSON/,
            ],
            [
              await getConnection(port, "x", {
                headers: {
                  "X-Policy-JSON": JSON.stringify({ clipboard: "all" }),
                },
              }),
              400,
              /X-Policy-JSON\.clipboard/,
            ],
            [
              await getConnection(port, "x", {
                headers: { "X-Workspace-Type": "tablet" },
              }),
              400,
              /X-Workspace-Type/,
            ],
          ];
          for (const [response, status, pattern] of cases) {
            const body = await json(response);
            assertEquals(response.status, status, JSON.stringify(body));
            assertMatch(String(body.error), pattern);
          }
          // The sessions are untouched.
          await pingStreamer(
            await json(await getConnection(port, "session-a")),
          );
        },
      );

      await t.step(
        "the control channel turns away malformed and impostor streamers",
        async () => {
          const control = `ws://127.0.0.1:${port}/control`;
          const attempts = [
            "garbage",
            "SESSION_INFO:00000000-0000-0000-0000-000000000000|x",
            "REQUEST_SESSION_INFO:nosuchuser",
            "REQUEST_SESSION_INFO:bad name",
            "TOKEN_ARMED:" + "a".repeat(64),
          ];
          if (ROOT) attempts.push(`REQUEST_SESSION_INFO:${first.username}`);
          for (const text of attempts) {
            const ws = await openSocket(control);
            ws.socket.send(text);
            const closed = await ws.closed;
            assertEquals(closed.code, 1008, `${text} → ${closed.reason}`);
          }
          await pingStreamer(
            await json(await getConnection(port, "session-a")),
          );
        },
      );

      await t.step(
        "a killed streamer is restarted in its session",
        async () => {
          const before = await json(await getConnection(port, "session-b"));
          const pid = await streamerPid(Number(before.port));
          Deno.kill(pid, "SIGKILL");
          await host.waitForLog((r) =>
            r.msg === "streamer restarted in its session" &&
            r.sessionId === "session-b"
          );
          const after = await json(await getConnection(port, "session-b"));
          assertEquals(after.sessionUuid, before.sessionUuid);
          assertEquals(after.reconnect, true);
          assert((await streamerPid(Number(after.port))) !== pid);
          await pingStreamer(after);
          assert(
            !host.logs.some((r) =>
              r.msg === "recycling session" && r.sessionId === "session-b"
            ),
            "the session was not recycled",
          );
        },
      );

      await t.step(
        "recycle ends the app and resets the pool user's files",
        async () => {
          await waitFor(async () => {
            const h = await json(
              await fetch(`http://127.0.0.1:${port}/health`),
            );
            return (h.sessions as { available: number }).available >= 1;
          }, { what: "a free slot" });
          const response = await getConnection(port, "session-d", {
            headers: {
              "X-App-Command":
                `/bin/sh -c 'echo hello > "$HOME/marker" && echo x > /tmp/wst-marker-$USER && sleep 600'`,
            },
          });
          const d = await connectionOf(response);
          const account = String(d.username);
          const home = ROOT
            ? (await poolUsers(account))[0].home
            : `${cfg.dir}/runtime/homes/${account}`;
          await waitFor(() => Deno.readTextFile(`${home}/marker`), {
            what: "the app's file",
          });
          const before = ROOT ? await shadowHash(account) : undefined;
          const users = await poolUsers(account);
          if (ROOT) {
            await waitFor(
              async () =>
                (await poolUserProcesses(users, /^sleep 600/)).length === 1,
              {
                what: "the app running as the pool user",
              },
            );
          }
          // No viewer connects: the grace period runs out and the slot is recycled.
          await host.waitForLog((r) =>
            r.msg === "recycling session" && r.sessionId === "session-d"
          );
          await waitFor(async () => {
            try {
              await Deno.stat(`${home}/marker`);
              return false;
            } catch {
              return true;
            }
          }, { what: "the marker to go" });
          if (ROOT) {
            await waitFor(async () => (await shadowHash(account)) !== before, {
              what: "a rotated password",
            });
            assertEquals(
              (await poolUserProcesses(users)).filter((p) =>
                !/streamer|Xvfb/.test(p.cmdline)
              ),
              [],
            );
            let leftover = true;
            await Deno.stat(`/tmp/wst-marker-${account}`).catch(() =>
              leftover = false
            );
            assert(!leftover, "the pool user's /tmp file survived the recycle");
          }
        },
      );

      await t.step(
        "a session without a viewer is recycled after the grace period",
        async () => {
          await host.waitForLog((r) =>
            r.msg === "recycling session" && r.sessionId === "session-a"
          );
          const fresh = await connectionOf(
            await getConnection(port, "session-a"),
          );
          assertEquals(
            fresh.reconnect,
            false,
            "a recycled session is not reused",
          );
          assert(fresh.sessionUuid !== first.sessionUuid);
        },
      );
    } finally {
      const status = await host.stop("SIGTERM");
      await gateway.stop();
      await cfg.remove();
      await t.step(
        "SIGTERM unregisters, ends every session and exits 0",
        async () => {
          assertEquals(status.code, 0);
          const unregister = gateway.of("unregister");
          assertEquals(unregister.length, 1);
          assertEquals(unregister[0].body, {
            serverUrl: `http://127.0.0.1:${port}`,
          });
          if (ROOT) assertEquals(await poolUsers(cfg.username), []);
        },
      );
    }
  },
});
