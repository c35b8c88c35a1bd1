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
import { freePort } from "../../tests/support/ports.ts";
import { connectProfiler, type StreamerProfiler } from "./profile.ts";

/** Options for {@linkcode webstreamTarget}. */
export interface WebstreamTargetOptions {
  /**
   * Starts the streamer with its V8 inspector on a loopback port and
   * profiles every workload window ({@link ./profile.ts}).
   */
  profile?: boolean;
}

/** Starts webstream on `display`; the returned target streams it. */
export async function webstreamTarget(
  display: string,
  x: XTarget,
  options: WebstreamTargetOptions = {},
): Promise<MediaTarget> {
  const inspect = options.profile ? freePort() : undefined;
  const streamer = await startStreamerPage({
    env: { DISPLAY: display, XAUTHORITY: x.authFile },
    inspect,
  });
  let profiler: StreamerProfiler | undefined;
  if (inspect !== undefined) {
    try {
      profiler = await connectProfiler(inspect, { pid: streamer.pid });
    } catch (error) {
      await streamer.stop();
      throw error;
    }
  }
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
    profiler,
    stop: async () => {
      profiler?.close();
      await streamer.stop();
    },
  };
}
