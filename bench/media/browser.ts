/**
 * The media benchmark's headless Chromium: like `tests/support/browser.ts`
 * (Debian's `/usr/bin/chromium` through Playwright's browser server, so its
 * PID is known and `close()` always ends it), but Playwright is told not to
 * handle SIGINT/SIGTERM/SIGHUP: its own SIGINT handler closes the browser
 * and then exits the process, which would skip the benchmark's cleanup
 * (x11vnc, websockify, Xvfb, temporary folders).
 *
 * @module
 */
// The project's import map has no entry for test-only packages (hence the
// file-wide lint ignore), and Playwright's own types pull `@types/node` into
// the whole program: loose types instead.
// @ts-types="../../tests/support/playwright.d.ts"
import { type Browser, chromium, type Page } from "playwright-core";

export type { Browser, Page };

/** A running browser; `close()` always ends its process. */
export interface BenchBrowser {
  /** PID of the Chromium main process. */
  pid: number;
  /** A page in a fresh context at `viewport`, device scale factor 1. */
  newPage(viewport: { width: number; height: number }): Promise<Page>;
  /** Closes the browser; kills it by PID if closing hangs. */
  close(): Promise<void>;
}

/** Launches headless Chromium with the project's browser flags. */
export async function launchBenchBrowser(): Promise<BenchBrowser> {
  const server = await chromium.launchServer({
    executablePath: "/usr/bin/chromium",
    headless: true,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
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
    kill(pid);
    await server.close().catch(() => {});
    throw error;
  }
  return {
    pid,
    async newPage(viewport) {
      const context = await browser.newContext({
        viewport,
        deviceScaleFactor: 1,
      });
      return await context.newPage();
    },
    async close() {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const closed = await Promise.race([
        (async () => {
          await browser.close();
          await server.close();
          return true;
        })().catch(() => false),
        new Promise<false>((r) => timer = setTimeout(() => r(false), 10_000)),
      ]);
      clearTimeout(timer);
      if (!closed) {
        kill(pid);
        await server.kill().catch(() => {});
      }
    },
  };
}

function kill(pid: number): void {
  try {
    Deno.kill(pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}
