/**
 * The H.264 video path's costs on a full-screen animation (a scrolling
 * gradient with moving boxes, so every macroblock changes every frame: the
 * worst case for a screen), synthesised in BGRX before each frame, outside
 * the timing:
 *
 * 1. **BGRX → I420** (`mod/streamer/video/i420.ts`) of a 1920×1080 frame,
 *    by the TypeScript loop and by libyuv (when installed), against the
 *    **baseline** of copying the same bytes once
 *    (`Uint8Array.set`), measured in the same run: the ratio is what the
 *    colour conversion costs over touching the frame at all.
 * 2. **H264Encoder** (`mod/streamer/video/encoder.ts`: conversion + libx264
 *    ultrafast/zerolatency, Constrained Baseline) at 1920×1080 and 1280×720,
 *    one and two threads: time per frame and bytes per frame against the
 *    target's share (`kbit/s × 1000 / 8 / fps`); and a static screen (the
 *    same frame again), where P-frames are all skips.
 *
 * Run alone: `deno run -A bench/video_bench.ts [--quick]`.
 *
 * @module
 */
import { ms, ratio, type Stats, summarize } from "./common.ts";
import { H264Encoder } from "../mod/streamer/video/encoder.ts";
import {
  allocateI420,
  type BgrxFrame,
  bgrxToI420,
  conversionAccelerated,
} from "../mod/streamer/video/i420.ts";

/** Options for {@linkcode runVideoBench}. */
export interface VideoBenchOptions {
  /** A few frames only (a smoke run). */
  quick?: boolean;
  /** Where lines go (default `console.log`). */
  print?: (line: string) => void;
}

/** One encoder configuration's figures. */
export interface VideoEncodeRun {
  /** What was run. */
  label: string;
  /** Frame size. */
  width: number;
  /** Frame size. */
  height: number;
  /** Encoder threads. */
  threads: number;
  /** Target bitrate (kbit/s). */
  kbps: number;
  /** The codec string announced. */
  codec: string;
  /** Time per animated frame (ms), conversion included. */
  perFrame: Stats;
  /** Mean bytes per animated frame (after the first). */
  bytesPerFrame: number;
  /** The first frame (IDR): bytes. */
  keyframeBytes: number;
  /** Time per static frame (ms). */
  staticPerFrame: Stats;
  /** Mean bytes per static frame. */
  staticBytesPerFrame: number;
}

/** Everything {@linkcode runVideoBench} measured. */
export interface VideoBenchResult {
  /** BGRX → I420 of 1920×1080 in TypeScript (ms per frame). */
  convert: Stats;
  /** The same through libyuv, when installed. */
  convertLibyuv?: Stats;
  /** Baseline: copying the same bytes (ms per frame). */
  copy: Stats;
  /** Encoder runs. */
  runs: VideoEncodeRun[];
}

const FPS = 30;

/** Paints animation frame `t` into `frame`. */
function drawFrame(frame: BgrxFrame, t: number): void {
  const { width, height } = frame;
  const words = new Uint32Array(
    frame.data.buffer,
    frame.data.byteOffset,
    width * height,
  );
  const dx = t * 7;
  const dy = t * 3;
  for (let y = 0; y < height; y++) {
    const blue = Math.round(120 + 110 * Math.sin((y + dy) / 87));
    const at = y * width;
    for (let x = 0; x < width; x++) {
      const r = (110 + 100 * Math.sin((x + dx) / 61)) | 0;
      const g = (100 + 60 * Math.cos((x + dx) / 143)) | 0;
      words[at + x] = (r << 16) | (g << 8) | blue ^ ((x ^ y) & 7);
    }
  }
  for (let i = 0; i < 6; i++) {
    const bx = Math.floor((width - 200) * (0.5 + 0.5 * Math.sin(t / 9 + i)));
    const by = Math.floor((height - 120) * (0.5 + 0.5 * Math.cos(t / 7 + i)));
    const colour = 0x203040 * (i + 1) & 0xffffff;
    for (let y = by; y < by + 120; y++) {
      const stripe = i === 0 && (y >> 2) & 1 ? 0xffffff : colour;
      words.fill(stripe, y * width + bx, y * width + bx + 200);
    }
  }
}

function frameOf(width: number, height: number): BgrxFrame {
  return {
    width,
    height,
    stride: width * 4,
    data: new Uint8Array(width * height * 4),
  };
}

/** `part` as a share of `whole`, e.g. `42%`. */
function percent(part: number, whole: number): string {
  return `${Math.round(100 * part / whole)}%`;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Conversion (TypeScript, and libyuv when installed) against the copy
 * baseline, interleaved so all see the same load.
 */
function benchConvert(
  frames: number,
): { convert: Stats; convertLibyuv?: Stats; copy: Stats } {
  const frame = frameOf(1920, 1080);
  const planes = allocateI420(1920, 1080);
  const copyTarget = new Uint8Array(frame.data.length);
  const withLibyuv = conversionAccelerated();
  const convert: number[] = [];
  const convertLibyuv: number[] = [];
  const copy: number[] = [];
  const time = (run: () => void): number => {
    const start = performance.now();
    run();
    return performance.now() - start;
  };
  for (let t = 0; t < frames + 3; t++) {
    drawFrame(frame, t);
    const c = time(() => bgrxToI420(frame, planes, { accelerate: false }));
    const n = withLibyuv
      ? time(() => bgrxToI420(frame, planes, { accelerate: true }))
      : 0;
    const b = time(() => copyTarget.set(frame.data));
    if (t >= 3) {
      convert.push(c);
      convertLibyuv.push(n);
      copy.push(b);
    }
  }
  return {
    convert: summarize(convert),
    convertLibyuv: withLibyuv ? summarize(convertLibyuv) : undefined,
    copy: summarize(copy),
  };
}

function benchEncoder(
  size: { width: number; height: number },
  options: { threads: number; kbps: number; frames: number },
): VideoEncodeRun {
  const { width, height } = size;
  const { threads, kbps, frames } = options;
  const encoder = new H264Encoder({ width, height, bitrate: kbps, threads });
  const frame = frameOf(width, height);
  try {
    const times: number[] = [];
    const bytes: number[] = [];
    let keyframeBytes = 0;
    for (let t = 0; t < frames + 1; t++) {
      drawFrame(frame, t);
      const start = performance.now();
      const out = encoder.encode(frame);
      const took = performance.now() - start;
      if (!out) throw new Error(`frame ${t} was held back`);
      if (t === 0) keyframeBytes = out.data.length;
      else {
        times.push(took);
        bytes.push(out.data.length);
      }
    }
    const staticTimes: number[] = [];
    const staticBytes: number[] = [];
    for (let t = 0; t < Math.max(3, frames / 2); t++) {
      const start = performance.now();
      const out = encoder.encode(frame);
      staticTimes.push(performance.now() - start);
      staticBytes.push(out?.data.length ?? 0);
    }
    return {
      label: `${width}×${height}, ${threads} thread${threads > 1 ? "s" : ""}`,
      width,
      height,
      threads,
      kbps,
      codec: encoder.codec,
      perFrame: summarize(times),
      bytesPerFrame: mean(bytes),
      keyframeBytes,
      staticPerFrame: summarize(staticTimes),
      staticBytesPerFrame: mean(staticBytes),
    };
  } finally {
    encoder.close();
  }
}

/** Runs the video benchmark, prints its table and returns the figures. */
export function runVideoBench(
  options: VideoBenchOptions = {},
): VideoBenchResult {
  const print = options.print ?? console.log;
  const frames = options.quick ? 6 : 60;
  const { convert, convertLibyuv, copy } = benchConvert(frames);
  print(
    `\nBGRX → I420, 1920×1080 (${frames} frames): TypeScript p50 ${
      ms(convert.p50)
    } (${ratio(convert.p50, copy.p50)} baseline), p90 ${
      ms(convert.p90)
    }; libyuv ${
      convertLibyuv
        ? `p50 ${ms(convertLibyuv.p50)} (${
          ratio(convertLibyuv.p50, copy.p50)
        } baseline)`
        : "not installed"
    }; baseline copy of the same ${(1920 * 1080 * 4 / 1e6).toFixed(1)} MB p50 ${
      ms(copy.p50)
    }`,
  );
  // The encoder converts the way bgrxToI420 does by default.
  const used = convertLibyuv ?? convert;
  const runs: VideoEncodeRun[] = [];
  const configs = [
    { width: 1920, height: 1080, kbps: 4000 },
    { width: 1280, height: 720, kbps: 2500 },
  ];
  print(
    `H264Encoder (ultrafast, zerolatency, CRF 23 under the VBV cap; conversion by ${
      convertLibyuv ? "libyuv" : "TypeScript"
    }; ${FPS} fps; animated: every macroblock changes; ${frames} frames)`,
  );
  for (const size of configs) {
    for (const threads of [1, 2]) {
      const run = benchEncoder(size, { threads, kbps: size.kbps, frames });
      runs.push(run);
      const share = size.kbps * 1000 / 8 / FPS;
      print(
        `  ${run.label.padEnd(22)} ${run.codec} p50 ${
          ms(run.perFrame.p50)
        }, p90 ${ms(run.perFrame.p90)} (conversion ≈ ${
          percent(
            used.p50 * run.width * run.height / (1920 * 1080),
            run.perFrame.p50,
          )
        }); ${
          (run.bytesPerFrame / 1024).toFixed(1)
        } KiB/frame at ${size.kbps} kbit/s (target ${
          (share / 1024).toFixed(1)
        } KiB); IDR ${(run.keyframeBytes / 1024).toFixed(1)} KiB; static p50 ${
          ms(run.staticPerFrame.p50)
        }, ${run.staticBytesPerFrame.toFixed(0)} B/frame`,
      );
    }
  }
  return { convert, convertLibyuv, copy, runs };
}

if (import.meta.main) {
  runVideoBench({ quick: Deno.args.includes("--quick") });
}
