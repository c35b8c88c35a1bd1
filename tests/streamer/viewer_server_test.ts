/**
 * Tests for `mod/streamer/viewer_server.ts` over real loopback sockets:
 * only `/stream` upgrades with an armed token are served (each token once);
 * a viewer whose context cannot be made is closed with 4011; on a real
 * screen (Xvfb), a viewer without shadowing replaces the others, one whose
 * policy allows shadowing joins them, and the server says when the first
 * viewer came and the last one left.
 *
 * @module
 */
import { hashToken } from "../../mod/control/token_hash.ts";
import {
  openSessionDevices,
  type SessionDevices,
} from "../../mod/devices/mod.ts";
import { SharedCapture } from "../../mod/streamer/shared_capture.ts";
import { TokenStore } from "../../mod/streamer/token_store.ts";
import type { ViewerContext } from "../../mod/streamer/viewer.ts";
import {
  serveViewers,
  type ViewerServer,
} from "../../mod/streamer/viewer_server.ts";
import type { ViewerSettings } from "../../mod/streamer/viewer_settings.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { freePort } from "../support/ports.ts";
import { nextStreamerMessage, openSocket, refused } from "../support/ws.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";

function settings(shadowing: boolean): ViewerSettings {
  return {
    policy: {
      clipboard: "none",
      fileUpload: false,
      fileDownload: false,
      printing: false,
      shadowing,
      audio: false,
      videoMaxKbps: 0,
      downloadMaxBytes: 2 ** 30,
      maxPixelRatio: 2,
    },
  };
}

interface Harness {
  server: ViewerServer;
  tokens: TokenStore<ViewerSettings>;
  events: string[];
  url(token?: string): string;
  arm(token: string, settings?: ViewerSettings): Promise<void>;
}

/** A viewer server on a free port whose viewers get `context()`. */
function start(context: () => Omit<ViewerContext, "encoder">): Harness {
  const port = freePort();
  const tokens = new TokenStore<ViewerSettings>();
  const events: string[] = [];
  const server = serveViewers({
    bind: "127.0.0.1",
    port,
    tokens,
    context,
    onConnected: () => events.push("connected"),
    onDisconnected: () => events.push("disconnected"),
    logger: captureLogs().logger,
  });
  return {
    server,
    tokens,
    events,
    url: (token) =>
      `ws://127.0.0.1:${port}/stream${token ? `?token=${token}` : ""}`,
    arm: async (token, value) => tokens.arm(await hashToken(token), 60, value),
  };
}

Deno.test("only /stream upgrades with an armed token are served; no screen is 4011", async () => {
  const h = start(() => {
    throw new Error("no screen here");
  });
  try {
    const http = h.url().replace("ws:", "http:");
    const other = await fetch(http.replace("/stream", "/other"));
    assertEquals(other.status, 404);
    await other.body?.cancel();
    const plain = await fetch(`${http}?token=x`);
    assertEquals(plain.status, 426);
    await plain.body?.cancel();
    assert(await refused(h.url()));
    assert(await refused(h.url("guess")));

    await h.arm("once");
    const ws = await openSocket(h.url("once"));
    const closed = await ws.closed;
    assertEquals(closed.code, 4011);
    assertEquals(closed.reason, "the session's screen is unavailable");
    assert(await refused(h.url("once")), "a token is good once");
    assertEquals(h.events, [], "a viewer that never started is no event");
  } finally {
    await h.server.close();
  }
});

/** What the viewers work with on `devices`' real screen (one capture). */
function screenContext(
  devices: SessionDevices,
): Omit<ViewerContext, "encoder"> {
  const screen = devices.screen();
  return {
    sessionUuid: UUID,
    screen,
    captures: new SharedCapture(screen.capture),
    clipboard: devices.clipboard,
    logger: captureLogs().logger,
    onInput: () => {},
    onUpload: () => {},
    onLanded: () => {},
    videoAvailable: false,
  };
}

Deno.test({
  name: "one viewer replaces the others unless its policy allows shadowing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 640, height: 480 }, async (x) => {
      const devices = openSessionDevices({ display: x.display });
      const context = screenContext(devices);
      const h = start(() => context);
      try {
        await h.arm("first", settings(false));
        const first = await openSocket(h.url("first"));
        await nextStreamerMessage(first, "hello");
        // Shadowing: the first viewer stays.
        await h.arm("shadow", settings(true));
        const shadow = await openSocket(h.url("shadow"));
        await nextStreamerMessage(shadow, "hello");
        await waitFor(() => h.server.viewers.size === 2, {
          what: "two viewers",
        });
        // No shadowing, or no settings (restrictive): the others go.
        await h.arm("last");
        const last = await openSocket(h.url("last"));
        assertEquals((await first.closed).code, 4000);
        assertEquals((await shadow.closed).code, 4000);
        await nextStreamerMessage(last, "hello");
        await waitFor(() => h.server.viewers.size === 1, {
          what: "one viewer",
        });
        assertEquals(h.events.filter((e) => e === "connected").length, 3);
        // (The replaced viewers' closes may race the new one's start: the
        // server may have been empty for a moment.)
        await last.close();
        await waitFor(() => h.server.viewers.size === 0, { what: "no viewer" });
        assertEquals(h.events.at(-1), "disconnected");
      } finally {
        await h.server.close();
        devices.close();
      }
    }),
});

Deno.test({
  name:
    "each app's tab is a viewer of its own: a new one replaces only its app's",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 640, height: 480 }, async (x) => {
      const devices = openSessionDevices({ display: x.display });
      const context = screenContext(devices);
      const h = start(() => context);
      const of = (app: string) => ({ ...settings(false), app });
      try {
        await h.arm("red", of("xterm -bg red"));
        const red = await openSocket(h.url("red"));
        await nextStreamerMessage(red, "hello");
        await h.arm("blue", of("xterm -bg blue"));
        const blue = await openSocket(h.url("blue"));
        await nextStreamerMessage(blue, "hello");
        await waitFor(() => h.server.viewers.size === 2, {
          what: "both apps' viewers",
        });
        // The red tab reconnects: its old viewer goes, the blue one stays.
        await h.arm("red again", of("xterm -bg red"));
        const again = await openSocket(h.url("red again"));
        assertEquals((await red.closed).code, 4000);
        await nextStreamerMessage(again, "hello");
        await waitFor(() => h.server.viewers.size === 2, {
          what: "the new red viewer beside the blue one",
        });
        assertEquals(blue.socket.readyState, WebSocket.OPEN);
        await again.close();
        await blue.close();
        await waitFor(() => h.server.viewers.size === 0, { what: "no viewer" });
      } finally {
        await h.server.close();
        devices.close();
      }
    }),
});
