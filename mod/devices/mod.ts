/**
 * The session's devices, for the streamer running inside it: the screen
 * (capture, input, resize) and the clipboard of this OS. This is the one
 * place that picks the OS: X11 on Linux (`linux/`), GDI, SendInput and the
 * Win32 clipboard on Windows (`windows/`). The interfaces they implement
 * are OS-neutral: `capture.ts`, `input.ts`, `clipboard.ts`, `screen.ts`.
 *
 * @example
 * ```ts ignore
 * const devices = openSessionDevices();
 * const screen = devices.screen(); // opened on first use, then shared
 * await devices.clipboard.write("hello");
 * devices.close();
 * ```
 *
 * @module
 */
import type { AppWindowSystem } from "./app_windows.ts";
import type { SessionClipboard } from "./clipboard.ts";
import { openX11AppWindows } from "./linux/x11_app_windows.ts";
import { X11Clipboard } from "./linux/x11_clipboard.ts";
import { openX11Screen } from "./linux/x11_screen.ts";
import type { SessionScreen } from "./screen.ts";
import type { WindowsGraphicsLibraries } from "./windows/gdi_capture.ts";
import {
  openWin32Clipboard,
  type Win32ClipboardLibraries,
} from "./windows/win32_clipboard.ts";
import { openWin32Screen } from "./windows/win32_screen.ts";

export type { AppWindowSystem, TopLevelWindow } from "./app_windows.ts";
export type { SessionClipboard } from "./clipboard.ts";
export { MAX_CLIPBOARD } from "./clipboard.ts";
export type { SessionScreen, Size, Viewport } from "./screen.ts";
export { MIN_SIZE } from "./screen.ts";

/** Where the devices are and how to reach them; every field has a default. */
export interface SessionDevicesOptions {
  /** The OS. Default `Deno.build.os`. */
  os?: typeof Deno.build.os;
  /** Linux: the X display. Default `$DISPLAY`. */
  display?: string;
  /** Linux: the xclip executable. Default `xclip`. */
  xclip?: string;
  /** Windows: the graphics DLLs. Default: opened with `Deno.dlopen`. */
  graphics?: WindowsGraphicsLibraries;
  /** Windows: the clipboard DLLs. Default: opened with `Deno.dlopen`. */
  clipboardLibraries?: Win32ClipboardLibraries;
}

/** The session's screen and clipboard, opened by {@linkcode openSessionDevices}. */
export interface SessionDevices {
  /** The session's clipboard (open from the start). */
  readonly clipboard: SessionClipboard;
  /**
   * The session's screen: opened on the first call (it throws when the
   * screen cannot be opened; a later call tries again), the same one after.
   */
  screen(): SessionScreen;
  /**
   * Opens the session's top-level windows (for showing each app in a tab
   * of its own), or undefined where this OS has none yet (Windows). Each
   * call opens a connection of its own; the caller closes it.
   */
  appWindows(): AppWindowSystem | undefined;
  /** Closes the clipboard, and the screen if it was opened. */
  close(): void;
}

/**
 * Opens this OS's devices of the session: the clipboard now, the screen on
 * first use.
 */
export function openSessionDevices(
  options: SessionDevicesOptions = {},
): SessionDevices {
  const clipboard = openSessionClipboard(options);
  return sessionDevices(clipboard, () => openSessionScreen(options), {
    appWindows: () =>
      (options.os ?? Deno.build.os) === "windows"
        ? undefined
        : openX11AppWindows({ display: options.display }),
  });
}

/**
 * Devices made of a `clipboard` and a way to open the screen (tests pass
 * their own display's screen), and of the app windows where there are any.
 */
export function sessionDevices(
  clipboard: SessionClipboard,
  openScreen: () => SessionScreen,
  options: { appWindows?: () => AppWindowSystem | undefined } = {},
): SessionDevices {
  let screen: SessionScreen | undefined;
  return {
    clipboard,
    screen: () => screen ??= openScreen(),
    appWindows: () => options.appWindows?.(),
    close() {
      clipboard.close();
      screen?.close();
    },
  };
}

/**
 * This session's screen: `$DISPLAY` (or `options.display`) on Linux, the
 * calling thread's desktop on Windows.
 */
export function openSessionScreen(
  options: SessionDevicesOptions = {},
): SessionScreen {
  return (options.os ?? Deno.build.os) === "windows"
    ? openWin32Screen({ libraries: options.graphics })
    : openX11Screen({ display: options.display });
}

/**
 * This session's clipboard: the Win32 clipboard on Windows, the X
 * CLIPBOARD selection (through xclip) elsewhere.
 */
export function openSessionClipboard(
  options: SessionDevicesOptions = {},
): SessionClipboard {
  return (options.os ?? Deno.build.os) === "windows"
    ? openWin32Clipboard({ libraries: options.clipboardLibraries })
    : new X11Clipboard({ xclip: options.xclip });
}
