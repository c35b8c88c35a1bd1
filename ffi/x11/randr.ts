/**
 * libXrandr's RandR 1.2+ calls needed to change the X screen's size: the
 * size range, the screen resources (CRTCs, outputs, modes), creating and
 * adding a mode, configuring a CRTC and setting the screen size. Also a trap
 * for X protocol errors, since RandR reports refusals as errors
 * (`BadValue`, `BadMatch`) that Xlib would otherwise hand to the global
 * handler.
 *
 * Struct offsets are those of Xlib on 64-bit Linux (LP64).
 *
 * @module
 */
import { loadLibrary, type XDisplay, xlib } from "./display.ts";
import { windowSize } from "./image.ts";

const SYMBOLS = {
  XRRQueryExtension: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  XRRQueryVersion: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  XRRGetScreenSizeRange: {
    parameters: ["pointer", "u64", "buffer", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  XRRGetScreenResourcesCurrent: {
    parameters: ["pointer", "u64"],
    result: "pointer",
  },
  XRRFreeScreenResources: { parameters: ["pointer"], result: "void" },
  XRRGetCrtcInfo: {
    parameters: ["pointer", "pointer", "u64"],
    result: "pointer",
  },
  XRRFreeCrtcInfo: { parameters: ["pointer"], result: "void" },
  XRRGetOutputInfo: {
    parameters: ["pointer", "pointer", "u64"],
    result: "pointer",
  },
  XRRFreeOutputInfo: { parameters: ["pointer"], result: "void" },
  XRRCreateMode: {
    parameters: ["pointer", "u64", "buffer"],
    result: "u64",
  },
  XRRDestroyMode: { parameters: ["pointer", "u64"], result: "void" },
  XRRAddOutputMode: {
    parameters: ["pointer", "u64", "u64"],
    result: "void",
  },
  XRRDeleteOutputMode: {
    parameters: ["pointer", "u64", "u64"],
    result: "void",
  },
  XRRSetCrtcConfig: {
    parameters: [
      "pointer",
      "pointer",
      "u64",
      "u64",
      "i32",
      "i32",
      "u64",
      "u16",
      "buffer",
      "i32",
    ],
    result: "i32",
  },
  XRRSetScreenSize: {
    parameters: ["pointer", "u64", "i32", "i32", "i32", "i32"],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

// libX11 calls this module needs beyond display.ts's core set.
const XLIB_EXTRA = {
  XGetErrorText: {
    parameters: ["pointer", "i32", "buffer", "i32"],
    result: "i32",
  },
  XDisplayWidthMM: { parameters: ["pointer", "i32"], result: "i32" },
  XDisplayHeightMM: { parameters: ["pointer", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libXrandr symbols of this module. */
export type RandrSymbols = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
let extraLibrary: Deno.DynamicLibrary<typeof XLIB_EXTRA> | undefined;

function xlibExtra(): Deno.DynamicLibrary<typeof XLIB_EXTRA>["symbols"] {
  extraLibrary ??= loadLibrary(["libX11.so.6", "libX11.so"], XLIB_EXTRA, {
    package: "libx11-6",
  });
  return extraLibrary.symbols;
}

/** libXrandr, loaded once. */
export function randrLibrary(): RandrSymbols {
  library ??= loadLibrary(["libXrandr.so.2", "libXrandr.so"], SYMBOLS, {
    package: "libxrandr2",
  });
  return library.symbols;
}

/** `RR_Rotate_0`: no rotation. */
export const RR_ROTATE_0 = 1;
/** `RRSetConfigSuccess`. */
export const RR_SET_CONFIG_SUCCESS = 0;
/** `None` for a mode: a disabled CRTC. */
export const NO_MODE = 0n;

/** The server's RandR version, `undefined` without the extension. */
export function queryRandr(
  display: XDisplay,
): { major: number; minor: number } | undefined {
  const x = randrLibrary();
  const ints = new Int32Array(4);
  const slot = (i: number) => new Uint8Array(ints.buffer, i * 4, 4);
  if (!x.XRRQueryExtension(display.pointer, slot(0), slot(1))) return;
  if (!x.XRRQueryVersion(display.pointer, slot(2), slot(3))) return;
  return { major: ints[2], minor: ints[3] };
}

/** The smallest and largest screen size the server accepts. */
export interface SizeRange {
  /** Smallest width. */
  minWidth: number;
  /** Smallest height. */
  minHeight: number;
  /** Largest width. */
  maxWidth: number;
  /** Largest height. */
  maxHeight: number;
}

/** The screen size range, `undefined` if the server will not say. */
export function screenSizeRange(display: XDisplay): SizeRange | undefined {
  const ints = new Int32Array(4);
  const slot = (i: number) => new Uint8Array(ints.buffer, i * 4, 4);
  const ok = randrLibrary().XRRGetScreenSizeRange(
    display.pointer,
    display.root,
    slot(0),
    slot(1),
    slot(2),
    slot(3),
  );
  if (!ok) return undefined;
  return {
    minWidth: ints[0],
    minHeight: ints[1],
    maxWidth: ints[2],
    maxHeight: ints[3],
  };
}

/** One `XRRModeInfo`. */
export interface ModeInfo {
  /** Mode XID. */
  id: bigint;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Mode name. */
  name: string;
}

/** A CRTC's configuration (`XRRCrtcInfo`). */
export interface CrtcInfo {
  /** Position. */
  x: number;
  /** Position. */
  y: number;
  /** Size scanned out. */
  width: number;
  /** Size scanned out. */
  height: number;
  /** Current mode, 0n when disabled. */
  mode: bigint;
  /** Current rotation. */
  rotation: number;
  /** Outputs it drives. */
  outputs: bigint[];
  /** Rotations it supports. */
  rotations: number;
}

/** An output (`XRROutputInfo`), in part. */
export interface OutputInfo {
  /** Output name, such as `"screen"`. */
  name: string;
  /** Its CRTC, 0n when off. */
  crtc: bigint;
  /** 0 connected, 1 disconnected, 2 unknown. */
  connection: number;
  /** Physical size. */
  mmWidth: number;
  /** Physical size. */
  mmHeight: number;
  /** Modes it accepts. */
  modes: bigint[];
}

function xids(pointer: Deno.PointerValue, count: number): bigint[] {
  if (!pointer || count <= 0) return [];
  const view = new Deno.UnsafePointerView(pointer);
  return Array.from({ length: count }, (_, i) => view.getBigUint64(i * 8));
}

/**
 * `XRRScreenResources` read into plain values; keep it open for the calls
 * that need it (`setCrtcConfig`, `crtcInfo`, `outputInfo`) and close it.
 */
export class ScreenResources {
  readonly #display: XDisplay;
  #pointer: Deno.PointerObject | null;
  /** Config timestamp for `XRRSetCrtcConfig`. */
  readonly timestamp: bigint;
  /** CRTC XIDs. */
  readonly crtcs: bigint[];
  /** Output XIDs. */
  readonly outputs: bigint[];
  /** Modes known to the server. */
  readonly modes: ModeInfo[];

  private constructor(display: XDisplay, pointer: Deno.PointerObject) {
    this.#display = display;
    this.#pointer = pointer;
    const view = new Deno.UnsafePointerView(pointer);
    this.timestamp = view.getBigUint64(0);
    this.crtcs = xids(view.getPointer(24), view.getInt32(16));
    this.outputs = xids(view.getPointer(40), view.getInt32(32));
    const modes: ModeInfo[] = [];
    const modeArray = view.getPointer(56);
    if (modeArray) {
      const mv = new Deno.UnsafePointerView(modeArray);
      for (let i = 0; i < view.getInt32(48); i++) {
        const base = i * 80; // sizeof(XRRModeInfo)
        const namePointer = mv.getPointer(base + 56);
        const nameLength = mv.getUint32(base + 64);
        const name = namePointer
          ? new TextDecoder().decode(
            new Uint8Array(
              Deno.UnsafePointerView.getArrayBuffer(namePointer, nameLength),
            ),
          )
          : "";
        modes.push({
          id: mv.getBigUint64(base),
          width: mv.getUint32(base + 8),
          height: mv.getUint32(base + 12),
          name,
        });
      }
    }
    this.modes = modes;
  }

  /** Reads the current resources (no output probing). */
  static current(display: XDisplay): ScreenResources | undefined {
    const pointer = randrLibrary().XRRGetScreenResourcesCurrent(
      display.pointer,
      display.root,
    );
    return pointer ? new ScreenResources(display, pointer) : undefined;
  }

  /** The `XRRScreenResources *` (throws once closed). */
  get pointer(): Deno.PointerObject {
    if (!this.#pointer) throw new Error("screen resources are closed");
    return this.#pointer;
  }

  /** A CRTC's configuration. */
  crtcInfo(crtc: bigint): CrtcInfo | undefined {
    const x = randrLibrary();
    const p = x.XRRGetCrtcInfo(this.#display.pointer, this.pointer, crtc);
    if (!p) return undefined;
    try {
      const v = new Deno.UnsafePointerView(p);
      return {
        x: v.getInt32(8),
        y: v.getInt32(12),
        width: v.getUint32(16),
        height: v.getUint32(20),
        mode: v.getBigUint64(24),
        rotation: v.getUint16(32),
        outputs: xids(v.getPointer(40), v.getInt32(36)),
        rotations: v.getUint16(48),
      };
    } finally {
      x.XRRFreeCrtcInfo(p);
    }
  }

  /** An output's state. */
  outputInfo(output: bigint): OutputInfo | undefined {
    const x = randrLibrary();
    const p = x.XRRGetOutputInfo(this.#display.pointer, this.pointer, output);
    if (!p) return undefined;
    try {
      const v = new Deno.UnsafePointerView(p);
      const namePointer = v.getPointer(16);
      return {
        crtc: v.getBigUint64(8),
        name: namePointer ? Deno.UnsafePointerView.getCString(namePointer) : "",
        mmWidth: Number(v.getBigUint64(32)),
        mmHeight: Number(v.getBigUint64(40)),
        connection: v.getUint16(48),
        modes: xids(v.getPointer(88), v.getInt32(80)),
      };
    } finally {
      x.XRRFreeOutputInfo(p);
    }
  }

  /** Frees the resources (once). */
  close(): void {
    if (!this.#pointer) return;
    randrLibrary().XRRFreeScreenResources(this.#pointer);
    this.#pointer = null;
  }
}

/**
 * Creates a mode of `width`×`height` named `name` (timings left zero, as
 * virtual servers ignore them); returns its XID, 0n on failure.
 */
export function createMode(
  display: XDisplay,
  mode: { width: number; height: number; name: string },
): bigint {
  const name = new TextEncoder().encode(`${mode.name}\0`);
  const info = new ArrayBuffer(80);
  const v = new DataView(info);
  v.setUint32(8, mode.width, true);
  v.setUint32(12, mode.height, true);
  v.setUint32(24, mode.width, true); // hSyncStart
  v.setUint32(28, mode.width, true); // hSyncEnd
  v.setUint32(32, mode.width, true); // hTotal
  v.setUint32(40, mode.height, true); // vSyncStart
  v.setUint32(44, mode.height, true); // vSyncEnd
  v.setUint32(48, mode.height, true); // vTotal
  const namePointer = Deno.UnsafePointer.of(name);
  v.setBigUint64(56, Deno.UnsafePointer.value(namePointer) as bigint, true);
  v.setUint32(64, name.length - 1, true);
  return randrLibrary().XRRCreateMode(
    display.pointer,
    display.root,
    new Uint8Array(info),
  );
}

/** Destroys a mode made by {@linkcode createMode} (queued). */
export function destroyMode(display: XDisplay, mode: bigint): void {
  randrLibrary().XRRDestroyMode(display.pointer, mode);
}

/** Lets `output` use `mode` (queued). */
export function addOutputMode(
  display: XDisplay,
  target: { output: bigint; mode: bigint },
): void {
  randrLibrary().XRRAddOutputMode(display.pointer, target.output, target.mode);
}

/** Stops `output` offering `mode` (queued). */
export function deleteOutputMode(
  display: XDisplay,
  target: { output: bigint; mode: bigint },
): void {
  randrLibrary().XRRDeleteOutputMode(
    display.pointer,
    target.output,
    target.mode,
  );
}

/** Options for {@linkcode setCrtcConfig}. */
export interface CrtcConfig {
  /** The CRTC. */
  crtc: bigint;
  /** Mode, or {@linkcode NO_MODE} to disable the CRTC. */
  mode: bigint;
  /** Outputs to drive (empty when disabling). */
  outputs: bigint[];
  /** Position; default 0, 0. */
  x?: number;
  /** Position. */
  y?: number;
  /** Rotation; default {@linkcode RR_ROTATE_0}. */
  rotation?: number;
}

/**
 * Configures a CRTC; waits for the reply, so the status is the server's
 * ({@linkcode RR_SET_CONFIG_SUCCESS} = 0). Protocol errors go to the error
 * handler (see {@linkcode trapErrors}).
 */
export function setCrtcConfig(
  display: XDisplay,
  resources: ScreenResources,
  config: CrtcConfig,
): number {
  const outputs = new BigUint64Array(config.outputs);
  return randrLibrary().XRRSetCrtcConfig(
    display.pointer,
    resources.pointer,
    config.crtc,
    resources.timestamp,
    config.x ?? 0,
    config.y ?? 0,
    config.mode,
    config.rotation ?? RR_ROTATE_0,
    new Uint8Array(outputs.buffer),
    config.outputs.length,
  );
}

/** Sets the screen's size in pixels and millimetres (queued). */
export function setScreenSize(
  display: XDisplay,
  size: { width: number; height: number; mmWidth: number; mmHeight: number },
): void {
  randrLibrary().XRRSetScreenSize(
    display.pointer,
    display.root,
    size.width,
    size.height,
    size.mmWidth,
    size.mmHeight,
  );
}

/**
 * The screen's size in pixels and millimetres as the server has it now.
 * Unlike `XDisplay.size()` (Xlib's copy, which only follows a RandR change
 * once the connection handles the change event), the pixel size is read
 * with a round trip (`XGetGeometry` on the root window).
 */
export function screenSize(
  display: XDisplay,
): { width: number; height: number; mmWidth: number; mmHeight: number } {
  const x = xlibExtra();
  const { width, height } = windowSize(display, display.root);
  return {
    width,
    height,
    // Xlib's copy; only used to keep the DPI when resizing.
    mmWidth: x.XDisplayWidthMM(display.pointer, display.screen),
    mmHeight: x.XDisplayHeightMM(display.pointer, display.screen),
  };
}

/** An X protocol error caught by {@linkcode trapErrors}. */
export interface XErrorInfo {
  /** Error code (2 BadValue, 8 BadMatch, …). */
  code: number;
  /** Major opcode of the failed request. */
  request: number;
  /** Minor opcode (the RandR request number). */
  minor: number;
  /** Bad value or resource. */
  value: bigint;
  /** Xlib's text for the code, such as `"BadValue (integer parameter out of range for operation)"`. */
  text: string;
}

const ERROR_HANDLER = {
  parameters: ["pointer", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;

/**
 * Runs `fn`, syncs the display, and returns its result with the protocol
 * errors the server sent meanwhile. The previous handler is restored after.
 */
export function trapErrors<T>(
  display: XDisplay,
  fn: () => T,
): { result: T; errors: XErrorInfo[] } {
  const x = xlib();
  const extra = xlibExtra();
  const errors: XErrorInfo[] = [];
  x.XSync(display.pointer, 0);
  const handler = new Deno.UnsafeCallback(ERROR_HANDLER, (dpy, event) => {
    if (!event) return 0;
    const v = new Deno.UnsafePointerView(event);
    const code = v.getUint8(32);
    const text = new Uint8Array(256);
    extra.XGetErrorText(dpy, code, text, text.length);
    errors.push({
      code,
      request: v.getUint8(33),
      minor: v.getUint8(34),
      value: v.getBigUint64(16),
      text: new TextDecoder().decode(text.subarray(0, text.indexOf(0))),
    });
    return 0;
  });
  const previous = x.XSetErrorHandler(handler.pointer);
  try {
    const result = fn();
    x.XSync(display.pointer, 0);
    return { result, errors };
  } finally {
    x.XSetErrorHandler(previous);
    handler.close();
  }
}
