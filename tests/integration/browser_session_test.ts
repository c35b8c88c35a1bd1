/**
 * Issue 4 end to end, with real components only: headless Chromium signs in
 * to a real `webstream -gateway` (portal), launches apps placed on a real
 * `webstream -backend` host (real Xvfb sessions, real pool users as root),
 * and the real streamer shows them through the gateway's relay. Covered:
 * a colour an app paints reaches the canvas (screenshot and read-back);
 * an app that joins the session opens in a tab of its own, where a click
 * lands at the clicked X coordinates of its area and typed keys reach its xterm
 * (the command it runs writes a file); a view size change resizes the
 * app's area of the X screen; a TCP connection cut under the browser reconnects to the same
 * session; a streamer killed under the browser is restarted in the same
 * session and the page reconnects to it; the clipboard travels both ways; `webstream file-dialog` in the
 * session asks the browser, and the chosen file lands with the same bytes;
 * a workspace whose policy forbids uploads has no upload button and refuses
 * a raw upload; Log off in the toolbar ends the session on its host (its
 * display too) and at the gateway (the resolver answers 404).
 *
 * Needs the Debian packages chromium, xvfb, x11-utils (xdpyinfo),
 * x11-xserver-utils (xsetroot), xterm, xclip, openbox and iproute2 (ss).
 *
 * @module
 */
import { Buffer } from "node:buffer";
// The project's import map has no entry for test-only packages.
import { decode } from "fast-png";
import { XDisplay } from "../../ffi/x11/display.ts";
import { queryPointer } from "../../ffi/x11/image.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  hasChromium,
  launchBrowser,
  type Page,
  type TestBrowser,
} from "../support/browser.ts";
import { runCommand } from "../support/command.ts";
import {
  ADMIN_TOKEN,
  AdminClient,
  launchHost,
  resolveSession,
  SHARED_SECRET,
  signIn,
  startGateway,
  staysOpen,
  Teardown,
  type UserClient,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { findStreamer } from "../support/proc.ts";
import { topLevelWindows } from "../support/desktop_probe.ts";
import { waitFor } from "../support/wait.ts";
import { nextStreamerMessage, sendClient } from "../support/ws.ts";
import { xdpyinfo } from "../support/x11.ts";
import { MARK } from "../../httpdocs/session/marks.js";

const OPTIONS = {
  // Reading the session's X server and its user's files from the test needs
  // root (the session belongs to a pool user).
  ignore: !hasChromium() || Deno.uid() !== 0,
  sanitizeOps: false,
  sanitizeResources: false,
};

/** The colour the `paint` app fills the root window with. */
const PAINT: [number, number, number] = [0x2a, 0x7f, 0xd4];

/** What the test needs to know about a session's X display and user. */
interface SessionEnv {
  /** `DISPLAY`. */
  display: string;
  /** `XAUTHORITY`. */
  xauthority: string;
  /** The session user's home. */
  home: string;
  /** The Deno cache the streamer runs from. */
  denoDir: string;
  /** The streamer's command line up to `streamer`: starts webstream. */
  webstream: string[];
}

/** An app workspace for alice; every one needs uploads, so they share. */
function app(id: string, command: string): Record<string, unknown> {
  return {
    id,
    name: id,
    kind: "app",
    command: { linux: command },
    resources: { fileUpload: true, clipboard: true },
    users: ["alice"],
  };
}

/** Single-quotes a word for `/bin/sh`. */
function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/**
 * Waits until `expression` is true in the page. The deadline only bounds a
 * hang (CI machines are shared): on a timeout the error says where the
 * session view was.
 */
async function waitPage(
  page: Page,
  expression: string,
  what = expression,
): Promise<unknown> {
  try {
    return await waitFor(() => read(page, expression), {
      what,
      timeoutMs: 60_000,
    });
  } catch (error) {
    const state = await read(
      page,
      "JSON.stringify({ status: window.webstream?.session?.status, " +
        "hello: !!window.webstream?.session?.hello, " +
        "overlay: document.querySelector('.ws-overlay')?.textContent, " +
        "framesDrawn: window.webstream?.session?.framesDrawn, " +
        "url: location.href, text: document.body.innerText.slice(0, 400) })",
    ).catch((e) => `unreadable: ${e}`);
    throw new Error(`${(error as Error).message}; the page: ${state}`);
  }
}

/** One pixel of the browser's canvas, from the display's read-back. */
async function canvasPixel(
  page: Page,
  x: number,
  y: number,
): Promise<number[]> {
  const px = await read<Record<string, number>>(
    page,
    `webstream.session.readPixels(${x}, ${y}, 1, 1)`,
  );
  return [px[0], px[1], px[2]];
}

/** The page position of a remote screen pixel (its centre). */
async function pageAt(
  page: Page,
  x: number,
  y: number,
): Promise<{ x: number; y: number }> {
  const box = await page.locator(".ws-canvas").boundingBox();
  assert(box, "the canvas is shown");
  const screen = await read<{ width: number; height: number }>(
    page,
    "webstream.session.screen",
  );
  return {
    x: box.x + (x + 0.5) * box.width / screen.width,
    y: box.y + (y + 0.5) * box.height / screen.height,
  };
}

/** The US-layout key of each shifted character the test types. */
const SHIFTED: Readonly<Record<string, string>> = {
  '"': "Quote",
  ":": "Semicolon",
  "~": "Backquote",
  ">": "Period",
  "$": "Digit4",
};

/**
 * Types `text` as a person on a US keyboard does: Shift held down for
 * shifted characters. (Playwright's `keyboard.type` sends a shifted
 * character's key without Shift, which no physical keyboard does; the
 * streamer types by physical key, so it would type the unshifted one.)
 */
async function typeLikeAUser(page: Page, text: string): Promise<void> {
  for (const char of text) {
    if (Object.hasOwn(SHIFTED, char)) {
      await page.keyboard.press(`Shift+${SHIFTED[char]}`);
    } else if (/^[A-Z]$/.test(char)) {
      await page.keyboard.press(`Shift+Key${char}`);
    } else if (char === "\n") {
      await page.keyboard.press("Enter");
    } else {
      await page.keyboard.type(char);
    }
  }
}

/** Signs `user` in on the portal in a fresh browser context. */
async function portal(
  browser: TestBrowser,
  url: string,
  user: string,
): Promise<Page> {
  const page = await browser.newPage({ width: 800, height: 600 });
  await page.goto(`${url}/`);
  await page.locator("#signin").waitFor();
  await page.locator("input[name=user]").fill(user);
  await page.locator("input[name=password]").fill("Test-Passw0rd!");
  await page.locator("#signin button[type=submit]").click();
  await page.locator("#workspace-list button").first().waitFor();
  return page;
}

/** Clicks a workspace on the portal and waits for the session view. */
async function launchFromPortal(page: Page, workspaceId: string) {
  await page.locator(`#workspace-list button[data-workspace=${workspaceId}]`)
    .click();
  await waitPage(
    page,
    "window.webstream?.session?.status === 'connected' && " +
      "!!webstream.session.hello && " +
      "document.querySelector('.ws-overlay').hidden",
    `the ${workspaceId} session view to connect`,
  );
}

/** The environment of a gateway session's streamer. */
async function sessionEnv(
  gatewayUrl: string,
  sessionId: string,
): Promise<SessionEnv> {
  const resolved = await resolveSession(gatewayUrl, sessionId);
  assertEquals(resolved.status, 200, resolved.body);
  const port = JSON.parse(resolved.body).Port;
  const streamer = await findStreamer(port);
  assert(streamer, `a streamer serves port ${port}`);
  const environ = Object.fromEntries(
    (await Deno.readTextFile(`/proc/${streamer.pid}/environ`)).split("\0")
      .filter(Boolean).map((entry) => {
        const at = entry.indexOf("=");
        return [entry.slice(0, at), entry.slice(at + 1)];
      }),
  );
  return {
    display: environ.DISPLAY,
    xauthority: environ.XAUTHORITY,
    home: environ.HOME,
    denoDir: environ.DENO_DIR,
    webstream: streamer.argv.slice(0, streamer.argv.indexOf("streamer")),
  };
}

/** Opens the session's display as its user would (its cookie). */
/** The session's display as the desktop probe reads it. */
function access(env: SessionEnv): { display: string; authFile: string } {
  return { display: env.display, authFile: env.xauthority };
}

function withDisplay<T>(env: SessionEnv, use: (d: XDisplay) => T): T {
  const saved = Deno.env.get("XAUTHORITY");
  Deno.env.set("XAUTHORITY", env.xauthority);
  try {
    const display = XDisplay.open(env.display);
    try {
      return use(display);
    } finally {
      display.close();
    }
  } finally {
    if (saved === undefined) Deno.env.delete("XAUTHORITY");
    else Deno.env.set("XAUTHORITY", saved);
  }
}

/** The session's CLIPBOARD text, read with xclip as root. */
async function sessionClipboard(env: SessionEnv): Promise<string> {
  const result = await runCommand("xclip", {
    args: ["-o", "-selection", "clipboard"],
    env: { DISPLAY: env.display, XAUTHORITY: env.xauthority },
    clearEnv: true,
  });
  return result.stdout;
}

async function readTextOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

Deno.test("browser session end to end", OPTIONS, async (t) => {
  const teardown = new Teardown();
  try {
    // Scripts an app runs as the pool user: the folder must be reachable.
    const dir = await Deno.makeTempDir({ prefix: "webstream-browser-" });
    teardown.defer(() => Deno.remove(dir, { recursive: true }));
    await Deno.chmod(dir, 0o755);
    const dialogScript = `${dir}/dialog.sh`;
    const config = await writeGatewayConfig({
      users: ["alice", "bob"],
      workspaces: [
        app("paint", staysOpen(`xsetroot -solid '#2a7fd4'`)),
        app(
          "term",
          "xterm -geometry 60x8+0+0 -bg white -fg black -e /bin/sh",
        ),
        app(
          "clip",
          staysOpen(
            "printf from-session | xclip -selection clipboard -in -quiet",
          ),
        ),
        app("dialog", staysOpen(`/bin/sh ${dialogScript}`)),
        {
          id: "locked",
          name: "locked",
          kind: "app",
          command: { linux: "xterm -geometry 40x5+0+0" },
          resources: { fileUpload: false },
          users: ["bob"],
        },
      ],
    });
    teardown.defer(() => config.remove());
    const gateway = await startGateway(config);
    teardown.defer(() => gateway.stop());
    const host = await launchHost(teardown, gateway.url, {
      slots: 2,
      // Room for two 800x600 tabs side by side (paint's and term's).
      settings: {
        warmSessionCount: 1,
        screen: { width: 1920, height: 1080, depth: 24 },
      },
      // The streamers report to the gateway's metrics engine.
      sections: {
        metrics: { enabled: true, interval: 1 },
        activityLogging: { enabled: true },
      },
    });
    await new AdminClient(gateway.url).waitForHealthy([host]);
    // A failed step shows what the host and its streamers logged.
    const step = async (name: string, fn: () => Promise<void>) => {
      if (!await t.step(name, fn)) {
        console.error(
          `host log after "${name}":\n` +
            host.process.logs.slice(-40).map((r) => JSON.stringify(r))
              .join("\n"),
        );
      }
    };
    const browser = await launchBrowser();
    teardown.defer(() => browser.close());

    const page = await portal(browser, gateway.url, "alice");
    const errors: string[] = [];
    page.on("pageerror", (error: unknown) => errors.push(String(error)));
    const alice: UserClient = await signIn(gateway.url, "alice");
    await launchFromPortal(page, "paint");
    const sessions: { sessionId: string }[] =
      await (await alice.fetch("/api/sessions")).json();
    assertEquals(sessions.length, 1);
    const sessionId = sessions[0].sessionId;
    const env = await sessionEnv(gateway.url, sessionId);
    assertMatch(env.display, /^:\d+$/);

    await step("a colour the app paints reaches the canvas", async () => {
      // The whole screen is one flat colour: it travels as SOLID or PNG
      // tiles, so the colour is exact (no JPEG tolerance needed).
      await waitFor(async () => {
        const screen = await read<{ width: number; height: number }>(
          page,
          "webstream.session.screen",
        );
        const probes = [[0, 0], [screen.width - 1, screen.height - 1], [
          Math.floor(screen.width / 2),
          Math.floor(screen.height / 2),
        ]];
        for (const [x, y] of probes) {
          const px = await canvasPixel(page, x, y);
          if (px.join() !== PAINT.join()) return false;
        }
        return true;
      }, { what: "the painted colour on the canvas" });
      const screen = await read<{ width: number; height: number }>(
        page,
        "webstream.session.screen",
      );
      const block = await read<Record<string, number>>(
        page,
        `webstream.session.readPixels(0, 0, ${screen.width}, ${screen.height})`,
      );
      const total = screen.width * screen.height;
      let off = 0;
      for (let i = 0; i < total; i++) {
        const at = i * 4;
        if (
          block[at] !== PAINT[0] || block[at + 1] !== PAINT[1] ||
          block[at + 2] !== PAINT[2]
        ) off++;
      }
      assertEquals(off, 0, "every read-back pixel has the painted colour");

      // What the user sees: a real screenshot of the canvas.
      const box = await page.locator(".ws-canvas").boundingBox();
      assert(box && box.width > 100 && box.height > 100, JSON.stringify(box));
      const image = decode(
        await page.screenshot({
          clip: {
            x: Math.ceil(box.x),
            y: Math.ceil(box.y),
            width: Math.floor(box.width) - 1,
            height: Math.floor(box.height) - 1,
          },
        }),
      );
      const { width, height, channels } = image;
      for (
        const [x, y] of [[2, 2], [width - 3, height - 3], [width >> 1, 40], [
          40,
          height >> 1,
        ]]
      ) {
        const at = (y * width + x) * channels;
        assertEquals(
          Array.from(image.data.slice(at, at + 3)),
          PAINT,
          `screenshot at ${x},${y}`,
        );
      }
    });

    /** The term app's tab (opened by the next step). */
    let termPage: Page = page;
    await step(
      "a click lands at the clicked X coordinates, and typing reaches an xterm",
      async () => {
        // The app joins the session in a tab of its own, where it fills the
        // view: its area of the screen, beside the paint tab's.
        termPage = await page.context().newPage();
        await termPage.setViewportSize({ width: 800, height: 600 });
        await termPage.goto(`${gateway.url}/`);
        await launchFromPortal(termPage, "term");
        const sessionsNow: { sessionId: string }[] =
          await (await alice.fetch("/api/sessions")).json();
        assertEquals(sessionsNow.length, 1, "term shares paint's session");
        // The xterm's white background fills its tab.
        await waitFor(
          async () =>
            (await canvasPixel(termPage, 20, 20)).join() === "255,255,255",
          { what: "the xterm on the canvas" },
        );
        const area = await waitFor(
          () =>
            topLevelWindows(access(env)).find((w) =>
              w.role === "main" && w.rect.width === 800 && w.rect.height === 600
            )?.rect,
          { what: "the xterm filling its area" },
        );
        const target = await pageAt(termPage, 150, 40);
        await termPage.mouse.click(target.x, target.y);
        const at = { x: area.x + 150, y: area.y + 40 };
        await waitFor(() => {
          const pointer = withDisplay(env, queryPointer);
          return pointer.x === at.x && pointer.y === at.y;
        }, { what: `the X pointer at ${at.x},${at.y}` });
        const pointer = withDisplay(env, queryPointer);
        assertEquals([pointer.x, pointer.y], [at.x, at.y]);
        assert(pointer.child !== 0n, "the pointer is over the xterm");

        // The app's window manager gave the xterm the keyboard.
        await typeLikeAUser(
          termPage,
          'echo "typed-OK:~" > $HOME/typed.txt\n',
        );
        const typed = await waitFor(
          async () => await readTextOrEmpty(`${env.home}/typed.txt`),
          { what: "the file the typed command writes" },
        );
        assertEquals(typed, "typed-OK:~\n");
        // The paint tab still shows only paint.
        assertEquals((await canvasPixel(page, 20, 20)).join(), PAINT.join());
      },
    );

    await step(
      "a view size change resizes the app's area of the X screen",
      async () => {
        await page.setViewportSize({ width: 700, height: 500 });
        await waitPage(
          page,
          "webstream.session.screen.width === 700 && webstream.session.screen.height === 500",
          "the session's screen at 700x500",
        );
        // The paint app's area is 700x500; the screen holds it and the
        // term app's area beside it.
        const info = await xdpyinfo(env.display, env.xauthority);
        assert(info.ok, info.stderr);
        const [, width, height] = /dimensions:\s+(\d+)x(\d+) pixels/.exec(
          info.stdout,
        )!;
        assert(Number(width) >= 700 && Number(height) >= 500, info.stdout);
        // Drawn anew at the new size.
        await waitFor(
          async () =>
            (await canvasPixel(page, 699, 499)).join() === PAINT.join(),
          { what: "the corner of the resized screen" },
        );
      },
    );

    await step(
      "a connection cut under the browser reconnects to the same session",
      async () => {
        const before = await read<
          { uuid: string; frames: number; connects: number }
        >(
          termPage,
          "({ uuid: webstream.session.hello.sessionUuid, frames: webstream.session.framesDrawn, connects: webstream.session.connects })",
        );
        // What the overlay says while the view is not connected.
        await termPage.evaluate(`(() => {
          window.overlaySeen = [];
          window.overlayWatch = setInterval(() => {
            const overlay = document.querySelector(".ws-overlay");
            if (!overlay.hidden) {
              overlaySeen.push(webstream.session.status + "|" +
                document.querySelector(".ws-status-text").innerText);
            }
          }, 10);
        })()`);
        // A real cut: the kernel aborts the browser's TCP connections to
        // the gateway (RST), as a dropped network would.
        const cut = await runCommand("ss", {
          args: [
            "-K",
            "dst",
            "127.0.0.1",
            "dport",
            "=",
            `:${config.port}`,
          ],
        });
        assert(cut.ok, cut.stderr);
        // ss lists what it killed; nothing means the kernel cannot (it needs
        // CONFIG_INET_DIAG_DESTROY). Playwright's setOffline is no substitute:
        // Chromium keeps open WebSockets through it.
        assertMatch(
          cut.stdout,
          new RegExp(`127\\.0\\.0\\.1:${config.port}\\b`),
          "ss -K cut the browser's connections",
        );
        await waitPage(
          termPage,
          `webstream.session.connects > ${before.connects} && ` +
            "webstream.session.status === 'connected' && " +
            "document.querySelector('.ws-overlay').hidden",
          "the view to reconnect",
        );
        const seen = await read<string[]>(
          termPage,
          "(clearInterval(overlayWatch), overlaySeen)",
        );
        assert(
          seen.some((s) =>
            /^reconnecting\|Connection lost\. Reconnecting in \d+ s \(attempt 1\)/
              .test(s)
          ),
          `the overlay said it was reconnecting: ${JSON.stringify(seen)}`,
        );
        const after = await read<{ uuid: string; connects: number }>(
          termPage,
          "({ uuid: webstream.session.hello.sessionUuid, connects: webstream.session.connects })",
        );
        assertEquals(after.connects, before.connects + 1);
        assertEquals(after.uuid, before.uuid, "the same session");
        await waitPage(
          termPage,
          `webstream.session.framesDrawn > ${before.frames}`,
          "frames on the new connection",
        );
        // The app's state is still there: the xterm (a blank spot of it
        // after what was typed) and the file it wrote.
        await waitFor(
          async () =>
            (await canvasPixel(termPage, 300, 95)).join() === "255,255,255",
          { what: "the xterm on the canvas after reconnecting" },
        );
        assertEquals(
          await Deno.readTextFile(`${env.home}/typed.txt`),
          "typed-OK:~\n",
        );
        // And the session still takes input.
        // Below the toolbar, which floats over the top of the view.
        const again = await pageAt(termPage, 40, 60);
        await termPage.mouse.click(again.x, again.y);
        await typeLikeAUser(termPage, "echo again > $HOME/again.txt\n");
        assertEquals(
          await waitFor(() => readTextOrEmpty(`${env.home}/again.txt`), {
            what: "the file typed after reconnecting",
          }),
          "again\n",
        );
      },
    );

    await step(
      "a streamer killed under the browser is restarted and the page reconnects",
      async () => {
        // Each connection marks its first frame drawn once (marks.js).
        const firstFrames = `performance.getEntriesByName(${
          JSON.stringify(MARK.drawn)
        }).length`;
        const before = await read<
          { uuid: string; connects: number; firstFrames: number }
        >(
          termPage,
          "({ uuid: webstream.session.hello.sessionUuid, connects: webstream.session.connects, " +
            `firstFrames: ${firstFrames} })`,
        );
        const resolved = await resolveSession(gateway.url, sessionId);
        const port = JSON.parse(resolved.body).Port;
        const old = (await findStreamer(port))!;
        assert(old, "the session's streamer");
        Deno.kill(old.pid, "SIGKILL");
        await waitPage(
          termPage,
          `webstream.session.connects > ${before.connects} && ` +
            "webstream.session.status === 'connected' && " +
            "document.querySelector('.ws-overlay').hidden",
          "the view to reconnect to the restarted streamer",
        );
        const after = await read<{ uuid: string }>(
          termPage,
          "({ uuid: webstream.session.hello.sessionUuid })",
        );
        assertEquals(after.uuid, before.uuid, "the same session");
        // The new streamer's picture: its first frame (which may be drawn
        // before the reconnect is seen here), and the xterm on the canvas.
        await waitPage(
          termPage,
          `${firstFrames} > ${before.firstFrames}`,
          "frames from the new streamer",
        );
        await waitFor(
          async () =>
            (await canvasPixel(termPage, 300, 95)).join() === "255,255,255",
          { what: "the xterm on the canvas after the restart" },
        );
        const now = await findStreamer(port);
        assert(now && now.pid !== old.pid, "a new streamer serves it");
        assertEquals(
          (await sessionEnv(gateway.url, sessionId)).display,
          env.display,
        );
        // The apps lived through it: the xterm still takes input. (Clicked
        // below the toolbar, which widens with its frame-rate label.)
        const spot = await pageAt(termPage, 100, 70);
        await termPage.mouse.click(spot.x, spot.y);
        await typeLikeAUser(termPage, "echo restarted > $HOME/restarted.txt\n");
        assertEquals(
          await waitFor(() => readTextOrEmpty(`${env.home}/restarted.txt`), {
            what: "the file typed after the restart",
          }),
          "restarted\n",
        );
      },
    );

    await step("the clipboard travels both ways", async () => {
      await alice.launchOk("clip");
      await waitPage(
        page,
        "webstream.session.lastClipboard === 'from-session'",
        "the session's clipboard in the browser",
      );
      assertEquals(
        await page.locator(".ws-clipboard-text").inputValue(),
        "from-session",
      );
      await page.locator(".ws-clipboard-toggle").click();
      await page.locator(".ws-clipboard-text").fill("from the browser ✓");
      await page.locator(".ws-clipboard-send").click();
      await page.locator(".ws-clipboard-toggle").click();
      assertEquals(
        await waitFor(async () => {
          const text = await sessionClipboard(env);
          return text === "from the browser ✓" ? text : undefined;
        }, { what: "the browser's text in the session's CLIPBOARD" }),
        "from the browser ✓",
      );
    });

    await step(
      "webstream file-dialog asks the browser and the file lands",
      async () => {
        // The dialog runs webstream as the streamer does (same Deno, same
        // cache), as the session user.
        const command = [
          ...env.webstream,
          "file-dialog",
          "-title",
          "Pick a report",
        ].map(shellQuote).join(" ");
        await Deno.writeTextFile(
          dialogScript,
          `DENO_DIR=${shellQuote(env.denoDir)} DENO_NO_UPDATE_CHECK=1 ` +
            `${command} > "$HOME/landed.txt" 2> "$HOME/dialog.err"\n`,
          { mode: 0o755 },
        );
        await Deno.chmod(dialogScript, 0o755);
        // The user works in the paint tab: the dialog asks there (not in
        // the term tab, also open).
        const spot = await pageAt(page, 200, 200);
        await page.mouse.click(spot.x, spot.y);
        await alice.launchOk("dialog");
        const prompt = page.locator(".ws-file-request");
        await prompt.waitFor({ timeout: 30_000 });
        assertMatch(await prompt.innerText(), /Pick a report/);
        const bytes = new Uint8Array(300_000);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7 + 3) & 0xff;
        await page.locator(".ws-file-input").setInputFiles({
          name: "report.bin",
          mimeType: "application/octet-stream",
          buffer: Buffer.from(bytes),
        });
        const landed = await waitFor(
          async () => (await readTextOrEmpty(`${env.home}/landed.txt`)).trim(),
          { what: "the dialog to print the landed path" },
        );
        assertEquals(
          landed,
          `${env.home}/Uploads/report.bin`,
          await readTextOrEmpty(`${env.home}/dialog.err`),
        );
        const received = await Deno.readFile(landed);
        assertEquals(received.length, bytes.length);
        assert(received.every((b, i) => b === bytes[i]), "the same bytes");
        await prompt.waitFor({ state: "hidden" });
      },
    );

    await step(
      "a policy without uploads has no upload button and refuses a raw upload",
      async () => {
        const bobPage = await portal(browser, gateway.url, "bob");
        await launchFromPortal(bobPage, "locked");
        assertEquals(
          await read(bobPage, "webstream.session.hello.upload"),
          false,
        );
        assert(!(await bobPage.locator(".ws-upload").isVisible()));
        assert(await page.locator(".ws-upload").isVisible(), "alice has it");

        const bob = await signIn(gateway.url, "bob");
        const mine: { sessionId: string }[] =
          await (await bob.fetch("/api/sessions")).json();
        assertEquals(mine.length, 1);
        const bobEnv = await sessionEnv(gateway.url, mine[0].sessionId);
        assert(bobEnv.home !== env.home, "bob has his own session");
        // A client that ignores the hello: a fresh token, the raw messages.
        const launched = await bob.launchOk("locked", mine[0].sessionId);
        const ws = await bob.openRelay(launched.sessionId, launched.token);
        try {
          const { hello } = await nextStreamerMessage(ws, "hello");
          assertEquals(hello.upload, false);
          const data = new TextEncoder().encode("sneaky");
          sendClient(ws, {
            type: "uploadStart",
            uploadId: 7,
            name: "sneaky.txt",
            size: data.length,
          });
          sendClient(ws, { type: "uploadChunk", uploadId: 7, data });
          sendClient(ws, { type: "uploadEnd", uploadId: 7 });
          const { result } = await nextStreamerMessage(ws, "uploadResult");
          assertEquals(result.uploadId, 7);
          assertEquals(result.ok, false);
          assertMatch(String(result.error), /not allowed/);
          // A ping answered after it: every upload message was handled.
          const id = 4242;
          sendClient(ws, { type: "ping", id });
          assertEquals((await nextStreamerMessage(ws, "pong")).id, id);
        } finally {
          await ws.close();
        }
        let names: string[] = [];
        try {
          names = [...Deno.readDirSync(`${bobEnv.home}/Uploads`)].map((e) =>
            e.name
          );
        } catch (error) {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        }
        assertEquals(names, [], "nothing landed");
        await bobPage.context().close();
      },
    );

    await step(
      "streamers report metrics and activity to the gateway",
      async () => {
        const counter = (text: string, name: string): number =>
          [...text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))]
            .reduce((sum, m) => sum + Number(m[2]), 0);
        let text = "";
        await waitFor(async () => {
          const response = await fetch(`${gateway.url}/metrics`, {
            headers: { Authorization: `Bearer ${ADMIN_TOKEN}` },
          });
          text = await response.text();
          return counter(text, "webstream_stream_bytes_total") > 0 &&
            counter(text, "webstream_input_events_total") > 0;
        }, { what: "streamer metrics at the gateway" });
        assertMatch(
          text,
          /^webstream_activity_events_total\{event="session_start"\} [1-9]/m,
        );
        assertMatch(
          text,
          /^webstream_activity_events_total\{event="upload"\} [1-9]/m,
        );
      },
    );

    await step(
      "Log off in the toolbar ends the session on its host and at the gateway",
      async () => {
        const bobPage = await portal(browser, gateway.url, "bob");
        bobPage.on(
          "dialog",
          (dialog: { accept(): Promise<void> }) => dialog.accept(),
        );
        // Bob's session from the step before: reconnect from the list.
        await bobPage.locator("#session-list button", { hasText: "Reconnect" })
          .first().click();
        await waitPage(
          bobPage,
          "window.webstream?.session?.status === 'connected' && " +
            "document.querySelector('.ws-overlay').hidden",
          "bob's session view to reconnect",
        );
        const bob = await signIn(gateway.url, "bob");
        const mine: { sessionId: string }[] =
          await (await bob.fetch("/api/sessions")).json();
        assertEquals(mine.length, 1);
        const bobEnv = await sessionEnv(gateway.url, mine[0].sessionId);
        const hostSessions = async () => {
          const response = await fetch(`${host.serverUrl}/sessions`, {
            headers: { Authorization: `Bearer ${SHARED_SECRET}` },
          });
          return (await response.json()).sessions as {
            sessionId: string;
          }[];
        };
        assert(
          (await hostSessions()).some((s) => s.sessionId === mine[0].sessionId),
        );
        await bobPage.locator(".ws-log-off").click();
        await waitFor(
          async () =>
            (await resolveSession(gateway.url, mine[0].sessionId)).status ===
              404,
          { what: "the resolver to forget the logged-off session" },
        );
        assertEquals(await (await bob.fetch("/api/sessions")).json(), []);
        assert(
          !(await hostSessions()).some((s) =>
            s.sessionId === mine[0].sessionId
          ),
          "ended on its host",
        );
        // Its display went with it.
        await waitFor(
          () => {
            try {
              withDisplay(bobEnv, () => {});
              return false;
            } catch {
              return true;
            }
          },
          { what: "the session's display to end" },
        );
        await bobPage.context().close();
      },
    );

    assertEquals(errors, []);
    await page.context().close();
  } finally {
    await teardown.run();
  }
});
