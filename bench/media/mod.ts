/**
 * # Media benchmark: webstream against x11vnc + noVNC
 *
 * One 1920×1080×24 Xvfb display, one headless Chromium
 * (`tests/support/browser.ts`: playwright-core driving `/usr/bin/chromium`,
 * with Ctrl-C left to this run's cleanup), and the same workload for
 * both sides, one after the other in the same run:
 *
 * - a key echo window (`key_echo.ts`, 128×128 at (64, 64)) that changes
 *   colour on every key press;
 * - before each side, the screen reset to the animation's frame 0;
 * - the animation (`animation.ts`, its own process): every pixel outside
 *   the key echo window changes at 60 Hz with smooth colour bands, noise
 *   and moving shapes.
 *
 * Per side ({@link ./measure.ts}): bytes to the first settled screen, idle
 * bytes/s and frames/s, key-to-screen latency on the idle screen, frames
 * per second delivered and bytes per frame while the animation runs
 * (against the frames it drew), the server processes' CPU, and latency
 * under the animation. noVNC is the baseline measured in the same run
 * ({@link ./novnc.ts} says how it is started); with a `webstream` target
 * factory, every figure is also printed as webstream/noVNC (`×0.50` bytes
 * per frame: half of noVNC's; fps above ×1: more frames than noVNC).
 *
 * `deno run -A bench/media/mod.ts [--quick]` runs the noVNC side alone and
 * prints its figures (`--quick`: about 30 s). Needs the Debian packages
 * xvfb, x11vnc, websockify, novnc and chromium.
 *
 * @module
 */
import { startXvfb } from "../../mod/platform/linux/xvfb.ts";
import { encodeXauthority, newCookie } from "../../mod/platform/linux/xauth.ts";
import { ms, ratio, type Stats, summarize } from "../common.ts";
import { drawFirstFrame, spawnAnimation, type XTarget } from "./animation.ts";
import { webstreamTarget } from "./webstream.ts";
import { spawnKeyEcho } from "./key_echo.ts";
import {
  type MeasureContext,
  type MeasureSizes,
  measureTarget,
  type MediaTarget,
  type TargetFigures,
} from "./measure.ts";
import { startNoVnc } from "./novnc.ts";
import { measureCapacity } from "./capacity.ts";
import { launchBrowser } from "../../tests/support/browser.ts";

export type { MediaStats, MediaTarget, TargetFigures } from "./measure.ts";

/** The screen both sides show. */
export const SCREEN = { width: 1920, height: 1080 } as const;
/** The animation's target rate, frames per second. */
export const TARGET_FPS = 60;
/** The issue's target: frames per second at 1080p within one core. */
export const ONE_CORE_TARGET_FPS = 30;
/** The key echo window. */
export const KEY_RECT = { x: 64, y: 64, width: 128, height: 128 } as const;

/** The default run (about 2 minutes for both sides). */
export const FULL: MeasureSizes = {
  idleMs: 10_000,
  pressesIdle: 40,
  warmupMs: 3_000,
  animationMs: 20_000,
  pressesLoad: 20,
};

/** `--quick`: a smoke run (about 30 s per side). */
export const QUICK: MeasureSizes = {
  idleMs: 3_000,
  pressesIdle: 10,
  warmupMs: 2_000,
  animationMs: 5_000,
  pressesLoad: 5,
};

/** Options for {@linkcode runMediaBench}. */
export interface MediaBenchOptions {
  /** A smoke run. */
  quick?: boolean;
  /**
   * Starts webstream's side on `display` (`:N`; its Xauthority file is
   * `x.authFile`) and resolves with its page. Absent: noVNC only.
   */
  webstream?: (display: string, x: XTarget) => Promise<MediaTarget>;
  /** Ends the run early (every process is still stopped). */
  signal?: AbortSignal;
  /** Progress output (default: stderr). */
  progress?: (line: string) => void;
}

/** Everything {@linkcode runMediaBench} measured. */
export interface MediaFigures {
  /** Screen size. */
  screen: { width: number; height: number };
  /** The animation's target rate. */
  targetFps: number;
  /** The baseline. */
  novnc: TargetFigures;
  /** webstream's side, when it ran. */
  webstream?: TargetFigures;
  /** Why webstream's side failed, when it did. */
  webstreamError?: string;
}

/** Runs the noVNC side and, given a factory, the webstream side; prints both. */
export async function runMediaBench(
  options: MediaBenchOptions = {},
): Promise<MediaFigures> {
  const sizes = options.quick ? QUICK : FULL;
  const signal = options.signal ?? new AbortController().signal;
  const progress = options.progress ?? ((l: string) => console.error(l));
  const cleanups: (() => Promise<void>)[] = [];
  const dir = await Deno.makeTempDir({ prefix: "webstream-media-" });
  cleanups.push(() => Deno.remove(dir, { recursive: true }));
  try {
    const authFile = `${dir}/Xauthority`;
    await Deno.writeFile(authFile, encodeXauthority([{ cookie: newCookie() }]));
    const xvfb = await startXvfb({
      authFile,
      screen: { ...SCREEN, depth: 24 },
    });
    cleanups.push(async () => {
      try {
        Deno.kill(-xvfb.child.pid, "SIGTERM");
      } catch {
        // Already gone.
      }
      await xvfb.child.status;
    });
    const x: XTarget = { display: `:${xvfb.display}`, authFile };
    const echo = await spawnKeyEcho(x, KEY_RECT);
    cleanups.push(() => echo.stop());

    // Stopped by its PID even if Playwright's close hangs.
    // Ctrl-C is ours: the run stops its servers and display first.
    const browser = await launchBrowser({ handleSignals: false });
    cleanups.push(() => browser.close());

    const context: MeasureContext = {
      screen: SCREEN,
      keyPixel: {
        x: KEY_RECT.x + KEY_RECT.width / 2,
        y: KEY_RECT.y + KEY_RECT.height / 2,
      },
      animate: () => spawnAnimation(x, { fps: TARGET_FPS }),
      progress,
      signal,
    };
    const measure = async (target: MediaTarget): Promise<TargetFigures> => {
      try {
        const page = await browser.newPage({ ...SCREEN });
        let figures: TargetFigures;
        try {
          figures = await measureTarget(page, target, { context, sizes });
        } finally {
          await page.context().close();
        }
        if (target.capacity) {
          // The page is gone: the streamer serves only the pinned viewer.
          progress(`  ${target.name}: one core, no browser`);
          await drawFirstFrame(x);
          figures.capacity = await measureCapacity(target.capacity, {
            screen: SCREEN,
            animate: context.animate,
            warmupMs: sizes.warmupMs,
            windowMs: sizes.animationMs,
            signal,
          });
        }
        return figures;
      } finally {
        await target.stop();
      }
    };

    progress(
      `media benchmark on ${x.display} (${
        sizes === QUICK ? "quick" : "full"
      } run)`,
    );
    await drawFirstFrame(x);
    const novnc = await measure(await startNoVnc(x));
    const figures: MediaFigures = {
      screen: SCREEN,
      targetFps: TARGET_FPS,
      novnc,
    };
    if (options.webstream) {
      try {
        await drawFirstFrame(x);
        figures.webstream = await measure(
          await options.webstream(x.display, x),
        );
      } catch (error) {
        signal.throwIfAborted();
        figures.webstreamError = String(error);
      }
    }
    printMedia(figures);
    return figures;
  } finally {
    for (const cleanup of cleanups.reverse()) {
      await cleanup().catch((e) => console.error("media cleanup:", e));
    }
  }
}

// ---- output ----

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function kilobytes(bytes: number): string {
  return bytes >= 1e6 ? megabytes(bytes) : `${(bytes / 1e3).toFixed(1)} kB`;
}

function perSecond(bytes: number): string {
  return `${kilobytes(bytes)}/s (${(bytes * 8 / 1e6).toFixed(1)} Mbit/s)`;
}

function latencyStats(f: TargetFigures["latencyIdle"]): Stats | undefined {
  return f.samples.length ? summarize(f.samples) : undefined;
}

function latencyLine(f: TargetFigures["latencyIdle"]): string {
  const s = latencyStats(f);
  const missed = f.missed ? `, ${f.missed} never shown (5 s)` : "";
  return s
    ? `p50 ${ms(s.p50)}, p90 ${ms(s.p90)}, max ${
      ms(s.max)
    } [n=${s.count}${missed}]`
    : `no samples${missed}`;
}

function printTarget(f: TargetFigures, targetFps: number): void {
  console.log(`\n${f.name}`);
  console.log(
    `  connect: ${kilobytes(f.connectBytes)} until the first screen settled (${
      f.connectSeconds.toFixed(2)
    } s)`,
  );
  console.log(
    `  idle: ${perSecond(f.idleBytesPerSecond)}, ${
      f.idleFramesPerSecond.toFixed(2)
    } frames/s`,
  );
  console.log(`  key-to-screen, idle: ${latencyLine(f.latencyIdle)}`);
  console.log(
    `  animation (${targetFps} Hz target, the workload drew ${
      f.producedFps.toFixed(1)
    } frames/s): ${f.fps.toFixed(1)} frames/s delivered, ${
      kilobytes(f.bytesPerFrame)
    }/frame, ${perSecond(f.bytesPerSecond)}${
      f.serverCpuPercent === undefined
        ? ""
        : `, server CPU ${f.serverCpuPercent.toFixed(0)} % of a core`
    }`,
  );
  console.log(
    `  key-to-screen, under animation: ${latencyLine(f.latencyLoad)}`,
  );
  if (f.capacity) {
    const c = f.capacity;
    console.log(
      `  one core (streamer pinned to CPU ${c.cpu}, a viewer that acknowledges at once, no browser): ${
        c.fps.toFixed(1)
      } frames/s (the workload drew ${c.producedFps.toFixed(1)}; ${
        ratio(c.fps, ONE_CORE_TARGET_FPS)
      } the ${ONE_CORE_TARGET_FPS} fps target), ${
        kilobytes(c.bytesPerFrame)
      }/frame, streamer CPU ${c.cpuPercent.toFixed(0)} % of a core`,
    );
  }
  if (f.bytesNote) console.log(`  note: ${f.bytesNote}`);
}

/** Prints the figures and the Summary table. */
export function printMedia(figures: MediaFigures): void {
  const { novnc, webstream } = figures;
  console.log(
    `\nMedia (${figures.screen.width}×${figures.screen.height}, one Xvfb; ` +
      `noVNC: x11vnc defaults with -ncache 0, noVNC 1.3 defaults)`,
  );
  printTarget(novnc, figures.targetFps);
  if (webstream) printTarget(webstream, figures.targetFps);
  if (figures.webstreamError) {
    console.log(`\nwebstream side failed: ${figures.webstreamError}`);
  }

  const p50 = (f: TargetFigures, load: boolean): number =>
    latencyStats(load ? f.latencyLoad : f.latencyIdle)?.p50 ?? NaN;
  const rows: [string, (f: TargetFigures) => number, (v: number) => string][] =
    [
      ["frames/s delivered (animation)", (f) => f.fps, (v) => v.toFixed(1)],
      ["bytes/frame (animation)", (f) => f.bytesPerFrame, kilobytes],
      [
        "bandwidth (animation)",
        (f) => f.bytesPerSecond,
        (v) => `${kilobytes(v)}/s`,
      ],
      [
        "server CPU (animation)",
        (f) => f.serverCpuPercent ?? NaN,
        (v) => Number.isNaN(v) ? "n/a" : `${v.toFixed(0)} %`,
      ],
      [
        "idle bandwidth",
        (f) => f.idleBytesPerSecond,
        (v) => `${kilobytes(v)}/s`,
      ],
      ["connect bytes", (f) => f.connectBytes, kilobytes],
      ["key-to-screen p50, idle", (f) => p50(f, false), ms],
      ["key-to-screen p50, animation", (f) => p50(f, true), ms],
      [
        "frames/s within one core (no browser)",
        (f) => f.capacity?.fps ?? NaN,
        (v) => Number.isNaN(v) ? "n/a" : v.toFixed(1),
      ],
    ];
  const table: string[][] = [[
    "measure",
    ...(webstream ? ["webstream"] : []),
    "noVNC",
    ...(webstream ? ["webstream/noVNC"] : []),
  ]];
  for (const [label, value, format] of rows) {
    const base = value(novnc);
    const cells = [label];
    if (webstream) cells.push(format(value(webstream)));
    cells.push(format(base));
    if (webstream) cells.push(ratio(value(webstream), base));
    table.push(cells);
  }
  const widths = table[0].map((_, i) =>
    Math.max(...table.map((r) => r[i].length))
  );
  const format = (r: string[]): string =>
    r.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd();
  console.log("\nSummary");
  console.log(format(table[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of table.slice(1)) console.log(format(r));
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const unknown = Deno.args.filter((a) =>
    a !== "--quick" && a !== "--novnc-only"
  );
  if (unknown.length) {
    console.error(`usage: bench/media/mod.ts [--quick] [--novnc-only]`);
    Deno.exit(2);
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    await runMediaBench({
      quick,
      signal: controller.signal,
      webstream: Deno.args.includes("--novnc-only")
        ? undefined
        : webstreamTarget,
    });
    Deno.exit(0);
  } catch (error) {
    if (controller.signal.aborted) {
      console.error(
        "media benchmark interrupted; everything started was stopped",
      );
      Deno.exit(130);
    }
    console.error("media benchmark failed:", error);
    Deno.exit(1);
  }
}
