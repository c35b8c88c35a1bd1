/**
 * Tests for `mod/streamer/session.ts` with a recording control link: before
 * `SESSION_INFO` nothing is armed; the identity starts the viewer endpoint
 * and opens the screen (before any viewer; tried again by a viewer if it
 * could not be);
 * tokens for this session are armed (and answered with `TOKEN_ARMED`),
 * those for another are ignored; a port that is taken closes the control
 * channel with 4011; an upload nobody waits for is logged; a download with
 * no viewer, from `webstream download` or the watched Downloads folder, is
 * refused saying why. Taken back by its session manager after a drop, the
 * session says whether a viewer is there; `SESSION_IN_USE` (a streamer
 * restarted in a bound session) starts its licence check-ins without any
 * token. On a real screen (Xvfb): an app that closes tells the tabs showing
 * it (`APP_CLOSED`, then 4001), a tab of it that comes later, and the
 * manager, once; a tab of another app goes on; started again, it is served
 * and told again; an app that cannot start is closed at once.
 *
 * @module
 */
import { SessionSound } from "../../mod/streamer/session_sound.ts";
import type { StreamerMessage } from "../../mod/control/codec.ts";
import { hashToken } from "../../mod/control/token_hash.ts";
import {
  openSessionDevices,
  type SessionClipboard,
  sessionDevices,
} from "../../mod/devices/mod.ts";
import { Apps } from "../../mod/streamer/apps.ts";
import { StreamerSession } from "../../mod/streamer/session.ts";
import { SessionMetrics } from "../../mod/streamer/session_metrics.ts";
import { SessionReporting } from "../../mod/streamer/session_reporting.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { runDownload } from "../../mod/streamer/download_command.ts";
import { captureLogs } from "../support/log.ts";
import { recordingGateway } from "../support/recording_gateway.ts";
import { freePort } from "../support/ports.ts";
import { nextStreamerMessage, openSocket, sendClient } from "../support/ws.ts";
import { withXvfb } from "../support/x11_draw.ts";
import { waitFor } from "../support/wait.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";
const OTHER = "00000000-0000-4000-8000-000000000000";

/** A session on `port` whose screen cannot be opened, and what it sent. */
function harness(
  port: number,
  options: {
    folders?: { downloads?: string; print?: string };
    gatewayUrl?: string;
  } = {},
) {
  const { folders = {}, gatewayUrl } = options;
  const { logger, records } = captureLogs();
  const sent: StreamerMessage[] = [];
  const closes: [number, string][] = [];
  const metrics = new SessionMetrics();
  let screenOpens = 0;
  const devices = sessionDevices({
    close: () => {},
  } as unknown as SessionClipboard, () => {
    screenOpens++;
    throw new Error("no screen in this test");
  });
  const session = new StreamerSession({
    bind: "127.0.0.1",
    port,
    control: {
      send: (message) => void sent.push(message),
      close: (code, reason) => void closes.push([code, reason]),
    },
    devices,
    apps: new Apps({ logger }),
    reporting: new SessionReporting({
      gateway: gatewayUrl
        ? { gatewayUrl, serverUrl: "http://127.0.0.1:9005" }
        : undefined,
      sample: () => metrics.sample([]),
      onRefused: () => {},
      logger,
    }),
    metrics,
    sound: new SessionSound({ server: undefined, logger }),
    videoAvailable: false,
    folders,
    logger,
  });
  return { session, sent, closes, records, screenOpens: () => screenOpens };
}

Deno.test("the session arms tokens for itself once identified", async () => {
  const port = freePort();
  const { session, sent, records, screenOpens } = harness(port);
  const { handlers } = session;
  const tokenHash = await hashToken("token-one");
  try {
    // Not identified yet: nothing is armed.
    handlers.CONNECTION_TOKEN({
      type: "CONNECTION_TOKEN",
      sessionUuid: UUID,
      tokenHash,
      ttlSeconds: 60,
    });
    assertEquals(sent, []);
    assertEquals(session.identified, false);

    handlers.SESSION_INFO({
      type: "SESSION_INFO",
      sessionUuid: UUID,
      commandLineParams: "",
    });
    assert(session.identified);
    await waitFor(() => records.some((r) => r.msg === "streamer listening"));
    // The screen is opened as soon as the session is identified (before
    // any viewer); that it cannot be is a warning, not the end.
    assertEquals(screenOpens(), 1);
    assert(
      records.some((r) =>
        r.msg === "the screen cannot be opened yet" && r.level === "warn"
      ),
    );

    // Settings that do not parse: logged, the restrictive policy applies.
    handlers.VIEWER_SETTINGS({
      type: "VIEWER_SETTINGS",
      sessionUuid: UUID,
      settings: "{",
    });
    assert(records.some((r) => r.level === "error"));
    // Another session's token is ignored; ours is armed.
    for (const sessionUuid of [OTHER, UUID]) {
      handlers.CONNECTION_TOKEN({
        type: "CONNECTION_TOKEN",
        sessionUuid,
        tokenHash,
        ttlSeconds: 60,
      });
    }
    assertEquals(sent, [{ type: "TOKEN_ARMED", tokenHash }]);
    // The token is redeemed by a viewer (whose screen then fails: 4011).
    const ws = await openSocket(
      `ws://127.0.0.1:${port}/stream?token=token-one`,
    );
    assertEquals((await ws.closed).code, 4011);
    assertEquals([...session.viewers], []);
    assertEquals(screenOpens(), 2, "the viewer tried the screen again");

    handlers.FILE_UPLOAD_COMPLETE({
      type: "FILE_UPLOAD_COMPLETE",
      dialogGuid: crypto.randomUUID(),
      filePath: "/tmp/nothing",
    });
    assert(records.some((r) => r.msg === "no dialog waits for this upload"));
  } finally {
    await session.close();
  }
});

Deno.test("a session whose port is taken closes the control channel", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { session, closes, records } = harness(blocker.addr.port);
  try {
    session.handlers.SESSION_INFO({
      type: "SESSION_INFO",
      sessionUuid: UUID,
      commandLineParams: "/bin/true",
    });
    assertEquals(closes, [[4011, "streamer cannot listen"]]);
    assert(session.identified);
    assert(records.some((r) => r.msg === "cannot listen"));
    assert(!records.some((r) => r.msg === "app started"));
  } finally {
    await session.close();
    blocker.close();
  }
});

Deno.test("without a viewer, downloads are refused saying why", async () => {
  await withTempDir(async (dir) => {
    const port = freePort();
    const { session, records } = harness(port, {
      folders: { downloads: `${dir}/Downloads` },
    });
    try {
      session.handlers.SESSION_INFO({
        type: "SESSION_INFO",
        sessionUuid: UUID,
        commandLineParams: "",
      });
      await Deno.writeTextFile(`${dir}/a.txt`, "abc");
      assertEquals(
        await session.download({ path: `${dir}/a.txt`, kind: "file" }),
        { ok: false, error: "no browser is connected to this session" },
      );
      const refusals = () =>
        records.filter((r) =>
          r.msg === "download refused" &&
          r.reason === "no browser is connected to this session"
        ).length;
      assertEquals(refusals(), 1);
      // The watched folder was made, and what lands there is tried.
      await Deno.writeTextFile(`${dir}/Downloads/b.txt`, "b");
      await waitFor(() => refusals() === 2, {
        what: "the folder's file to be refused",
      });
      // webstream download reaches this session's socket.
      const socket = Deno.env.get("XDG_RUNTIME_DIR") ?? Deno.env.get("HOME");
      const result = await runDownload(`${dir}/a.txt`, {
        path: `${socket}/webstream-download.sock`,
      });
      assertEquals(result, {
        code: 1,
        text: "no browser is connected to this session",
      });
    } finally {
      await session.close();
    }
  });
});

Deno.test("resumed: the manager hears whether a viewer is there; SESSION_IN_USE checks in", async () => {
  const gateway = recordingGateway();
  const { session, sent, records } = harness(freePort(), {
    gatewayUrl: gateway.url,
  });
  try {
    session.resumed(); // not identified: nothing to say
    session.handlers.SESSION_IN_USE({
      type: "SESSION_IN_USE",
      sessionUuid: UUID,
    });
    assertEquals(sent, []);
    session.handlers.SESSION_INFO({
      type: "SESSION_INFO",
      sessionUuid: UUID,
      commandLineParams: "",
    });
    await waitFor(() => records.some((r) => r.msg === "streamer listening"));
    assertEquals(session.sessionUuid, UUID);
    session.resumed();
    assertEquals(sent, [{ type: "CLIENT_DISCONNECTED", sessionUuid: UUID }]);
    // Another session's notice is ignored; this one's starts check-ins.
    session.handlers.SESSION_IN_USE({
      type: "SESSION_IN_USE",
      sessionUuid: OTHER,
    });
    session.handlers.SESSION_IN_USE({
      type: "SESSION_IN_USE",
      sessionUuid: UUID,
    });
    const checkin = await waitFor(() =>
      gateway.seen.find((s) => s.path === "/gateway/licence/checkin")
    );
    assertEquals(checkin.body.sessionUuid, UUID);
    assert(!gateway.seen.some((s) => s.body.sessionUuid === OTHER));
  } finally {
    await session.close();
    await gateway.stop();
  }
});

Deno.test({
  name:
    "an app that closes tells the tabs showing it and the manager; it may start again",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 640, height: 480 }, async (x) => {
      const { logger, records } = captureLogs();
      const sent: StreamerMessage[] = [];
      const port = freePort();
      const metrics = new SessionMetrics();
      const devices = openSessionDevices({ display: x.display });
      // Wired as the streamer wires it (mod/streamer/mod.ts).
      const apps: Apps = new Apps({
        logger,
        onExited: (app) => {
          if (!apps.runs(app.command)) session.appClosed(app.command);
        },
      });
      const session: StreamerSession = new StreamerSession({
        bind: "127.0.0.1",
        port,
        control: { send: (m) => void sent.push(m), close: () => {} },
        devices,
        apps,
        reporting: new SessionReporting({
          sample: () => metrics.sample([]),
          onRefused: () => {},
          logger,
        }),
        metrics,
        sound: new SessionSound({ server: undefined, logger }),
        videoAvailable: false,
        folders: {},
        logger,
      });
      const { handlers } = session;
      const editor = "sleep 1000001";
      const terminal = "sleep 1000002";
      /** A viewer of `app` (shadowing, so tabs coexist). */
      const viewer = async (app: string, appName?: string) => {
        const token = crypto.randomUUID();
        handlers.VIEWER_SETTINGS({
          type: "VIEWER_SETTINGS",
          sessionUuid: UUID,
          settings: JSON.stringify({
            policy: {
              clipboard: "none",
              fileUpload: false,
              fileDownload: false,
              printing: false,
              shadowing: true,
            },
            app,
            appName,
          }),
        });
        handlers.CONNECTION_TOKEN({
          type: "CONNECTION_TOKEN",
          sessionUuid: UUID,
          tokenHash: await hashToken(token),
          ttlSeconds: 60,
        });
        return await openSocket(`ws://127.0.0.1:${port}/stream?token=${token}`);
      };
      const start = (command: string) =>
        handlers.SESSION_INFO({
          type: "SESSION_INFO",
          sessionUuid: UUID,
          commandLineParams: command,
        });
      // An app starts once the window manager is up: wait for it to run.
      const pidOf = async (command: string) =>
        (await waitFor(() => apps.list().find((a) => a.command === command), {
          what: `${command} running`,
        })).pid;
      const appClosedSent = () =>
        sent.filter((m) => m.type === "APP_CLOSED").map((m) =>
          m.type === "APP_CLOSED" ? m.commandLineParams : ""
        );
      try {
        start("");
        await waitFor(() =>
          records.some((r) => r.msg === "streamer listening")
        );
        start(editor);
        start(terminal);
        const editorTab = await viewer(editor, "Text Editor");
        const terminalTab = await viewer(terminal);
        await nextStreamerMessage(editorTab, "hello");
        await nextStreamerMessage(terminalTab, "hello");

        // Not started here: nothing happens.
        session.appClosed("sleep 999");
        assertEquals(appClosedSent(), []);

        Deno.kill(await pidOf(editor), "SIGTERM");
        const closed = await nextStreamerMessage(editorTab, "appClosed");
        assertEquals(closed.closed, { name: "Text Editor" });
        const end = await editorTab.closed;
        assertEquals([end.code, end.reason], [4001, "the app closed"]);
        assertEquals(appClosedSent(), [editor]);
        // The other tab goes on.
        sendClient(terminalTab, { type: "ping", id: 7 });
        assertEquals((await nextStreamerMessage(terminalTab, "pong")).id, 7);
        // Told once (a second trigger is ignored).
        session.appClosed(editor);
        assertEquals(appClosedSent(), [editor]);

        // A tab of the closed app that comes later is told at once, named
        // by its program when the launch gave no name.
        const late = await viewer(editor);
        assertEquals(
          (await nextStreamerMessage(late, "appClosed")).closed.name,
          "sleep",
        );
        assertEquals((await late.closed).code, 4001);

        // Started again: its new tab is served, and told again.
        start(editor);
        const again = await viewer(editor, "Text Editor");
        await nextStreamerMessage(again, "hello");
        Deno.kill(await pidOf(editor), "SIGTERM");
        await nextStreamerMessage(again, "appClosed");
        assertEquals(appClosedSent(), [editor, editor]);

        // An app that cannot start is closed at once (once the window
        // manager for the apps is up).
        start("/nonexistent/webstream-app");
        await waitFor(
          () => appClosedSent().at(-1) === "/nonexistent/webstream-app",
          { what: "APP_CLOSED for an app that cannot start" },
        );
        await terminalTab.close();
      } finally {
        apps.stopAll();
        await session.close();
        devices.close();
      }
    }),
});
