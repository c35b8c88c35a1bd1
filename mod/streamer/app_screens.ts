/**
 * Published apps, each in a tab of its own, in one session: every app
 * shown in a tab gets an area of the screen the size of its tab
 * (`app_layout.ts`), made a monitor so the window manager maximizes its
 * main window to exactly that; its windows are kept in its area (found by
 * the process that made them, `window_owner.ts`); the screen is resized to
 * hold every area; and before input from an app's tab, that app gets the
 * keyboard focus if another app had it.
 *
 * It also notices when an app's last window closes (the tab is told).
 *
 * @module
 */
import type { Rect } from "../devices/capture.ts";
import type {
  AppWindowSystem,
  TopLevelWindow,
} from "../devices/app_windows.ts";
import type { SessionScreen, Size } from "../devices/screen.ts";
import type { Logger } from "../log/mod.ts";
import { type Layout, layoutAreas, placeWindow } from "./app_layout.ts";
import {
  type KnownApp,
  type ProcessProbe,
  windowOwner,
} from "./window_owner.ts";

/** Options for {@linkcode AppScreens}. */
export interface AppScreensOptions {
  /** The session's screen (resized to hold every area). */
  screen: SessionScreen;
  /** The session's top-level windows. */
  windows: AppWindowSystem;
  /** The apps this streamer started and still runs. */
  apps: () => readonly KnownApp[];
  /** Logger. */
  logger: Logger;
  /**
   * An app's last window closed (it had one) and none came back within
   * `closeGraceMs`.
   */
  onLastWindowClosed?: (app: string) => void;
  /**
   * How long an app may have no window before it counts as closed, in ms
   * (a splash screen that closes before the main window maps). Default 1500.
   */
  closeGraceMs?: number;
  /** How often the windows are checked, in ms. Default 100. */
  checkMs?: number;
  /** Processes (tests). */
  probe?: ProcessProbe;
}

/** Checks between two full passes when nothing was announced. */
const FULL_PASS_EVERY = 10;

/** The session's app areas and windows; see the module documentation. */
export class AppScreens {
  readonly #o: AppScreensOptions;
  /** Each shown app's wanted size, in the order apps were first shown. */
  readonly #wanted = new Map<string, Size>();
  /** Window → the app it belongs to, once known. */
  readonly #owners = new Map<bigint, string>();
  /** Windows each app has now. */
  readonly #counts = new Map<string, number>();
  /** Apps whose last window closed, and since when (`performance.now()`). */
  readonly #emptySince = new Map<string, number>();
  #layout: Layout = { screen: { width: 1, height: 1 }, areas: [] };
  #lastInput?: string;
  #timer?: ReturnType<typeof setInterval>;
  #passes = 0;

  /** Starts checking the windows. */
  constructor(options: AppScreensOptions) {
    this.#o = options;
    this.#timer = setInterval(() => this.#check(), options.checkMs ?? 100);
  }

  /**
   * Shows `app` in an area of `size` (a new app, or a tab that changed
   * size); returns its area.
   */
  show(app: string, size: Size): Rect {
    if (this.#timer === undefined) throw new Error("app screens are closed");
    const before = this.#wanted.get(app);
    if (before?.width !== size.width || before?.height !== size.height) {
      this.#wanted.set(app, { ...size });
      this.#relayout();
      // A new app's windows open where the pointer is: in its own area.
      const area = this.area(app)!;
      if (!before && this.#wanted.size > 1) {
        this.#o.windows.pointTo({
          x: area.x + (area.width >> 1),
          y: area.y + (area.height >> 1),
        });
      }
    }
    return this.area(app)!;
  }

  /** The area of `app`, if it is shown. */
  area(app: string): Rect | undefined {
    return this.#layout.areas.find((a) => a.app === app)?.rect;
  }

  /** The largest area an app may get (the largest screen). */
  maxSize(): Size {
    return this.#o.windows.maxScreen();
  }

  /** Input from `app`'s tab is coming: `app` gets the keyboard if another has it. */
  focus(app: string): void {
    if (this.#timer === undefined) return;
    this.#lastInput = app;
    const { windows } = this.#o;
    const active = windows.active();
    if (active !== undefined && this.#owners.get(active) === app) return;
    // Its newest window (a dialog over the main one, say); windows not
    // seen yet are looked at first.
    const newest = () =>
      [...this.#owners].filter(([, owner]) => owner === app).at(-1)?.[0];
    let target = newest();
    if (target === undefined) {
      this.#place(windows.windows());
      target = newest();
    }
    if (target !== undefined) windows.activate(target);
  }

  /** How many windows `app` has (as last seen). */
  windowsOf(app: string): number {
    return this.#counts.get(app) ?? 0;
  }

  /** `app` ended: its area goes. */
  forget(app: string): void {
    if (this.#timer === undefined) return;
    this.#counts.delete(app);
    this.#emptySince.delete(app);
    if (this.#wanted.delete(app)) this.#relayout();
  }

  /** Stops checking and closes the window connection. */
  close(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#o.windows.close();
  }

  #relayout(): void {
    const { windows, screen, logger } = this.#o;
    const requests = [...this.#wanted].map(([app, size]) => ({ app, size }));
    this.#layout = layoutAreas(requests, { max: windows.maxScreen() });
    const applied = screen.resize(this.#layout.screen);
    if (!applied.applied) {
      logger.warn("the screen cannot hold every app area", {
        wanted: this.#layout.screen,
        got: { width: applied.width, height: applied.height },
      });
    }
    windows.setAreas(this.#layout.areas.map((a) => a.rect));
    for (const area of this.#layout.areas) {
      logger.debug("app area", {
        app: area.app,
        ...area.rect,
        why: area.reason,
      });
    }
    this.#place(windows.windows());
  }

  #check(): void {
    try {
      const announced = this.#o.windows.changed();
      if (announced || ++this.#passes >= FULL_PASS_EVERY) {
        this.#passes = 0;
        this.#place(this.#o.windows.windows());
      }
      this.#reportClosed();
    } catch (error) {
      this.#o.logger.warn("cannot check the app windows", { error });
    }
  }

  /** Apps with no window for longer than the grace have closed. */
  #reportClosed(): void {
    const grace = this.#o.closeGraceMs ?? 1500;
    const now = performance.now();
    for (const [app, since] of this.#emptySince) {
      if (now - since < grace) continue;
      this.#emptySince.delete(app);
      this.#o.onLastWindowClosed?.(app);
    }
  }

  /** Keeps every window in its app's area, and counts each app's windows. */
  #place(list: TopLevelWindow[]): void {
    const { windows, logger } = this.#o;
    const counts = new Map<string, number>();
    const present = new Set<bigint>();
    for (const window of list) {
      present.add(window.id);
      const app = this.#ownerOf(window);
      if (app === undefined) continue;
      counts.set(app, (counts.get(app) ?? 0) + 1);
      const area = this.area(app);
      if (!area) continue;
      const decision = placeWindow(window, area);
      if (decision.action === "keep") continue;
      logger.debug("app window placed", {
        app,
        window: window.id.toString(16),
        why: decision.reason,
      });
      windows.move(window.id, decision.to, decision.maximize);
    }
    for (const id of this.#owners.keys()) {
      if (!present.has(id)) this.#owners.delete(id);
    }
    for (const [app, had] of this.#counts) {
      if (had > 0 && !counts.get(app)) {
        this.#emptySince.set(app, performance.now());
      }
    }
    for (const app of counts.keys()) this.#emptySince.delete(app);
    this.#counts.clear();
    for (const [app, count] of counts) this.#counts.set(app, count);
  }

  /**
   * The app a window belongs to: by its process (any app started here, shown
   * yet or not); a window whose process is no app's we know goes to the app
   * last used (or last shown), for good.
   */
  #ownerOf(window: TopLevelWindow): string | undefined {
    const seen = this.#owners.get(window.id);
    if (seen !== undefined) return seen;
    const shown = [...this.#wanted.keys()];
    const known: KnownApp[] = [
      ...this.#o.apps(),
      ...shown.map((command) => ({ command })),
    ];
    const owner = windowOwner(window.pid, known, { probe: this.#o.probe }) ??
      this.#lastInput ?? shown.at(-1);
    // Nobody to give it to yet: ask again on the next pass.
    if (owner !== undefined) this.#owners.set(window.id, owner);
    return owner;
  }
}
