/**
 * The media benchmark's workload: a full-screen animation on an X display
 * that changes (nearly) every pixel at a target rate, with content that is
 * not trivially compressible.
 *
 * A pattern twice the screen's width — smooth colour bands (sines with
 * periods that divide the screen width, so it wraps seamlessly) plus ±20
 * of per-pixel noise — is uploaded once into a server-side pixmap. Each
 * frame copies it onto the root window in twelve horizontal strips that
 * scroll at different speeds and directions (so no single translation
 * describes a frame), then draws sixteen bouncing rectangles and ellipses
 * whose colours change every frame. The copies are server-side
 * (`XCopyArea`), so the producer costs little CPU and the machine's cores
 * stay with the capture side being measured. Child windows (the key echo
 * window) are not drawn over: the root's GC clips by children.
 *
 * Run as its own process (`spawnAnimation`) so it never shares an event
 * loop with the measuring process. It prints `{"frames":N}` every 100 ms;
 * SIGTERM ends it after the current frame. `--frames N` draws N frames
 * (from frame 0) and exits: `--frames 1` resets the screen to a known
 * picture.
 *
 * `--region X,Y,W,H` draws only inside that rectangle (a "video" on an
 * otherwise static screen).
 *
 * Usage: `deno run -A bench/media/animation.ts [--fps 60] [--frames N]
 * [--region X,Y,W,H]`
 * with `DISPLAY` (and `XAUTHORITY`) set.
 *
 * @module
 */
import { XDisplay } from "../../ffi/x11/display.ts";
import {
  createPixmap,
  freePixmap,
  GraphicsContext,
} from "../../ffi/x11/draw.ts";
import { type GroupProcess, spawnScript } from "./process.ts";

/** A running animation process. */
export interface Animation {
  /** Its PID (and process group). */
  pid: number;
  /** Frames drawn so far, as last reported (every 100 ms). */
  frames(): number;
  /** Stops it by its PID and waits for it. */
  stop(): Promise<void>;
}

/** Where the X clients of the benchmark connect. */
export interface XTarget {
  /** `:N`. */
  display: string;
  /** The Xauthority file for it. */
  authFile: string;
}

function env(x: XTarget): Record<string, string> {
  return { DISPLAY: x.display, XAUTHORITY: x.authFile };
}

/** A rectangle of the screen the animation is restricted to. */
export interface Region {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width (at most the screen's). */
  width: number;
  /** Height. */
  height: number;
}

/**
 * Starts the animation at `fps` (on the whole screen, or only inside
 * `region`) and resolves once its first frame is drawn.
 */
export async function spawnAnimation(
  x: XTarget,
  options: { fps: number; region?: Region },
): Promise<Animation> {
  const r = options.region;
  const child = spawnScript("./animation.ts", [
    "--fps",
    String(options.fps),
    ...(r ? ["--region", `${r.x},${r.y},${r.width},${r.height}`] : []),
  ], {
    ...env(x),
  });
  let frames = 0;
  try {
    const first = await child.nextLine();
    if (first === undefined) throw new Error(exitMessage(child));
    frames = JSON.parse(first).frames;
  } catch (error) {
    await child.stop();
    throw error;
  }
  child.follow((line) => {
    try {
      frames = JSON.parse(line).frames;
    } catch {
      // Not a report.
    }
  });
  return { pid: child.pid, frames: () => frames, stop: () => child.stop() };
}

/** Draws frame 0 and exits: the screen as every measurement starts. */
export async function drawFirstFrame(x: XTarget): Promise<void> {
  const child = spawnScript("./animation.ts", ["--frames", "1"], env(x));
  const status = await child.status;
  if (!status.success) throw new Error(exitMessage(child));
}

function exitMessage(child: GroupProcess): string {
  return `the animation exited: ${child.stderr().trim()}`;
}

// ---- the child ----

const STRIPS = 12;
const SHAPES = 16;

/** The pattern: BGRX, `width × height`, periodic in x with period `width`. */
function pattern(width: number, height: number): Uint8Array<ArrayBuffer> {
  const pixels = new Uint8Array(width * height * 4);
  const tau = 2 * Math.PI;
  let seed = 0x9e3779b9;
  const noise = (): number => {
    // xorshift32: deterministic, so every run shows the same pictures.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return ((seed >>> 0) % 41) - 20;
  };
  const clamp = (v: number): number => v < 0 ? 0 : v > 255 ? 255 : v | 0;
  for (let y = 0; y < height; y++) {
    const fy = y / height;
    for (let x = 0; x < width; x++) {
      const fx = x / width;
      const r = 128 + 110 * Math.sin(tau * (7 * fx + 1.5 * fy));
      const g = 128 + 110 * Math.sin(tau * (11 * fx - 2.5 * fy) + 2);
      const b = 128 + 110 * Math.sin(tau * (5 * fx + 3 * fy) + 4);
      const at = (y * width + x) * 4;
      pixels[at] = clamp(b + noise());
      pixels[at + 1] = clamp(g + noise());
      pixels[at + 2] = clamp(r + noise());
    }
  }
  return pixels;
}

function hue(h: number): number {
  const f = (n: number): number => {
    const k = (n + h * 6) % 6;
    return Math.round(255 * (1 - Math.max(0, Math.min(k, 4 - k, 1))));
  };
  return (f(5) << 16) | (f(3) << 8) | f(1);
}

async function main(args: string[]): Promise<void> {
  const option = (name: string, fallback: number): number => {
    const at = args.indexOf(name);
    return at >= 0 ? Number(args[at + 1]) : fallback;
  };
  const fps = option("--fps", 60);
  const limit = option("--frames", Infinity);
  let stopping = false;
  Deno.addSignalListener("SIGTERM", () => stopping = true);

  const display = XDisplay.open();
  const { width, height } = display.size();
  // The drawn rectangle: the whole screen unless `--region x,y,w,h`.
  const at = args.indexOf("--region");
  const [rx, ry, rw, rh] = at >= 0
    ? args[at + 1].split(",").map(Number)
    : [0, 0, width, height];
  const painter = new GraphicsContext(display);
  const source = createPixmap(display, { width: width * 2, height });
  const pixels = pattern(width, height);
  for (const dx of [0, width]) {
    painter.putImage(source, pixels, { width, height, dx, dy: 0 });
  }
  const strip = Math.ceil(rh / STRIPS);
  const shapes = Array.from({ length: SHAPES }, (_, i) => ({
    // Inside a region from the start (the full screen keeps its frame 0).
    x: rx + (i * 397) % (at >= 0 ? rw - 240 : rw),
    y: ry + (i * 211) % (at >= 0 ? rh - 240 : rh),
    vx: (i % 2 ? 1 : -1) * (3 + (i % 5) * 2),
    vy: (i % 3 ? 1 : -1) * (2 + (i % 4) * 2),
    size: 80 + (i * 37) % 160,
    round: i % 2 === 0,
  }));

  const period = 1000 / fps;
  let deadline = performance.now();
  let frame = 0;
  let reported = 0;
  const report = (): void => console.log(JSON.stringify({ frames: frame }));
  while (!stopping && frame < limit) {
    for (let s = 0; s < STRIPS; s++) {
      const speed = (s % 2 ? -1 : 1) * (4 + 3 * s);
      const sx = (((frame * speed) % width) + width) % width;
      const y = s * strip;
      painter.copy(source, display.root, {
        sx,
        sy: ry + y,
        width: rw,
        height: Math.min(strip, rh - y),
        dx: rx,
        dy: ry + y,
      });
    }
    for (const [i, shape] of shapes.entries()) {
      if (frame > 0) {
        shape.x += shape.vx;
        shape.y += shape.vy;
        if (shape.x < rx || shape.x + shape.size > rx + rw) shape.vx *= -1;
        if (shape.y < ry || shape.y + shape.size > ry + rh) shape.vy *= -1;
      }
      painter.colour(hue(((frame * 0.01) + i / SHAPES) % 1));
      const r = {
        x: shape.x,
        y: shape.y,
        width: shape.size,
        height: shape.size,
      };
      if (shape.round) painter.ellipse(display.root, r);
      else painter.rect(display.root, r);
    }
    // Wait for the server: a frame is on screen before the next is drawn.
    display.sync();
    frame++;
    const now = performance.now();
    if (frame === 1 || now - reported >= 100) {
      report();
      reported = now;
    }
    if (frame >= limit) break;
    // Pace to the target; frames more than one period late are dropped
    // rather than made up for with a burst.
    deadline += period;
    if (deadline < now - period) deadline = now;
    if (deadline > now) {
      await new Promise((r) => setTimeout(r, deadline - now));
    }
  }
  report();
  painter.free();
  freePixmap(display, source);
  display.close();
}

if (import.meta.main) await main(Deno.args);
