/**
 * The window manager's view of top-level windows, as EWMH publishes it:
 * the managed clients (`_NET_CLIENT_LIST`), each one's process
 * (`_NET_WM_PID`), what it is (`_NET_WM_WINDOW_TYPE`, `WM_TRANSIENT_FOR`),
 * the focused one (`_NET_ACTIVE_WINDOW`), whether a window manager runs
 * (`_NET_SUPPORTING_WM_CHECK`), and the requests a pager may make of it:
 * activate a window, move it.
 *
 * Reads are round trips; a window that vanished meanwhile reads as
 * nothing (the error handler in `display.ts` logs and continues).
 *
 * @module
 */
import { loadLibrary, type XDisplay, XEVENT_SIZE, xlib } from "./display.ts";
import { moveWindow, sendEvent } from "./draw.ts";
import { selectInput, windowGeometry } from "./image.ts";

const SYMBOLS = {
  XGetWindowProperty: {
    parameters: [
      "pointer",
      "u64",
      "u64",
      "i64",
      "i64",
      "i32",
      "u64",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  XTranslateCoordinates: {
    parameters: [
      "pointer",
      "u64",
      "u64",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Symbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

function x(): Symbols {
  library ??= loadLibrary(["libX11.so.6", "libX11.so"], SYMBOLS, {
    package: "libx11-6",
  });
  return library.symbols;
}

/** `AnyPropertyType`. */
const ANY_TYPE = 0n;
/** `PropertyChangeMask`. */
const PROPERTY_CHANGE_MASK = 1n << 22n;
/** `SubstructureNotifyMask | SubstructureRedirectMask`: how EWMH requests go to the root. */
const ROOT_REQUEST_MASK = (1n << 19n) | (1n << 20n);
/** `PropertyNotify`. */
const PROPERTY_NOTIFY = 28;
/** `ClientMessage`. */
const CLIENT_MESSAGE = 33;
/** EWMH source indication: a pager (obeyed as the user's wish). */
const SOURCE_PAGER = 2n;

/** Longs per read: plenty for a client list, a type list or a pid. */
const MAX_LONGS = 4096n;

/**
 * The 32-bit items of `window`'s property `name` (Xlib hands them over as
 * longs), or undefined when it has none.
 */
export function property32(
  display: XDisplay,
  window: bigint,
  name: string,
): bigint[] | undefined {
  const outs = new Uint8Array(new ArrayBuffer(40));
  const view = new DataView(outs.buffer);
  const status = x().XGetWindowProperty(
    display.pointer,
    window,
    display.atom(name),
    0n,
    MAX_LONGS,
    0,
    ANY_TYPE,
    outs.subarray(0, 8),
    outs.subarray(8, 16),
    outs.subarray(16, 24),
    outs.subarray(24, 32),
    outs.subarray(32, 40),
  );
  const data = view.getBigUint64(32, true);
  try {
    if (status !== 0 || view.getInt32(8, true) !== 32 || !data) {
      return undefined;
    }
    const count = Number(view.getBigUint64(16, true));
    const pointer = Deno.UnsafePointer.create(data)!;
    const items = new Deno.UnsafePointerView(pointer);
    return Array.from({ length: count }, (_, i) => items.getBigUint64(i * 8));
  } finally {
    if (data) xlib().XFree(Deno.UnsafePointer.create(data));
  }
}

/** Whether an EWMH window manager runs on `display`. */
export function hasWindowManager(display: XDisplay): boolean {
  const check = property32(display, display.root, "_NET_SUPPORTING_WM_CHECK");
  return !!check?.length && check[0] !== 0n;
}

/** The managed top-level windows, in the order they were mapped. */
export function clientList(display: XDisplay): bigint[] {
  return property32(display, display.root, "_NET_CLIENT_LIST") ?? [];
}

/** The focused top-level window, if any. */
export function activeWindow(display: XDisplay): bigint | undefined {
  const active = property32(display, display.root, "_NET_ACTIVE_WINDOW");
  return active?.length && active[0] !== 0n ? active[0] : undefined;
}

/** What a top-level window says of itself. */
export interface ClientFacts {
  /** `_NET_WM_PID`, when it sets it. */
  pid?: number;
  /** `WM_TRANSIENT_FOR`: the window it belongs to (a dialog's parent). */
  transientFor?: bigint;
  /** `_NET_WM_WINDOW_TYPE`'s names, without the prefix (`NORMAL`, `DIALOG`…). */
  types: string[];
}

/** The facts `window` publishes about itself. */
export function clientFacts(display: XDisplay, window: bigint): ClientFacts {
  const pid = property32(display, window, "_NET_WM_PID")?.[0];
  const transient = property32(display, window, "WM_TRANSIENT_FOR")?.[0];
  const types = property32(display, window, "_NET_WM_WINDOW_TYPE") ?? [];
  return {
    pid: pid ? Number(pid) : undefined,
    transientFor: transient ? transient : undefined,
    types: types.map((atom) => typeName(display, atom)).filter((n) => !!n),
  };
}

const TYPES = [
  "NORMAL",
  "DIALOG",
  "UTILITY",
  "SPLASH",
  "TOOLBAR",
  "MENU",
  "DOCK",
  "DESKTOP",
  "NOTIFICATION",
] as const;

function typeName(display: XDisplay, atom: bigint): string {
  return TYPES.find((t) => display.atom(`_NET_WM_WINDOW_TYPE_${t}`) === atom) ??
    "";
}

/** A rectangle on the screen. */
export interface ScreenRect {
  /** Left edge, root coordinates. */
  x: number;
  /** Top edge, root coordinates. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/**
 * Where `window` is on the screen (its inside, root coordinates), or
 * undefined when it is gone.
 */
export function screenRect(
  display: XDisplay,
  window: bigint,
): ScreenRect | undefined {
  let size;
  try {
    size = windowGeometry(display, window);
  } catch {
    return undefined;
  }
  const to = new Uint8Array(new ArrayBuffer(24));
  const toView = new DataView(to.buffer);
  if (
    !x().XTranslateCoordinates(
      display.pointer,
      window,
      display.root,
      0,
      0,
      to.subarray(0, 8),
      to.subarray(8, 16),
      to.subarray(16, 24),
    )
  ) return undefined;
  return {
    x: toView.getInt32(0, true),
    y: toView.getInt32(8, true),
    width: size.width,
    height: size.height,
  };
}

/**
 * Asks the window manager to move `window` so its top-left corner is at
 * (`x`, `y`) on the screen; a maximized window is maximized again on the
 * monitor it lands on.
 */
export function moveClient(
  display: XDisplay,
  window: bigint,
  to: { x: number; y: number },
): void {
  moveWindow(display, window, to);
}

/** Asks the window manager to raise and focus `window` (as a pager would). */
export function activateClient(display: XDisplay, window: bigint): void {
  sendClientMessage(display, window, {
    type: "_NET_ACTIVE_WINDOW",
    data: [SOURCE_PAGER],
  });
}

/** Asks the window manager to maximize `window` both ways. */
export function maximizeClient(display: XDisplay, window: bigint): void {
  sendClientMessage(display, window, {
    type: "_NET_WM_STATE",
    data: [
      STATE_ADD,
      display.atom("_NET_WM_STATE_MAXIMIZED_VERT"),
      display.atom("_NET_WM_STATE_MAXIMIZED_HORZ"),
      SOURCE_PAGER,
    ],
  });
}

/** `_NET_WM_STATE_ADD`. */
const STATE_ADD = 1n;

/** An EWMH request about `window`, sent to the root for the window manager. */
function sendClientMessage(
  display: XDisplay,
  window: bigint,
  message: { type: string; data: bigint[] },
): void {
  const event = new Uint8Array(new ArrayBuffer(XEVENT_SIZE));
  const view = new DataView(event.buffer);
  view.setInt32(0, CLIENT_MESSAGE, true);
  view.setInt32(16, 1, true); // send_event
  view.setBigUint64(32, window, true);
  view.setBigUint64(40, display.atom(message.type), true);
  view.setInt32(48, 32, true); // format
  message.data.forEach((long, i) => view.setBigUint64(56 + 8 * i, long, true));
  sendEvent(display, display.root, { mask: ROOT_REQUEST_MASK, event });
}

/** Asks for the root window's property changes (client list, focus). */
export function watchRootProperties(display: XDisplay): void {
  selectInput(display, display.root, PROPERTY_CHANGE_MASK);
}

/**
 * Drains the events queued on `display` without blocking; returns whether
 * any root property named in `names` changed.
 */
export function rootPropertiesChanged(
  display: XDisplay,
  names: readonly string[],
): boolean {
  const core = xlib();
  const atoms = new Set(names.map((n) => display.atom(n)));
  const event = new Uint8Array(new ArrayBuffer(XEVENT_SIZE));
  const view = new DataView(event.buffer);
  let changed = false;
  while (core.XPending(display.pointer) > 0) {
    core.XNextEvent(display.pointer, event);
    if (
      view.getInt32(0, true) === PROPERTY_NOTIFY &&
      view.getBigUint64(32, true) === display.root &&
      atoms.has(view.getBigUint64(40, true))
    ) changed = true;
  }
  return changed;
}
