/**
 * webstream's side of the media benchmark: a real `webstream streamer`
 * process (through `deno run main.ts streamer`, as a session manager starts
 * it) on the benchmark's display, and the real web client
 * (`httpdocs/session/view.js`) in the page, both through the tests'
 * {@linkcode startStreamerPage} (which plays the session manager's part:
 * `SESSION_INFO`, and a one-time token per page connect).
 *
 * @module
 */
import type { MediaTarget } from "./measure.ts";
import type { XTarget } from "./animation.ts";
import { startStreamerPage } from "../../tests/support/streamer_page.ts";

/** Starts webstream on `display`; the returned target streams it. */
export async function webstreamTarget(
  display: string,
  x: XTarget,
): Promise<MediaTarget> {
  const streamer = await startStreamerPage({
    env: { DISPLAY: display, XAUTHORITY: x.authFile },
  });
  return {
    name: "webstream",
    url: streamer.url,
    canvas: "#viewer canvas",
    pids: [streamer.pid],
    capacity: { pid: streamer.pid, viewerUrl: streamer.viewerUrl },
    async ready(page) {
      await page.waitForFunction(
        "(window.webstream?.session?.framesDrawn ?? 0) > 0",
        undefined,
        { timeout: 20_000 },
      ).catch((error: unknown) => {
        throw new Error(
          `no frame drawn: ${error}; streamer stderr: ${streamer.stderr()}`,
        );
      });
    },
    async stats(page) {
      return await page.evaluate(() => {
        // deno-lint-ignore no-explicit-any
        const g = globalThis as any;
        // Bytes as the page's WebSocket wrapper counts them (both sides alike).
        return {
          framesDrawn: g.webstream?.session?.framesDrawn ?? 0,
          bytesReceived: g.__mediaBench?.wsBytes ?? 0,
        };
      });
    },
    stop: () => streamer.stop(),
  };
}
