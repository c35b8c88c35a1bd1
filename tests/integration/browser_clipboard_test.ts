/**
 * Clipboard images end to end with real components: a real Xvfb, real
 * `xclip` clients in the session, a real `webstream streamer` process and
 * the real web client in headless Chromium. An image pasted in the page
 * becomes the session's CLIPBOARD with the target `image/png`; an image an
 * app in the session copies reaches the page, which writes it to the
 * browser's clipboard (`navigator.clipboard.write`, permission granted) and
 * offers it in its clipboard panel. Pixels are compared both ways.
 *
 * Needs the Debian packages chromium, xvfb and xclip.
 *
 * @module
 */
// The project's import map has no entry for test-only packages.
import { decode, encode } from "fast-png";
import { assert, assertEquals } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import { startStreamerPage } from "../support/streamer_page.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

const OPTIONS = {
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
};

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** An RGBA test picture with distinct pixels, and its PNG. */
function picture(width: number, height: number, seed: number) {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data.set(
      [(i * 7 + seed) & 0xff, (i * 13) & 0xff, (i * 29 + seed) & 0xff, 255],
      i * 4,
    );
  }
  return { width, height, data, png: encode({ width, height, data }) };
}

/** Decoded RGBA pixels of a PNG (any bit depth and channel count → RGBA). */
function rgba(
  png: Uint8Array,
): { width: number; height: number; data: number[] } {
  const image = decode(png);
  const out: number[] = [];
  for (let i = 0; i < image.width * image.height; i++) {
    const px = Array.from(
      image.data.slice(i * image.channels, (i + 1) * image.channels),
    ) as number[];
    out.push(...(image.channels === 3 ? [...px, 255] : px));
  }
  return { width: image.width, height: image.height, data: out };
}

Deno.test(
  "a clipboard image goes both ways between the page and the session",
  OPTIONS,
  async () => {
    await withXvfb({ width: 640, height: 480 }, async (screen) => {
      const streamer = await startStreamerPage({ env: screen.env });
      const browser = await launchBrowser();
      let app: Deno.ChildProcess | undefined;
      try {
        const page = await browser.newPage({ width: 640, height: 480 });
        await page.context().grantPermissions(
          ["clipboard-read", "clipboard-write"],
          { origin: new URL(streamer.url).origin },
        );
        await page.goto(streamer.url);
        await waitFor(
          () => read<number>(page, "webstream.session?.framesDrawn ?? 0"),
          { what: "a first frame", timeoutMs: 30_000 },
        );
        await page.mouse.click(10, 10);

        // Browser → session: a pasted PNG becomes the CLIPBOARD's image/png.
        const up = picture(37, 21, 3);
        await page.evaluate(`(() => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(${
          JSON.stringify(Array.from(up.png))
        })], "pasted.png", { type: "image/png" }));
          document.querySelector(".ws-canvas").dispatchEvent(
            new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }),
          );
        })()`);
        const inSession = await waitFor(async () => {
          const out = await new Deno.Command("xclip", {
            args: ["-selection", "clipboard", "-o", "-t", "image/png"],
            env: screen.env,
            stderr: "null",
          }).output();
          return out.success && out.stdout.length ? out.stdout : undefined;
        }, { what: "the image in the session's clipboard", timeoutMs: 30_000 });
        const got = rgba(inSession);
        assertEquals([got.width, got.height], [up.width, up.height]);
        assertEquals(got.data, Array.from(up.data));

        // Session → browser: an app copies a PNG; the page gets it, writes
        // it to the browser's clipboard and shows it in the panel.
        const down = picture(23, 17, 101);
        app = new Deno.Command("xclip", {
          args: ["-selection", "clipboard", "-t", "image/png", "-in", "-quiet"],
          env: screen.env,
          stdin: "piped",
          stdout: "null",
          stderr: "null",
        }).spawn();
        const writer = app.stdin.getWriter();
        await writer.write(down.png);
        await writer.close();
        await waitFor(
          () =>
            read<boolean>(
              page,
              `webstream.session.lastClipboardImage?.length === ${down.png.length}`,
            ),
          { what: "the session's image in the page", timeoutMs: 30_000 },
        );
        const received = await read<number[]>(
          page,
          "Array.from(webstream.session.lastClipboardImage)",
        );
        assertEquals(received, Array.from(down.png));
        // The browser's clipboard holds the image (Chromium re-encodes it:
        // the pixels are compared).
        const clipboardPng = await waitFor(async () => {
          const bytes = await read<number[] | null>(
            page,
            `navigator.clipboard.read().then(async (items) => {
              const item = items.find((i) => i.types.includes("image/png"));
              if (!item) return null;
              const blob = await item.getType("image/png");
              return Array.from(new Uint8Array(await blob.arrayBuffer()));
            }).catch(() => null)`,
          );
          return bytes ?? undefined;
        }, { what: "the image in the browser's clipboard", timeoutMs: 15_000 });
        const fromClipboard = rgba(Uint8Array.from(clipboardPng));
        assertEquals(
          [fromClipboard.width, fromClipboard.height],
          [down.width, down.height],
        );
        assertEquals(fromClipboard.data, Array.from(down.data));
        assert(
          !(await read<boolean>(
            page,
            "document.querySelector('.ws-clipboard-image-box').hidden",
          )),
          "the panel offers the image",
        );
      } finally {
        if (app) {
          try {
            app.kill("SIGTERM");
          } catch {
            // Gone when it lost the selection.
          }
          await app.status;
        }
        await browser.close();
        await streamer.stop();
      }
    });
  },
);
