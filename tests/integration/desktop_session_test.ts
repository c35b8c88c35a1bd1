/**
 * A desktop session from a real `webstream -backend` (real Xvfb, real
 * streamer, real pool user as root): a desktop launch starts the desktop
 * shell in the session, so the screen has a window manager
 * (`_NET_SUPPORTING_WM_CHECK` on the root window), a panel (a
 * `_NET_WM_WINDOW_TYPE_DOCK` client) and is not blank; `none` leaves the
 * bare screen; `command` starts the command given; `xfce` (where installed) brings Xfce's; a shell the host
 * does not know is a 400 naming the header; the shell's processes end with
 * the session.
 */
import { assert, assertEquals, assertGreater } from "../support/assert.ts";
import { writeTestConfig } from "../support/config.ts";
import {
  desktopReady,
  displayOf,
  dockWindows,
  hasWindowManager,
  screenColours,
} from "../support/desktop_probe.ts";
import {
  connectionOf,
  getConnection,
  pingStreamer,
} from "../support/host_client.ts";
import {
  poolUserProcesses,
  poolUsers,
  streamerPid,
} from "../support/pool_users.ts";
import { descendants, type ProcInfo, stillRunning } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";
import { missingShellPrograms } from "../../mod/host/desktop_shell.ts";
import { startWebstream } from "../support/webstream_process.ts";

const SECRET = "desktop-test-secret";

function desktopHeaders(shell?: string): Record<string, string> {
  return {
    "X-Workspace-ID": "desktop",
    "X-Workspace-Type": "desktop",
    ...(shell ? { "X-Workspace-Shell": shell } : {}),
  };
}

Deno.test({
  name:
    "desktop session: the default shell brings a window manager, a panel and a background",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const cfg = await writeTestConfig({
      slots: 4,
      backend: { sharedSecret: SECRET },
      settings: { warmSessionCount: 4 },
    });
    // Debug level: the pool's "slot state" records tell when a slot is ready.
    const host = startWebstream(["-backend", "-config", cfg.path], {
      env: { WEBSTREAM_LOG_LEVEL: "debug" },
    });
    const port = cfg.httpPort;
    // The shell's processes, to see them end with the session.
    let shell: ProcInfo[] = [];
    try {
      await waitFor(async () => {
        const health = await fetch(`http://127.0.0.1:${port}/health`)
          .then((r) => r.json(), () => undefined);
        return health?.status === "healthy" &&
          host.logs.filter((r) => r.msg === "slot state" && r.to === "ready")
              .length >= 4;
      }, { what: "four ready sessions", timeoutMs: 60_000 });

      await t.step(
        "a shell the host does not know is refused by name",
        async () => {
          const response = await getConnection(port, "desktop-bad", {
            secret: SECRET,
            headers: desktopHeaders("kde"),
          });
          const body = await response.json();
          assertEquals(response.status, 400);
          assert(
            String(body.error).startsWith("X-Workspace-Shell: expected one of"),
            body.error,
          );
        },
      );

      let desktop: Record<string, unknown> = {};
      await t.step(
        "a desktop launch without a shell named gets the default: window manager and panel",
        async () => {
          desktop = await connectionOf(
            await getConnection(port, "desktop-1", {
              secret: SECRET,
              headers: desktopHeaders(),
            }),
          );
          await pingStreamer(desktop);
          const streamer = await streamerPid(Number(desktop.port));
          const access = await displayOf(streamer);
          await waitFor(() => desktopReady(access), {
            what: "a window manager and a panel on the desktop",
            timeoutMs: 30_000,
          });
          assert(await hasWindowManager(access));
          assertGreater((await dockWindows(access)).length, 0);
          // Panel text, icons and background: far more than a few colours.
          assertGreater(screenColours(access), 16);
          shell = (await descendants(streamer)).filter((p) =>
            /openbox|lxpanel|dbus-/.test(p.argv.join(" "))
          );
          assertGreater(shell.length, 2);
        },
      );

      await t.step("the shell runs as the pool user", async () => {
        if (Deno.uid() !== 0) return; // Every session is this user's then.
        const users = await poolUsers(cfg.username);
        const shell = await poolUserProcesses(users, /\b(openbox|lxpanel)\b/);
        assert(shell.length >= 2, JSON.stringify(shell));
        assert(shell.every((p) => p.user === desktop.username));
      });

      await t.step(
        "X-Workspace-Shell: none leaves the bare screen",
        async () => {
          const bare = await connectionOf(
            await getConnection(port, "desktop-2", {
              secret: SECRET,
              headers: desktopHeaders("none"),
            }),
          );
          await pingStreamer(bare);
          const streamer = await streamerPid(Number(bare.port));
          const access = await displayOf(streamer);
          // Give a shell, if one were wrongly started, the time to appear.
          await new Promise((r) => setTimeout(r, 1500));
          assertEquals(await hasWindowManager(access), false);
          assertEquals(screenColours(access), 1);
        },
      );

      await t.step(
        "X-Workspace-Shell: command starts X-Workspace-Shell-Command",
        async () => {
          const custom = await connectionOf(
            await getConnection(port, "desktop-4", {
              secret: SECRET,
              headers: {
                ...desktopHeaders("command"),
                "X-Workspace-Shell-Command": "openbox --sm-disable",
              },
            }),
          );
          await pingStreamer(custom);
          const streamer = await streamerPid(Number(custom.port));
          const access = await displayOf(streamer);
          await waitFor(() => hasWindowManager(access), {
            what: "openbox, started as the command",
            timeoutMs: 30_000,
          });
          // That command alone: a window manager, no panel.
          assertEquals(await dockWindows(access), []);
          const below = await descendants(streamer);
          const started = below.filter((p) =>
            /^(\S*\/)?openbox --sm-disable$/.test(p.argv.join(" "))
          );
          assertEquals(
            started.length,
            1,
            JSON.stringify(below.map((p) => p.argv)),
          );
          shell.push(...started);
        },
      );

      await t.step({
        name: "X-Workspace-Shell: xfce brings Xfce's window manager and panel",
        // Xfce is optional on hosts (not in .ci/run).
        ignore: (await missingShellPrograms("xfce")).length > 0,
        fn: async () => {
          const xfce = await connectionOf(
            await getConnection(port, "desktop-3", {
              secret: SECRET,
              headers: desktopHeaders("xfce"),
            }),
          );
          await pingStreamer(xfce);
          const streamer = await streamerPid(Number(xfce.port));
          const access = await displayOf(streamer);
          await waitFor(() => desktopReady(access), {
            what: "xfwm4 and xfce4-panel on the desktop",
            timeoutMs: 30_000,
          });
          const xfwm = (await descendants(streamer)).filter((p) =>
            /xfwm4|xfce4-panel/.test(p.argv.join(" "))
          );
          assertGreater(xfwm.length, 1);
          shell.push(...xfwm);
        },
      });
    } finally {
      const status = await host.stop("SIGTERM");
      await cfg.remove().catch(() => {});
      await t.step({
        name: "the shell ends with the session",
        // The shell never started when an earlier step failed.
        ignore: shell.length === 0,
        fn: async () => {
          assertEquals(status.code, 0);
          await waitFor(async () => {
            for (const p of shell) {
              if (await stillRunning(p.pid, p.argv)) return false;
            }
            return true;
          }, { what: "the shell's processes to end" });
        },
      });
    }
  },
});
