/**
 * Published apps as users get them, with real components only: headless
 * Chromium signs in to a real `webstream -gateway`, launches apps placed
 * on a real `webstream -backend` (real Xvfb, real pool user as root, real
 * streamer, openbox in app mode, through the gateway's relay).
 *
 * - Two apps in one shared session, each launched
 *   from a tab of its own: each tab shows only its own app (the pixels of
 *   its canvas are that app's colour, none of the other's), and each app's
 *   window is exactly its tab's size, undecorated; after the browser window
 *   is resized, the app's window follows; typing in a tab reaches its own
 *   app, without a click into it first.
 * - A dialog the app opens (a Tk transient window) is visible in the tab,
 *   over the app's main window.
 * - When the app's last window closes, its tab says the app has closed, even
 *   though the app's process runs on.
 *
 * Needs the Debian packages chromium, xvfb, openbox, xterm and python3-tk.
 *
 * @module
 */
import { Buffer } from "node:buffer";
// The project's import map has no entry for test-only packages.
import { decode } from "fast-png";
import { assert, assertEquals } from "../support/assert.ts";
import {
  hasChromium,
  launchBrowser,
  type Page,
  type TestBrowser,
} from "../support/browser.ts";
import {
  type DisplayAccess,
  displayOf,
  topLevelWindows,
} from "../support/desktop_probe.ts";
import {
  AdminClient,
  launchHost,
  resolveSession,
  signIn,
  startGateway,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { findStreamer, liveProcesses } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";

const OPTIONS = {
  // Reading the session's X server needs root (it is a pool user's).
  ignore: !hasChromium() || Deno.uid() !== 0,
  sanitizeOps: false,
  sanitizeResources: false,
};

type Rgb = [number, number, number];
const RED: Rgb = [255, 0, 0];
const BLUE: Rgb = [0, 0, 255];
const GREEN: Rgb = [0, 255, 0];
const MAGENTA: Rgb = [255, 0, 255];

/** An app workspace for alice. */
function app(id: string, command: string): Record<string, unknown> {
  return { id, name: id, kind: "app", command: { linux: command } };
}

/**
 * An xterm all of one colour (text and cursor too), whose typed lines land
 * in `~/<colour>.txt`.
 */
function xterm(colour: string): string {
  return `xterm -bg ${colour} -fg ${colour} -cr ${colour} -bd ${colour} ` +
    `-e sh -c 'cat > "$HOME/${colour}.txt"'`;
}

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/**
 * A real gateway with alice and `workspaces`, one host (`options` for it),
 * healthy, and a browser; all ended by `teardown`.
 */
async function farm(
  teardown: Teardown,
  workspaces: Record<string, unknown>[],
  options: Parameters<typeof launchHost>[2] = { slots: 1 },
): Promise<{ url: string; browser: TestBrowser }> {
  const config = await writeGatewayConfig({ users: ["alice"], workspaces });
  teardown.defer(() => config.remove());
  const gateway = await startGateway(config);
  teardown.defer(() => gateway.stop());
  const host = await launchHost(teardown, gateway.url, options);
  await new AdminClient(gateway.url).waitForHealthy([host]);
  const browser = await launchBrowser();
  teardown.defer(() => browser.close());
  return { url: gateway.url, browser };
}

/** A Tk app in `dir`, readable by the pool users. */
async function tkApp(teardown: Teardown, source: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-tk-app-" });
  teardown.defer(() => Deno.remove(dir, { recursive: true }));
  await Deno.chmod(dir, 0o755);
  await Deno.writeTextFile(`${dir}/app.py`, source, { mode: 0o644 });
  return `${dir}/app.py`;
}

/** Signs `page` in (unless its context already is) and launches `workspace`. */
async function launch(
  page: Page,
  url: string,
  workspace: string,
): Promise<void> {
  await page.goto(`${url}/`);
  const tile = page.locator(
    `#workspace-list button[data-workspace=${workspace}]`,
  );
  const signin = page.locator("#signin");
  await Promise.race([tile.waitFor(), signin.waitFor()]);
  if (await signin.isVisible()) {
    await page.locator("input[name=user]").fill("alice");
    await page.locator("input[name=password]").fill("Test-Passw0rd!");
    await page.locator("#signin button[type=submit]").click();
  }
  await tile.click();
  await waitFor(
    () =>
      read(
        page,
        "window.webstream?.session?.status === 'connected' && " +
          "!!webstream.session.hello && " +
          "document.querySelector('.ws-overlay').hidden",
      ),
    { what: `${workspace}'s view to connect`, timeoutMs: 60_000 },
  ).catch(async (error) => {
    const text = await read<string>(
      page,
      "JSON.stringify({ status: window.webstream?.session?.status, " +
        "overlay: document.querySelector('.ws-overlay')?.innerText, " +
        "body: document.body.innerText.slice(0, 300) })",
    ).catch(() => "unreadable");
    throw new Error(`${error.message}; the page says: ${text.slice(0, 400)}`);
  });
}

/** Share of the canvas's pixels in each of `colours` (a real screenshot). */
async function canvasShares(
  page: Page,
  colours: Rgb[],
): Promise<number[]> {
  const box = await page.locator(".ws-canvas").boundingBox();
  assert(box && box.width > 100 && box.height > 100, JSON.stringify(box));
  const { width, height, channels, data } = decode(
    Buffer.from(
      await page.screenshot({
        clip: {
          x: Math.ceil(box.x),
          y: Math.ceil(box.y),
          width: Math.floor(box.width) - 1,
          height: Math.floor(box.height) - 1,
        },
      }),
    ),
  );
  const counts = colours.map(() => 0);
  for (let i = 0; i < width * height; i++) {
    const at = i * channels;
    colours.forEach(([r, g, b], c) => {
      if (
        Math.abs(data[at] - r) <= 2 && Math.abs(data[at + 1] - g) <= 2 &&
        Math.abs(data[at + 2] - b) <= 2
      ) counts[c]++;
    });
  }
  return counts.map((n) => n / (width * height));
}

/** The session's display, from its streamer. */
async function sessionDisplay(url: string): Promise<DisplayAccess> {
  const alice = await signIn(url, "alice");
  const sessions: { sessionId: string }[] =
    await (await alice.fetch("/api/sessions")).json();
  assertEquals(sessions.length, 1, "both apps share one session");
  const resolved = await resolveSession(url, sessions[0].sessionId);
  assertEquals(resolved.status, 200, resolved.body);
  const streamer = await findStreamer(JSON.parse(resolved.body).Port);
  assert(streamer, "the session's streamer runs");
  return await displayOf(streamer.pid);
}

/** The home of the session's user (the xterms' shells start there). */
async function homeOf(access: DisplayAccess): Promise<string> {
  const owner = (await Deno.stat(access.authFile)).uid!;
  const passwd = await Deno.readTextFile("/etc/passwd");
  const entry = passwd.split("\n").map((line) => line.split(":"))
    .find((fields) => Number(fields[2]) === owner);
  assert(entry, `no user ${owner}`);
  return entry[5];
}

/** The main windows of the session whose size is `size`. */
function mainWindowsSized(
  access: DisplayAccess,
  size: { width: number; height: number },
): number {
  return topLevelWindows(access).filter((w) =>
    w.role === "main" && w.rect.width === size.width &&
    w.rect.height === size.height
  ).length;
}

Deno.test({
  ...OPTIONS,
  name:
    "browser apps: two apps in one shared session, each in its own tab, each tab shows only its app at the tab's size",
  async fn() {
    const teardown = new Teardown();
    try {
      // Two slots: one in use is not an overloaded host, so it shares; room
      // for both tabs side by side.
      const { url, browser } = await farm(teardown, [
        app("red", xterm("red")),
        app("blue", xterm("blue")),
      ], {
        slots: 2,
        settings: { screen: { width: 1920, height: 1080, depth: 24 } },
      });
      const redTab = await browser.newPage({ width: 900, height: 640 });
      await launch(redTab, url, "red");
      const blueTab = await redTab.context().newPage();
      await blueTab.setViewportSize({ width: 700, height: 500 });
      await launch(blueTab, url, "blue");

      // Each tab: its app's colour everywhere, none of the other's.
      const onlyItsApp = async (page: Page, mine: Rgb, other: Rgb) => {
        let shares: number[] = [];
        await waitFor(async () => {
          shares = await canvasShares(page, [mine, other]);
          // The toolbar covers a strip at the top.
          return shares[0] > 0.9 && shares[1] === 0;
        }, { what: "the tab to show only its app", timeoutMs: 30_000 })
          .catch(async (error) => {
            await Deno.writeFile(
              "/tmp/apps_debug.png",
              await page.screenshot(),
            );
            throw new Error(`${error.message}: shares ${shares}`);
          });
      };
      await onlyItsApp(redTab, RED, BLUE);
      await onlyItsApp(blueTab, BLUE, RED);

      // Each app's window is its tab's size, in one session.
      const access = await sessionDisplay(url);
      const sizeOf = (page: Page) =>
        read<{ width: number; height: number }>(
          page,
          "webstream.session.screen",
        );
      const redSize = await sizeOf(redTab);
      assertEquals(redSize, { width: 900, height: 640 });
      assertEquals(await sizeOf(blueTab), { width: 700, height: 500 });
      await waitFor(
        () =>
          mainWindowsSized(access, { width: 900, height: 640 }) === 1 &&
          mainWindowsSized(access, { width: 700, height: 500 }) === 1,
        { what: "each app's window at its tab's size" },
      );

      // The red tab's browser window changes size: its app follows.
      await redTab.setViewportSize({ width: 1000, height: 560 });
      await waitFor(
        async () => {
          const size = await sizeOf(redTab);
          return size.width === 1000 && size.height === 560;
        },
        { what: "the red tab's view to follow the window" },
      );
      await waitFor(
        () => mainWindowsSized(access, { width: 1000, height: 560 }) === 1,
        { what: "the red app's window to follow its tab" },
      );
      await onlyItsApp(redTab, RED, BLUE);
      await onlyItsApp(blueTab, BLUE, RED);

      // Typing in a tab reaches its app, with no click into it first: the
      // other app had the keyboard last.
      const home = await homeOf(access);
      const typed = (name: string) =>
        Deno.readTextFile(`${home}/${name}.txt`).catch(() => "");
      for (
        const [page, name] of [[redTab, "red"], [blueTab, "blue"]] as const
      ) {
        await page.bringToFront();
        await page.locator(".ws-keyboard").focus();
        await page.keyboard.type(`typed in ${name}`);
        await page.keyboard.press("Enter");
        await waitFor(async () => (await typed(name)).length > 0, {
          what: `what was typed in the ${name} tab, in its app`,
        });
      }
      assertEquals(await typed("red"), "typed in red\n");
      assertEquals(await typed("blue"), "typed in blue\n");
    } finally {
      await teardown.run();
    }
  },
});

/** A Tk app: a green main window that opens a magenta dialog over it. */
const DIALOG_APP = `
import tkinter as tk
root = tk.Tk()
root.configure(bg="#00ff00")
def dialog():
    d = tk.Toplevel(root, bg="#ff00ff")
    d.title("dialog")
    d.geometry("300x200")
    d.transient(root)
root.after(300, dialog)
root.mainloop()
`;

Deno.test({
  ...OPTIONS,
  name: "browser apps: a dialog the app opens is shown over it in its tab",
  async fn() {
    const teardown = new Teardown();
    try {
      const script = await tkApp(teardown, DIALOG_APP);
      const { url, browser } = await farm(teardown, [
        app("dialog", `python3 ${script}`),
      ]);
      const tab = await browser.newPage({ width: 800, height: 600 });
      await launch(tab, url, "dialog");
      let shares: number[] = [];
      await waitFor(async () => {
        shares = await canvasShares(tab, [GREEN, MAGENTA]);
        // 300×200 of 800×600 is 12.5 %; the rest is the main window.
        return shares[1] > 0.11 && shares[1] < 0.14 && shares[0] > 0.8;
      }, { what: "the dialog over the main window", timeoutMs: 30_000 })
        .catch(async (error) => {
          // What the page and the session had, to tell which side failed.
          const page = await read<string>(
            tab,
            "JSON.stringify({ status: webstream.session.status, " +
              "screen: webstream.session.screen, " +
              "frames: webstream.session.framesDrawn })",
          ).catch((e) => `unreadable: ${e}`);
          const windows = await sessionDisplay(url)
            .then((access) => JSON.stringify(topLevelWindows(access), bigints))
            .catch((e) => `unreadable: ${e}`);
          throw new Error(
            `${error.message}: green, magenta ${shares}; page ${page}; ` +
              `windows ${windows}`,
          );
        });
      const access = await sessionDisplay(url);
      const windows = topLevelWindows(access);
      const main = windows.find((w) => w.role === "main");
      const dialog = windows.find((w) => w.role === "dialog");
      assertEquals(main?.rect, { x: 0, y: 0, width: 800, height: 600 });
      assert(dialog, "the dialog is a managed window");
      assertEquals(dialog.rect.width, 300);
    } finally {
      await teardown.run();
    }
  },
});

/** A Tk app whose only window closes after 3 s (seen by then, even on a loaded machine) while it runs on. */
const WINDOW_CLOSES_APP = `
import time
import tkinter as tk
root = tk.Tk()
root.configure(bg="#00ff00")
root.after(3000, root.destroy)
root.mainloop()
time.sleep(600)
`;

Deno.test({
  ...OPTIONS,
  name:
    "browser apps: when an app's last window closes its tab says so, though its process runs on",
  async fn() {
    const teardown = new Teardown();
    try {
      const script = await tkApp(teardown, WINDOW_CLOSES_APP);
      const { url, browser } = await farm(teardown, [
        app("closing", `python3 ${script}`),
      ]);
      const tab = await browser.newPage({ width: 800, height: 600 });
      await launch(tab, url, "closing");
      // The window was there (its green filled the tab), then it closed.
      await waitFor(
        () => read(tab, "webstream.session.closedApp === 'closing'"),
        { what: "the tab to hear that its app closed", timeoutMs: 30_000 },
      );
      assertEquals(
        await tab.locator(".ws-status-text").textContent(),
        "closing has closed",
      );
      // The app's process still runs: the window told.
      const running = await runningScript(script);
      assert(running, "the app's process runs on");
    } finally {
      await teardown.run();
    }
  },
});

/** `JSON.stringify`'s replacer for window ids. */
function bigints(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `0x${value.toString(16)}` : value;
}

/** Whether a process runs the script `path`. */
async function runningScript(path: string): Promise<boolean> {
  return (await liveProcesses()).some((p) => p.argv.includes(path));
}
