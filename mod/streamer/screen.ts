/**
 * The session's screen as the streamer uses it: capture, input and resize
 * for this platform, opened once per streamer and shared by its viewers. On
 * Linux: X11 through `ffi/x11/` (MIT-SHM capture, XTest input, RandR). On
 * Windows: GDI capture and SendInput through `ffi/windows/`; the screen is
 * not resized.
 *
 * @module
 */
import { XDisplay } from "../../ffi/x11/display.ts";
import { screenSize } from "../../ffi/x11/randr.ts";
import type { ScreenCapture } from "../platform/capture.ts";
import type { InputSink } from "../platform/input.ts";
import { openX11Capture } from "../platform/linux/x11_capture.ts";
import { openX11Input } from "../platform/linux/x11_input.ts";
import { resizeScreen } from "../platform/linux/x11_resize.ts";
import {
  openGdiCapture,
  openWindowsGraphics,
  type WindowsGraphicsLibraries,
} from "../platform/windows/gdi_capture.ts";
import { openSendInput } from "../platform/windows/send_input.ts";

/** Smallest viewport a viewer may ask for. */
export const MIN_SIZE = { width: 320, height: 200 } as const;

/** Capture, input and resize of one session's screen. */
export interface SessionScreen {
  /** The screen capture. */
  capture: ScreenCapture;
  /** Input injection. */
  input: InputSink;
  /**
   * Asks for a screen of `size`; returns the viewport the viewer will get
   * (the screen when it could be resized, else `size` within it).
   */
  resize(size: { width: number; height: number }): {
    width: number;
    height: number;
    applied: boolean;
  };
  /** Releases everything. */
  close(): void;
}

/** Options for {@linkcode openSessionScreen}. */
export interface SessionScreenOptions {
  /** The X display. Default `$DISPLAY`. */
  display?: string;
}

/**
 * Opens this session's screen (`$DISPLAY` on Linux, the calling thread's
 * desktop on Windows).
 */
export function openSessionScreen(
  options: SessionScreenOptions = {},
): SessionScreen {
  if (Deno.build.os === "windows") return openWindowsSessionScreen();
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
      const wanted = {
        width: Math.max(MIN_SIZE.width, size.width),
        height: Math.max(MIN_SIZE.height, size.height),
      };
      const result = resizeScreen(display, wanted);
      if (result.applied) {
        return { width: result.width, height: result.height, applied: true };
      }
      // Asked of the server: Xlib's own copy lags behind RandR changes.
      const screen = screenSize(display);
      return {
        width: Math.min(wanted.width, screen.width),
        height: Math.min(wanted.height, screen.height),
        applied: false,
      };
    },
    close() {
      sink.releaseAll();
      sink.close();
      capture.close();
      display.close();
    },
  };
}

/** Options for {@linkcode openWindowsSessionScreen}. */
export interface WindowsSessionScreenOptions {
  /** The DLLs; default: opened with `Deno.dlopen` (Windows only). */
  libraries?: WindowsGraphicsLibraries;
}

/**
 * The Windows session screen: a GDI capture of the virtual screen and a
 * SendInput sink, on the calling thread. The capture's polls keep this
 * thread on the input desktop, which is where SendInput then injects.
 */
export function openWindowsSessionScreen(
  options: WindowsSessionScreenOptions = {},
): SessionScreen {
  const libraries = options.libraries ?? openWindowsGraphics();
  const capture = openGdiCapture({ libraries });
  let input;
  try {
    input = openSendInput({ libraries });
  } catch (error) {
    capture.close();
    throw error;
  }
  return {
    capture,
    input,
    resize(size) {
      // The RDP session's resolution belongs to its (loopback) RDP client;
      // changing it from inside the session is not done here, so viewers
      // get the requested size within the screen.
      const wanted = {
        width: Math.max(MIN_SIZE.width, size.width),
        height: Math.max(MIN_SIZE.height, size.height),
      };
      return {
        width: Math.min(wanted.width, capture.width),
        height: Math.min(wanted.height, capture.height),
        applied: false,
      };
    },
    close() {
      input.releaseAll();
      input.close();
      capture.close();
    },
  };
}
