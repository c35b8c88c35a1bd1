/**
 * One viewer over a real loopback WebSocket, with the real screen (Xvfb),
 * encoder and clipboard: hello states what the policy allows; a resize is
 * answered with SCREEN; an upload the policy forbids, or one naming a dialog
 * nobody waits for, is refused with UPLOAD_RESULT; an allowed upload lands
 * and is reported; a malformed message closes the socket with 4008 naming
 * the problem. Clipboard images follow the per-direction policy: one sent
 * becomes the X clipboard's `image/png`, an app's image reaches the viewer
 * byte-exact, and a direction the policy closes carries nothing (a notice
 * says so).
 * the problem. Downloads follow the policy: hello says whether they are
 * allowed; a file goes out in chunks the socket's acknowledgements release;
 * one over the cap is refused with a NOTICE; print jobs need `printing`.
 *
 * @module
 */
import { XDisplay } from "../../ffi/x11/display.ts";
import { screenSize } from "../../ffi/x11/randr.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { X11Clipboard } from "../../mod/devices/linux/x11_clipboard.ts";
import { TileEncoder } from "../../mod/streamer/encode/mod.ts";
import { openSessionScreen } from "../../mod/devices/mod.ts";
import type { LandedFile } from "../../mod/streamer/upload.ts";
import { SharedCapture } from "../../mod/streamer/shared_capture.ts";
import { Viewer } from "../../mod/streamer/viewer.ts";
import type { ViewerSettings } from "../../mod/streamer/viewer_settings.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import {
  nextStreamerMessage,
  openSocket,
  sendClient,
  type TestSocket,
} from "../support/ws.ts";
import { withXvfb } from "../support/x11_draw.ts";

/** The X screen's size, asked of the server. */
function xScreenSize(display: string): { width: number; height: number } {
  const x = XDisplay.open(display);
  try {
    const { width, height } = screenSize(x);
    return { width, height };
  } finally {
    x.close();
  }
}

const logger = createLogger({ format: "json", sink: () => {} });

function policy(fileUpload: boolean): ViewerSettings["policy"] {
  return {
    clipboard: "to-session",
    fileUpload,
    fileDownload: false,
    printing: false,
    shadowing: false,
    audio: false,
    videoMaxKbps: 0,
    downloadMaxBytes: 2 ** 30,
    maxPixelRatio: 2,
  };
}

async function withViewer(
  display: string,
  settings: ViewerSettings,
  fn: (
    ws: TestSocket,
    landed: LandedFile[],
    viewer: () => Viewer,
  ) => Promise<void>,
): Promise<void> {
  const screen = openSessionScreen({ display });
  const captures = new SharedCapture(screen.capture);
  const encoder = new TileEncoder({ workers: 0 });
  const clipboard = new X11Clipboard();
  const landed: LandedFile[] = [];
  let viewer: Viewer | undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const { socket, response } = Deno.upgradeWebSocket(request);
      viewer = new Viewer(socket, {
        settings,
        context: {
          sessionUuid: "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab",
          screen,
          captures,
          encoder,
          clipboard,
          logger,
          onInput: () => {},
          onUpload: (file) => landed.push(file),
          onLanded: () => {},
          videoAvailable: false,
        },
      });
      socket.onopen = () => viewer!.start();
      return response;
    },
  );
  const ws = await openSocket(`ws://127.0.0.1:${server.addr.port}/`);
  try {
    await fn(ws, landed, () => viewer!);
  } finally {
    viewer?.close();
    await ws.close();
    await server.shutdown();
    encoder.close();
    clipboard.close();
    screen.close();
  }
}

Deno.test({
  name: "a viewer: VIEW_SIZE gets device pixels within the policy's cap",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 1600, height: 1200 }, async (x) => {
      const capped = { ...policy(false), maxPixelRatio: 1.5 };
      await withViewer(x.display, { policy: capped }, async (ws) => {
        const { hello } = await nextStreamerMessage(ws, "hello");
        assertEquals(hello.maxPixelRatio, 1.5);
        // The largest size RandR allows, not the size now.
        assertEquals([hello.maxWidth, hello.maxHeight], [1600, 1200]);
        // A page claiming ratio 2 gets 1.5: the streamer applies the cap.
        sendClient(ws, {
          type: "viewSize",
          width: 640,
          height: 400,
          deviceWidth: 1280,
          deviceHeight: 800,
        });
        const { screen } = await nextStreamerMessage(ws, "screen");
        assertEquals(screen, { width: 960, height: 600 });
        assertEquals(xScreenSize(x.display), { width: 960, height: 600 });
        // Within the cap, the device pixels exactly.
        sendClient(ws, {
          type: "viewSize",
          width: 800,
          height: 600,
          deviceWidth: 1000,
          deviceHeight: 750,
        });
        // A grown screen: the capture sees it after the resize, and a
        // second SCREEN follows the first.
        let next = await nextStreamerMessage(ws, "screen");
        if (next.screen.width !== 1000) {
          assertEquals(next.screen, { width: 960, height: 600 });
          next = await nextStreamerMessage(ws, "screen");
        }
        assertEquals(next.screen, { width: 1000, height: 750 });
      });
    }),
});

Deno.test({
  name: "a viewer: hello, resize, uploads by policy, malformed messages",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 1024, height: 768 }, (x) =>
      withTempDir(async (home) => {
        const savedHome = Deno.env.get("HOME");
        Deno.env.set("HOME", home);
        try {
          await withViewer(x.display, { policy: policy(false) }, async (ws) => {
            const { hello } = await nextStreamerMessage(ws, "hello");
            assertEquals(hello.upload, false);
            assertEquals(hello.clipboard, {
              toSession: true,
              fromSession: false,
            });
            assertEquals([hello.width, hello.height], [1024, 768]);
            sendClient(ws, { type: "resize", width: 640, height: 480 });
            const { screen } = await nextStreamerMessage(ws, "screen");
            assertEquals(screen, { width: 640, height: 480 });
            sendClient(ws, {
              type: "uploadStart",
              uploadId: 1,
              name: "x.txt",
              size: 1,
            });
            const refused = await nextStreamerMessage(ws, "uploadResult");
            assertEquals(refused.result.ok, false);
            assertMatch(refused.result.error!, /not allowed/);
            ws.socket.send(new Uint8Array([0x7f]));
            const closed = await ws.closed;
            assertEquals(closed.code, 4008);
            assertMatch(closed.reason, /unknown message type 127/);
          });
          await withViewer(
            x.display,
            { policy: policy(true) },
            async (ws, landed) => {
              await nextStreamerMessage(ws, "hello");
              sendClient(ws, {
                type: "uploadStart",
                uploadId: 2,
                name: "a.txt",
                size: 5,
                dialogGuid: "0d5b3c2a-1111-2222-3333-444455556666",
              });
              const noDialog = await nextStreamerMessage(ws, "uploadResult");
              assertMatch(noDialog.result.error!, /no file dialog is waiting/);
              sendClient(ws, {
                type: "uploadStart",
                uploadId: 3,
                name: "a.txt",
                size: 5,
              });
              sendClient(ws, {
                type: "uploadChunk",
                uploadId: 3,
                data: new TextEncoder().encode("hello"),
              });
              sendClient(ws, { type: "uploadEnd", uploadId: 3 });
              const ok = await nextStreamerMessage(ws, "uploadResult");
              assert(ok.result.ok, JSON.stringify(ok.result));
              assertEquals(ok.result.path, `${home}/Uploads/a.txt`);
              assertEquals(await Deno.readTextFile(ok.result.path!), "hello");
              assertEquals(landed.map((f) => f.size), [5]);
            },
          );
        } finally {
          if (savedHome === undefined) Deno.env.delete("HOME");
          else Deno.env.set("HOME", savedHome);
        }
      })),
});

Deno.test({
  name:
    "webstream/2 messages: caps, keyframe and audioState; a malformed caps closes only that viewer",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 640, height: 480 }, async (x) => {
      await withViewer(x.display, { policy: policy(false) }, async (ws) => {
        const { hello } = await nextStreamerMessage(ws, "hello");
        // No libx264 offered here, no sound: the viewer is told so.
        assertEquals([hello.video, hello.audio], [false, false]);
        sendClient(ws, {
          type: "caps",
          caps: { video: ["avc1.42C028"], audio: true },
        });
        sendClient(ws, { type: "keyframe" });
        sendClient(ws, { type: "audioState", on: true });
        // Still served: a ping is answered.
        sendClient(ws, { type: "ping", id: 5 });
        assertEquals((await nextStreamerMessage(ws, "pong")).id, 5);
        ws.socket.send(
          new Uint8Array([0x8d, ...new TextEncoder().encode('{"video":1}')]),
        );
        const closed = await ws.closed;
        assertEquals(closed.code, 4008);
        assertMatch(closed.reason, /caps: video must be a list/);
      });
      // The session goes on: the next viewer is served.
      await withViewer(x.display, { policy: policy(false) }, async (ws) => {
        const { hello } = await nextStreamerMessage(ws, "hello");
        assertEquals(hello.protocol, "webstream/2");
      });
    }),
});

/** An app in the session copying a PNG (`xclip -t image/png`). */
function appCopiesImage(
  env: Record<string, string>,
  png: Uint8Array,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("xclip", {
    args: ["-selection", "clipboard", "-t", "image/png", "-in", "-quiet"],
    env,
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  return writer.write(png).then(() => writer.close()).then(() => child);
}

/** The session clipboard's `image/png`, as another client reads it. */
async function sessionImage(env: Record<string, string>): Promise<Uint8Array> {
  const out = await new Deno.Command("xclip", {
    args: ["-selection", "clipboard", "-o", "-t", "image/png"],
    env,
    stderr: "null",
  }).output();
  return out.stdout;
}

/** A PNG signature and a few bytes: xclip and the viewer carry it as is. */
const PNG = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 7);

Deno.test({
  name:
    "clipboard images by policy: to the session, from the session, malformed",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 640, height: 480 }, async (x) => {
      const saved = Deno.env.get("DISPLAY");
      Deno.env.set("DISPLAY", x.display);
      let app: Deno.ChildProcess | undefined;
      const stopApp = async () => {
        try {
          app?.kill("SIGTERM");
        } catch {
          // Gone when it lost the selection.
        }
        await app?.status;
        app = undefined;
      };
      try {
        // To the session only: an image sent becomes the X clipboard's
        // image/png; an app's image is not sent back.
        await withViewer(x.display, { policy: policy(false) }, async (ws) => {
          await nextStreamerMessage(ws, "hello");
          sendClient(ws, { type: "clipboardImage", png: PNG });
          let got: Uint8Array = new Uint8Array();
          for (let i = 0; i < 100 && got.length === 0; i++) {
            got = await sessionImage(x.env);
            if (!got.length) await new Promise((r) => setTimeout(r, 50));
          }
          assertEquals(got, PNG);
          app = await appCopiesImage(x.env, PNG.with(8, 9));
          // No clipboard comes back within 2 s (the capture notices a
          // clipboard change within a frame or so).
          let arrived = false;
          await nextStreamerMessage(ws, "clipboardImage", { timeoutMs: 2_000 })
            .then(() => arrived = true, () => {});
          assert(!arrived, "an image from the session was sent");
          await stopApp();
        });
        // From the session only: an app's image reaches the viewer
        // byte-exact; an image sent is refused with a notice.
        const fromSession = {
          policy: { ...policy(false), clipboard: "from-session" as const },
        };
        await withViewer(x.display, fromSession, async (ws) => {
          await nextStreamerMessage(ws, "hello");
          const appPng = PNG.with(8, 42);
          app = await appCopiesImage(x.env, appPng);
          const { png } = await nextStreamerMessage(ws, "clipboardImage");
          assertEquals(png, appPng);
          sendClient(ws, { type: "clipboardImage", png: PNG });
          const { notice } = await nextStreamerMessage(ws, "notice");
          assertMatch(notice.text, /clipboard to the session is not allowed/);
          await stopApp();
          // A clipboard image that is not a PNG closes the viewer.
          ws.socket.send(
            Uint8Array.of(0x94, 0xff, 0xd8, 0xff, 0xe0, 0, 0, 0, 0),
          );
          const closed = await ws.closed;
          assertEquals(closed.code, 4008);
          assertMatch(closed.reason, /clipboardImage: not a PNG/);
        });
      } finally {
        await stopApp();
        if (saved === undefined) Deno.env.delete("DISPLAY");
        else Deno.env.set("DISPLAY", saved);
      }
    }),
});

Deno.test({
  name: "a viewer: downloads by policy, acknowledged over the socket",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 640, height: 480 }, (x) =>
      withTempDir(async (dir) => {
        const bytes = new Uint8Array(600_000);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 11) & 0xff;
        await Deno.writeFile(`${dir}/out.bin`, bytes);
        const settings = {
          policy: {
            ...policy(false),
            fileDownload: true,
            downloadMaxBytes: 700_000,
          },
        };
        await withViewer(x.display, settings, async (ws, _landed, viewer) => {
          const { hello } = await nextStreamerMessage(ws, "hello");
          assertEquals(hello.download, true);
          const outcome = viewer().download({
            path: `${dir}/out.bin`,
            kind: "file",
          });
          const { download } = await nextStreamerMessage(ws, "downloadStart");
          assertEquals(download, {
            downloadId: 1,
            name: "out.bin",
            size: bytes.length,
            kind: "file",
          });
          const got = new Uint8Array(bytes.length);
          for (let n = 1, at = 0; at < bytes.length; n++) {
            const chunk = await nextStreamerMessage(ws, "downloadChunk");
            got.set(chunk.data, at);
            at += chunk.data.length;
            sendClient(ws, { type: "downloadAck", downloadId: 1, chunks: n });
          }
          assertEquals((await nextStreamerMessage(ws, "downloadEnd")).end, {
            downloadId: 1,
            ok: true,
          });
          assertEquals(await outcome, {
            ok: true,
            name: "out.bin",
            size: bytes.length,
          });
          assert(got.every((b, i) => b === bytes[i]), "the same bytes");

          await Deno.writeFile(`${dir}/big.bin`, new Uint8Array(700_001));
          const big = await viewer().download({
            path: `${dir}/big.bin`,
            kind: "file",
          });
          assertEquals(big.ok, false);
          const { notice } = await nextStreamerMessage(ws, "notice");
          assertMatch(
            notice.text,
            /^Download refused: big\.bin is 700001 bytes/,
          );
          assertEquals(
            await viewer().download({ path: `${dir}/out.bin`, kind: "print" }),
            { ok: false, error: "printing is not allowed in this session" },
          );
        });
        await withViewer(
          x.display,
          { policy: policy(false) },
          async (ws, _l, viewer) => {
            const { hello } = await nextStreamerMessage(ws, "hello");
            assertEquals(hello.download, false);
            assertEquals(
              await viewer().download({ path: `${dir}/out.bin`, kind: "file" }),
              {
                ok: false,
                error: "file download is not allowed in this session",
              },
            );
          },
        );
      })),
});
