/**
 * The browser session view (`httpdocs/session/`) in real headless Chromium
 * against a scripted `webstream/2` server: PNG and SOLID tiles reach the
 * canvas (screenshots and the display's read-back agree) and every frame is
 * acknowledged; SCREEN resizes and scales the canvas; the remote cursor
 * becomes the canvas' CSS cursor; keyboard, mouse and wheel produce KEY,
 * POINTER and WHEEL with remote coordinates; a view size change sends
 * RESIZE; pings measure latency; the clipboard travels both ways (panel,
 * paste; images as PNG, and the session's image offered in the panel)
 * within the session's policy; uploads (button, drop, and answering a
 * FILE_REQUEST with its dialogGuid) send the file's exact bytes in chunks; a
 * paste) within the session's policy; uploads (button, drop, and answering a
 * FILE_REQUEST with its dialogGuid) send the file's exact bytes in chunks;
 * downloads are acknowledged chunk by chunk and saved by Chromium byte-exact,
 * and a failed or overflowing one says why; a
 * network drop reconnects with a fresh URL while the overlay says so; a 4xxx
 * close ends the view with its reason and no reconnect.
 *
 * @module
 */
import { Buffer } from "node:buffer";
// The project's import map has no entry for test-only packages.
import { decode, encode } from "fast-png";
import {
  BUTTON,
  ENCODING,
  MAX_CHUNK,
  MAX_DOWNLOAD_CHUNK,
} from "../../httpdocs/session/protocol.js";
import { MARK } from "../../httpdocs/session/marks.js";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import { waitFor } from "../support/wait.ts";
import {
  defaultHello,
  type ScriptedServer,
  sessionPage,
  startScriptedServer,
  type Viewer,
} from "./scripted_server.ts";

const OPTIONS = {
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
};

/** Reads a page expression (the view exports `window.webstream.session`). */
function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** Waits until a page expression is truthy. */
function waitPage(page: Page, expression: string, what = expression) {
  return waitFor(() => read(page, expression), { what, timeoutMs: 15_000 });
}

/** RGBA of a test pattern pixel: distinct in every channel. */
function pattern(x: number, y: number): [number, number, number, number] {
  return [(x * 4) & 0xff, (y * 5) & 0xff, (x * 3 + y * 7) & 0xff, 255];
}

function patternPng(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set(pattern(x, y), (y * width + x) * 4);
    }
  }
  return encode({ width, height, data, channels: 4, depth: 8 });
}

/** RGBA pixels of a page area, from a real screenshot. */
async function screenshot(
  page: Page,
  clip: { x: number; y: number; width: number; height: number },
): Promise<(x: number, y: number) => number[]> {
  const image = decode(await page.screenshot({ clip }));
  const channels = image.channels;
  return (x, y) => {
    const at = (y * image.width + x) * channels;
    const px = Array.from(image.data.slice(at, at + channels)) as number[];
    return channels === 3 ? [...px, 255] : px;
  };
}

/** Fires a paste of `text` at the canvas, as the browser does on Ctrl+V. */
async function paste(page: Page, text: string): Promise<void> {
  await page.evaluate(`(() => {
    const data = new DataTransfer();
    data.setData("text/plain", ${JSON.stringify(text)});
    document.querySelector(".ws-canvas").dispatchEvent(
      new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }),
    );
  })()`);
}

/** Fires a paste of a PNG (and maybe text) at the canvas. */
async function pasteImage(
  page: Page,
  png: Uint8Array,
  text?: string,
): Promise<void> {
  await page.evaluate(`(() => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(${
    JSON.stringify(Array.from(png))
  })], "image.png", { type: "image/png" }));
    ${
    text === undefined
      ? ""
      : `data.setData("text/plain", ${JSON.stringify(text)});`
  }
    document.querySelector(".ws-canvas").dispatchEvent(
      new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }),
    );
  })()`);
}

/** Drops a file on the session view. */
async function drop(page: Page, name: string, text: string): Promise<void> {
  await page.evaluate(`(() => {
    const data = new DataTransfer();
    data.items.add(new File([${JSON.stringify(text)}], ${
    JSON.stringify(name)
  }));
    document.querySelector(".ws-stage").dispatchEvent(
      new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }),
    );
  })()`);
}

/** Opens the test page and waits for its first viewer's hello to land. */
async function open(
  server: ScriptedServer,
  page: Page,
): Promise<Viewer> {
  const viewer = server.nextViewer();
  await page.goto(`${server.base}/session.html`);
  const connected = await viewer;
  await waitPage(
    page,
    "webstream.session.status === 'connected' && !!webstream.session.hello",
    "the session to connect",
  );
  // The overlay hides once the hello is in.
  await waitPage(page, "document.querySelector('.ws-overlay').hidden");
  return connected;
}

Deno.test("session view in Chromium", OPTIONS, async (t) => {
  const server = startScriptedServer();
  server.routes.push((_request, url) =>
    url.pathname === "/session.html"
      ? new Response(sessionPage({ minDelayMs: 1500, maxDelayMs: 3000 }), {
        headers: { "content-type": "text/html; charset=utf-8" },
      })
      : undefined
  );
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ width: 800, height: 600 });
    const errors: string[] = [];
    page.on("pageerror", (error: unknown) => errors.push(String(error)));
    let viewer = await open(server, page);

    await t.step("the first connect carries the view size", () => {
      assertEquals(server.tokenRequests[0], { width: 800, height: 600 });
    });

    await t.step(
      "PNG and SOLID tiles are drawn, and each frame is acknowledged",
      async () => {
        viewer.send({
          type: "frame",
          frame: {
            frameId: 1,
            tiles: [{
              x: 0,
              y: 0,
              width: 800,
              height: 600,
              encoding: ENCODING.SOLID,
              data: new Uint8Array([10, 20, 30, 255]),
            }],
          },
        });
        viewer.send({
          type: "frame",
          frame: {
            frameId: 2,
            tiles: [
              {
                x: 100,
                y: 200,
                width: 64,
                height: 48,
                encoding: ENCODING.PNG,
                data: patternPng(64, 48),
              },
              {
                x: 300,
                y: 100,
                width: 50,
                height: 40,
                encoding: ENCODING.SOLID,
                data: new Uint8Array([200, 40, 90, 255]),
              },
            ],
          },
        });
        assertEquals((await viewer.next("ack")).frameId, 1);
        assertEquals((await viewer.next("ack")).frameId, 2);
        assertEquals(await read(page, "webstream.session.framesDrawn"), 2);

        // The display's read-back.
        const tile = await read<Record<string, number>>(
          page,
          "webstream.session.readPixels(100, 200, 64, 48)",
        );
        for (const [x, y] of [[0, 0], [63, 0], [17, 23], [63, 47]]) {
          const at = (y * 64 + x) * 4;
          assertEquals(
            [tile[at], tile[at + 1], tile[at + 2], tile[at + 3]],
            pattern(x, y),
            `read-back at ${x},${y}`,
          );
        }
        const solid = await read<Record<string, number>>(
          page,
          "webstream.session.readPixels(349, 139, 1, 1)",
        );
        assertEquals([solid[0], solid[1], solid[2]], [200, 40, 90]);

        // What the user sees: 1 CSS pixel = 1 remote pixel at (0, 0).
        const box = await page.locator(".ws-canvas").boundingBox();
        assertEquals(box, { x: 0, y: 0, width: 800, height: 600 });
        const shot = await screenshot(page, {
          x: 90,
          y: 90,
          width: 300,
          height: 170,
        });
        for (const [x, y] of [[0, 0], [63, 0], [17, 23], [63, 47]]) {
          assertEquals(
            shot(10 + x, 110 + y),
            pattern(x, y),
            `screen at ${x},${y}`,
          );
        }
        assertEquals(shot(210, 10), [200, 40, 90, 255]);
        assertEquals(shot(259, 49), [200, 40, 90, 255]);
        assertEquals(shot(260, 50), [10, 20, 30, 255], "the solid tile's edge");
        assertEquals(shot(5, 5), [10, 20, 30, 255]);
      },
    );

    await t.step(
      "the connection's marks are set once each, in order",
      async () => {
        const names = [MARK.open, MARK.hello, MARK.frame, MARK.drawn];
        const marks = await read<{ name: string; startTime: number }[]>(
          page,
          `performance.getEntriesByType("mark").filter((m) => ${
            JSON.stringify(names)
          }.includes(m.name)).map(({ name, startTime }) => ({ name, startTime }))`,
        );
        assertEquals(marks.map((m) => m.name), names);
        for (let i = 1; i < marks.length; i++) {
          assert(marks[i].startTime >= marks[i - 1].startTime);
        }
      },
    );

    await t.step("pings measure the latency", async () => {
      await waitPage(page, "webstream.session.latencyMs !== undefined");
      const latency = await read<number>(page, "webstream.session.latencyMs");
      assert(latency >= 0);
      await waitFor(
        async () => /ms/.test(await page.locator(".ws-stats").innerText()),
        { what: "the latency indicator" },
      );
    });

    await t.step(
      "the remote cursor becomes the canvas' CSS cursor",
      async () => {
        const rgba = new Uint8Array(16 * 16 * 4);
        for (let i = 0; i < rgba.length; i += 4) rgba.set([255, 0, 0, 255], i);
        viewer.send({
          type: "cursor",
          cursor: { hotX: 3, hotY: 4, width: 16, height: 16, rgba },
        });
        const cursor = await waitFor(async () => {
          const value = await read<string>(
            page,
            "document.querySelector('.ws-canvas').style.cursor",
          );
          return value.startsWith("url(") ? value : undefined;
        }, { what: "a cursor image" });
        const match = cursor.match(
          /^url\("data:image\/png;base64,([^"]+)"\) 3 4, default$/,
        );
        assert(match, cursor);
        const image = decode(
          Uint8Array.from(atob(match[1]), (c) => c.charCodeAt(0)),
        );
        assertEquals([image.width, image.height], [16, 16]);
        assertEquals(Array.from(image.data.slice(0, 4)), [255, 0, 0, 255]);
      },
    );

    await t.step(
      "keys become KEY messages and stay in the session",
      async () => {
        viewer.skipAll();
        await page.keyboard.press("a");
        assertEquals(await viewer.next("key"), {
          type: "key",
          down: true,
          code: "KeyA",
          key: "a",
        });
        assertEquals(await viewer.next("key"), {
          type: "key",
          down: false,
          code: "KeyA",
          key: "a",
        });
        await page.keyboard.press("Tab");
        assertEquals((await viewer.next("key")).code, "Tab");
        // Tab was not acted on by the browser: the keyboard target keeps
        // the focus.
        assert(
          await read(
            page,
            "document.activeElement === document.querySelector('.ws-keyboard')",
          ),
        );
        await page.keyboard.down("Shift");
        await page.keyboard.press("KeyB");
        await page.keyboard.up("Shift");
        const shifted = await viewer.next("key", (m) => m.code === "KeyB");
        assertEquals([shifted.down, shifted.key], [true, "B"]);
      },
    );

    await t.step(
      "dead keys, AltGr and IME composition type the characters",
      async () => {
        const cdp = await page.context().newCDPSession(page);
        /** One CDP key event, as Chromium gets it from the OS. */
        const key = (
          type: "keyDown" | "keyUp",
          fields: { key: string; code: string; text?: string },
        ) =>
          cdp.send("Input.dispatchKeyEvent", {
            type: type === "keyDown" && fields.text ? "keyDown" : type ===
                "keyDown"
              ? "rawKeyDown"
              : "keyUp",
            ...fields,
            unmodifiedText: fields.text,
          });
        const keysUntil = async (last: string) => {
          const out: string[] = [];
          for (;;) {
            const m = await viewer.next("key");
            out.push(`${m.down ? "+" : "-"}${m.code}:${m.key}`);
            if (!m.down && m.key === last) return out;
          }
        };
        viewer.skipAll();
        // French ^ (dead) then e: the browser composes "ê".
        await key("keyDown", { key: "Dead", code: "BracketLeft" });
        await key("keyUp", { key: "Dead", code: "BracketLeft" });
        await key("keyDown", { key: "ê", code: "KeyE", text: "ê" });
        await key("keyUp", { key: "e", code: "KeyE" });
        // German AltGr+q as Chromium on Linux reports it.
        await key("keyDown", { key: "AltGraph", code: "AltRight" });
        await key("keyDown", { key: "@", code: "KeyQ", text: "@" });
        await key("keyUp", { key: "@", code: "KeyQ" });
        await key("keyUp", { key: "AltGraph", code: "AltRight" });
        assertEquals(await keysUntil("AltGraph"), [
          "+KeyE:ê",
          "-KeyE:e",
          "+AltRight:AltGraph",
          "+KeyQ:@",
          "-KeyQ:@",
          "-AltRight:AltGraph",
        ]);
        // An IME composes "にほん" and commits "日本": only the committed
        // text is sent, as keys with no code.
        viewer.skipAll();
        await cdp.send("Input.imeSetComposition", {
          text: "にほん",
          selectionStart: 3,
          selectionEnd: 3,
        });
        await cdp.send("Input.insertText", { text: "日本" });
        assertEquals(await keysUntil("本"), [
          "+:日",
          "-:日",
          "+:本",
          "-:本",
        ]);
        // Text inserted with no key and no composition (an emoji picker).
        await cdp.send("Input.insertText", { text: "é😀" });
        assertEquals(await keysUntil("😀"), [
          "+:é",
          "-:é",
          "+:😀",
          "-:😀",
        ]);
        assertEquals(
          await read(page, "document.querySelector('.ws-keyboard').value"),
          "",
        );
        await cdp.detach();
      },
    );

    await t.step(
      "mouse and wheel become POINTER and WHEEL messages",
      async () => {
        viewer.skipAll();
        await page.mouse.move(123, 45);
        assertEquals(
          await viewer.next("pointer", (m) => m.x === 123),
          { type: "pointer", x: 123, y: 45, buttons: 0 },
        );
        await page.mouse.down();
        assertEquals(
          await viewer.next("pointer", (m) => m.buttons !== 0),
          { type: "pointer", x: 123, y: 45, buttons: BUTTON.LEFT },
        );
        await page.mouse.move(130, 50);
        assertEquals(
          await viewer.next("pointer", (m) => m.x === 130),
          { type: "pointer", x: 130, y: 50, buttons: BUTTON.LEFT },
        );
        await page.mouse.up();
        assertEquals(
          await viewer.next("pointer", (m) => m.buttons === 0),
          { type: "pointer", x: 130, y: 50, buttons: 0 },
        );
        await page.mouse.click(200, 300, { button: "right" });
        assertEquals(
          (await viewer.next("pointer", (m) => m.buttons !== 0)).buttons,
          BUTTON.RIGHT,
        );
        viewer.skipAll();
        await page.mouse.wheel(0, 250);
        assertEquals(await viewer.next("wheel"), {
          type: "wheel",
          dx: 0,
          dy: 2,
        });
        // 50 px were left over: 50 more make the third notch.
        await page.mouse.wheel(0, 50);
        assertEquals(await viewer.next("wheel"), {
          type: "wheel",
          dx: 0,
          dy: 1,
        });
        await page.mouse.wheel(0, -100);
        assertEquals(await viewer.next("wheel"), {
          type: "wheel",
          dx: 0,
          dy: -1,
        });
      },
    );

    await t.step(
      "a larger screen is scaled to fit, and pointer coordinates follow",
      async () => {
        viewer.send({ type: "screen", screen: { width: 1600, height: 1200 } });
        await waitPage(page, "webstream.session.screen.width === 1600");
        await waitFor(async () => {
          const box = await page.locator(".ws-canvas").boundingBox();
          return box?.width === 800 && box.height === 600;
        }, { what: "the canvas scaled to 800x600" });
        viewer.skipAll();
        await page.mouse.move(100, 50);
        assertEquals(
          await viewer.next("pointer", (m) => m.x === 200),
          { type: "pointer", x: 200, y: 100, buttons: 0 },
        );
        viewer.send({ type: "screen", screen: { width: 800, height: 600 } });
        await waitPage(page, "webstream.session.screen.width === 800");
      },
    );

    await t.step("a view size change sends RESIZE", async () => {
      viewer.skipAll();
      await page.setViewportSize({ width: 700, height: 500 });
      assertEquals(await viewer.next("resize"), {
        type: "resize",
        width: 700,
        height: 500,
      });
      viewer.send({ type: "screen", screen: { width: 700, height: 500 } });
      await waitFor(async () => {
        const box = await page.locator(".ws-canvas").boundingBox();
        return box?.width === 700 && box.height === 500;
      }, { what: "the canvas at 700x500" });
      await page.setViewportSize({ width: 800, height: 600 });
      assertEquals(await viewer.next("resize"), {
        type: "resize",
        width: 800,
        height: 600,
      });
      viewer.send({ type: "screen", screen: { width: 800, height: 600 } });
    });

    await t.step("the session's clipboard fills the panel", async () => {
      viewer.send({ type: "clipboard", text: "from the session ✓" });
      await waitPage(
        page,
        "webstream.session.lastClipboard === 'from the session ✓'",
      );
      assertEquals(
        await page.locator(".ws-clipboard-text").inputValue(),
        "from the session ✓",
      );
    });

    await t.step("the panel and a paste send the clipboard", async () => {
      viewer.skipAll();
      await page.locator(".ws-clipboard-toggle").click();
      await page.locator(".ws-clipboard-text").fill("typed in the panel");
      await page.locator(".ws-clipboard-send").click();
      assertEquals(await viewer.next("clipboard"), {
        type: "clipboard",
        text: "typed in the panel",
      });
      await page.locator(".ws-clipboard-toggle").click();
      await paste(page, "pasted text");
      assertEquals(await viewer.next("clipboard"), {
        type: "clipboard",
        text: "pasted text",
      });
    });

    await t.step(
      "a pasted image goes as CLIPBOARD_IMAGE; the session's image is offered in the panel",
      async () => {
        viewer.skipAll();
        const png = patternPng(5, 3);
        await pasteImage(page, png);
        const sent = await viewer.next("clipboardImage");
        assertEquals(sent.png, png);
        // With text besides the image (a spreadsheet), the text goes.
        await pasteImage(page, png, "cells as text");
        assertEquals((await viewer.next("clipboard")).text, "cells as text");

        const fromSession = patternPng(7, 4);
        viewer.send({ type: "clipboardImage", png: fromSession });
        await waitPage(
          page,
          "webstream.session.lastClipboardImage?.length === " +
            fromSession.length,
        );
        await waitPage(
          page,
          "!document.querySelector('.ws-clipboard-image-box').hidden && " +
            "document.querySelector('.ws-clipboard-image').naturalWidth === 7",
          "the image in the panel",
        );
        const saved = await read<string>(
          page,
          "document.querySelector('.ws-clipboard-image-save').href",
        );
        assertMatch(saved, /^blob:/);
        // The image the panel offers is the session's PNG, byte for byte.
        const bytes = await read<number[]>(
          page,
          `fetch(${JSON.stringify(saved)}).then((r) => r.arrayBuffer())` +
            ".then((b) => Array.from(new Uint8Array(b)))",
        );
        assertEquals(bytes, Array.from(fromSession));
      },
    );

    await t.step("the upload button sends the file in chunks", async () => {
      viewer.skipAll();
      const bytes = new Uint8Array(2 * MAX_CHUNK + 12345);
      crypto.getRandomValues(bytes.subarray(0, 65536));
      bytes.copyWithin(65536, 0);
      assert(await page.locator(".ws-upload").isVisible());
      await page.locator(".ws-upload-input").setInputFiles({
        name: "report.bin",
        mimeType: "application/octet-stream",
        buffer: Buffer.from(bytes),
      });
      const start = await viewer.next("uploadStart");
      assertEquals(start, {
        type: "uploadStart",
        uploadId: start.uploadId,
        name: "report.bin",
        size: bytes.length,
        dialogGuid: undefined,
      });
      const chunks: Uint8Array[] = [];
      while (chunks.reduce((n, c) => n + c.length, 0) < bytes.length) {
        const chunk = await viewer.next("uploadChunk");
        assertEquals(chunk.uploadId, start.uploadId);
        assert(chunk.data.length <= MAX_CHUNK);
        chunks.push(chunk.data.slice());
      }
      assertEquals(chunks.length, 3);
      assertEquals(
        await viewer.next("uploadEnd"),
        { type: "uploadEnd", uploadId: start.uploadId },
      );
      const received = new Uint8Array(bytes.length);
      let at = 0;
      for (const chunk of chunks) {
        received.set(chunk, at);
        at += chunk.length;
      }
      assert(received.every((b, i) => b === bytes[i]), "the bytes arrived");
      viewer.send({
        type: "uploadResult",
        result: {
          uploadId: start.uploadId,
          ok: true,
          path: "/home/u/Uploads/report.bin",
        },
      });
      await page.locator(".ws-toast", { hasText: "/home/u/Uploads/report.bin" })
        .waitFor();
    });

    await t.step(
      "a download is acknowledged chunk by chunk and saved byte-exact",
      async () => {
        viewer.skipAll();
        const bytes = new Uint8Array(2 * MAX_DOWNLOAD_CHUNK + 777);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 13 + 5) & 0xff;
        const saved = page.waitForEvent("download", { timeout: 15_000 });
        viewer.send({
          type: "downloadStart",
          download: {
            downloadId: 41,
            name: "notes.bin",
            size: bytes.length,
            kind: "file",
          },
        });
        for (let at = 0, n = 1; at < bytes.length; n++) {
          const end = Math.min(bytes.length, at + MAX_DOWNLOAD_CHUNK);
          viewer.send({
            type: "downloadChunk",
            downloadId: 41,
            data: bytes.subarray(at, end),
          });
          at = end;
          assertEquals(await viewer.next("downloadAck"), {
            type: "downloadAck",
            downloadId: 41,
            chunks: n,
          });
        }
        viewer.send({ type: "downloadEnd", end: { downloadId: 41, ok: true } });
        const download = await saved;
        assertEquals(download.suggestedFilename(), "notes.bin");
        const dir = await Deno.makeTempDir();
        try {
          await download.saveAs(`${dir}/notes.bin`);
          const got = await Deno.readFile(`${dir}/notes.bin`);
          assertEquals(got.length, bytes.length);
          assert(got.every((b, i) => b === bytes[i]), "the same bytes");
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
        await page.locator(".ws-toast", {
          hasText: `Downloaded notes.bin (${bytes.length} bytes)`,
        }).waitFor();
      },
    );

    await t.step(
      "a failed download says why; one overflowing its size is cancelled",
      async () => {
        viewer.skipAll();
        viewer.send({
          type: "downloadStart",
          download: {
            downloadId: 42,
            name: "gone.txt",
            size: 10,
            kind: "file",
          },
        });
        viewer.send({
          type: "downloadEnd",
          end: { downloadId: 42, ok: false, error: "the file vanished" },
        });
        await page.locator(".ws-toast.error", {
          hasText: "Download of gone.txt failed: the file vanished",
        }).waitFor();
        viewer.send({
          type: "downloadStart",
          download: {
            downloadId: 43,
            name: "small.txt",
            size: 2,
            kind: "file",
          },
        });
        viewer.send({
          type: "downloadChunk",
          downloadId: 43,
          data: Uint8Array.of(1, 2, 3),
        });
        assertEquals(await viewer.next("downloadCancel"), {
          type: "downloadCancel",
          downloadId: 43,
        });
        assertEquals(
          await read(
            page,
            "webstream.session.downloads.filter(d => d.downloadId === 43)[0].error",
          ),
          "more bytes than announced",
        );
      },
    );

    await t.step("a file dropped on the view is uploaded", async () => {
      viewer.skipAll();
      await drop(page, "drop.txt", "dropped!");
      const start = await viewer.next("uploadStart");
      assertEquals([start.name, start.size], ["drop.txt", 8]);
      const chunk = await viewer.next("uploadChunk");
      assertEquals(new TextDecoder().decode(chunk.data), "dropped!");
      await viewer.next("uploadEnd");
      viewer.send({
        type: "uploadResult",
        result: { uploadId: start.uploadId, ok: false, error: "disk full" },
      });
      await page.locator(".ws-toast", { hasText: "disk full" }).waitFor();
    });

    await t.step(
      "a FILE_REQUEST prompts; the chosen file carries its dialogGuid; cancel answers FILE_CANCEL",
      async () => {
        viewer.skipAll();
        const guid = "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}";
        viewer.send({
          type: "fileRequest",
          request: { dialogGuid: guid, title: "Open a spreadsheet" },
        });
        const prompt = page.locator(".ws-file-request");
        await prompt.waitFor();
        assertMatch(await prompt.innerText(), /Open a spreadsheet/);
        await page.locator(".ws-file-input").setInputFiles({
          name: "sheet.csv",
          mimeType: "text/csv",
          buffer: Buffer.from("a,b\n1,2\n"),
        });
        const start = await viewer.next("uploadStart");
        assertEquals([start.name, start.dialogGuid], ["sheet.csv", guid]);
        assertEquals(
          new TextDecoder().decode((await viewer.next("uploadChunk")).data),
          "a,b\n1,2\n",
        );
        await viewer.next("uploadEnd");
        await prompt.waitFor({ state: "hidden" });

        viewer.send({
          type: "fileRequest",
          request: { dialogGuid: "second-guid", title: "Attach" },
        });
        await prompt.waitFor();
        await page.locator(".ws-file-cancel").click();
        assertEquals(await viewer.next("fileCancel"), {
          type: "fileCancel",
          dialogGuid: "second-guid",
        });
        await prompt.waitFor({ state: "hidden" });
      },
    );

    await t.step(
      "a network drop reconnects with a fresh URL, and the overlay says so",
      async () => {
        const before = server.tokenRequests.length;
        const next = server.nextViewer();
        server.cut();
        await waitPage(page, "webstream.session.status === 'reconnecting'");
        const text = await page.locator(".ws-status-text").innerText();
        assertMatch(text, /Reconnecting in \d+ s \(attempt 1\)/);
        assert(await page.locator(".ws-overlay").isVisible());
        viewer = await next;
        assertEquals(server.tokenRequests.length, before + 1);
        await waitPage(
          page,
          "webstream.session.status === 'connected' && document.querySelector('.ws-overlay').hidden",
        );
        // Frames flow and are acknowledged on the new connection.
        viewer.send({
          type: "frame",
          frame: {
            frameId: 1,
            tiles: [{
              x: 0,
              y: 0,
              width: 10,
              height: 10,
              encoding: ENCODING.SOLID,
              data: new Uint8Array([1, 2, 3, 255]),
            }],
          },
        });
        assertEquals((await viewer.next("ack")).frameId, 1);
      },
    );

    await t.step("a failing connect() is retried with backoff", async () => {
      server.failTokens.push(503);
      const next = server.nextViewer();
      server.cut();
      await waitPage(
        page,
        "webstream.session.state.state === 'reconnecting' && webstream.session.state.attempt === 2",
        "a second reconnect attempt after the refused connect",
      );
      viewer = await next;
      await waitPage(page, "webstream.session.status === 'connected'");
    });

    await t.step(
      "a 4xxx close ends the view with its reason, without reconnecting",
      async () => {
        const before = server.tokenRequests.length;
        viewer.socket.close(4000, "replaced by a newer connection");
        await waitPage(page, "webstream.session.status === 'ended'");
        assertEquals(
          await page.locator(".ws-status-text").innerText(),
          "Session ended: replaced by a newer connection",
        );
        assert(await page.locator(".ws-close").isVisible());
        // Longer than the page's largest reconnect delay: nothing reconnects.
        await new Promise((r) => setTimeout(r, 3500));
        assertEquals(server.tokenRequests.length, before);
        assertEquals(await read(page, "webstream.session.status"), "ended");
        await page.locator(".ws-close").click();
        await page.locator(".ws-session").waitFor({ state: "detached" });
      },
    );

    assertEquals(errors, []);
    await page.context().close();
  } finally {
    await browser.close();
    await server.close();
  }
});

Deno.test("session view within a restrictive policy", OPTIONS, async (t) => {
  const server = startScriptedServer();
  server.hello = defaultHello({
    upload: false,
    clipboard: { toSession: false, fromSession: false },
  });
  server.routes.push((_request, url) =>
    url.pathname === "/session.html"
      ? new Response(sessionPage(), {
        headers: { "content-type": "text/html; charset=utf-8" },
      })
      : undefined
  );
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ width: 640, height: 480 });
    const viewer = await open(server, page);

    await t.step("no upload button; a FILE_REQUEST is declined", async () => {
      assert(!(await page.locator(".ws-upload").isVisible()));
      viewer.send({
        type: "fileRequest",
        request: { dialogGuid: "g-1", title: "Open" },
      });
      assertEquals(await viewer.next("fileCancel"), {
        type: "fileCancel",
        dialogGuid: "g-1",
      });
      assert(!(await page.locator(".ws-file-request").isVisible()));
    });

    await t.step("the clipboard stays where the policy keeps it", async () => {
      viewer.send({ type: "clipboard", text: "secret" });
      viewer.send({ type: "clipboardImage", png: patternPng(2, 2) });
      // A ping round trip later, the clipboard message has been handled.
      viewer.skipAll();
      await viewer.next("ping");
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(
        await read(page, "webstream.session.lastClipboard ?? null"),
        null,
      );
      assertEquals(await page.locator(".ws-clipboard-text").inputValue(), "");
      await page.locator(".ws-clipboard-toggle").click();
      assert(await page.locator(".ws-clipboard-send").isDisabled());
      assertEquals(
        await read(page, "webstream.session.lastClipboardImage ?? null"),
        null,
      );
      assert(
        await read(
          page,
          "document.querySelector('.ws-clipboard-image-box').hidden",
        ),
      );
      await paste(page, "not for the session");
      await pasteImage(page, patternPng(3, 3));
      await page.locator(".ws-canvas").press("x");
      await viewer.next("key", (m) => m.code === "KeyX" && !m.down);
      assertEquals(viewer.all("clipboard"), []);
      assertEquals(viewer.all("clipboardImage"), []);
    });

    await t.step("1001 'session ended' ends the view", async () => {
      viewer.socket.close(1001, "session ended");
      await waitPage(page, "webstream.session.status === 'ended'");
      assertEquals(
        await page.locator(".ws-status-text").innerText(),
        "Session ended: session ended",
      );
    });
    await page.context().close();
  } finally {
    await browser.close();
    await server.close();
  }
});
