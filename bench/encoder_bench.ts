/**
 * The streamer's tile encoder on a 1920×1080 full-screen animation: every
 * frame, a gradient background scrolls and shapes move, so every tile
 * changes (the worst case: after 3 frames every tile goes JPEG). Frames are
 * synthesised in BGRX before each encode, outside the timing.
 *
 * For `workers: 0` (the calling thread), `workers: 1` and the default
 * worker count it reports the first frame (every tile, lossless), then
 * encode time per frame (p50, p90, mean) and bytes per frame in the steady
 * state. The **baseline**, measured in the same run, is the least any
 * encoder must do per frame: copy the frame once (`Uint8Array.set`) and
 * compare it word by word with the previous one. Ratios are encode time ÷
 * baseline compare-and-copy time.
 *
 * Run alone: `deno run -A bench/encoder_bench.ts [--quick]`.
 *
 * @module
 */
import { ms, ratio, type Stats, summarize } from "./common.ts";
import {
  defaultWorkers,
  type Frame,
  TileEncoder,
} from "../mod/streamer/encode/mod.ts";

/** Options for {@linkcode runEncoderBench}. */
export interface EncoderBenchOptions {
  /** A few frames only (a smoke run). */
  quick?: boolean;
  /** Progress output. */
  progress?: (line: string) => void;
}

/** One encoder configuration's figures. */
export interface EncoderRun {
  /** What was run. */
  label: string;
  /** Worker count. */
  workers: number;
  /** The first frame: every tile, lossless (ms). */
  firstFrameMs: number;
  /** Its bytes. */
  firstFrameBytes: number;
  /** Encode time per steady-state frame (ms). */
  perFrame: Stats;
  /** Mean encode time per steady-state frame (ms). */
  meanMs: number;
  /** Mean bytes per steady-state frame. */
  bytesPerFrame: number;
  /** Mean tiles per steady-state frame, by encoding. */
  tiles: { lossy: number; lossless: number; solid: number };
}

/** Everything {@linkcode runEncoderBench} measured. */
export interface EncoderBenchResult {
  /** Frame width. */
  width: number;
  /** Frame height. */
  height: number;
  /** Steady-state frames measured per configuration. */
  frames: number;
  /** Baseline: copying a frame (ms per frame). */
  copy: Stats;
  /** Baseline: comparing a frame with the previous one and copying it. */
  compareAndCopy: Stats;
  /** One entry per configuration. */
  runs: EncoderRun[];
}

const WIDTH = 1920;
const HEIGHT = 1080;

/** Per-column and per-row colour ramps the frames are built from. */
function ramps(): { cols: Uint32Array; rows: Uint32Array } {
  const cols = new Uint32Array(WIDTH * 2);
  const rows = new Uint32Array(HEIGHT * 2);
  for (let x = 0; x < cols.length; x++) {
    const r = Math.round(110 + 100 * Math.sin(x / 61));
    const g = Math.round(100 + 60 * Math.cos(x / 143));
    cols[x] = (r << 16) | (g << 8);
  }
  for (let y = 0; y < rows.length; y++) {
    rows[y] = Math.round(120 + 110 * Math.sin(y / 87));
  }
  return { cols, rows };
}

/** Fills `words` (BGRX, stride = width) with animation frame `t`. */
function drawFrame(
  words: Uint32Array,
  t: number,
  r: { cols: Uint32Array; rows: Uint32Array },
): void {
  const dx = (t * 7) % WIDTH;
  const dy = (t * 3) % HEIGHT;
  for (let y = 0; y < HEIGHT; y++) {
    const row = r.rows[y + dy];
    const at = y * WIDTH;
    for (let x = 0; x < WIDTH; x++) {
      words[at + x] = (r.cols[x + dx] | row) + ((x ^ y) & 7);
    }
  }
  // Moving shapes: solid boxes and a striped one.
  for (let i = 0; i < 6; i++) {
    const bx = Math.floor((WIDTH - 200) * (0.5 + 0.5 * Math.sin(t / 9 + i)));
    const by = Math.floor((HEIGHT - 120) * (0.5 + 0.5 * Math.cos(t / 7 + i)));
    const colour = 0x203040 * (i + 1) & 0xffffff;
    for (let y = by; y < by + 120; y++) {
      const stripe = i === 0 && (y >> 2) & 1 ? 0xffffff : colour;
      words.fill(stripe, y * WIDTH + bx, y * WIDTH + bx + 200);
    }
  }
}

function compareAndCopy(current: Uint32Array, previous: Uint32Array): number {
  let changed = 0;
  for (let i = 0; i < current.length; i++) {
    if (((current[i] ^ previous[i]) & 0xffffff) !== 0) changed++;
  }
  previous.set(current);
  return changed;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Runs the encoder benchmark, prints its table and returns the figures.
 */
export async function runEncoderBench(
  options: EncoderBenchOptions = {},
): Promise<EncoderBenchResult> {
  const progress = options.progress ?? ((line) => console.log(line));
  const frames = options.quick ? 8 : 40;
  const warmup = 4; // the first frame plus the frames before tiles go JPEG
  const r = ramps();
  const data = new Uint8Array(WIDTH * HEIGHT * 4);
  const words = new Uint32Array(data.buffer);
  const frame: Frame = {
    width: WIDTH,
    height: HEIGHT,
    stride: WIDTH * 4,
    data,
  };

  // Baseline: copy, and compare + copy, on the same frames.
  const previous = new Uint32Array(WIDTH * HEIGHT);
  const copyTimes: number[] = [];
  const compareTimes: number[] = [];
  let sink = 0;
  for (let t = 0; t < frames + 2; t++) {
    drawFrame(words, t, r);
    const t0 = performance.now();
    previous.set(words);
    const t1 = performance.now();
    previous[0] ^= 1;
    const t2 = performance.now();
    sink += compareAndCopy(words, previous);
    const t3 = performance.now();
    if (t >= 2) {
      copyTimes.push(t1 - t0);
      compareTimes.push(t3 - t2);
    }
  }
  if (sink < 0) throw new Error("unreachable");
  const copy = summarize(copyTimes);
  const compare = summarize(compareTimes);

  const cpus = navigator.hardwareConcurrency || 1;
  const configs = [
    { label: "calling thread (workers: 0)", workers: 0 },
    { label: "workers: 1", workers: 1 },
    {
      label: `default (workers: ${defaultWorkers(cpus)} on ${cpus} CPUs)`,
      workers: defaultWorkers(cpus),
    },
  ];
  const runs: EncoderRun[] = [];
  for (const config of configs) {
    progress(`encoder: ${config.label}…`);
    const encoder = new TileEncoder({ workers: config.workers });
    try {
      // Start the workers outside the timing.
      await encoder.encode({
        width: 16,
        height: 16,
        stride: 64,
        data: new Uint8Array(1024),
      });
      let firstFrameMs = 0;
      let firstFrameBytes = 0;
      const times: number[] = [];
      const bytes: number[] = [];
      const mix = {
        lossy: [] as number[],
        lossless: [] as number[],
        solid: [] as number[],
      };
      for (let t = 0; t < warmup + frames; t++) {
        drawFrame(words, t, r);
        const t0 = performance.now();
        const update = await encoder.encode(frame);
        const elapsed = performance.now() - t0;
        if (t === 0) {
          firstFrameMs = elapsed;
          firstFrameBytes = update.bytes;
        }
        if (t < warmup) continue;
        times.push(elapsed);
        bytes.push(update.bytes);
        mix.lossy.push(update.lossy);
        mix.lossless.push(update.lossless);
        mix.solid.push(update.solid);
      }
      runs.push({
        ...config,
        firstFrameMs,
        firstFrameBytes,
        perFrame: summarize(times),
        meanMs: mean(times),
        bytesPerFrame: mean(bytes),
        tiles: {
          lossy: mean(mix.lossy),
          lossless: mean(mix.lossless),
          solid: mean(mix.solid),
        },
      });
    } finally {
      encoder.close();
    }
  }
  const result: EncoderBenchResult = {
    width: WIDTH,
    height: HEIGHT,
    frames,
    copy,
    compareAndCopy: compare,
    runs,
  };
  printEncoderBench(result);
  return result;
}

/** Prints the figures of {@linkcode runEncoderBench}. */
export function printEncoderBench(r: EncoderBenchResult): void {
  console.log(
    `\nTile encoder (${r.width}×${r.height} full-screen animation, 64×64 tiles, JPEG quality 70; ${r.frames} frames after ${4} warm-up)`,
  );
  console.log(
    `  baseline: copy a frame p50 ${
      ms(r.copy.p50)
    }; compare with the previous + copy p50 ${ms(r.compareAndCopy.p50)}`,
  );
  const base = r.compareAndCopy.p50;
  for (const run of r.runs) {
    console.log(
      `  ${run.label.padEnd(34)} p50 ${ms(run.perFrame.p50)} (${
        ratio(run.perFrame.p50, base)
      } baseline), p90 ${ms(run.perFrame.p90)}, mean ${ms(run.meanMs)} → ${
        (1000 / run.meanMs).toFixed(1)
      } fps; ${(run.bytesPerFrame / 1024).toFixed(0)} KiB/frame (${
        run.tiles.lossy.toFixed(0)
      } JPEG, ${run.tiles.lossless.toFixed(0)} PNG, ${
        run.tiles.solid.toFixed(0)
      } solid tiles); first frame (all PNG) ${ms(run.firstFrameMs)}, ${
        (run.firstFrameBytes / 1024).toFixed(0)
      } KiB`,
    );
  }
  const local = r.runs[0];
  for (const run of r.runs.slice(1)) {
    console.log(
      `  ${run.label} vs calling thread: p50 ${
        ratio(run.perFrame.p50, local.perFrame.p50)
      }`,
    );
  }
}

if (import.meta.main) {
  await runEncoderBench({ quick: Deno.args.includes("--quick") });
}
