/**
 * The streamer against a control server played by the test, over real
 * loopback sockets: the handshake, token checks before anything is served,
 * one viewer at a time, viewer events reported on the control channel, apps
 * started from SESSION_INFO without webstream's own environment, and exit
 * when the control channel goes.
 */
import { hashToken } from "../../mod/control/mod.ts";
import { createLogger } from "../../mod/log/mod.ts";
import {
  runStreamer,
  type StreamerExit,
  type StreamerOptions,
} from "../../mod/streamer/mod.ts";
import { openSessionDevices } from "../../mod/devices/mod.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { freePort } from "../support/ports.ts";
import {
  nextStreamerMessage,
  openSocket,
  refused,
  sendClient,
  type TestSocket,
} from "../support/ws.ts";
import { withXvfb } from "../support/x11_draw.ts";
import { waitFor } from "../support/wait.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";
const logs: Record<string, unknown>[] = [];
const logger = createLogger({
  format: "json",
  sink: (l) => logs.push(JSON.parse(l)),
});

interface Harness {
  port: number;
  /** What the streamer sent on /control. */
  received: string[];
  /** Sends to the streamer on /control. */
  send(text: string): void;
  /** Closes /control from the manager's side. */
  closeControl(): void;
  exit: Promise<StreamerExit>;
  armToken(token: string, ttl?: number): Promise<void>;
  viewer(token: string): Promise<TestSocket>;
  stop(): Promise<void>;
}

// The test's own home is no session's: no folders are watched there.
Deno.env.set("WEBSTREAM_DOWNLOADS_DIR", "");
Deno.env.set("WEBSTREAM_PRINT_DIR", "");

/**
 * Starts a streamer on `port` (default: a free one) against a control server
 * of the test's, and waits for its REQUEST_SESSION_INFO.
 */
async function start(
  port: number = freePort(),
  extra: Partial<StreamerOptions> = {},
): Promise<Harness> {
  const received: string[] = [];
  const sockets: WebSocket[] = [];
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req) => {
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.onmessage = (e) => received.push(String(e.data));
    sockets.push(socket);
    return response;
  });
  const exit = runStreamer({
    control: `ws://127.0.0.1:${server.addr.port}/control`,
    port,
    bind: "127.0.0.1",
    user: "webs01",
    logger,
    ...extra,
  });
  await waitFor(() => received.length >= 1, { what: "REQUEST_SESSION_INFO" });
  const h: Harness = {
    port,
    received,
    send: (text) => sockets[0].send(text),
    closeControl: () => sockets[0].close(1000, "bye"),
    exit,
    async armToken(token, ttl = 60) {
      const hash = await hashToken(token);
      h.send(`CONNECTION_TOKEN:${UUID}|${hash}|${ttl}`);
      await waitFor(() => received.includes(`TOKEN_ARMED:${hash}`), {
        what: "TOKEN_ARMED",
      });
    },
    viewer: (token) =>
      openSocket(
        `ws://127.0.0.1:${port}/stream?token=${encodeURIComponent(token)}`,
      ),
    async stop() {
      if (sockets[0]?.readyState === WebSocket.OPEN) h.closeControl();
      await exit;
      await server.shutdown();
    },
  };
  return h;
}

Deno.test({
  name: "handshake, tokens, viewers and viewer events",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 800, height: 600 }, async (screen) => {
      await viewerEvents(screen.display);
    }),
});

async function viewerEvents(display: string): Promise<void> {
  const h = await start(undefined, {
    devices: openSessionDevices({ display }),
  });
  try {
    assertEquals(h.received[0], "REQUEST_SESSION_INFO:webs01");
    h.send(`SESSION_INFO:${UUID}|`);
    await waitFor(() =>
      logs.some((r) => r.msg === "streamer listening" && r.port === h.port)
    );

    // Nothing is served without an armed token.
    assert(await refused(`ws://127.0.0.1:${h.port}/stream`));
    assert(await refused(`ws://127.0.0.1:${h.port}/stream?token=guess`));
    const plain = await fetch(`http://127.0.0.1:${h.port}/stream?token=x`);
    assertEquals(plain.status, 426);
    await plain.body?.cancel();
    const other = await fetch(`http://127.0.0.1:${h.port}/other`);
    assertEquals(other.status, 404);
    await other.body?.cancel();

    await h.armToken("token-one");
    const first = await h.viewer("token-one");
    const { hello } = await nextStreamerMessage(first, "hello");
    assertEquals(hello.sessionUuid, UUID);
    // No VIEWER_SETTINGS came with this token: the restrictive policy.
    assertEquals(hello.clipboard, { toSession: false, fromSession: false });
    assertEquals(hello.upload, false);
    assertEquals([hello.width, hello.height], [800, 600]);
    await waitFor(() => h.received.includes(`CLIENT_CONNECTED:${UUID}`));
    // The screen follows: a first frame covers the whole viewport.
    const { frame } = await nextStreamerMessage(first, "frame");
    assert(frame.tiles.length > 0);
    sendClient(first, { type: "ping", id: 41 });
    assertEquals((await nextStreamerMessage(first, "pong")).id, 41);

    // A used token is refused.
    assert(await refused(`ws://127.0.0.1:${h.port}/stream?token=token-one`));

    // A newer viewer replaces the older one (one viewer at a time).
    h.send(
      `VIEWER_SETTINGS:${UUID}|${
        JSON.stringify({
          policy: {
            clipboard: "both",
            fileUpload: true,
            fileDownload: false,
            printing: false,
            shadowing: false,
          },
          width: 640,
          height: 480,
        })
      }`,
    );
    await h.armToken("token-two");
    const second = await h.viewer("token-two");
    const hello2 = (await nextStreamerMessage(second, "hello")).hello;
    assertEquals(hello2.clipboard, { toSession: true, fromSession: true });
    assertEquals(hello2.upload, true);
    // Debian's Xvfb cannot resize: a 640×480 viewport of the 800×600 screen.
    assertEquals([hello2.width, hello2.height], [640, 480]);
    const replaced = await first.closed;
    assertEquals(replaced.code, 4000);
    const disconnects = () =>
      h.received.filter((m) => m === `CLIENT_DISCONNECTED:${UUID}`).length;
    assertEquals(disconnects(), 0, "a replaced viewer is not a disconnect");

    // A malformed message closes that viewer with 4008, naming the problem.
    second.socket.send("not binary");
    const malformed = await second.closed;
    assertEquals(malformed.code, 4008);
    assertMatch(malformed.reason, /text frames/);
    await waitFor(() => disconnects() === 1, { what: "CLIENT_DISCONNECTED" });

    // An expired token is refused.
    await h.armToken("token-three", 1);
    await new Promise((r) => setTimeout(r, 1100));
    assert(await refused(`ws://127.0.0.1:${h.port}/stream?token=token-three`));
  } catch (error) {
    console.error(logs.slice(-15));
    throw error;
  } finally {
    await h.stop();
  }
}

Deno.test("SESSION_INFO with a command line starts the app without webstream's env", async () => {
  const dir = await Deno.makeTempDir();
  const h = await start();
  try {
    h.send(`SESSION_INFO:${UUID}|`);
    Deno.env.set("WEBSTREAM_TEST_SECRET", "must-not-leak");
    h.send(
      `SESSION_INFO:${UUID}|/bin/sh -c 'env > "${dir}/env"; echo "$0 $1" > "${dir}/args"' "a b" c`,
    );
    const env = await waitFor(
      () => Deno.readTextFile(`${dir}/env`).catch(() => ""),
      {
        what: "the app's output",
      },
    );
    assert(
      !/^WEBSTREAM_(?!FILE_DIALOG_SOCKET=|DOWNLOAD_SOCKET=)/m.test(env),
      "webstream variables reached the app",
    );
    // Except where `webstream file-dialog` and `webstream download` find
    // the streamer.
    assert(/^WEBSTREAM_FILE_DIALOG_SOCKET=\//m.test(env));
    assert(/^WEBSTREAM_DOWNLOAD_SOCKET=\//m.test(env));
    assert(/^PATH=/m.test(env));
    assertEquals((await Deno.readTextFile(`${dir}/args`)).trim(), "a b c");
    // A command line that cannot be split is logged, nothing else happens.
    h.send(`SESSION_INFO:${UUID}|sh -c 'unterminated`);
    await waitFor(() =>
      logs.some((r) =>
        r.msg === "cannot start app" && /unterminated/.test(String(r.reason))
      )
    );
    // SESSION_INFO for another session is ignored.
    h.send(
      `SESSION_INFO:00000000-0000-4000-8000-000000000000|/bin/touch ${dir}/never`,
    );
    await new Promise((r) => setTimeout(r, 200));
    assertEquals(
      await Deno.stat(`${dir}/never`).then(() => true, () => false),
      false,
    );
  } finally {
    Deno.env.delete("WEBSTREAM_TEST_SECRET");
    await h.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the streamer exits when the control channel closes, and stops serving", async () => {
  const h = await start();
  h.send(`SESSION_INFO:${UUID}|`);
  await waitFor(() =>
    logs.some((r) => r.msg === "streamer listening" && r.port === h.port)
  );
  h.closeControl();
  const result = await h.exit;
  assertEquals(result.code, 0);
  assertMatch(result.reason, /control channel closed \(1000 bye\)/);
  assert(await refused(`ws://127.0.0.1:${h.port}/stream?token=x`));
  await h.stop();
});

Deno.test("a malformed control message ends the streamer with an error code", async () => {
  const h = await start();
  h.send("SESSION_INFO:not-a-uuid|x");
  const result = await h.exit;
  assertEquals(result.code, 1, "it never got an identity");
  assertMatch(result.reason, /4008 malformed message/);
  await h.stop();
});

Deno.test("a streamer whose port is taken reports it and exits", async () => {
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const h = await start((blocker.addr as Deno.NetAddr).port);
  h.send(`SESSION_INFO:${UUID}|`);
  const result = await h.exit;
  assertMatch(result.reason, /4011 streamer cannot listen/);
  blocker.close();
  await h.stop();
});
