/**
 * Sessions outlive the processes that serve them, with real `webstream
 * -backend` processes, real Xvfb sessions (as real pool users when root),
 * real streamers and real apps:
 *
 * - a streamer killed with SIGKILL is restarted in its session: the same
 *   sessionUuid, the same Xvfb, the app still running, and a viewer with a
 *   fresh `/getConnection` token reaches it;
 * - a host killed with SIGKILL leaves its sessions running; started again,
 *   it takes them back (the streamer reconnects with `RESUME_SESSION`, a
 *   viewer that stayed connected is still counted), they answer
 *   `/getConnection` as reconnects, a session whose streamer died while
 *   the host was down gets a new streamer, and an adopted session whose
 *   display dies is recycled;
 * - a session whose display died while the host was down is recycled when
 *   the host starts, with a log line, and the rest of it is ended;
 * - a session whose host stays gone past `orphanTimeout` ends itself: its
 *   Xvfb, app and streamer are gone.
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { writeTestConfig } from "../support/config.ts";
import {
  connectionOf,
  getConnection,
  pingStreamer,
} from "../support/host_client.ts";
import { liveProcesses, type ProcInfo } from "../support/proc.ts";
import { streamerPid } from "../support/pool_users.ts";
import { waitFor } from "../support/wait.ts";
import {
  type LogRecord,
  startWebstream,
  type WebstreamProcess,
} from "../support/webstream_process.ts";
import { helloAndPing, openSocket, type TestSocket } from "../support/ws.ts";

const SECRET = "survival-secret-for-tests";
/** The apps the tests start (`sleep N`), told apart by their argument. */
const APPS = ["3601", "3602", "3603", "3604"];

/** True while `pid` runs (not a zombie). */
async function alive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return false;
  }
}

/**
 * The live process whose command line is `argv` (the program compared by
 * its base name: it is started by its full path), if any.
 */
async function processOf(argv: string[]): Promise<ProcInfo | undefined> {
  const base = (a: string) => a.slice(a.lastIndexOf("/") + 1);
  return (await liveProcesses()).find((p) =>
    p.argv.length === argv.length &&
    p.argv.every((a, i) => (i ? a : base(a)) === argv[i])
  );
}

/** The Xvfb of `account`'s session under `runtime`. */
async function xvfbOf(
  runtime: string,
  account: string,
): Promise<ProcInfo | undefined> {
  const auth = `${runtime}/sessions/${account}/Xauthority`;
  return (await liveProcesses()).find((p) =>
    /Xvfb$/.test(p.argv[0] ?? "") && p.argv.includes(auth)
  );
}

/**
 * Kills a host with SIGKILL, by its own PID, and waits until it is gone.
 * (Its output pipes stay open while its orphaned streamers write to them,
 * so the helper's `status` is not awaited here.)
 */
async function crash(host: WebstreamProcess): Promise<void> {
  Deno.kill(host.pid, "SIGKILL");
  await waitFor(async () => !(await alive(host.pid)), {
    what: "the host to die",
  });
}

/** The host's live sessions, as the gateway asks for them. */
async function liveSessions(
  port: number,
): Promise<
  { sessionUuid: string; sessionId: string; clientConnected: boolean }[]
> {
  const response = await fetch(`http://127.0.0.1:${port}/sessions`, {
    headers: { Authorization: `Bearer ${SECRET}` },
  });
  assertEquals(response.status, 200);
  return (await response.json()).sessions;
}

/** `/getConnection` for `sessionId` (with this test's secret), answered 200. */
async function connect(
  port: number,
  sessionId: string,
  headers: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  return await connectionOf(
    await getConnection(port, sessionId, { secret: SECRET, headers }),
  );
}

/** Opens a viewer on the streamer a `/getConnection` answer names. */
async function viewer(
  connection: Record<string, unknown>,
): Promise<TestSocket> {
  const ws = await openSocket(
    `ws://${connection.host}:${connection.port}${connection.path}?token=${
      encodeURIComponent(String(connection.token))
    }`,
  );
  const hello = await helloAndPing(ws);
  assertEquals(hello.sessionUuid, connection.sessionUuid);
  return ws;
}

/**
 * The pool account modes to run each test in: real pool users (root only)
 * and this process's own user, whose sessions are told apart by their
 * Xauthority file rather than by a uid.
 */
const MODES = Deno.uid() === 0 ? ["system", "current"] : ["current"];

/** A test's configuration, hosts and cleanup. */
async function rig(mode: string, settings: Record<string, unknown> = {}) {
  const cfg = await writeTestConfig({
    slots: 1,
    backend: { sharedSecret: SECRET },
    settings: {
      poolAccounts: mode,
      warmSessionCount: 0,
      reconnectGracePeriod: 120,
      ...settings,
    },
  });
  const runtime = `${cfg.dir}/runtime`;
  const account = `${cfg.username}01`;
  const hosts: WebstreamProcess[] = [];
  const start = async (): Promise<WebstreamProcess> => {
    const host = startWebstream(["-backend", "-config", cfg.path]);
    hosts.push(host);
    await waitFor(
      async () => {
        const r = await fetch(`http://127.0.0.1:${cfg.httpPort}/health`)
          .catch(() => undefined);
        const body = await r?.json().catch(() => undefined);
        return body?.status === "healthy";
      },
      { what: "a healthy host" },
    );
    return host;
  };
  /** Ends the last host (SIGTERM logs every session off), then leftovers. */
  const stop = async (): Promise<void> => {
    const last = hosts.at(-1);
    if (last && await alive(last.pid)) await last.stop("SIGTERM");
    for (const host of hosts) {
      if (await alive(host.pid)) Deno.kill(host.pid, "SIGKILL");
    }
    // Whatever a failed step left of this test's sessions, by PID.
    for (const p of await liveProcesses()) {
      const ours = p.argv.some((a) => a.includes(runtime)) ||
        (p.argv.includes("streamer") &&
          p.argv[p.argv.indexOf("-port") + 1] === String(cfg.base + 10)) ||
        (/(^|\/)sleep$/.test(p.argv[0] ?? "") && APPS.includes(p.argv[1]));
      if (ours) Deno.kill(p.pid, "SIGKILL");
    }
    await cfg.remove();
  };
  /** Every host's log records so far, in order of hosts. */
  const logs = (): LogRecord[] => hosts.flatMap((h) => h.logs);
  return { cfg, runtime, account, start, stop, logs, hosts };
}

for (const mode of MODES) {
  Deno.test({
    name:
      `a killed streamer is restarted in its session and reached again (${mode} accounts)`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const r = await rig(mode);
      try {
        const host = await r.start();
        const port = r.cfg.httpPort;
        const before = await connect(port, "keep-me", {
          "X-App-Command": "sleep 3601",
        });
        const app = await waitFor(() => processOf(["sleep", "3601"]), {
          what: "the app",
        });
        const xvfb = (await xvfbOf(r.runtime, r.account))!;
        assert(xvfb, "the session's Xvfb");
        const old = await streamerPid(Number(before.port));
        await pingStreamer(before);

        Deno.kill(old, "SIGKILL");
        await host.waitForLog((l) =>
          l.msg === "streamer restarted in its session" &&
          l.sessionId === "keep-me"
        );
        const after = await connect(port, "keep-me");
        assertEquals(after.sessionUuid, before.sessionUuid);
        assertEquals(after.reconnect, true);
        assertEquals(after.port, before.port);
        await pingStreamer(after);
        assert(await streamerPid(Number(after.port)) !== old, "a new streamer");
        assertEquals((await xvfbOf(r.runtime, r.account))?.pid, xvfb.pid);
        assert(await alive(app.pid), "the app runs on");
        assertEquals((await liveSessions(port)).map((s) => s.sessionUuid), [
          before.sessionUuid,
        ]);
        assert(
          !host.logs.some((l) => l.msg === "recycling session"),
          "nothing was recycled",
        );
      } finally {
        await r.stop();
      }
    },
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `a host killed with SIGKILL takes its sessions back when it starts again (${mode} accounts)`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn(t) {
      const r = await rig(mode);
      try {
        const port = r.cfg.httpPort;
        const first = await r.start();
        const before = await connect(port, "survivor", {
          "X-App-Command": "sleep 3602",
        });
        const app = await waitFor(() => processOf(["sleep", "3602"]), {
          what: "the app",
        });
        const xvfb = (await xvfbOf(r.runtime, r.account))!;
        assert(xvfb, "the session's Xvfb");
        const streamer = await streamerPid(Number(before.port));
        const watching = await viewer(before);
        let viewerClosed = false;
        watching.closed.then(() => viewerClosed = true);

        await t.step("the session outlives the host's SIGKILL", async () => {
          await crash(first);
          // The streamer noticed, and keeps serving while it reconnects.
          await first.waitForLog((l) =>
            l.msg === "control channel lost; reconnecting"
          );
          for (const pid of [xvfb.pid, app.pid, streamer]) {
            assert(await alive(pid), `process ${pid} survived the host`);
          }
          assert(!viewerClosed, "the viewer is still connected");
        });

        await t.step("started again, the host re-adopts it", async () => {
          const second = await r.start();
          const adopted = await second.waitForLog((l) =>
            l.msg === "re-adopted session"
          );
          assertEquals(adopted.sessionId, "survivor");
          assertEquals(adopted.sessionUuid, before.sessionUuid);
          assertEquals(adopted.streamerAlive, true);
          await second.waitForLog((l) =>
            l.msg === "streamer resumed its session"
          );
          // The viewer that stayed is counted once the streamer says so.
          await waitFor(
            async () => (await liveSessions(port))[0]?.clientConnected === true,
            {
              what: "the viewer to be counted",
            },
          );
          assert(!viewerClosed, "the viewer stayed connected throughout");
          const again = await connect(port, "survivor");
          assertEquals(again.sessionUuid, before.sessionUuid);
          assertEquals(again.reconnect, true);
          await pingStreamer(again);
          assertEquals((await xvfbOf(r.runtime, r.account))?.pid, xvfb.pid);
          assertEquals(await streamerPid(Number(again.port)), streamer);
          assert(await alive(app.pid), "the app runs on");
          assert(
            !second.logs.some((l) => l.msg === "recycling session"),
            "nothing was recycled",
          );
          await watching.close();
        });

        await t.step(
          "a streamer that died while the host was down is replaced",
          async () => {
            await crash(r.hosts.at(-1)!);
            Deno.kill(streamer, "SIGKILL");
            await waitFor(async () => !(await alive(streamer)), {
              what: "the streamer to die",
            });
            const third = await r.start();
            const adopted = await third.waitForLog((l) =>
              l.msg === "re-adopted session"
            );
            assertEquals(adopted.streamerAlive, false);
            await third.waitForLog((l) =>
              l.msg === "streamer restarted in its session" &&
              l.sessionId === "survivor"
            );
            const again = await connect(port, "survivor");
            assertEquals(again.sessionUuid, before.sessionUuid);
            assertEquals(again.reconnect, true);
            await pingStreamer(again);
            assertEquals((await xvfbOf(r.runtime, r.account))?.pid, xvfb.pid);
            assert(await alive(app.pid), "the app runs on");
          },
        );

        await t.step(
          "an adopted session whose display dies is recycled",
          async () => {
            const host = r.hosts.at(-1)!;
            Deno.kill(xvfb.pid, "SIGKILL");
            const recycled = await host.waitForLog((l) =>
              l.msg === "recycling session" && l.sessionId === "survivor"
            );
            assertMatch(String(recycled.reason), /display :\d+ exited/);
            await waitFor(async () => !(await alive(app.pid)), {
              what: "the app to end with its session",
            });
            assertEquals(await liveSessions(port), []);
            const status = await host.stop("SIGTERM");
            assertEquals(status.code, 0);
          },
        );
      } finally {
        await r.stop();
      }
    },
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `a session whose display died while the host was down is recycled at start (${mode} accounts)`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const r = await rig(mode);
      try {
        const port = r.cfg.httpPort;
        const first = await r.start();
        const before = await connect(port, "doomed", {
          "X-App-Command": "sleep 3603",
        });
        const app = await waitFor(() => processOf(["sleep", "3603"]), {
          what: "the app",
        });
        const xvfb = (await xvfbOf(r.runtime, r.account))!;
        const streamer = await streamerPid(Number(before.port));
        await crash(first);
        Deno.kill(xvfb.pid, "SIGKILL");
        await waitFor(async () => !(await alive(xvfb.pid)), {
          what: "Xvfb to die",
        });

        const second = await r.start();
        const recycled = await second.waitForLog((l) =>
          l.msg === "recycling session" && l.sessionId === "doomed"
        );
        assertMatch(
          String(recycled.reason),
          /not taken back after a restart: display :\d+ has exited/,
        );
        assertEquals(recycled.sessionUuid, before.sessionUuid);
        // What was left of the session is ended with it.
        await waitFor(
          async () => !(await alive(streamer)) && !(await alive(app.pid)),
          { what: "the streamer and the app to end" },
        );
        assertEquals(await liveSessions(port), []);
        const fresh = await connect(port, "doomed");
        assertEquals(fresh.reconnect, false);
        assert(fresh.sessionUuid !== before.sessionUuid, "a new session");
        await pingStreamer(fresh);
      } finally {
        await r.stop();
      }
    },
  });
}

for (const mode of MODES) {
  Deno.test({
    name:
      `a session whose host stays gone past orphanTimeout ends itself (${mode} accounts)`,
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const r = await rig(mode, { orphanTimeout: 3 });
      try {
        const first = await r.start();
        const before = await connect(r.cfg.httpPort, "orphan", {
          "X-App-Command": "sleep 3604",
        });
        const app = await waitFor(() => processOf(["sleep", "3604"]), {
          what: "the app",
        });
        const xvfb = (await xvfbOf(r.runtime, r.account))!;
        const streamer = await streamerPid(Number(before.port));
        await crash(first);
        await waitFor(
          async () =>
            !(await alive(xvfb.pid)) && !(await alive(app.pid)) &&
            !(await alive(streamer)),
          { what: "the orphaned session to end itself" },
        );
        const stopping = await first.waitForLog((l) =>
          l.msg === "streamer stopping"
        );
        assertMatch(String(stopping.reason), /orphaned/);
        // Its last line: written before it exited, read from the pipe since.
        await first.waitForLog((l) =>
          l.msg === "ended the session's processes"
        );
        // The next run finds the display gone and cleans up after it.
        const second = await r.start();
        await second.waitForLog((l) =>
          l.msg === "recycling session" && l.sessionId === "orphan"
        );
      } finally {
        await r.stop();
      }
    },
  });
}
