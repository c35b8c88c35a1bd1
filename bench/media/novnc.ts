/**
 * The media benchmark's reference: x11vnc + websockify + noVNC (Debian's
 * x11vnc 0.9.16, websockify 0.10, novnc 1.3), on the same display as the
 * webstream side.
 *
 * - `x11vnc -display :N -auth FILE -rfbport P -localhost -shared -forever
 *   -nopw -norc -ncache 0`: x11vnc's defaults otherwise (XDAMAGE hints,
 *   MIT-SHM capture, `-wait 20`/`-defer 20` ms, no threads), client-side
 *   caching off as its own banner recommends for plain clients; `-norc`
 *   so a `~/.x11vncrc` cannot change the run.
 * - `websockify --web ROOT 127.0.0.1:P2 localhost:P`, where ROOT is a
 *   temporary folder holding the benchmark's page and symbolic links to
 *   `/usr/share/novnc/{core,vendor}`. The page must come from a real
 *   loopback server: Chromium's Local Network Access checks block a
 *   WebSocket to 127.0.0.1 from a page Playwright fulfils itself (it has
 *   no address, so it counts as public).
 * - The page: imports `core/rfb.js` as a module and creates an `RFB` with
 *   noVNC's defaults (the same as `vnc_lite.html`: Tight with JPEG quality
 *   6, compression 2, 1:1, no scaling) on a 1920×1080 `<div id="screen">`.
 *
 * Counting in the page (noVNC 1.3 has no public statistics):
 * `rfb._display.flip` is wrapped and counts the flips that actually paint
 * the visible canvas (a flip while the render queue is busy is queued and
 * painted later by `flip(true)`): that is *frames drawn*. Bytes received
 * are counted by the benchmark's WebSocket wrapper (see `measure.ts`), the
 * same way as for webstream.
 *
 * Processes are started in process groups of their own and stopped by
 * their PIDs.
 *
 * @module
 */
import type { Page } from "../../tests/support/browser.ts";
import { freePort } from "../../tests/support/ports.ts";
import type { XTarget } from "./animation.ts";
import { type GroupProcess, spawnGroup } from "./process.ts";
import type { MediaStats, MediaTarget } from "./measure.ts";

/** noVNC's web root as Debian installs it. */
export const NOVNC_ROOT = "/usr/share/novnc";

/** The x11vnc flags besides display, auth and port. */
export const X11VNC_FLAGS: readonly string[] = [
  "-localhost",
  "-shared",
  "-forever",
  "-nopw",
  "-norc",
  "-ncache",
  "0",
];

const PAGE = "__media_bench__.html";

function pageHtml(wsUrl: string): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>noVNC media bench</title>
<style>html,body{margin:0;background:#000}#screen{width:1920px;height:1080px}</style>
</head><body><div id="screen"></div>
<script type="module">
import RFB from "./core/rfb.js";
const stats = { framesDrawn: 0, connected: false, disconnected: false };
const rfb = new RFB(document.getElementById("screen"), ${
    JSON.stringify(wsUrl)
  });
const display = rfb._display;
const flip = display.flip.bind(display);
display.flip = (fromQueue) => {
  const paints = fromQueue || display._renderQ.length === 0;
  flip(fromQueue);
  if (paints) stats.framesDrawn++;
};
rfb.addEventListener("connect", () => stats.connected = true);
rfb.addEventListener("disconnect", () => stats.disconnected = true);
window.novnc = { rfb, stats };
</script></body></html>`;
}

/** Waits until `port` on 127.0.0.1 accepts connections. */
async function listening(
  port: number,
  child: GroupProcess,
  name: string,
): Promise<void> {
  const deadline = Date.now() + 20_000;
  let exited = false;
  child.status.then(() => exited = true);
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`${name} exited: ${child.stderr().trim().slice(-800)}`);
    }
    try {
      const response = await fetch(`http://127.0.0.1:${port}/core/rfb.js`);
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // Not yet.
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${name} did not listen on ${port}`);
}

/** Reads x11vnc's stdout until it prints `PORT=`. */
async function x11vncReady(child: GroupProcess): Promise<void> {
  for (let line = await child.nextLine();; line = await child.nextLine()) {
    if (line === undefined) {
      throw new Error(
        `x11vnc exited: ${child.stderr().trim().slice(-800)}`,
      );
    }
    if (line.startsWith("PORT=")) break;
  }
  child.follow(() => {});
}

/**
 * Starts x11vnc and websockify on display `x` and resolves with the noVNC
 * page as a {@linkcode MediaTarget}; its `stop()` stops both by PID.
 */
export async function startNoVnc(x: XTarget): Promise<MediaTarget> {
  const started: GroupProcess[] = [];
  const root = await Deno.makeTempDir({ prefix: "webstream-novnc-" });
  const stop = async (): Promise<void> => {
    for (const child of started.reverse()) await child.stop();
    await Deno.remove(root, { recursive: true });
  };
  try {
    for (const folder of ["core", "vendor"]) {
      await Deno.symlink(`${NOVNC_ROOT}/${folder}`, `${root}/${folder}`);
    }
    const vncPort = freePort();
    const x11vnc = spawnGroup("x11vnc", [
      "-display",
      x.display,
      "-auth",
      x.authFile,
      "-rfbport",
      String(vncPort),
      ...X11VNC_FLAGS,
    ]);
    started.push(x11vnc);
    await x11vncReady(x11vnc);

    const webPort = freePort();
    await Deno.writeTextFile(
      `${root}/${PAGE}`,
      pageHtml(`ws://127.0.0.1:${webPort}/websockify`),
    );
    const websockify = spawnGroup("websockify", [
      "--web",
      root,
      `127.0.0.1:${webPort}`,
      `localhost:${vncPort}`,
    ]);
    started.push(websockify);
    await listening(webPort, websockify, "websockify");

    return {
      name: "noVNC",
      url: `http://127.0.0.1:${webPort}/${PAGE}`,
      canvas: "#screen canvas",
      pids: [x11vnc.pid, websockify.pid],
      async ready(page: Page): Promise<void> {
        await page.waitForFunction(
          "window.novnc?.stats.connected && window.novnc.stats.framesDrawn > 0",
          undefined,
          { timeout: 20_000 },
        );
      },
      async stats(page: Page): Promise<MediaStats> {
        return await page.evaluate(
          "({ framesDrawn: window.novnc.stats.framesDrawn, " +
            "bytesReceived: window.__mediaBench.wsBytes })",
        ) as MediaStats;
      },
      async focus(page: Page): Promise<void> {
        await page.evaluate("window.novnc.rfb.focus()");
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
