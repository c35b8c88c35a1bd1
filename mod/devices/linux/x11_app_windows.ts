/**
 * {@linkcode AppWindowSystem} on X11: EWMH for the windows (read from the
 * window manager's `_NET_CLIENT_LIST`), RandR 1.5 monitors for the areas,
 * over a connection of its own.
 *
 * Areas are set make-before-break: the new monitors are added under new
 * names before the old ones go, so a maximized window never finds itself
 * on no monitor of its own (the window manager would move it elsewhere).
 *
 * @module
 */
import { X11Error, XDisplay } from "../../../ffi/x11/display.ts";
import {
  activateClient,
  activeWindow,
  clientFacts,
  clientList,
  hasWindowManager,
  maximizeClient,
  moveClient,
  rootPropertiesChanged,
  screenRect,
  watchRootProperties,
} from "../../../ffi/x11/ewmh.ts";
import {
  addMonitor,
  deleteMonitor,
  listMonitors,
} from "../../../ffi/x11/randr_monitors.ts";
import { screenSizeRange } from "../../../ffi/x11/randr.ts";
import { focusWindow, warpPointer } from "../../../ffi/x11/draw.ts";
import type { AppWindowSystem, TopLevelWindow } from "../app_windows.ts";

/** Names of the monitors this module adds. */
export const AREA_MONITOR_PREFIX = "webstream-area-";

/** Window kinds that are nobody's app window (a panel, a desktop). */
const NOT_APP_WINDOWS = new Set(["DOCK", "DESKTOP", "NOTIFICATION"]);

/** The root properties whose changes matter here. */
const WATCHED = ["_NET_CLIENT_LIST", "_NET_ACTIVE_WINDOW"] as const;

/** Opens the app windows of display `name` (default `$DISPLAY`). */
export function openX11AppWindows(
  options: { display?: string } = {},
): AppWindowSystem {
  const display = XDisplay.open(options.display);
  watchRootProperties(display);
  let generation = 0;
  // Monitors a streamer before this one left are replaced too.
  let current = listMonitors(display)
    .filter((m) => m.name.startsWith(AREA_MONITOR_PREFIX))
    .map((m) => m.name);
  /** The connection, or an error once it is closed (Xlib would crash). */
  const open = (): XDisplay => {
    if (display.closed) throw new X11Error("the app windows are closed");
    return display;
  };
  return {
    hasWindowManager: () => hasWindowManager(open()),
    windows(): TopLevelWindow[] {
      open();
      const out: TopLevelWindow[] = [];
      for (const id of clientList(display)) {
        const facts = clientFacts(display, id);
        if (facts.types.some((t) => NOT_APP_WINDOWS.has(t))) continue;
        const rect = screenRect(display, id);
        if (!rect) continue;
        const normal = !facts.types.length || facts.types[0] === "NORMAL";
        out.push({
          id,
          pid: facts.pid,
          role: normal && !facts.transientFor ? "main" : "dialog",
          rect,
        });
      }
      return out;
    },
    active: () => activeWindow(open()),
    maxScreen() {
      const range = screenSizeRange(open());
      return range
        ? { width: range.maxWidth, height: range.maxHeight }
        : display.size();
    },
    setAreas(areas) {
      open();
      generation++;
      const next = areas.map((rect, i) => {
        // The pid keeps names unique across restarted streamers.
        const name = `${AREA_MONITOR_PREFIX}${Deno.pid}-${generation}-${i}`;
        addMonitor(display, { name, ...rect });
        return name;
      });
      for (const name of current) deleteMonitor(display, name);
      current = next;
      display.flush();
    },
    move(id, to, maximize) {
      moveClient(open(), id, to);
      if (maximize) maximizeClient(display, id);
      display.flush();
    },
    pointTo(to) {
      warpPointer(open(), to);
      display.flush();
    },
    activate(id) {
      // The focus at once, and handled by the server before this returns:
      // the key it is for goes next on another connection (the input's).
      // openbox raises the window and follows.
      focusWindow(open(), id);
      activateClient(display, id);
      display.sync();
    },
    changed: () => rootPropertiesChanged(open(), WATCHED),
    close: () => display.close(),
  };
}
