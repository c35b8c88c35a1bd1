/**
 * X operations on another client's window, as a child process of the media
 * benchmark (so the measuring process never holds an X connection):
 *
 * - `focus WINDOW`: gives the window the keyboard focus and exits (there
 *   is no window manager to do it);
 * - `drag WINDOW [--hz 30]`: moves the window with `XMoveWindow` every
 *   1/hz s along a closed path (a Lissajous figure over the screen, a
 *   full loop in about 6 s, up to ~25 pixels a move), as a user dragging
 *   it would; prints `{"frames":N}` (moves) every 100 ms; SIGTERM ends it.
 *
 * Usage: `deno run -A bench/media/window_ops.ts focus|drag WINDOW [--hz N]`
 * with `DISPLAY` (and `XAUTHORITY`) set.
 *
 * @module
 */
import { XDisplay } from "../../ffi/x11/display.ts";
import { focusWindow, moveWindow } from "../../ffi/x11/draw.ts";
import { windowGeometry } from "../../ffi/x11/image.ts";

async function drag(
  display: XDisplay,
  window: bigint,
  hz: number,
): Promise<void> {
  let stopping = false;
  Deno.addSignalListener("SIGTERM", () => stopping = true);
  const screen = display.size();
  // The window's outer size: its border is drawn on each side.
  const g = windowGeometry(display, window);
  const size = {
    width: g.width + 2 * g.border,
    height: g.height + 2 * g.border,
  };
  const rangeX = Math.max(0, screen.width - size.width);
  const rangeY = Math.max(0, screen.height - size.height);
  const period = 1000 / hz;
  // One loop of the figure in ~6 s whatever the rate.
  const step = 2 * Math.PI / (6 * hz);
  let deadline = performance.now();
  let frame = 0;
  let reported = 0;
  const report = (): void => console.log(JSON.stringify({ frames: frame }));
  while (!stopping) {
    const t = frame * step;
    const x = Math.round(rangeX * (0.5 + 0.5 * Math.sin(t)));
    const y = Math.round(rangeY * (0.5 + 0.5 * Math.sin(2 * t)));
    moveWindow(display, window, { x, y });
    // The move is done (and the exposed root repainted) before the next.
    display.sync();
    frame++;
    const now = performance.now();
    if (frame === 1 || now - reported >= 100) {
      report();
      reported = now;
    }
    deadline += period;
    if (deadline < now - period) deadline = now;
    if (deadline > now) {
      await new Promise((r) => setTimeout(r, deadline - now));
    }
  }
  report();
}

async function main(args: string[]): Promise<void> {
  const [command, id] = args;
  const window = BigInt(id);
  const display = XDisplay.open();
  try {
    if (command === "focus") {
      focusWindow(display, window);
      display.sync();
    } else if (command === "drag") {
      const at = args.indexOf("--hz");
      await drag(display, window, at >= 0 ? Number(args[at + 1]) : 30);
    } else {
      throw new Error(`unknown command ${command}`);
    }
  } finally {
    display.close();
  }
}

if (import.meta.main) await main(Deno.args);
