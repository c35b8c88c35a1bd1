/**
 * # Screen capture micro-benchmark
 *
 * `grab()` of a whole 1920×1080 screen of a real Xvfb, through MIT-SHM (the
 * server writes into shared memory, no copy on our side) and through
 * `XGetImage` (8 MB over the socket, then a copy into the reused buffer).
 * The two run in alternating rounds on the same server so that machine noise
 * hits both alike; read the ratio shm ÷ getimage (below ×1: SHM is faster).
 *
 * @module
 */
import { Painter, withXvfb } from "../tests/support/x11_draw.ts";
import { openX11Capture } from "../mod/devices/linux/x11_capture.ts";
import type { ScreenCapture } from "../mod/devices/capture.ts";
import { ms, ratio } from "./common.ts";

/** Options for {@linkcode runCaptureBench}. */
export interface CaptureBenchOptions {
  /** A smoke run: few frames. */
  quick?: boolean;
}

/** Figures of {@linkcode runCaptureBench}. */
export interface CaptureBenchResult {
  /** Screen size. */
  width: number;
  /** Screen size. */
  height: number;
  /** Frames grabbed per method. */
  frames: number;
  /** Mean milliseconds per whole-screen grab through MIT-SHM. */
  shmMs: number;
  /** Mean milliseconds per whole-screen grab through XGetImage. */
  getimageMs: number;
  /** `shmMs / getimageMs`. */
  ratio: number;
}

/** Milliseconds spent on `frames` whole-screen grabs. */
function timeGrabs(capture: ScreenCapture, frames: number): number {
  let sum = 0;
  const start = performance.now();
  for (let i = 0; i < frames; i++) {
    // Touch the pixels so a lazy view cannot look free.
    sum += capture.grab().data[i * 4 % 4096];
  }
  const elapsed = performance.now() - start;
  if (sum < 0) throw new Error("unreachable");
  return elapsed;
}

/** Runs the benchmark on a fresh 1920×1080 Xvfb and prints the figures. */
export async function runCaptureBench(
  options: CaptureBenchOptions = {},
): Promise<CaptureBenchResult> {
  const width = 1920, height = 1080;
  const rounds = options.quick ? 2 : 5;
  const perRound = options.quick ? 5 : 20;
  let result: CaptureBenchResult | undefined;
  await withXvfb({ width, height }, (screen) => {
    const painter = new Painter(screen.display);
    const shm = openX11Capture({ display: screen.display });
    const copy = openX11Capture({ display: screen.display, noShm: true });
    try {
      if (shm.method !== "shm") throw new Error("MIT-SHM is not available");
      // Some content, so the frames are not one colour.
      for (let i = 0; i < 32; i++) {
        painter.fill(
          { x: (i * 57) % 1800, y: (i * 31) % 1000, width: 120, height: 80 },
          (i * 0x2468ac) & 0xffffff,
        );
      }
      timeGrabs(shm, 2);
      timeGrabs(copy, 2);
      let shmTotal = 0, copyTotal = 0;
      for (let round = 0; round < rounds; round++) {
        shmTotal += timeGrabs(shm, perRound);
        copyTotal += timeGrabs(copy, perRound);
      }
      const frames = rounds * perRound;
      const shmMs = shmTotal / frames;
      const getimageMs = copyTotal / frames;
      result = {
        width,
        height,
        frames,
        shmMs,
        getimageMs,
        ratio: shmMs / getimageMs,
      };
    } finally {
      shm.close();
      copy.close();
      painter.close();
    }
  });
  const r = result!;
  console.log(
    `capture grab() ${r.width}×${r.height}, ${r.frames} frames each: ` +
      `shm ${ms(r.shmMs)}/frame, getimage ${ms(r.getimageMs)}/frame, ` +
      `shm/getimage ${ratio(r.shmMs, r.getimageMs)}`,
  );
  return r;
}

if (import.meta.main) {
  await runCaptureBench({ quick: Deno.args.includes("--quick") });
}
