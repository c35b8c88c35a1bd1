/**
 * The session's screen as the streamer uses it, independent of the OS:
 * capture, input and resize together ({@linkcode SessionScreen}). Linux
 * implements it in `linux/x11_screen.ts` (X11: MIT-SHM capture, XTest
 * input, RandR), Windows in `windows/win32_screen.ts` (GDI capture and
 * SendInput; not resized); `mod.ts` picks the one for this OS.
 *
 * @module
 */
import type { ScreenCapture } from "./capture.ts";
import type { InputSink } from "./input.ts";

/** Smallest viewport a viewer may ask for. */
export const MIN_SIZE = { width: 320, height: 200 } as const;

/** A width and a height, in pixels. */
export interface Size {
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** The viewport a viewer gets from {@linkcode SessionScreen.resize}. */
export interface Viewport extends Size {
  /** Whether the screen itself was resized to it. */
  applied: boolean;
}

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
  resize(size: Size): Viewport;
  /**
   * The largest size {@linkcode resize} can give the screen (the screen's
   * size now where it cannot be resized).
   */
  maxSize(): Size;
  /** Releases everything. */
  close(): void;
}

/** `size`, raised to at least {@linkcode MIN_SIZE}. */
export function atLeastMinimum(size: Size): Size {
  return {
    width: Math.max(MIN_SIZE.width, size.width),
    height: Math.max(MIN_SIZE.height, size.height),
  };
}

/**
 * The viewport for a screen that was not resized: `wanted` within the
 * `screen`'s current size.
 */
export function viewportWithin(wanted: Size, screen: Size): Viewport {
  return {
    width: Math.min(wanted.width, screen.width),
    height: Math.min(wanted.height, screen.height),
    applied: false,
  };
}
