/**
 * The session's screen on X11 ({@linkcode SessionScreen}): an MIT-SHM
 * capture (`x11_capture.ts`), an XTest input sink (`x11_input.ts`) and a
 * RandR resize (`x11_resize.ts`) of one display.
 *
 * @module
 */
import { XDisplay } from "../../../ffi/x11/display.ts";
import {
  queryRandr,
  screenSize,
  screenSizeRange,
} from "../../../ffi/x11/randr.ts";
import type { InputSink } from "../input.ts";
import {
  atLeastMinimum,
  type SessionScreen,
  viewportWithin,
} from "../screen.ts";
import { openX11Capture } from "./x11_capture.ts";
import { openX11Input } from "./x11_input.ts";
import { resizeScreen } from "./x11_resize.ts";

/** Options for {@linkcode openX11Screen}. */
export interface X11ScreenOptions {
  /** The X display. Default `$DISPLAY`. */
  display?: string;
}

/** Opens the screen of an X display (`$DISPLAY` by default). */
export function openX11Screen(options: X11ScreenOptions = {}): SessionScreen {
  const { display: name } = options;
  const capture = openX11Capture({ display: name });
  let input: InputSink | undefined;
  let control: XDisplay | undefined;
  try {
    input = openX11Input({ display: name });
    control = XDisplay.open(name);
  } catch (error) {
    input?.close();
    capture.close();
    throw error;
  }
  const display = control;
  const sink = input;
  return {
    capture,
    input: sink,
    resize(size) {
      const wanted = atLeastMinimum(size);
      const result = resizeScreen(display, wanted);
      if (result.applied) {
        return { width: result.width, height: result.height, applied: true };
      }
      // Asked of the server: Xlib's own copy lags behind RandR changes.
      return viewportWithin(wanted, screenSize(display));
    },
    maxSize() {
      const range = queryRandr(display) ? screenSizeRange(display) : undefined;
      return range
        ? { width: range.maxWidth, height: range.maxHeight }
        : screenSize(display);
    },
    close() {
      sink.releaseAll();
      sink.close();
      capture.close();
      display.close();
    },
  };
}
