/**
 * Media v2 end to end with real components: a real Xvfb, a real xterm, a
 * real `webstream streamer` process and the real web client in headless
 * Chromium. Text scrolling in the xterm reaches the browser as `COPY`
 * instructions plus the new lines, and once it stops the canvas equals the
 * session's pixels exactly.
 *
 * Needs the Debian packages chromium, xvfb and xterm.
 *
 * @module
 */
import { XDisplay } from "../../ffi/x11/display.ts";
import { copyPixels, destroyImage, getImage } from "../../ffi/x11/image.ts";
import { stopProcessGroup } from "../../mod/platform/linux/processes.ts";
import { assert } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import { startStreamerPage } from "../support/streamer_page.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

const OPTIONS = {
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
};

const SCREEN = { width: 800, height: 600 };

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** The session's screen as RGBA, read from the X server. */
function screenRgba(display: string): Uint8Array {
  const x = XDisplay.open(display);
  try {
    const image = getImage(x, x.root, { x: 0, y: 0, ...SCREEN });
    if (!image) throw new Error("XGetImage failed");
    const bgrx = new Uint8Array(SCREEN.width * SCREEN.height * 4);
    try {
      copyPixels(image, bgrx);
    } finally {
      destroyImage(image);
    }
    for (let i = 0; i < bgrx.length; i += 4) {
      const b = bgrx[i];
      bgrx[i] = bgrx[i + 2];
      bgrx[i + 2] = b;
      bgrx[i + 3] = 255;
    }
    return bgrx;
  } finally {
    x.close();
  }
}

/** Pixels where the canvas differs from the session's screen. */
async function differingPixels(page: Page, display: string): Promise<number> {
  const canvas = await read<Record<string, number>>(
    page,
    `webstream.session.readPixels(0, 0, ${SCREEN.width}, ${SCREEN.height})`,
  );
  const screen = screenRgba(display);
  let off = 0;
  for (let i = 0; i < screen.length; i += 4) {
    if (
      canvas[i] !== screen[i] || canvas[i + 1] !== screen[i + 1] ||
      canvas[i + 2] !== screen[i + 2]
    ) off++;
  }
  return off;
}

Deno.test(
  "scrolling text reaches the browser as copies, and ends exact",
  OPTIONS,
  async () => {
    await withXvfb({ ...SCREEN }, async (screen) => {
      // An xterm that prints 200 numbered lines at about 40 lines/s, then
      // waits (the screen stays still for the comparison).
      const script = "i=0; while [ $i -lt 200 ]; do " +
        'echo "line $i: the quick brown fox jumps over the lazy dog $((i * 7919))"; ' +
        "i=$((i+1)); sleep 0.025; done; exec sleep 600";
      const streamer = await startStreamerPage({ env: screen.env });
      const browser = await launchBrowser();
      let xterm: Deno.ChildProcess | undefined;
      try {
        const page = await browser.newPage(SCREEN);
        await page.goto(streamer.url);
        await waitFor(
          () => read<number>(page, "webstream.session?.framesDrawn ?? 0"),
          { what: "a first frame", timeoutMs: 30_000 },
        );
        // The text scrolls while the browser watches.
        xterm = new Deno.Command("xterm", {
          args: ["-geometry", "90x30+0+0", "-e", "sh", "-c", script],
          env: screen.env,
          detached: true,
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        await waitFor(
          async () =>
            ((await read<Record<string, number>>(
              page,
              "webstream.session.tilesReceived",
            )).COPY ?? 0) > 20,
          { what: "copies while the text scrolls", timeoutMs: 60_000 },
        ).catch(() => {});
        // The canvas catches up with the still screen exactly.
        await waitFor(
          async () => (await differingPixels(page, screen.display)) === 0,
          { what: "the canvas to equal the screen", timeoutMs: 60_000 },
        );
        const tiles = await read<Record<string, number>>(
          page,
          "webstream.session.tilesReceived",
        );
        assert(
          (tiles.COPY ?? 0) > 0,
          `copies were used: ${JSON.stringify(tiles)}`,
        );
        assert(!tiles.JPEG, `text never went lossy: ${JSON.stringify(tiles)}`);
      } finally {
        await browser.close();
        await streamer.stop();
        if (xterm) await stopProcessGroup(xterm);
      }
    });
  },
);
