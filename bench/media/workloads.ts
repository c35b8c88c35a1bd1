/**
 * The media benchmark's workloads, each run the same way for every side
 * from the same reset screen (the animation's frame 0 drawn on the root
 * window, the key echo window at (64, 64)):
 *
 * - **a20**, **a2000**: text scrolling in a real `xterm` (200×60 cells of
 *   DejaVu Sans Mono 10 pt, 1604×1024 pixels at (0, 0)), `scroll_text.ts`
 *   printing log, source and listing lines at 20 and 2,000 lines/s
 *   (xterm's default jump scroll coalesces at the high rate, as it would
 *   for a real program);
 * - **b**: an xterm full of text (100×35 cells, 804×597 pixels) dragged
 *   across the screen: `XMoveWindow` at 30 Hz along a Lissajous path
 *   (`window_ops.ts`; there is no window manager);
 * - **c**: typing into `vim` in an xterm (200×60, a file of 60 lines
 *   open, insert mode) at 8 keys/s. The keys go through each client's own
 *   input path: Playwright's keyboard in the page, the client's key
 *   handling, its protocol, the server's XTest injection; the xterm has
 *   the X keyboard focus. Sentences with a line break every ~70 keys;
 * - **d**: the full-screen 1920×1080 animation at 60 Hz
 *   (`animation.ts`); key-to-screen latency is also measured under it;
 * - **e**: a 1280×720 "video" — the animation restricted to a rectangle
 *   at (600, 180), at 30 fps — next to a static xterm of text (66×60
 *   cells at (0, 0)) on the otherwise static screen.
 *
 * @module
 */
import {
  type Animation,
  type Region,
  spawnAnimation,
  type XTarget,
} from "./animation.ts";
import type { Page } from "../../tests/support/browser.ts";
import type { RunningWorkload, Workload } from "./measure.ts";
import { sleep } from "../common.ts";
import { lineGenerator } from "./scroll_text.ts";
import {
  denoCommand,
  focusXWindow,
  spawnDrag,
  spawnXterm,
  type Xterm,
} from "./xterm.ts";

/** Frames per second of the full-screen animation (d). */
export const ANIMATION_FPS = 60;
/** Frames per second of the video region (e). */
export const VIDEO_FPS = 30;
/** The video region (e). */
export const VIDEO_REGION: Region = {
  x: 600,
  y: 180,
  width: 1280,
  height: 720,
};
/** Window moves per second (b). */
export const DRAG_HZ = 30;
/** Keys per second (c). */
export const TYPING_RATE = 8;

/** Ids of every workload, in the order they run. */
export const WORKLOAD_IDS: readonly string[] = [
  "d",
  "e",
  "a20",
  "a2000",
  "b",
  "c",
];

/** The text typed in (c): `\n` is Enter. */
const TYPED = "The streamer sends only the tiles that changed since the " +
  "last frame.\nA viewer acknowledges each frame, so at most two are in " +
  "flight.\nWhen the link is slow, frames are merged rather than queued; " +
  "the cursor moves on its own channel.\n";

function fromAnimation(animation: Animation): RunningWorkload {
  return { frames: animation.frames, stop: animation.stop };
}

/** Runs `stops` in reverse order, all of them even if one fails. */
async function stopAll(stops: (() => Promise<void>)[]): Promise<void> {
  for (const stop of stops.reverse()) {
    await stop().catch((e) => console.error("workload stop:", e));
  }
}

async function scrolling(x: XTarget, rate: number): Promise<RunningWorkload> {
  const xterm = await spawnXterm(x, {
    geometry: "200x60+0+0",
    command: denoCommand("./scroll_text.ts", [
      "--lines",
      "60",
      "--rate",
      String(rate),
    ]),
  });
  return { stop: xterm.stop };
}

async function dragging(x: XTarget): Promise<RunningWorkload> {
  const xterm = await spawnXterm(x, {
    geometry: "100x35+0+0",
    command: denoCommand("./scroll_text.ts", ["--lines", "35", "--rate", "0"]),
  });
  try {
    // The text is in before the window starts moving.
    await sleep(1500);
    const drag = await spawnDrag(x, xterm.windowId, { hz: DRAG_HZ });
    return {
      frames: drag.frames,
      stop: () => stopAll([xterm.stop, drag.stop]),
    };
  } catch (error) {
    await xterm.stop();
    throw error;
  }
}

async function typing(x: XTarget): Promise<RunningWorkload> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-typing-" });
  const stops: (() => Promise<void>)[] = [
    () => Deno.remove(dir, { recursive: true }),
  ];
  try {
    const next = lineGenerator(0x1234567);
    const file = `${dir}/notes.txt`;
    await Deno.writeTextFile(
      file,
      Array.from({ length: 60 }, () => next()).join("\n") + "\n",
    );
    const xterm: Xterm = await spawnXterm(x, {
      geometry: "200x60+0+0",
      command: [
        "vim",
        "-u",
        "NONE",
        "-i",
        "NONE",
        "-n",
        "-N",
        "+startinsert",
        file,
      ],
    });
    stops.push(xterm.stop);
    // vim draws its screen, then gets the keyboard.
    await sleep(1000);
    await focusXWindow(x, xterm.windowId);
    return { drive: typeText, stop: () => stopAll(stops) };
  } catch (error) {
    await stopAll(stops);
    throw error;
  }
}

/** Types {@link TYPED} (looping) at {@link TYPING_RATE} keys/s for `ms`. */
async function typeText(
  page: Page,
  options: { ms: number; signal: AbortSignal },
): Promise<number> {
  const start = performance.now();
  const period = 1000 / TYPING_RATE;
  let sent = 0;
  while (performance.now() - start < options.ms) {
    options.signal.throwIfAborted();
    const key = TYPED[sent % TYPED.length];
    if (key === "\n") await page.keyboard.press("Enter");
    else await page.keyboard.type(key);
    sent++;
    // Paced on the clock, so slow presses do not lower the rate.
    const wait = start + sent * period - performance.now();
    if (wait > 0) await sleep(wait, options.signal);
  }
  return sent;
}

async function video(x: XTarget): Promise<RunningWorkload> {
  const xterm = await spawnXterm(x, {
    geometry: "66x60+0+0",
    command: denoCommand("./scroll_text.ts", ["--lines", "60", "--rate", "0"]),
  });
  try {
    await sleep(1000);
    const animation = await spawnAnimation(x, {
      fps: VIDEO_FPS,
      region: VIDEO_REGION,
    });
    return {
      frames: animation.frames,
      stop: () => stopAll([xterm.stop, animation.stop]),
    };
  } catch (error) {
    await xterm.stop();
    throw error;
  }
}

/**
 * The workloads on display `x`, in the order they run; `only` keeps those
 * whose id starts with one of the given letters.
 */
export function mediaWorkloads(
  x: XTarget,
  options: { only?: string[] } = {},
): Workload[] {
  const all: Workload[] = [
    {
      id: "d",
      title: `full-screen animation, 1920×1080 at ${ANIMATION_FPS} Hz`,
      start: async () =>
        fromAnimation(await spawnAnimation(x, { fps: ANIMATION_FPS })),
      latencyUnderLoad: true,
    },
    {
      id: "e",
      title: `1280×720 video region at ${VIDEO_FPS} fps, static text around`,
      start: () => video(x),
    },
    {
      id: "a20",
      title: "xterm scrolling text, 20 lines/s",
      start: () => scrolling(x, 20),
    },
    {
      id: "a2000",
      title: "xterm scrolling text, 2,000 lines/s",
      start: () => scrolling(x, 2000),
    },
    {
      id: "b",
      title: `dragging an xterm of text at ${DRAG_HZ} Hz`,
      start: () => dragging(x),
    },
    {
      id: "c",
      title: `typing into vim in an xterm, ${TYPING_RATE} keys/s`,
      start: () => typing(x),
    },
  ];
  const only = options.only;
  return only?.length
    ? all.filter((w) => only.some((letter) => w.id.startsWith(letter)))
    : all;
}
