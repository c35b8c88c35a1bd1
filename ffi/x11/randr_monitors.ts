/**
 * RandR 1.5 monitors: named rectangles of the screen that window managers
 * treat as monitors (openbox reads them through RandR's Xinerama view, so
 * a maximized window fills its monitor). The server adds one for each
 * active output by itself; clients may add their own, with no output.
 *
 * A monitor's name cannot be set again while it exists (the server answers
 * `BadValue`): delete it first, or add one under a new name.
 *
 * @module
 */
import { loadLibrary, type XDisplay, xlib } from "./display.ts";

const SYMBOLS = {
  XRRGetMonitors: {
    parameters: ["pointer", "u64", "i32", "buffer"],
    result: "pointer",
  },
  XRRFreeMonitors: { parameters: ["pointer"], result: "void" },
  XRRSetMonitor: { parameters: ["pointer", "u64", "buffer"], result: "void" },
  XRRDeleteMonitor: { parameters: ["pointer", "u64", "u64"], result: "void" },
} as const satisfies Deno.ForeignLibraryInterface;

const XLIB_EXTRA = {
  XGetAtomName: { parameters: ["pointer", "u64"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let extra: Deno.DynamicLibrary<typeof XLIB_EXTRA> | undefined;

function rr(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  library ??= loadLibrary(["libXrandr.so.2", "libXrandr.so"], SYMBOLS, {
    package: "libxrandr2",
  });
  return library.symbols;
}

function atomName(display: XDisplay, atom: bigint): string {
  extra ??= loadLibrary(["libX11.so.6", "libX11.so"], XLIB_EXTRA, {
    package: "libx11-6",
  });
  const name = extra.symbols.XGetAtomName(display.pointer, atom);
  if (!name) return "";
  try {
    return new Deno.UnsafePointerView(name).getCString();
  } finally {
    xlib().XFree(name);
  }
}

/** `sizeof(XRRMonitorInfo)` on x64. */
const MONITOR_INFO_SIZE = 56;
/** Millimetres per pixel at 96 DPI, for a monitor's physical size. */
const MM_PER_PIXEL = 25.4 / 96;

/** A monitor: its name and where it is on the screen. */
export interface Monitor {
  /** The monitor's name (an atom's). */
  name: string;
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
  /** Whether the server made it for an output (not a client). */
  automatic: boolean;
}

/** The screen's monitors now. */
export function listMonitors(display: XDisplay): Monitor[] {
  const count = new Int32Array(1);
  const list = rr().XRRGetMonitors(
    display.pointer,
    display.root,
    0,
    new Uint8Array(count.buffer),
  );
  if (!list) return [];
  try {
    const view = new Deno.UnsafePointerView(list);
    return Array.from({ length: count[0] }, (_, i) => {
      const at = i * MONITOR_INFO_SIZE;
      return {
        name: atomName(display, view.getBigUint64(at)),
        automatic: view.getInt32(at + 12) !== 0,
        x: view.getInt32(at + 20),
        y: view.getInt32(at + 24),
        width: view.getInt32(at + 28),
        height: view.getInt32(at + 32),
      };
    });
  } finally {
    rr().XRRFreeMonitors(list);
  }
}

/** Adds the monitor `monitor.name` (no output) where `monitor` says. */
export function addMonitor(
  display: XDisplay,
  monitor: Omit<Monitor, "automatic">,
): void {
  const info = new Uint8Array(new ArrayBuffer(MONITOR_INFO_SIZE));
  const view = new DataView(info.buffer);
  view.setBigUint64(0, display.atom(monitor.name), true);
  view.setInt32(20, monitor.x, true);
  view.setInt32(24, monitor.y, true);
  view.setInt32(28, monitor.width, true);
  view.setInt32(32, monitor.height, true);
  view.setInt32(36, Math.round(monitor.width * MM_PER_PIXEL), true);
  view.setInt32(40, Math.round(monitor.height * MM_PER_PIXEL), true);
  rr().XRRSetMonitor(display.pointer, display.root, info);
}

/** Deletes the monitor named `name`. */
export function deleteMonitor(display: XDisplay, name: string): void {
  rr().XRRDeleteMonitor(display.pointer, display.root, display.atom(name));
}
