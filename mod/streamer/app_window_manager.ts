/**
 * The window manager of a published-app session: openbox with a
 * configuration of its own, so an app looks like the app and nothing else.
 * No decorations or borders; normal windows open maximized (on their
 * area's monitor, see `app_layout.ts`), on the monitor under the pointer
 * (the streamer points at a new app's area before it starts); new windows
 * get the focus and a
 * click focuses and raises; no key bindings or menus of its own, so every
 * key reaches the app.
 *
 * The streamer starts it for the first app viewer of a session that has no
 * window manager yet. Like the apps, it leads a process group of its own
 * and outlives a streamer that dies; the session's end ends it.
 *
 * @module
 */
import type { AppWindowSystem } from "../devices/app_windows.ts";
import type { Logger } from "../log/mod.ts";
import { delay } from "../util/async.ts";
import { appEnvironment } from "./apps.ts";

/** openbox's configuration for published apps (see the module documentation). */
export const APP_MODE_RC = `<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <focus><focusNew>yes</focusNew><followMouse>no</followMouse></focus>
  <placement><policy>Smart</policy><center>yes</center><monitor>Mouse</monitor></placement>
  <theme><keepBorder>no</keepBorder></theme>
  <desktops><number>1</number></desktops>
  <margins><top>0</top><bottom>0</bottom><left>0</left><right>0</right></margins>
  <keyboard></keyboard>
  <mouse>
    <context name="Client">
      <mousebind button="Left" action="Press"><action name="Focus"/><action name="Raise"/></mousebind>
      <mousebind button="Middle" action="Press"><action name="Focus"/><action name="Raise"/></mousebind>
      <mousebind button="Right" action="Press"><action name="Focus"/><action name="Raise"/></mousebind>
    </context>
  </mouse>
  <applications>
    <application class="*"><decor>no</decor></application>
    <application class="*" type="normal"><maximized>yes</maximized></application>
  </applications>
</openbox_config>
`;

/** A window manager started for the apps. */
export interface AppWindowManager {
  /** Its process id (it leads a process group of its own). */
  pid: number;
  /** Resolves when it exits. */
  exited: Promise<Deno.CommandStatus>;
}

/**
 * Starts openbox with {@linkcode APP_MODE_RC} on the session's display;
 * resolves with it, or undefined (logged, naming the Debian package) when
 * it cannot start.
 */
export async function startAppWindowManager(
  options: {
    logger: Logger;
    /** Added to the session's environment (tests: another display). */
    env?: Record<string, string>;
  },
): Promise<AppWindowManager | undefined> {
  const { logger } = options;
  try {
    const rc = await Deno.makeTempFile({
      prefix: "webstream-openbox-",
      suffix: ".xml",
    });
    await Deno.writeTextFile(rc, APP_MODE_RC);
    const child = new Deno.Command("openbox", {
      args: ["--config-file", rc],
      env: { ...appEnvironment(), ...options.env },
      clearEnv: true,
      // Its own group: it outlives the streamer, as the apps do.
      detached: Deno.build.os !== "windows",
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    child.status.then((status) =>
      logger.info("app window manager exited", { code: status.code })
    );
    logger.info("app window manager started", { pid: child.pid });
    return { pid: child.pid, exited: child.status };
  } catch (error) {
    logger.warn(
      "cannot start openbox for published apps (Debian package openbox): " +
        "apps are shown without a window manager",
      { error },
    );
    return undefined;
  }
}

/** Options for {@linkcode untilWindowManager}. */
export interface UntilWindowManagerOptions {
  /** Logger (a window manager that does not come up is warned about). */
  logger: Logger;
  /** How long to wait, ms. Default 5000. */
  timeoutMs?: number;
  /** How often to look, ms. Default 20. */
  pollMs?: number;
  /** Stops the wait (the session is closing): resolves false. */
  signal?: AbortSignal;
  /** The window manager's exit: nothing to wait for after it. */
  exited?: Promise<unknown>;
}

/**
 * Resolves true once `windows` has a window manager (openbox just started
 * takes some tens of milliseconds), or false after `timeoutMs`, when
 * `signal` aborts, when it exits or when `windows` can no longer be asked.
 * An app started before the window manager is up may map its first window
 * while openbox takes over the screen, and openbox then never manages it:
 * the window stays unmapped and its tab blank.
 */
export async function untilWindowManager(
  windows: Pick<AppWindowSystem, "hasWindowManager">,
  options: UntilWindowManagerOptions,
): Promise<boolean> {
  const { timeoutMs = 5000, pollMs = 20, signal } = options;
  const until = performance.now() + timeoutMs;
  let exited = false;
  options.exited?.then(() => exited = true);
  for (;;) {
    let up: boolean;
    try {
      up = windows.hasWindowManager();
    } catch {
      return false; // The display is closed: nothing to wait for.
    }
    if (up) return true;
    if (signal?.aborted || exited) return false;
    if (performance.now() >= until) {
      options.logger.warn(
        "the app window manager is not up; starting the app anyway",
        { waitedMs: timeoutMs },
      );
      return false;
    }
    await delay(pollMs, { signal });
  }
}
