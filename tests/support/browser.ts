/**
 * A real headless Chromium for browser tests, driven by playwright-core:
 * `/usr/bin/chromium` (Debian's `chromium` package) started by Playwright's
 * browser server, so the test knows its PID and can always end it, even when
 * Playwright's own close hangs.
 *
 * @module
 */
// The project's import map has no entry for test-only packages.
// @ts-types="./playwright.d.ts"
import { type Browser, chromium, type Page } from "playwright-core";
import { liveProcesses } from "./proc.ts";

export type { Browser, Page };

/** Where Debian installs Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

/** Whether a Chromium to test with is installed. */
export function hasChromium(): boolean {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch {
    return false;
  }
}

/** A running browser; `close()` always ends its process. */
export interface TestBrowser {
  /** The connected browser. */
  browser: Browser;
  /** PID of the Chromium main process. */
  pid: number;
  /**
   * A new page in a fresh context, with `deviceScaleFactor` 1 so one CSS
   * pixel is one screenshot pixel (or the one given: a high-DPI screen).
   */
  newPage(
    viewport?: { width: number; height: number },
    options?: { deviceScaleFactor?: number },
  ): Promise<Page>;
  /** Closes the browser; kills its process by PID if closing hangs. */
  close(): Promise<void>;
}

/** Options for {@linkcode launchBrowser}. */
export interface LaunchBrowserOptions {
  /**
   * Let Playwright handle SIGINT/SIGTERM/SIGHUP. Default true. Its SIGINT
   * handler closes the browser and exits the process, so a program with its
   * own cleanup on Ctrl-C (the media benchmark) turns it off.
   */
  handleSignals?: boolean;
  /**
   * More Chromium switches, e.g. `--autoplay-policy=no-user-gesture-required`
   * for a page that plays sound with no user gesture.
   */
  args?: string[];
}

/** Launches headless Chromium. */
export async function launchBrowser(
  options: LaunchBrowserOptions = {},
): Promise<TestBrowser> {
  const handleSignals = options.handleSignals ?? true;
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    handleSIGINT: handleSignals,
    handleSIGTERM: handleSignals,
    handleSIGHUP: handleSignals,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      // Screenshots compare exact colours: no colour management.
      "--force-color-profile=srgb",
      "--disable-crash-reporter",
      ...(options.args ?? []),
    ],
  });
  const pid = server.process().pid;
  if (pid === undefined) {
    await server.close();
    throw new Error("chromium started without a PID");
  }
  let browser: Browser;
  try {
    browser = await chromium.connect(server.wsEndpoint());
  } catch (error) {
    killQuietly(pid);
    await server.close().catch(() => {});
    throw error;
  }
  return {
    browser,
    pid,
    async newPage(viewport = { width: 800, height: 600 }, options = {}) {
      const context = await browser.newContext({
        viewport,
        deviceScaleFactor: options.deviceScaleFactor ?? 1,
      });
      return await context.newPage();
    },
    async close() {
      // Chromium's helpers (zygotes, renderers) outlive the main process
      // for a moment: they are known by the profile folder in their
      // command line, and waited for (or killed) too.
      const profile = profileOf(pid);
      const helpers = profile
        ? (await liveProcesses()).filter(({ pid: p, argv }) =>
          p !== pid && argv.some((a) => a === `--user-data-dir=${profile}`)
        ).map(({ pid }) => pid)
        : [];
      const closed = await withTimeout(
        (async () => {
          await browser.close();
          await server.close();
        })(),
        10_000,
      );
      if (!closed || alive(pid)) {
        killQuietly(pid);
        await server.kill().catch(() => {});
      }
      const deadline = Date.now() + 5000;
      while (helpers.some(alive) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const helper of helpers.filter(alive)) killQuietly(helper);
    },
  };
}

/**
 * Resolves true when `promise` settles within `ms`, false otherwise.
 */
async function withTimeout(
  promise: Promise<unknown>,
  ms: number,
): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(() => true, () => false),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The `--user-data-dir` of a running Chromium. */
function profileOf(pid: number): string | undefined {
  try {
    const argv = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return argv.find((a) => a.startsWith("--user-data-dir="))?.slice(
      "--user-data-dir=".length,
    );
  } catch {
    return undefined;
  }
}

/** Whether a process with this PID is still running (not a zombie). */
function alive(pid: number): boolean {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    return !/^State:\s+Z/m.test(status);
  } catch {
    return false;
  }
}

function killQuietly(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
