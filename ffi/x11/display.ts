/**
 * The core of libX11 that every X11 binding needs: opening a display
 * connection and the screen's root window and size. Other modules in
 * `ffi/x11/` load their own libraries (or further libX11 symbols) and take an
 * {@linkcode XDisplay} for the connection.
 *
 * Xlib is not thread-safe and these calls are quick, so nothing here is
 * `nonblocking`: everything runs on the calling thread.
 *
 * @module
 */

const SYMBOLS = {
  XOpenDisplay: { parameters: ["buffer"], result: "pointer" },
  XCloseDisplay: { parameters: ["pointer"], result: "i32" },
  XDefaultScreen: { parameters: ["pointer"], result: "i32" },
  XRootWindow: { parameters: ["pointer", "i32"], result: "u64" },
  XDisplayWidth: { parameters: ["pointer", "i32"], result: "i32" },
  XDisplayHeight: { parameters: ["pointer", "i32"], result: "i32" },
  XDefaultDepth: { parameters: ["pointer", "i32"], result: "i32" },
  XFlush: { parameters: ["pointer"], result: "i32" },
  XSync: { parameters: ["pointer", "i32"], result: "i32" },
  XPending: { parameters: ["pointer"], result: "i32" },
  XNextEvent: { parameters: ["pointer", "buffer"], result: "i32" },
  XFree: { parameters: ["pointer"], result: "i32" },
  XInternAtom: { parameters: ["pointer", "buffer", "i32"], result: "u64" },
  XSetErrorHandler: { parameters: ["pointer"], result: "pointer" },
  XSetAuthorization: {
    parameters: ["buffer", "i32", "buffer", "i32"],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The libX11 symbols of this module. */
export type XlibCore = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
const ERROR_HANDLER = {
  parameters: ["pointer", "pointer"],
  result: "i32",
} as const satisfies Deno.UnsafeCallbackDefinition;
/** Keeps the error handler callback alive for as long as Xlib may call it. */
const callbacks: Deno.UnsafeCallback<typeof ERROR_HANDLER>[] = [];

/** The X authorization protocol of a cookie. */
const COOKIE_PROTOCOL = "MIT-MAGIC-COOKIE-1";

/** Size of Xlib's `XEvent` union on x64 (24 longs). */
export const XEVENT_SIZE = 192;

/** An X11 library or display that cannot be used. */
export class X11Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "X11Error";
  }
}

/**
 * Loads a shared library by its sonames, first that loads wins; the error
 * names the Debian package to install.
 */
export function loadLibrary<S extends Deno.ForeignLibraryInterface>(
  names: readonly string[],
  symbols: S,
  options: { package: string },
): Deno.DynamicLibrary<S> {
  const errors: string[] = [];
  for (const name of names) {
    try {
      return Deno.dlopen(name, symbols);
    } catch (error) {
      errors.push(`${name}: ${(error as Error).message}`);
    }
  }
  throw new X11Error(
    `cannot load ${names[0]} (install the Debian package ${options.package}): ${
      errors.join("; ")
    }`,
  );
}

/** libX11's core symbols, loaded once. */
export function xlib(): XlibCore {
  if (!library) {
    library = loadLibrary(["libX11.so.6", "libX11.so"], SYMBOLS, {
      package: "libx11-6",
    });
    // Xlib's default error handler exits the process on any protocol error
    // (a BadWindow after a window closed, say): log-and-continue instead.
    const handler = new Deno.UnsafeCallback(ERROR_HANDLER, () => 0);
    callbacks.push(handler);
    library.symbols.XSetErrorHandler(handler.pointer);
  }
  return library.symbols;
}

/** A NUL-terminated C string. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/** An open display connection and its default screen. */
export class XDisplay {
  /** The `Display *`. */
  readonly pointer: Deno.PointerObject;
  /** The default screen number. */
  readonly screen: number;
  /** The root window of the default screen. */
  readonly root: bigint;
  #closed = false;

  private constructor(pointer: Deno.PointerObject) {
    this.pointer = pointer;
    const x = xlib();
    this.screen = x.XDefaultScreen(pointer);
    this.root = x.XRootWindow(pointer, this.screen);
  }

  /**
   * Opens a connection to `name` (default: `$DISPLAY`); authority comes from
   * `$XAUTHORITY` as Xlib reads it, or is `options.cookie` (an
   * MIT-MAGIC-COOKIE-1, for a process that serves several displays).
   */
  static open(name?: string, options: { cookie?: Uint8Array } = {}): XDisplay {
    const x = xlib();
    const target = name ?? Deno.env.get("DISPLAY");
    if (!target) throw new X11Error("no display: DISPLAY is not set");
    const { cookie } = options;
    let pointer;
    if (cookie) {
      // Xlib keeps the authorization for the next opens: set only around
      // this one (nothing else runs in between: the calls are synchronous).
      const protocol = new TextEncoder().encode(COOKIE_PROTOCOL);
      x.XSetAuthorization(
        protocol,
        protocol.length,
        new Uint8Array(cookie),
        cookie.length,
      );
      try {
        pointer = x.XOpenDisplay(cString(target));
      } finally {
        x.XSetAuthorization(null, 0, null, 0);
      }
    } else {
      pointer = x.XOpenDisplay(cString(target));
    }
    if (!pointer) throw new X11Error(`cannot open display ${target}`);
    return new XDisplay(pointer);
  }

  /** The screen's size now, in pixels. */
  size(): { width: number; height: number } {
    const x = xlib();
    return {
      width: x.XDisplayWidth(this.pointer, this.screen),
      height: x.XDisplayHeight(this.pointer, this.screen),
    };
  }

  /** The root window's depth in bits. */
  depth(): number {
    return xlib().XDefaultDepth(this.pointer, this.screen);
  }

  /** Sends queued requests. */
  flush(): void {
    xlib().XFlush(this.pointer);
  }

  /** Sends queued requests and waits until the server has handled them. */
  sync(): void {
    xlib().XSync(this.pointer, 0);
  }

  /** The atom named `name`, created if missing. */
  atom(name: string): bigint {
    return xlib().XInternAtom(this.pointer, cString(name), 0);
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection (once). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    xlib().XCloseDisplay(this.pointer);
  }
}
