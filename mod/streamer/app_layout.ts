/**
 * Where each published app of a session goes on its X screen, and where
 * each of its windows belongs: pure decisions, no I/O, each one explaining
 * itself.
 *
 * Every app shown in a browser tab gets an **area** of the screen the size
 * of its tab (a RandR monitor, so the window manager maximizes the app's
 * main window to exactly that), and its tab shows that area only. Areas are
 * packed in rows, left to right, in the order the apps were first shown, so
 * an app's area moves only when one before it changes size. When the
 * screen's largest size cannot hold them all, every area is made smaller
 * alike (its tab shows it smaller than the tab; said in its reason).
 *
 * @module
 */
import type { Rect } from "../devices/capture.ts";
import type { Size } from "../devices/screen.ts";
import { contains } from "./encode/tiles.ts";
import { clamp } from "../util/clamp.ts";

/** An app's wish: an area this size. */
export interface AreaRequest {
  /** The app (its command line). */
  app: string;
  /** The size of its tab, in pixels. */
  size: Size;
}

/** Where an app's area went, and why. */
export interface AreaPlacement {
  /** The app. */
  app: string;
  /** Its area on the screen. */
  rect: Rect;
  /** Why there. */
  reason: string;
}

/** The screen size the areas need, and the areas. */
export interface Layout {
  /** The screen size that holds every area. */
  screen: Size;
  /** One per request, in the requests' order. */
  areas: AreaPlacement[];
}

/**
 * Packs the `requests`' areas in rows within `options.max` (the largest
 * screen the display allows); see the module documentation. When they do
 * not all fit, every area is made smaller by the same factor until they do
 * (each tab then shows its app smaller than the tab); only when even the
 * smallest areas do not fit does an area share the top left.
 */
export function layoutAreas(
  requests: readonly AreaRequest[],
  options: { max: Size },
): Layout {
  for (let scale = 1; scale >= MIN_SCALE; scale *= SCALE_STEP) {
    const packed = pack(requests, options.max, scale);
    if (packed) return packed;
  }
  return pack(requests, options.max, MIN_SCALE, true)!;
}

/** Each try at packing makes the areas this much smaller. */
const SCALE_STEP = 0.9;
/** Areas are made no smaller than this share of their tab. */
const MIN_SCALE = 0.25;

/**
 * The areas at `scale` packed in rows, or undefined when one does not fit
 * (with `overlap`, it then shares the top left instead).
 */
function pack(
  requests: readonly AreaRequest[],
  max: Size,
  scale: number,
  overlap = false,
): Layout | undefined {
  const areas: AreaPlacement[] = [];
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  for (const { app, size } of requests) {
    const width = clamp(Math.floor(size.width * scale), 1, max.width);
    const height = clamp(Math.floor(size.height * scale), 1, max.height);
    const smaller = width !== size.width || height !== size.height
      ? ` at ${width}x${height}, not the ${size.width}x${size.height} ` +
        `asked: the ${max.width}x${max.height} screen holds no more`
      : "";
    if (x > 0 && x + width > max.width) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    if (y + height > max.height) {
      if (!overlap) return undefined;
      areas.push({
        app,
        rect: { x: 0, y: 0, width, height },
        reason: `no room left on the ${max.width}x${max.height} screen: ` +
          `shares the top left with other apps${smaller}`,
      });
      continue;
    }
    areas.push({
      app,
      rect: { x, y, width, height },
      reason: `${areas.length ? "next free place" : "first app"} at ` +
        `${x},${y}${smaller}`,
    });
    x += width;
    rowHeight = Math.max(rowHeight, height);
  }
  const screen = {
    width: Math.max(1, ...areas.map((a) => a.rect.x + a.rect.width)),
    height: Math.max(1, ...areas.map((a) => a.rect.y + a.rect.height)),
  };
  return { screen, areas };
}

/** A top-level window as the placement sees it. */
export interface PlacedWindow {
  /**
   * `main`: a normal window of its own (filling the area); `dialog`: a
   * dialog, a transient or any other kind (kept whole inside the area).
   */
  role: "main" | "dialog";
  /** Where it is now. */
  rect: Rect;
}

/** What to do with a window. */
export type WindowAction =
  | { action: "keep"; reason: string }
  | {
    action: "move";
    /** The top-left corner to move to. */
    to: { x: number; y: number };
    /** Whether to maximize it there too (a main window). */
    maximize: boolean;
    reason: string;
  };

/**
 * Where `window` of an app with `area` belongs: a main window fills the
 * area (moved there and maximized: the window manager then sizes it to the
 * area's monitor exactly); a dialog stays where it is when it lies within
 * the area, else it is centred in it.
 */
export function placeWindow(window: PlacedWindow, area: Rect): WindowAction {
  const { rect } = window;
  if (window.role === "main") {
    if (sameRect(rect, area)) {
      return { action: "keep", reason: "fills its area" };
    }
    return {
      action: "move",
      to: { x: area.x, y: area.y },
      maximize: true,
      reason: `a main window at ${describe(rect)}, not filling its area ` +
        describe(area),
    };
  }
  if (contains(area, rect)) {
    return { action: "keep", reason: "a dialog within its area" };
  }
  const to = {
    x: area.x + Math.max(0, Math.floor((area.width - rect.width) / 2)),
    y: area.y + Math.max(0, Math.floor((area.height - rect.height) / 2)),
  };
  if (rect.x === to.x && rect.y === to.y) {
    return {
      action: "keep",
      reason: "a dialog larger than its area, at its top left",
    };
  }
  return {
    action: "move",
    to,
    maximize: false,
    reason: `a dialog at ${describe(rect)}, outside its area ${describe(area)}`,
  };
}

function sameRect(a: Rect, b: Rect): boolean {
  return a.x === b.x && a.y === b.y && a.width === b.width &&
    a.height === b.height;
}

function describe(rect: Rect): string {
  return `${rect.width}x${rect.height}+${rect.x}+${rect.y}`;
}
