/**
 * Measuring one remote-screen client in a headless Chromium page, the same
 * way for noVNC and for webstream (a {@linkcode MediaTarget}):
 *
 * - **Bytes received**: an init script replaces `window.WebSocket` with a
 *   function that returns a real `WebSocket` (same prototype, so clients
 *   that inspect it still work) with one more `message` listener adding up
 *   the payload sizes (`ArrayBuffer`/`Blob` bytes, text as UTF-8) — the
 *   application bytes, without WebSocket framing.
 * - **Frames drawn**: the target's own counter (`stats()`).
 * - **Connect**: bytes until the page has drawn a frame and then nothing
 *   arrived for 500 ms (the first full screen).
 * - **Idle**: frames and bytes per second while nothing on screen changes.
 * - **Key-to-screen latency**: the page arms a watcher (a capture-phase
 *   `keydown` listener on `window` notes `performance.now()` when the key
 *   reaches the page, before the client's own handlers), Playwright presses
 *   a key, and a `requestAnimationFrame` loop reads one pixel of the
 *   target's canvas in the key echo window (through a 1×1 scratch canvas,
 *   so any canvas kind works; coordinates scaled by canvas width ÷ screen
 *   width) until one channel differs by at least 128 from before the key.
 *   Latency = that rAF callback's `performance.now()` − the keydown time,
 *   both in the page's clock. The rAF loop is what a user sees (frames are
 *   presented at rAF), so the resolution is one display frame (~16.7 ms).
 * - **Workloads** (`workloads.ts`), each from the same reset screen:
 *   frames drawn and bytes received per second over a window while the
 *   workload runs (after a warm-up), against what the workload produced;
 *   the server-side processes' CPU time over it (the target's `pids`:
 *   the streamer, or x11vnc + websockify; never Xvfb nor the workload's
 *   own processes), and the browser's (every process descended from
 *   Chromium's main process: renderers, GPU, utility processes).
 *
 * @module
 */
import type { Page } from "../../tests/support/browser.ts";
import { groupCpuSeconds, treeCpuSeconds } from "./process.ts";
import { sleep } from "../common.ts";
import type { CapacityFigures, CapacityTarget } from "./capacity.ts";
import type { StreamerProfiler, WindowProfile } from "./profile.ts";

/** Counters a client page keeps. */
export interface MediaStats {
  /** Frames painted on the visible canvas since the page loaded. */
  framesDrawn: number;
  /** Payload bytes received from the server since the page loaded. */
  bytesReceived: number;
}

/**
 * A remote-screen client to measure, showing the benchmark's display.
 * Only `name`, `url`, `canvas` and `stop` are required; the defaults suit
 * webstream's web client.
 */
export interface MediaTarget {
  /** Shown in the output (`webstream`, `noVNC`). */
  name: string;
  /** The page to open; it connects to the display by itself. */
  url: string;
  /**
   * CSS selector of the canvas showing the remote screen (its pixel
   * `(x·w/W, y·w/W)` shows screen pixel `(x, y)`, where `w` is the canvas
   * width and `W` the screen width).
   */
  canvas: string;
  /** PIDs or process groups whose CPU time the server side uses. */
  pids?: number[];
  /** Runs before the page loads (routes, init scripts). */
  prepare?(page: Page): Promise<void>;
  /**
   * Resolves once the page is connected and has drawn a frame. Default:
   * until `stats().framesDrawn > 0`.
   */
  ready?(page: Page): Promise<void>;
  /**
   * The page's counters. Default: `window.webstream.session.stats`
   * (`{ framesDrawn, bytesReceived }`).
   */
  stats?(page: Page): Promise<MediaStats>;
  /** Gives the client the keyboard focus. Default: focus the canvas. */
  focus?(page: Page): Promise<void>;
  /**
   * The streamer, for the one-core capacity measurement
   * ({@link ./capacity.ts}); webstream only.
   */
  capacity?: CapacityTarget;
  /**
   * Profiles the server over each workload's window ({@link ./profile.ts});
   * webstream with `--profile` only.
   */
  profiler?: StreamerProfiler;
  /** Stops whatever was started for this target. */
  stop(): Promise<void>;
}

/** Latency samples of one series, ms, and the presses never seen. */
export interface LatencyFigures {
  /** Samples, ms. */
  samples: number[];
  /** Presses whose colour never showed within the timeout. */
  missed: number;
}

/** A running workload. */
export interface RunningWorkload {
  /** What the workload produced so far (frames, moves), when it counts. */
  frames?(): number;
  /**
   * Input the measuring side sends through the page while the workload
   * runs (typing): runs for `ms`, resolves with the keys sent.
   */
  drive?(page: Page, options: { ms: number; signal: AbortSignal }): Promise<
    number
  >;
  /** Stops every process of the workload. */
  stop(): Promise<void>;
}

/** One workload of the benchmark, run the same way for every side. */
export interface Workload {
  /** Short id (`a20`, `b`, …) for tables and `--only` (by its letter). */
  id: string;
  /** What it does, for the output. */
  title: string;
  /** Sets up its windows and starts it. */
  start(): Promise<RunningWorkload>;
  /** Key-to-screen latency is also measured while it runs. */
  latencyUnderLoad?: boolean;
}

/** What one workload's window measured on one side. */
export interface WindowFigures {
  /** The window's length, seconds. */
  seconds: number;
  /** Frames per second the page drew. */
  fps: number;
  /** Bytes received per second (in the page). */
  bytesPerSecond: number;
  /** Bytes received per drawn frame. */
  bytesPerFrame: number;
  /** Frames (moves) per second the workload produced, when it counts. */
  producedFps?: number;
  /** Keys typed per second, when it types. */
  keysPerSecond?: number;
  /** Server-side CPU, % of one core (when `pids` were given). */
  serverCpuPercent?: number;
  /** The browser's CPU (all its processes), % of one core. */
  browserCpuPercent?: number;
  /** Where the server's CPU went, when the target has a profiler. */
  profile?: WindowProfile;
}

/** What {@linkcode measureSession} measured. */
export interface TargetFigures {
  /** The target's name. */
  name: string;
  /** Bytes received until the first screen had settled. */
  connectBytes: number;
  /** Seconds from navigation until then. */
  connectSeconds: number;
  /** Idle: bytes received per second. */
  idleBytesPerSecond: number;
  /** Idle: frames drawn per second. */
  idleFramesPerSecond: number;
  /** Key-to-screen latency on an idle screen. */
  latencyIdle: LatencyFigures;
  /** Key-to-screen latency under the load workload, when it ran. */
  latencyLoad?: LatencyFigures;
  /** Per workload id. */
  workloads: Record<string, WindowFigures>;
  /** Why a workload failed, per id. */
  errors: Record<string, string>;
  /** The target's own byte count differed from the WebSocket count. */
  bytesNote?: string;
  /** The streamer's frames per second within one core, when measured. */
  capacity?: CapacityFigures;
}

/** Durations and counts of a measurement. */
export interface MeasureSizes {
  /** Idle window, ms. */
  idleMs: number;
  /** Key presses on the idle screen. */
  pressesIdle: number;
  /** Workload running before its window opens, ms. */
  warmupMs: number;
  /** Each workload's window, ms. */
  windowMs: number;
  /** Key presses under load. */
  pressesLoad: number;
  /** Longest a latency series may take, ms (it stops there). */
  latencyBudgetMs: number;
}

/** The screen, the key echo window, the workloads. */
export interface MeasureContext {
  /** Screen size. */
  screen: { width: number; height: number };
  /** A pixel inside the key echo window. */
  keyPixel: { x: number; y: number };
  /** The workloads, in order. */
  workloads: Workload[];
  /** Puts the screen back to its starting picture (before each workload). */
  reset(): Promise<void>;
  /** The browser's main process (its tree's CPU is counted). */
  browserPid?: number;
  /** Progress output. */
  progress(line: string): void;
  /** Ends the run early. */
  signal: AbortSignal;
}

/** The page-side helpers, installed before any page script runs. */
const INIT_SCRIPT = `(() => {
  const bench = { wsBytes: 0, wsMessages: 0, pending: null };
  window.__mediaBench = bench;
  const Native = window.WebSocket;
  const encoder = new TextEncoder();
  function Counted(url, protocols) {
    const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
    ws.addEventListener("message", (event) => {
      const data = event.data;
      bench.wsMessages++;
      if (data instanceof ArrayBuffer) bench.wsBytes += data.byteLength;
      else if (data instanceof Blob) bench.wsBytes += data.size;
      else bench.wsBytes += encoder.encode(String(data)).length;
    });
    return ws;
  }
  Counted.prototype = Native.prototype;
  for (const k of ["CONNECTING", "OPEN", "CLOSING", "CLOSED"]) Counted[k] = Native[k];
  window.WebSocket = Counted;

  const scratch = document.createElement("canvas");
  scratch.width = scratch.height = 1;
  const scratchCtx = scratch.getContext("2d", { willReadFrequently: true });
  function reader(selector, sx, sy, screenWidth) {
    const canvas = document.querySelector(selector);
    if (!canvas) throw new Error("no canvas matches " + selector);
    return () => {
      const scale = canvas.width / screenWidth;
      const x = Math.floor(sx * scale), y = Math.floor(sy * scale);
      scratchCtx.clearRect(0, 0, 1, 1);
      scratchCtx.drawImage(canvas, x, y, 1, 1, 0, 0, 1, 1);
      return Array.from(scratchCtx.getImageData(0, 0, 1, 1).data.slice(0, 3));
    };
  }
  bench.pixel = (selector, sx, sy, screenWidth) => reader(selector, sx, sy, screenWidth)();
  bench.arm = (selector, sx, sy, screenWidth, timeoutMs) => {
    const read = reader(selector, sx, sy, screenWidth);
    const before = read();
    let keyAt = null;
    const onKey = () => { if (keyAt === null) keyAt = performance.now(); };
    window.addEventListener("keydown", onKey, { capture: true });
    bench.pending = new Promise((resolve) => {
      const deadline = performance.now() + timeoutMs;
      const tick = () => {
        const now = performance.now();
        const p = read();
        const diff = Math.max(...p.map((v, i) => Math.abs(v - before[i])));
        if (keyAt !== null && diff >= 128) {
          window.removeEventListener("keydown", onKey, { capture: true });
          resolve({ ms: now - keyAt, before, after: p });
        } else if (now > deadline) {
          window.removeEventListener("keydown", onKey, { capture: true });
          resolve({ ms: null, before, after: p, keySeen: keyAt !== null });
        } else requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    });
    return before;
  };
})();`;

/** Installs the page-side helpers; call on a fresh page before `goto`. */
export async function installPageHelpers(page: Page): Promise<void> {
  await page.addInitScript(INIT_SCRIPT);
}

function defaultStats(page: Page): Promise<MediaStats> {
  return page.evaluate(
    "({ framesDrawn: window.webstream.session.stats.framesDrawn, " +
      "bytesReceived: window.webstream.session.stats.bytesReceived })",
  ) as Promise<MediaStats>;
}

async function wsBytes(page: Page): Promise<number> {
  return await page.evaluate("window.__mediaBench.wsBytes") as number;
}

/** Waits until no byte has arrived for `quietMs` (bounded by 15 s). */
async function settle(
  page: Page,
  signal: AbortSignal,
  quietMs = 500,
): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = await wsBytes(page);
  let since = Date.now();
  while (Date.now() < deadline) {
    await sleep(50, signal);
    const now = await wsBytes(page);
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return;
  }
}

async function latency(
  page: Page,
  target: MediaTarget,
  context: MeasureContext,
  options: { presses: number; budgetMs: number },
): Promise<LatencyFigures> {
  const figures: LatencyFigures = { samples: [], missed: 0 };
  const { x, y } = context.keyPixel;
  // A page that misses presses under load takes up to 5 s each: the
  // series stops at its time budget with what it has.
  const end = performance.now() + options.budgetMs;
  for (let i = 0; i < options.presses && performance.now() < end; i++) {
    context.signal.throwIfAborted();
    await page.evaluate(
      `window.__mediaBench.arm(${
        JSON.stringify(target.canvas)
      }, ${x}, ${y}, ${context.screen.width}, 5000)`,
    );
    await page.keyboard.press("a");
    const result = await page.evaluate("window.__mediaBench.pending") as {
      ms: number | null;
    };
    if (result.ms === null) figures.missed++;
    else figures.samples.push(result.ms);
    // Let the screen settle, off the frame cadence.
    await sleep(120 + Math.random() * 80, context.signal);
  }
  return figures;
}

/**
 * Measures `target` in `page` (fresh, of its own browser context):
 * connect, idle, key-to-screen latency on the idle screen, then every
 * workload of the context in turn, each from the reset screen.
 */
export async function measureSession(
  page: Page,
  target: MediaTarget,
  options: { context: MeasureContext; sizes: MeasureSizes },
): Promise<TargetFigures> {
  const { context, sizes } = options;
  const { signal, progress } = context;
  const stats = (): Promise<MediaStats> => (target.stats ?? defaultStats)(page);
  await installPageHelpers(page);
  await target.prepare?.(page);
  await context.reset();
  const loadStart = performance.now();
  await page.goto(target.url);
  if (target.ready) await target.ready(page);
  else {
    await page.waitForFunction(
      "window.webstream?.session?.stats?.framesDrawn > 0",
      undefined,
      { timeout: 20_000 },
    );
  }
  await settle(page, signal);
  const connectSeconds = (performance.now() - loadStart) / 1000 - 0.5;
  const connectBytes = await wsBytes(page);
  if (target.focus) await target.focus(page);
  else await page.focus(target.canvas);
  await settle(page, signal);

  progress(`  ${target.name}: idle`);
  const i0 = await stats();
  const it0 = performance.now();
  await sleep(sizes.idleMs, signal);
  const i1 = await stats();
  const idleSeconds = (performance.now() - it0) / 1000;

  progress(`  ${target.name}: key-to-screen latency, idle`);
  const latencyIdle = await latency(page, target, context, {
    presses: sizes.pressesIdle,
    budgetMs: sizes.latencyBudgetMs,
  });

  const figures: TargetFigures = {
    name: target.name,
    connectBytes,
    connectSeconds,
    idleBytesPerSecond: (i1.bytesReceived - i0.bytesReceived) / idleSeconds,
    idleFramesPerSecond: (i1.framesDrawn - i0.framesDrawn) / idleSeconds,
    latencyIdle,
    workloads: {},
    errors: {},
  };
  for (const workload of context.workloads) {
    signal.throwIfAborted();
    progress(`  ${target.name}: ${workload.id}, ${workload.title}`);
    try {
      await context.reset();
      await settle(page, signal);
      const running = await workload.start();
      try {
        figures.workloads[workload.id] = await measureWindow(page, target, {
          context,
          sizes,
          running,
        });
        if (workload.latencyUnderLoad) {
          progress(`  ${target.name}: key-to-screen latency, under load`);
          figures.latencyLoad = await latency(page, target, context, {
            presses: sizes.pressesLoad,
            budgetMs: sizes.latencyBudgetMs,
          });
        }
      } finally {
        await running.stop();
      }
    } catch (error) {
      signal.throwIfAborted();
      figures.errors[workload.id] = String(error);
      progress(`  ${target.name}: ${workload.id} failed: ${error}`);
    }
  }
  // The wrapper's count against the target's own (both since the load).
  const before = await wsBytes(page);
  const own = (await stats()).bytesReceived;
  const after = await wsBytes(page);
  if (own < 0.95 * before || own > 1.05 * after) {
    figures.bytesNote = `the page counted ${own} bytes since it loaded, ` +
      `the WebSocket wrapper ${before}–${after}`;
  }
  return figures;
}

async function measureWindow(
  page: Page,
  target: MediaTarget,
  options: {
    context: MeasureContext;
    sizes: MeasureSizes;
    running: RunningWorkload;
  },
): Promise<WindowFigures> {
  const { context, sizes, running } = options;
  const { signal } = context;
  const stats = (): Promise<MediaStats> => (target.stats ?? defaultStats)(page);
  const pids = target.pids ?? [];
  const browser = context.browserPid;
  // Typing covers the warm-up too, so the window sees a steady rate.
  const driving = running.drive?.(page, {
    ms: sizes.warmupMs + sizes.windowMs + 500,
    signal,
  });
  // An abort while the window sleeps must not leave it unhandled.
  driving?.catch(() => {});
  await sleep(sizes.warmupMs, signal);
  const a0 = await stats();
  const p0 = running.frames?.();
  const c0 = pids.length ? await groupCpuSeconds(pids) : 0;
  const b0 = browser ? await treeCpuSeconds(browser) : 0;
  await target.profiler?.start();
  const t0 = performance.now();
  await sleep(sizes.windowMs, signal);
  const profile = await target.profiler?.stop();
  const a1 = await stats();
  const p1 = running.frames?.();
  const c1 = pids.length ? await groupCpuSeconds(pids) : 0;
  const b1 = browser ? await treeCpuSeconds(browser) : 0;
  const seconds = (performance.now() - t0) / 1000;
  const keys = driving ? await driving : undefined;
  const frames = a1.framesDrawn - a0.framesDrawn;
  const bytes = a1.bytesReceived - a0.bytesReceived;
  return {
    seconds,
    fps: frames / seconds,
    bytesPerSecond: bytes / seconds,
    bytesPerFrame: frames ? bytes / frames : 0,
    producedFps: p0 !== undefined && p1 !== undefined
      ? (p1 - p0) / seconds
      : undefined,
    keysPerSecond: keys === undefined
      ? undefined
      : keys / ((sizes.warmupMs + sizes.windowMs + 500) / 1000),
    serverCpuPercent: pids.length ? (c1 - c0) / seconds * 100 : undefined,
    browserCpuPercent: browser ? (b1 - b0) / seconds * 100 : undefined,
    profile,
  };
}
