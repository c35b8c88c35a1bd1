/**
 * # Media benchmark: webstream against x11vnc + noVNC, per workload
 *
 * One 1920×1080×24 Xvfb display, one headless Chromium
 * (`tests/support/browser.ts`: playwright-core driving `/usr/bin/chromium`,
 * with Ctrl-C left to this run's cleanup), and the same workloads for both
 * sides, one side after the other in the same run ({@link ./workloads.ts}):
 *
 * - (a) text scrolling in a real xterm at 20 and at 2,000 lines/s;
 * - (b) dragging an xterm full of text at 30 Hz;
 * - (c) typing into vim in an xterm at 8 keys/s, the keys sent through
 *   each client's own keyboard path in the page;
 * - (d) the full-screen 1080p animation at 60 Hz ({@link ./animation.ts});
 * - (e) a 1280×720 "video" region at 30 fps on an otherwise static screen.
 *
 * Per side ({@link ./measure.ts}): the key echo window
 * ({@link ./key_echo.ts}, 128×128 at (64, 64), started per side so it has
 * the keyboard focus), bytes to the first settled screen, idle bytes/s,
 * key-to-screen latency on the idle screen; then per workload, from the
 * same reset screen, after a warm-up: bytes/s received in the page,
 * frames/s drawn, the server's CPU (the streamer; x11vnc + websockify —
 * neither Xvfb nor the workload's processes on either side) and the
 * browser's CPU (all of Chromium's processes), and key-to-screen latency
 * under (d). For webstream also the one-core capacity on (d)
 * ({@link ./capacity.ts}) and, last, sound ({@link ./sound.ts}: tone onset
 * from the session to the page, bitrate; letter `s`). noVNC is the baseline measured in the same run
 * ({@link ./novnc.ts} says how it is started); every figure is printed as
 * webstream/noVNC too, and a summary checks the targets.
 *
 * `deno run -A bench/media/mod.ts [--quick] [--only a,b] [--novnc-only]
 * [--profile]`: `--quick` is a smoke run (3 s windows); `--only` runs the
 * workloads of the given letters; `--novnc-only` the noVNC side alone;
 * `--profile` starts webstream's streamer with its V8 inspector and prints,
 * per workload, where its CPU went over the same window
 * ({@link ./profile.ts}; sampling costs the streamer some CPU, so its
 * figures are a little worse than without). A full run takes
 * about five minutes. Needs the Debian packages xvfb, x11vnc, websockify,
 * novnc, xterm, vim, chromium, pulseaudio and pulseaudio-utils.
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
  type LatencyFigures,
  type MeasureContext,
  measureSession,
  type MeasureSizes,
  type MediaTarget,
  type TargetFigures,
  type WindowFigures,
  type Workload,
} from "./measure.ts";
import { startNoVnc } from "./novnc.ts";
import { measureSound, printSound } from "./sound.ts";
import { measureCapacity } from "./capacity.ts";
import { launchBrowser } from "../../tests/support/browser.ts";
import { ANIMATION_FPS, mediaWorkloads } from "./workloads.ts";
import { formatWindowProfile } from "./profile.ts";

export type { MediaStats, MediaTarget, TargetFigures } from "./measure.ts";

/** The screen both sides show. */
export const SCREEN = { width: 1920, height: 1080 } as const;
/** The target: frames per second at 1080p within one core. */
export const ONE_CORE_TARGET_FPS = 30;
/** The key echo window. */
export const KEY_RECT = { x: 64, y: 64, width: 128, height: 128 } as const;

/** The targets. */
export const TARGETS = {
  /** (a)–(c): bytes/s at most this × noVNC's (the aim: half). */
  bytesRatio: 1,
  /** (a)–(c): the aim for bytes/s, × noVNC's. */
  bytesRatioAim: 0.5,
  /** (a)–(c): server CPU at most this × x11vnc's. */
  cpuRatio: 1.5,
  /** (d): bits/s within one core at 30 fps. */
  animationBitsPerSecond: 10e6,
  /** (e): bits/s. */
  videoBitsPerSecond: 5e6,
  /** Key-to-screen p50 under (d), ms. */
  latencyLoadMs: 100,
  /** Idle bytes/s. */
  idleBytesPerSecond: 1000,
} as const;

/** The default run (about five minutes for both sides). */
export const FULL: MeasureSizes = {
  idleMs: 10_000,
  pressesIdle: 20,
  warmupMs: 2_000,
  windowMs: 10_000,
  pressesLoad: 20,
  latencyBudgetMs: 25_000,
};

/** `--quick`: a smoke run (about a minute and a half). */
export const QUICK: MeasureSizes = {
  idleMs: 3_000,
  pressesIdle: 5,
  warmupMs: 1_500,
  windowMs: 3_000,
  pressesLoad: 5,
  latencyBudgetMs: 10_000,
};

/** Options for {@linkcode runMediaBench}. */
export interface MediaBenchOptions {
  /** A smoke run. */
  quick?: boolean;
  /** Workload letters to run (`a`, `b`, …); all when absent or empty. */
  only?: string[];
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
  /** The workloads that ran, in order. */
  workloads: { id: string; title: string }[];
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
  const begun = performance.now();
  const progress = options.progress ??
    ((l: string) =>
      console.error(
        `[${((performance.now() - begun) / 1000).toFixed(1)} s] ${l}`,
      ));
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

    // Stopped by its PID even if Playwright's close hangs.
    // Ctrl-C is ours: the run stops its servers and display first.
    const browser = await launchBrowser({ handleSignals: false });
    cleanups.push(() => browser.close());

    const workloads: Workload[] = mediaWorkloads(x, { only: options.only });
    const context: MeasureContext = {
      screen: SCREEN,
      keyPixel: {
        x: KEY_RECT.x + KEY_RECT.width / 2,
        y: KEY_RECT.y + KEY_RECT.height / 2,
      },
      workloads,
      reset: () => drawFirstFrame(x),
      browserPid: browser.pid,
      progress,
      signal,
    };
    const animate = () => spawnAnimation(x, { fps: ANIMATION_FPS });
    const measure = async (target: MediaTarget): Promise<TargetFigures> => {
      const stops = [() => target.stop()];
      try {
        // Per side: a fresh key echo takes the keyboard focus back from
        // the previous side's editor.
        const echo = await spawnKeyEcho(x, KEY_RECT);
        stops.push(() => echo.stop());
        const page = await browser.newPage({ ...SCREEN });
        let figures: TargetFigures;
        try {
          figures = await measureSession(page, target, { context, sizes });
        } finally {
          await page.context().close();
        }
        if (target.capacity && workloads.some((w) => w.id === "d")) {
          // The page is gone: the streamer serves only the pinned viewer.
          progress(`  ${target.name}: one core, no browser`);
          await drawFirstFrame(x);
          figures.capacity = await measureCapacity(target.capacity, {
            screen: SCREEN,
            animate,
            warmupMs: sizes.warmupMs,
            windowMs: sizes.windowMs,
            signal,
          });
        }
        return figures;
      } finally {
        for (const stop of stops.reverse()) {
          await stop().catch((e) => console.error("media cleanup:", e));
        }
      }
    };

    progress(
      `media benchmark on ${x.display} (${
        sizes === QUICK ? "quick" : "full"
      } run; workloads ${workloads.map((w) => w.id).join(", ")})`,
    );
    console.log(
      `media benchmark (${
        sizes === QUICK ? "quick" : "full"
      } run) — deno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs, load ${
        Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
      }; ${sizes.warmupMs / 1000} s warm-up and ${
        sizes.windowMs / 1000
      } s window per workload and side`,
    );
    const started = performance.now();
    const novnc = await measure(await startNoVnc(x));
    const figures: MediaFigures = {
      screen: SCREEN,
      workloads: workloads.map(({ id, title }) => ({ id, title })),
      novnc,
    };
    if (options.webstream) {
      try {
        figures.webstream = await measure(
          await options.webstream(x.display, x),
        );
      } catch (error) {
        signal.throwIfAborted();
        figures.webstreamError = String(error);
      }
    }
    printMedia(figures);
    console.log(
      `\nfinished in ${((performance.now() - started) / 1000).toFixed(0)} s`,
    );
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
  if (Number.isNaN(bytes)) return "n/a";
  return `${kilobytes(bytes)}/s (${(bytes * 8 / 1e6).toFixed(2)} Mbit/s)`;
}

function percent(value: number): string {
  return Number.isNaN(value) ? "n/a" : `${value.toFixed(0)} %`;
}

function fixed(value: number): string {
  return Number.isNaN(value) ? "n/a" : value.toFixed(1);
}

function latencyStats(f: LatencyFigures | undefined): Stats | undefined {
  return f?.samples.length ? summarize(f.samples) : undefined;
}

function latencyLine(f: LatencyFigures | undefined): string {
  if (!f) return "not measured";
  const s = latencyStats(f);
  const missed = f.missed ? `, ${f.missed} never shown (5 s)` : "";
  return s
    ? `p50 ${ms(s.p50)}, p90 ${ms(s.p90)}, max ${
      ms(s.max)
    } [n=${s.count}${missed}]`
    : `no samples${missed}`;
}

/** Prints rows as a table with aligned columns. */
function printTable(table: string[][]): void {
  const widths = table[0].map((_, i) =>
    Math.max(...table.map((r) => (r[i] ?? "").length))
  );
  const format = (r: string[]): string =>
    r.map((cell, i) => (cell ?? "").padEnd(widths[i])).join("  ").trimEnd();
  console.log(format(table[0]));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of table.slice(1)) console.log(format(r));
}

type Row = [string, (f: TargetFigures) => number, (v: number) => string];

/** A table of `rows` for both sides, with webstream/noVNC ratios. */
function compare(figures: MediaFigures, rows: Row[]): void {
  const { novnc, webstream } = figures;
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
  printTable(table);
}

function windowOf(f: TargetFigures, id: string): WindowFigures | undefined {
  return f.workloads[id];
}

function workloadRows(id: string): Row[] {
  const get =
    (pick: (w: WindowFigures) => number | undefined) =>
    (f: TargetFigures): number => {
      const w = windowOf(f, id);
      return (w && pick(w)) ?? NaN;
    };
  const rows: Row[] = [
    ["bytes/s received", get((w) => w.bytesPerSecond), perSecond],
    ["frames/s drawn", get((w) => w.fps), fixed],
    ["bytes/frame", get((w) => w.bytesPerFrame), kilobytes],
    [
      "server CPU (% of a core)",
      get((w) => w.serverCpuPercent),
      percent,
    ],
    [
      "browser CPU (% of a core)",
      get((w) => w.browserCpuPercent),
      percent,
    ],
  ];
  rows.push([
    "the workload produced (frames or moves/s)",
    get((w) => w.producedFps),
    fixed,
  ]);
  rows.push(["keys typed/s", get((w) => w.keysPerSecond), fixed]);
  return rows;
}

/** Prints the figures: per workload, per session, and the Summary. */
export function printMedia(figures: MediaFigures): void {
  const { novnc, webstream } = figures;
  console.log(
    `\nMedia (${figures.screen.width}×${figures.screen.height}, one Xvfb; ` +
      `noVNC: x11vnc defaults with -ncache 0, noVNC 1.3 defaults; ` +
      `server CPU: streamer vs x11vnc + websockify, Xvfb and the workload ` +
      `processes counted for neither)`,
  );
  if (figures.webstreamError) {
    console.log(`\nwebstream side failed: ${figures.webstreamError}`);
  }
  for (const { id, title } of figures.workloads) {
    console.log(`\n(${id}) ${title}`);
    const rows = workloadRows(id).filter(([, value]) =>
      [novnc, webstream].some((f) => f && !Number.isNaN(value(f)))
    );
    compare(figures, rows);
    for (const f of [novnc, webstream]) {
      if (f?.errors[id]) console.log(`  ${f.name} failed: ${f.errors[id]}`);
    }
    const profile = webstream?.workloads[id]?.profile;
    if (profile) {
      console.log(`\n  where webstream's CPU went in (${id}):`);
      for (const line of formatWindowProfile(profile)) console.log(line);
    }
  }

  console.log("\nSession (connect, idle, key-to-screen)");
  const p50 = (f: TargetFigures, load: boolean): number =>
    latencyStats(load ? f.latencyLoad : f.latencyIdle)?.p50 ?? NaN;
  compare(figures, [
    ["connect bytes", (f) => f.connectBytes, kilobytes],
    ["connect seconds", (f) => f.connectSeconds, (v) => `${v.toFixed(2)} s`],
    ["idle bytes/s", (f) => f.idleBytesPerSecond, perSecond],
    ["idle frames/s", (f) => f.idleFramesPerSecond, (v) => v.toFixed(2)],
    ["key-to-screen p50, idle", (f) => p50(f, false), ms],
    ["key-to-screen p50, under (d)", (f) => p50(f, true), ms],
  ]);
  for (const f of [novnc, webstream]) {
    if (!f) continue;
    console.log(
      `  ${f.name} key-to-screen, idle: ${latencyLine(f.latencyIdle)}`,
    );
    console.log(
      `  ${f.name} key-to-screen, under (d): ${latencyLine(f.latencyLoad)}`,
    );
    if (f.bytesNote) console.log(`  ${f.name} note: ${f.bytesNote}`);
  }
  const c = webstream?.capacity;
  if (c) {
    console.log(
      `  webstream within one core on (d) (streamer pinned to CPU ${c.cpu}, a viewer that acknowledges at once, no browser): ${
        c.fps.toFixed(1)
      } frames/s (the workload drew ${c.producedFps.toFixed(1)}), ${
        kilobytes(c.bytesPerFrame)
      }/frame, ${perSecond(c.fps * c.bytesPerFrame)}, streamer CPU ${
        c.cpuPercent.toFixed(0)
      } % of a core`,
    );
  }
  printSummary(figures);
}

function verdict(ok: boolean | undefined, note = ""): string {
  if (ok === undefined) return "n/a";
  return ok ? `met${note}` : "MISSED";
}

/** The Summary: the targets, one row each, with a verdict. */
function printSummary(figures: MediaFigures): void {
  const { novnc, webstream } = figures;
  const ran = new Set(figures.workloads.map((w) => w.id));
  const table: string[][] = [[
    "target",
    "webstream",
    "noVNC",
    "webstream/noVNC",
    "target",
    "verdict",
  ]];
  const value = (
    f: TargetFigures | undefined,
    id: string,
    pick: (w: WindowFigures) => number | undefined,
  ): number => {
    const w = f && windowOf(f, id);
    return (w && pick(w)) ?? NaN;
  };
  for (const id of ["a20", "a2000", "b", "c"]) {
    if (!ran.has(id)) continue;
    const bw = value(webstream, id, (w) => w.bytesPerSecond);
    const bn = value(novnc, id, (w) => w.bytesPerSecond);
    const r = bw / bn;
    table.push([
      `(${id}) bytes/s`,
      perSecond(bw),
      perSecond(bn),
      ratio(bw, bn),
      `≤ ×${TARGETS.bytesRatio} (aim ×${TARGETS.bytesRatioAim})`,
      verdict(
        Number.isNaN(r) ? undefined : r <= TARGETS.bytesRatio,
        r <= TARGETS.bytesRatioAim ? " (aim too)" : "",
      ),
    ]);
    const cw = value(webstream, id, (w) => w.serverCpuPercent);
    const cn = value(novnc, id, (w) => w.serverCpuPercent);
    table.push([
      `(${id}) server CPU`,
      percent(cw),
      percent(cn),
      ratio(cw, cn),
      `≤ ×${TARGETS.cpuRatio}`,
      verdict(
        Number.isNaN(cw / cn) ? undefined : cw <= TARGETS.cpuRatio * cn,
      ),
    ]);
  }
  const c = webstream?.capacity;
  if (ran.has("d")) {
    table.push([
      "(d) frames/s within one core",
      c ? c.fps.toFixed(1) : "n/a",
      "",
      "",
      `≥ ${ONE_CORE_TARGET_FPS}`,
      verdict(c && c.fps >= ONE_CORE_TARGET_FPS),
    ]);
    const bits = c ? c.fps * c.bytesPerFrame * 8 : NaN;
    table.push([
      "(d) bandwidth within one core",
      c ? `${(bits / 1e6).toFixed(2)} Mbit/s` : "n/a",
      "",
      "",
      `≤ ${TARGETS.animationBitsPerSecond / 1e6} Mbit/s`,
      verdict(c && bits <= TARGETS.animationBitsPerSecond),
    ]);
    const lw = latencyStats(webstream?.latencyLoad)?.p50 ?? NaN;
    const ln = latencyStats(novnc.latencyLoad)?.p50 ?? NaN;
    table.push([
      "key-to-screen p50 under (d)",
      Number.isNaN(lw) ? "n/a" : ms(lw),
      Number.isNaN(ln) ? "n/a" : ms(ln),
      ratio(lw, ln),
      `< ${TARGETS.latencyLoadMs} ms`,
      verdict(Number.isNaN(lw) ? undefined : lw < TARGETS.latencyLoadMs),
    ]);
  }
  if (ran.has("e")) {
    const bw = value(webstream, "e", (w) => w.bytesPerSecond);
    const bn = value(novnc, "e", (w) => w.bytesPerSecond);
    table.push([
      "(e) bandwidth",
      perSecond(bw),
      perSecond(bn),
      ratio(bw, bn),
      `≤ ${TARGETS.videoBitsPerSecond / 1e6} Mbit/s`,
      verdict(
        Number.isNaN(bw) ? undefined : bw * 8 <= TARGETS.videoBitsPerSecond,
      ),
    ]);
  }
  const iw = webstream?.idleBytesPerSecond ?? NaN;
  table.push([
    "idle bytes/s",
    perSecond(iw),
    perSecond(novnc.idleBytesPerSecond),
    ratio(iw, novnc.idleBytesPerSecond),
    `< ${TARGETS.idleBytesPerSecond / 1000} kB/s`,
    verdict(
      Number.isNaN(iw) ? undefined : iw < TARGETS.idleBytesPerSecond,
    ),
  ]);
  console.log("\nSummary (targets apply to webstream)");
  printTable(table.map((r) => r.map((cell) => String(cell ?? "n/a"))));
}

interface Args {
  quick: boolean;
  novncOnly: boolean;
  profile: boolean;
  only?: string[];
}

/** The command line: `[--quick] [--only a,b] [--novnc-only] [--profile]`. */
function parseArgs(args: string[]): Args | undefined {
  const result: Args = { quick: false, novncOnly: false, profile: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--quick") result.quick = true;
    else if (arg === "--novnc-only") result.novncOnly = true;
    else if (arg === "--profile") result.profile = true;
    else if (arg === "--only" || arg.startsWith("--only=")) {
      const list = arg === "--only" ? args[++i] : arg.slice("--only=".length);
      const letters = (list ?? "").split(",").map((l) => l.trim())
        .filter(Boolean);
      if (!letters.length || letters.some((l) => !/^[a-es]$/.test(l))) {
        return undefined;
      }
      result.only = letters;
    } else return undefined;
  }
  return result;
}

if (import.meta.main) {
  const parsed = parseArgs(Deno.args);
  if (!parsed) {
    console.error(
      "usage: bench/media/mod.ts [--quick] [--only a,b,c,d,e,s] [--novnc-only] [--profile]",
    );
    Deno.exit(2);
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new Error("interrupted"));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const screenLetters = parsed.only?.filter((l) => l !== "s");
    if (!parsed.only || screenLetters?.length) {
      await runMediaBench({
        quick: parsed.quick,
        only: screenLetters,
        signal: controller.signal,
        webstream: parsed.novncOnly
          ? undefined
          : (display, x) =>
            webstreamTarget(display, x, { profile: parsed.profile }),
      });
    }
    // Sound (webstream only: noVNC has none), "s" in --only.
    if (!parsed.novncOnly && (!parsed.only || parsed.only.includes("s"))) {
      printSound(
        await measureSound({
          trials: parsed.quick ? 4 : 12,
          progress: (line) => console.log(`  ${line}`),
        }),
      );
    }
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
