/**
 * What one viewer sees of the session and where its pointer lands: the
 * whole screen (a desktop; the screen follows the tab's size), or its
 * app's area (a published app in a session that may show several, each in
 * a tab of its own: `app_screens.ts`).
 *
 * @module
 */
import type { Rect, ScreenCapture } from "../devices/capture.ts";
import {
  atLeastMinimum,
  type SessionScreen,
  type Size,
  type Viewport,
} from "../devices/screen.ts";
import type { AppScreens } from "./app_screens.ts";
import { areaCapture } from "./area_capture.ts";
import type { SharedCapture } from "./shared_capture.ts";

/** A point in pixels. */
export interface Point {
  /** From the left. */
  x: number;
  /** From the top. */
  y: number;
}

/** One viewer's part of the session's screen. */
export interface ViewerScreen {
  /** A capture of what the viewer sees (close it when done). */
  openCapture(): ScreenCapture;
  /** Asks for a view of `size`; returns the viewport the viewer gets. */
  resize(size: Size): Viewport;
  /** The size the viewer sees now. */
  size(): Size;
  /** The largest size the viewer may ask for. */
  maxSize(): Size;
  /** Where a point of the viewer's view is on the session's screen. */
  toScreen(point: Point): Point;
  /** Input from this viewer is coming (its app gets the keyboard). */
  beforeInput(): void;
}

/** The whole screen, resized to the viewer's size where it can be. */
export function wholeScreen(
  screen: SessionScreen,
  captures: SharedCapture,
): ViewerScreen {
  return {
    openCapture: () => captures.view(),
    resize: (size) => screen.resize(size),
    size: () => ({
      width: screen.capture.width,
      height: screen.capture.height,
    }),
    maxSize: () => screen.maxSize(),
    toScreen: (point) => point,
    beforeInput() {},
  };
}

/** The area of `app` (shown in an area of the viewer's size once resized). */
export function appArea(
  app: string,
  options: { screens: AppScreens; captures: SharedCapture },
): ViewerScreen {
  const { screens, captures } = options;
  // Its last area stays for a viewer whose app closed (it is being ended).
  let last: Rect | undefined;
  const rect = (): Rect =>
    last = screens.area(app) ?? last ?? screens.show(app, areaSize({}));
  return {
    openCapture: () => areaCapture(captures.view(), rect),
    resize(size) {
      const area = screens.show(app, areaSize(size));
      return { width: area.width, height: area.height, applied: true };
    },
    size() {
      const { width, height } = rect();
      return { width, height };
    },
    maxSize: () => screens.maxSize(),
    toScreen(point) {
      const { x, y } = rect();
      return { x: point.x + x, y: point.y + y };
    },
    beforeInput: () => screens.focus(app),
  };
}

/**
 * The area size for a tab of `size`: at least the smallest viewport, and
 * 1280×720 for a tab that did not say.
 */
export function areaSize(size: Partial<Size>): Size {
  return atLeastMinimum({
    width: size.width ?? 1280,
    height: size.height ?? 720,
  });
}
