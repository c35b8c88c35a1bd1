/**
 * The session's screen on Windows ({@linkcode SessionScreen}): a GDI
 * capture of the virtual screen (`gdi_capture.ts`) and a SendInput sink
 * (`send_input.ts`), on the calling thread. The capture's polls keep this
 * thread on the input desktop, which is where SendInput then injects. The
 * screen is not resized.
 *
 * @module
 */
import {
  atLeastMinimum,
  type SessionScreen,
  viewportWithin,
} from "../screen.ts";
import {
  openGdiCapture,
  openWindowsGraphics,
  type WindowsGraphicsLibraries,
} from "./gdi_capture.ts";
import { openSendInput } from "./send_input.ts";

/** Options for {@linkcode openWin32Screen}. */
export interface Win32ScreenOptions {
  /** The DLLs; default: opened with `Deno.dlopen` (Windows only). */
  libraries?: WindowsGraphicsLibraries;
}

/** Opens the calling thread's desktop as the session screen. */
export function openWin32Screen(
  options: Win32ScreenOptions = {},
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
      return viewportWithin(atLeastMinimum(size), capture);
    },
    maxSize() {
      return { width: capture.width, height: capture.height };
    },
    close() {
      input.releaseAll();
      input.close();
      capture.close();
    },
  };
}
