/**
 * High-DPI screens, with a real streamer on a real Xvfb and the real web
 * client in headless Chromium at `deviceScaleFactor` 2: the X screen
 * becomes the view's size in device pixels (2×), or 1.5× or 1× under the
 * policy's `maxPixelRatio`; the canvas' backing store is the session's size
 * and its CSS size the view's, so a screenshot (device pixels) shows the X
 * screen's pixels unchanged; a pointer at a CSS position lands at the right
 * X pixel (asked of the X server); a change of `devicePixelRatio` alone
 * (another monitor; Chromium's emulation changes the ratio but fires no
 * `change` for the page's media query, so the test delivers that event)
 * resizes the session; a screen whose maximum is smaller
 * than the device size gets the largest ratio that fits, and input still
 * maps.
 *
 * Needs the Debian packages chromium, xvfb and xterm.
 *
 * @module
 */
// The project's import map has no entry for test-only packages.
import { decode } from "fast-png";
import { XDisplay } from "../../ffi/x11/display.ts";
import {
  copyPixels,
  destroyImage,
  getImage,
  queryPointer,
} from "../../ffi/x11/image.ts";
import { screenSize } from "../../ffi/x11/randr.ts";
import { assert, assertEquals } from "../support/assert.ts";
import {
  hasChromium,
  launchBrowser,
  type Page,
  type TestBrowser,
} from "../support/browser.ts";
import { startStreamerPage } from "../support/streamer_page.ts";
import { waitFor } from "../support/wait.ts";
import { type TestScreen, withXvfb } from "../support/x11_draw.ts";

const OPTIONS = {
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
};

/** The browser window, in CSS pixels. */
const WINDOW = { width: 640, height: 400 };

type Size = { width: number; height: number };

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** The X screen's size, asked of the server. */
function xScreen(display: string): Size {
  const x = XDisplay.open(display);
  try {
    const { width, height } = screenSize(x);
    return { width, height };
  } finally {
    x.close();
  }
}

/** The X pointer's position. */
function xPointer(display: string): { x: number; y: number } {
  const x = XDisplay.open(display);
  try {
    const { x: px, y: py } = queryPointer(x);
    return { x: px, y: py };
  } finally {
    x.close();
  }
}

/** RGB of an area of the X screen. */
function xPixels(display: string, area: Size): Uint8Array {
  const x = XDisplay.open(display);
  try {
    const image = getImage(x, x.root, { x: 0, y: 0, ...area });
    if (!image) throw new Error("XGetImage failed");
    const bgrx = new Uint8Array(area.width * area.height * 4);
    try {
      copyPixels(image, bgrx);
    } finally {
      destroyImage(image);
    }
    return bgrx;
  } finally {
    x.close();
  }
}

/** Opens the page and waits until the session (X and page) is `expected`. */
async function openAt(
  browser: TestBrowser,
  url: string,
  display: string,
  options: {
    deviceScaleFactor: number;
    expected: (view: Size) => Size;
    init?: string;
  },
): Promise<{ page: Page; view: Size; session: Size }> {
  const page = await browser.newPage(WINDOW, options);
  if (options.init) await page.addInitScript(options.init);
  await page.goto(url);
  await waitFor(() => read<boolean>(page, "!!webstream.session?.hello"), {
    what: "the hello",
    timeoutMs: 30_000,
  });
  const view = await read<Size>(page, "webstream.session.viewSize()");
  const session = options.expected(view);
  let seen = "";
  await waitFor(async () => {
    const shown = await read<Size>(page, "webstream.session.screen");
    const x = xScreen(display);
    seen =
      `the page shows ${shown.width}x${shown.height}, X has ${x.width}x${x.height}`;
    return shown.width === session.width && shown.height === session.height &&
      x.width === session.width && x.height === session.height;
  }, { what: `a session of ${session.width}x${session.height}` }).catch(
    (error) => {
      throw new Error(`${error.message}: ${seen}`);
    },
  );
  return { page, view, session };
}

/** The canvas fills the view (CSS) and its backing store is `session`. */
async function assertCanvas(page: Page, view: Size, session: Size) {
  await waitFor(async () => {
    const box = await page.locator(".ws-canvas").boundingBox();
    return box?.width === view.width && box.height === view.height;
  }, { what: `the canvas at ${view.width}x${view.height} CSS pixels` });
  // Pixels exist up to the session's size, and none beyond.
  const alpha = async (x: number, y: number) =>
    (await read<Record<string, number>>(
      page,
      `webstream.session.readPixels(${x}, ${y}, 1, 1)`,
    ))[3];
  await waitFor(
    async () => await alpha(session.width - 1, session.height - 1) === 255,
    { what: "the last session pixel drawn" },
  );
  assertEquals(await alpha(session.width, session.height - 1), 0);
  assertEquals(await alpha(session.width - 1, session.height), 0);
}

/** A pointer at CSS positions lands on the X pixels they show. */
async function assertPointer(page: Page, display: string, session: Size) {
  const box = await page.locator(".ws-canvas").boundingBox();
  assert(box, "the canvas is shown");
  for (const [cx, cy] of [[10.25, 20.75], [box.width - 3, box.height - 2]]) {
    const expected = {
      x: Math.floor(cx * session.width / box.width),
      y: Math.floor(cy * session.height / box.height),
    };
    await page.mouse.move(box.x + cx, box.y + cy);
    await waitFor(() => {
      const at = xPointer(display);
      return at.x === expected.x && at.y === expected.y;
    }, {
      what: `the X pointer at ${expected.x},${expected.y}`,
      timeoutMs: 10_000,
    });
  }
  // A click is a press and a release there (injected once the streamer has
  // the page's messages: the browser does not wait for that).
  await page.mouse.click(box.x + 30, box.y + 40);
  const clicked = {
    x: Math.floor(30 * session.width / box.width),
    y: Math.floor(40 * session.height / box.height),
  };
  let at = xPointer(display);
  await waitFor(() => {
    at = xPointer(display);
    return at.x === clicked.x && at.y === clicked.y;
  }, { what: "the click's X pointer", timeoutMs: 10_000 }).catch(() => {});
  assertEquals(at, clicked);
}

/** Runs `fn` with a browser, a streamer page (policy cap) on `screen`. */
async function withPage(
  screen: TestScreen,
  maxPixelRatio: number,
  fn: (browser: TestBrowser, url: string) => Promise<void>,
) {
  const streamer = await startStreamerPage({
    env: screen.env,
    policy: { maxPixelRatio },
  });
  const browser = await launchBrowser();
  try {
    await fn(browser, streamer.url);
  } catch (error) {
    console.error(streamer.stderr());
    throw error;
  } finally {
    await browser.close();
    await streamer.stop();
  }
}

Deno.test(
  "a 2× screen gets a 2× session within the policy's cap",
  OPTIONS,
  async (t) => {
    await withXvfb({ width: 3840, height: 2160 }, async (screen) => {
      for (const cap of [2, 1.5, 1]) {
        await t.step(`maxPixelRatio ${cap}`, async () => {
          await withPage(screen, cap, async (browser, url) => {
            const { page, view, session } = await openAt(
              browser,
              url,
              screen.display,
              {
                deviceScaleFactor: 2,
                expected: (v) => ({
                  width: Math.floor(v.width * cap),
                  height: Math.floor(v.height * cap),
                }),
              },
            );
            await assertCanvas(page, view, session);
            await assertPointer(page, screen.display, session);
          });
        });
      }
    });
  },
);

Deno.test(
  "at 2× the screenshot shows the X screen's pixels unscaled",
  OPTIONS,
  async () => {
    await withXvfb({ width: 3840, height: 2160 }, async (screen) => {
      // Text: fine detail any resampling would blur.
      const xterm = new Deno.Command("xterm", {
        args: ["-geometry", "60x10+0+0", "-bg", "white", "-fg", "black"],
        env: screen.env,
        detached: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await withPage(screen, 2, async (browser, url) => {
          const { page } = await openAt(browser, url, screen.display, {
            deviceScaleFactor: 2,
            expected: (v) => ({ width: v.width * 2, height: v.height * 2 }),
          });
          const area = { width: 300, height: 120 };
          const box = await page.locator(".ws-canvas").boundingBox();
          assert(box, "the canvas is shown");
          let off = -1;
          await waitFor(async () => {
            const shot = decode(
              await page.screenshot({
                clip: { x: box.x, y: box.y, ...{ width: 150, height: 60 } },
              }),
            );
            assertEquals([shot.width, shot.height], [area.width, area.height]);
            const x = xPixels(screen.display, area);
            off = 0;
            for (let i = 0; i < area.width * area.height; i++) {
              const s = i * shot.channels;
              if (
                shot.data[s] !== x[i * 4 + 2] ||
                shot.data[s + 1] !== x[i * 4 + 1] ||
                shot.data[s + 2] !== x[i * 4]
              ) off++;
            }
            return off === 0;
          }, { what: "the screenshot to equal the X screen" }).catch(() => {
            throw new Error(`${off} pixels differ from the X screen`);
          });
        });
      } finally {
        try {
          Deno.kill(-xterm.pid, "SIGTERM");
        } catch {
          // Already gone.
        }
        await xterm.status;
      }
    });
  },
);

/**
 * Records the page's media queries, so the test can deliver the `change`
 * event Chromium does not fire for an emulated ratio change.
 */
const RECORD_MEDIA_QUERIES = `
  const lists = [];
  const matchMedia = window.matchMedia.bind(window);
  window.matchMedia = (query) => {
    const list = matchMedia(query);
    lists.push(list);
    return list;
  };
  window.mediaQueries = lists;
`;

Deno.test(
  "a change of devicePixelRatio alone resizes the session",
  OPTIONS,
  async () => {
    await withXvfb({ width: 3840, height: 2160 }, async (screen) => {
      await withPage(screen, 2, async (browser, url) => {
        const { page, view } = await openAt(browser, url, screen.display, {
          deviceScaleFactor: 2,
          expected: (v) => ({ width: v.width * 2, height: v.height * 2 }),
          init: RECORD_MEDIA_QUERIES,
        });
        // The window moves to a 1× monitor: same CSS size, half the pixels.
        const cdp = await page.context().newCDPSession(page);
        await cdp.send("Emulation.setDeviceMetricsOverride", {
          ...WINDOW,
          deviceScaleFactor: 1,
          mobile: false,
        });
        assertEquals(await read(page, "devicePixelRatio"), 1);
        // Chromium does not fire it for emulation; a real move does.
        const watched = await read<string>(
          page,
          `(() => {
            const list = mediaQueries.findLast((l) => l.media.includes("resolution"));
            list.dispatchEvent(new Event("change"));
            return list.media;
          })()`,
        );
        assertEquals(watched, "(resolution: 2dppx)");
        await waitFor(() => {
          const x = xScreen(screen.display);
          return x.width === view.width && x.height === view.height;
        }, { what: "the session at the view's CSS size" });
        await assertCanvas(page, view, view);
        await assertPointer(page, screen.display, view);
        // The page now watches the new ratio.
        assertEquals(
          await read(
            page,
            `mediaQueries.findLast((l) => l.media.includes("resolution")).media`,
          ),
          "(resolution: 1dppx)",
        );
      });
    });
  },
);

Deno.test(
  "a screen smaller than the device size gets the ratio that fits",
  OPTIONS,
  async () => {
    // At 2× the view needs about 1280×800; this screen has at most 960×720.
    await withXvfb({ width: 960, height: 720 }, async (screen) => {
      await withPage(screen, 2, async (browser, url) => {
        let expected: Size = { width: 0, height: 0 };
        const { page, view, session } = await openAt(
          browser,
          url,
          screen.display,
          {
            deviceScaleFactor: 2,
            expected: (v) => {
              const ratio = Math.min(960 / v.width, 720 / v.height);
              expected = {
                width: Math.floor(v.width * 2 * ratio / 2 + 1e-9),
                height: Math.floor(v.height * 2 * ratio / 2 + 1e-9),
              };
              return expected;
            },
          },
        );
        assert(expected.width === 960 || expected.height === 720);
        await assertCanvas(page, view, session);
        await assertPointer(page, screen.display, session);
      });
    });
  },
);
