/**
 * The session's top-level windows as a window manager keeps them, for
 * showing each published app in a tab of its own: which windows there are
 * (and whose process made each), which one has the focus, the screen's
 * areas (one monitor each, so the window manager maximizes an app's main
 * window to its area), and the requests a pager may make: move a window,
 * maximize it, focus it.
 *
 * Linux implements it over EWMH and RandR monitors
 * (`linux/x11_app_windows.ts`, with openbox as the window manager); Windows
 * does not have it yet (each tab shows the whole session there).
 *
 * @module
 */
import type { Rect } from "./capture.ts";
import type { Size } from "./screen.ts";

/** A managed top-level window. */
export interface TopLevelWindow {
  /** The window's id. */
  id: bigint;
  /** The process that made it, when it says. */
  pid?: number;
  /**
   * `main`: a normal window of its own; `dialog`: a dialog, a transient
   * window or another kind an app opens over its main window.
   */
  role: "main" | "dialog";
  /** Where it is on the screen. */
  rect: Rect;
}

/** The session's top-level windows; see the module documentation. */
export interface AppWindowSystem {
  /** Whether a window manager runs (the rest needs one). */
  hasWindowManager(): boolean;
  /** The managed top-level windows now, oldest first. */
  windows(): TopLevelWindow[];
  /** The focused top-level window, if any. */
  active(): bigint | undefined;
  /** The largest screen the display allows. */
  maxScreen(): Size;
  /** Makes `areas` the screen's monitors, replacing the previous ones. */
  setAreas(areas: readonly Rect[]): void;
  /** Moves window `id` to `to` (top-left, screen pixels), maximized there when asked. */
  move(id: bigint, to: { x: number; y: number }, maximize: boolean): void;
  /**
   * Moves the pointer to `to` (screen pixels): the window manager places
   * new windows on the monitor under it.
   */
  pointTo(to: { x: number; y: number }): void;
  /** Raises and focuses window `id`. */
  activate(id: bigint): void;
  /**
   * Drains what happened since the last call; whether windows came, went
   * or the focus moved.
   */
  changed(): boolean;
  /** Closes the connection. */
  close(): void;
}
