/**
 * The media benchmark's key echo client: an X window that takes the
 * keyboard focus and, on every key press, fills itself with the next colour
 * of a fixed cycle in which consecutive colours differ by 255 in at least
 * one channel. A browser watching a pixel of that window sees the key
 * arrive as a large colour change, whatever the (lossy) encoding.
 *
 * Run as its own process (`spawnKeyEcho`): it blocks in `XNextEvent`, so an
 * event is handled the moment it arrives (no polling delay), and SIGTERM
 * ends it (default action). It prints `ready` once the window is mapped,
 * focused and filled.
 *
 * Usage: `deno run -A bench/media/key_echo.ts X Y WIDTH HEIGHT` with
 * `DISPLAY` (and `XAUTHORITY`) set.
 *
 * @module
 */
import { XDisplay, XEVENT_SIZE, xlib } from "../../ffi/x11/display.ts";
import {
  createWindow,
  EVENT,
  EXPOSURE_MASK,
  focusWindow,
  GraphicsContext,
  KEY_PRESS_MASK,
  mapRaised,
  STRUCTURE_NOTIFY_MASK,
} from "../../ffi/x11/draw.ts";
import { spawnScript } from "./process.ts";
import type { XTarget } from "./animation.ts";

/** The colours, `0xRRGGBB`, in the order key presses show them. */
export const KEY_COLOURS: readonly number[] = [
  0xff0000,
  0x00ff00,
  0x0000ff,
  0xffff00,
  0x00ffff,
  0xff00ff,
  0xffffff,
  0x000000,
];

/** A rectangle of the screen. */
export interface Rect {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** A running key echo process. */
export interface KeyEcho {
  /** Its PID (and process group). */
  pid: number;
  /** Where its window is. */
  rect: Rect;
  /** Stops it by its PID. */
  stop(): Promise<void>;
}

/** Starts the key echo window at `rect`; resolves once it is ready. */
export async function spawnKeyEcho(x: XTarget, rect: Rect): Promise<KeyEcho> {
  const child = spawnScript(
    "./key_echo.ts",
    [rect.x, rect.y, rect.width, rect.height].map(String),
    { DISPLAY: x.display, XAUTHORITY: x.authFile },
  );
  const line = await child.nextLine();
  if (line !== "ready") {
    await child.stop();
    throw new Error(`the key echo client failed: ${child.stderr().trim()}`);
  }
  return { pid: child.pid, rect, stop: () => child.stop() };
}

// ---- the child ----

function main(args: string[]): void {
  const [x, y, width, height] = args.map(Number);
  const rect = { x: 0, y: 0, width, height };
  const display = XDisplay.open();
  const window = createWindow(display, { x, y, width, height }, {
    background: KEY_COLOURS[0],
    events: KEY_PRESS_MASK | EXPOSURE_MASK | STRUCTURE_NOTIFY_MASK,
  });
  const painter = new GraphicsContext(display, window);
  mapRaised(display, window);
  const event = new Uint8Array(XEVENT_SIZE);
  const type = (): number => new DataView(event.buffer).getInt32(0, true);
  const next = (): number => {
    xlib().XNextEvent(display.pointer, event);
    return type();
  };
  while (next() !== EVENT.MapNotify);
  // Focus can only go to a viewable window.
  focusWindow(display, window);
  let index = 0;
  const fill = (): void => {
    painter.colour(KEY_COLOURS[index % KEY_COLOURS.length]);
    painter.rect(window, rect);
    display.flush();
  };
  fill();
  display.sync();
  console.log("ready");
  for (;;) {
    const kind = next();
    if (kind === EVENT.KeyPress) index++;
    if (kind === EVENT.KeyPress || kind === EVENT.Expose) fill();
  }
}

if (import.meta.main) main(Deno.args);
