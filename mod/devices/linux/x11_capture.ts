/**
 * Screen capture of an X11 display (the session's Xvfb) for the streamer.
 *
 * - Pixels: MIT-SHM when the server offers it and accepts our segment (the
 *   server writes the screen into shared memory; `grab()` returns a view over
 *   it, no copy), else `XGetImage` (the pixels cross the socket and are
 *   copied into a reused buffer).
 * - Changes: DAMAGE on the root (every window's drawing shows there), fetched
 *   as rectangles through an XFixes region; without DAMAGE every poll reports
 *   the whole screen.
 * - Cursor and clipboard: XFIXES cursor and CLIPBOARD owner notify events.
 * - Resize: ConfigureNotify on the root, confirmed by asking the root's
 *   geometry (a synthetic event cannot fake it); the SHM image is re-created.
 *
 * Xlib is not thread-safe: use a capture from one thread only. `poll()` never
 * blocks: it reads only what `XPending` says has arrived.
 *
 * @module
 */
import {
  X11Error,
  XDisplay,
  XEVENT_SIZE,
  xlib,
} from "../../../ffi/x11/display.ts";
import { DamageTracker } from "../../../ffi/x11/damage.ts";
import {
  fixesEventBase,
  readCursorImage,
  selectCursorInput,
  selectSelectionInput,
  XFIXES_EVENT,
  XFIXES_SELECTION_NOTIFY,
} from "../../../ffi/x11/fixes.ts";
import {
  CONFIGURE_NOTIFY,
  copyPixels,
  destroyImage,
  getImage,
  isBgrx,
  queryPointer,
  readXImage,
  selectInput,
  STRUCTURE_NOTIFY_MASK,
  windowSize,
} from "../../../ffi/x11/image.ts";
import { shmAvailable, ShmImage } from "../../../ffi/x11/shm.ts";
import {
  type CapturedFrame,
  type CaptureEvents,
  type CaptureOptions,
  type CursorShape,
  fullScreen,
  grabArea,
  type Rect,
  type ScreenCapture,
} from "../capture.ts";

/** Offset of `window` in `XConfigureEvent` (x64). */
const CONFIGURE_WINDOW = 40;

/**
 * Opens a capture of `options.display` (default `$DISPLAY`, with
 * `$XAUTHORITY`). Throws {@linkcode X11Error} when the display cannot be
 * opened or its pixels are not 32-bit BGRX (depth 24).
 */
export function openX11Capture(options: CaptureOptions = {}): ScreenCapture {
  const display = XDisplay.open(options.display);
  try {
    return new X11Capture(display, options);
  } catch (error) {
    display.close();
    throw error;
  }
}

class X11Capture implements ScreenCapture {
  readonly #display: XDisplay;
  readonly #root: bigint;
  readonly #noShm: boolean;
  #width: number;
  #height: number;
  #shm: ShmImage | undefined;
  /**
   * The segment a resize replaced, kept until the next grab: a frame
   * grabbed before the resize may still be read (a viewer's encode waiting
   * its turn) and must not point at unmapped memory.
   */
  #retired: ShmImage | undefined;
  /** The copy target of the XGetImage path, screen-sized. */
  #copy = new Uint8Array(0);
  readonly #damage: DamageTracker | undefined;
  readonly #fixesBase: number | undefined;
  readonly #clipboard: bigint;
  readonly #event = new Uint8Array(new ArrayBuffer(XEVENT_SIZE));
  readonly #eventView = new DataView(this.#event.buffer);
  #closed = false;

  constructor(display: XDisplay, options: CaptureOptions) {
    this.#display = display;
    this.#root = display.root;
    this.#noShm = options.noShm ?? false;
    ({ width: this.#width, height: this.#height } = windowSize(
      display,
      this.#root,
    ));
    this.#checkFormat();
    selectInput(display, this.#root, STRUCTURE_NOTIFY_MASK);
    this.#damage = DamageTracker.create(display, this.#root);
    this.#fixesBase = fixesEventBase(display);
    this.#clipboard = display.atom("CLIPBOARD");
    if (this.#fixesBase !== undefined) {
      selectCursorInput(display, this.#root);
      selectSelectionInput(display, this.#root, this.#clipboard);
    }
    this.#setUpPixels();
    display.flush();
  }

  get width(): number {
    return this.#width;
  }

  get height(): number {
    return this.#height;
  }

  get method(): "shm" | "getimage" {
    return this.#shm ? "shm" : "getimage";
  }

  get damageAvailable(): boolean {
    return this.#damage !== undefined;
  }

  /** Refuses screens whose pixels are not BGRX (one tiny XGetImage). */
  #checkFormat(): void {
    const image = getImage(this.#display, this.#root, {
      x: 0,
      y: 0,
      width: 1,
      height: 1,
    });
    if (!image) throw new X11Error("XGetImage of the root failed");
    const info = readXImage(image);
    destroyImage(image);
    if (!isBgrx(info)) {
      throw new X11Error(
        `unsupported screen format: depth ${info.depth}, ${info.bitsPerPixel} bpp, red mask 0x${
          info.redMask.toString(16)
        } (need depth 24 in 32-bit BGRX)`,
      );
    }
  }

  /** MIT-SHM when allowed and working, else a copy buffer for XGetImage. */
  #setUpPixels(): void {
    this.#retired?.destroy();
    this.#retired = this.#shm;
    this.#shm = undefined;
    // The copy buffer is garbage-collected only once no frame views it.
    this.#copy = new Uint8Array(0);
    if (!this.#noShm && shmAvailable(this.#display)) {
      try {
        const shm = ShmImage.create(this.#display, this.#width, this.#height);
        // A server that cannot map the segment (another user's, say) only
        // says so when asked for pixels.
        if (isBgrx(shm.info) && shm.get(this.#root) !== undefined) {
          this.#shm = shm;
          return;
        }
        shm.destroy();
      } catch (error) {
        if (!(error instanceof X11Error)) throw error;
      }
    }
    this.#copy = new Uint8Array(this.#width * this.#height * 4);
  }

  poll(): CaptureEvents {
    this.#assertOpen();
    const x = xlib();
    const events: CaptureEvents = {
      damage: [],
      cursorChanged: false,
      clipboardChanged: false,
      resized: false,
    };
    let damaged = false;
    let configured = false;
    const cursorType = this.#fixesBase === undefined
      ? -1
      : this.#fixesBase + XFIXES_EVENT.cursorNotify;
    const selectionType = this.#fixesBase === undefined
      ? -1
      : this.#fixesBase + XFIXES_EVENT.selectionNotify;
    // XPending reads what has arrived without waiting; XNextEvent then
    // returns a queued event at once.
    while (x.XPending(this.#display.pointer) > 0) {
      x.XNextEvent(this.#display.pointer, this.#event);
      const type = this.#eventView.getInt32(0, true);
      if (this.#damage && type === this.#damage.eventType) {
        damaged = true;
      } else if (type === cursorType) {
        events.cursorChanged = true;
      } else if (type === selectionType) {
        const selection = this.#eventView.getBigUint64(
          XFIXES_SELECTION_NOTIFY.selection,
          true,
        );
        if (selection === this.#clipboard) events.clipboardChanged = true;
      } else if (
        type === CONFIGURE_NOTIFY &&
        this.#eventView.getBigUint64(CONFIGURE_WINDOW, true) === this.#root
      ) {
        configured = true;
      }
    }
    if (configured) {
      const size = windowSize(this.#display, this.#root);
      if (size.width !== this.#width || size.height !== this.#height) {
        this.#width = size.width;
        this.#height = size.height;
        this.#setUpPixels();
        events.resized = true;
      }
    }
    if (!this.#damage || events.resized) {
      if (this.#damage) this.#damage.take();
      events.damage = [fullScreen(this)];
    } else if (damaged) {
      events.damage = this.#damage.take().flatMap((rect) => {
        const clipped = clip(rect, this);
        return clipped ? [clipped] : [];
      });
    }
    return events;
  }

  grab(region?: Rect): CapturedFrame {
    this.#assertOpen();
    const area = grabArea(region, this);
    this.#retired?.destroy();
    this.#retired = undefined;
    if (this.#shm) {
      const stride = this.#shm.get(this.#root, area);
      if (stride === undefined) throw new X11Error("XShmGetImage failed");
      return {
        width: area.width,
        height: area.height,
        stride,
        data: this.#shm.pixels.subarray(0, stride * area.height),
      };
    }
    const image = getImage(this.#display, this.#root, area);
    if (!image) throw new X11Error("XGetImage failed");
    try {
      const size = copyPixels(image, this.#copy);
      return {
        width: area.width,
        height: area.height,
        stride: area.width * 4,
        data: this.#copy.subarray(0, size),
      };
    } finally {
      destroyImage(image);
    }
  }

  cursor(): CursorShape | undefined {
    this.#assertOpen();
    if (this.#fixesBase === undefined) return undefined;
    const image = readCursorImage(this.#display);
    if (!image) return undefined;
    const { serial, hotX, hotY, width, height, rgba } = image;
    return { serial, hotX, hotY, width, height, rgba };
  }

  pointer(): { x: number; y: number } {
    this.#assertOpen();
    const { x, y } = queryPointer(this.#display, this.#root);
    return { x, y };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#retired?.destroy();
    this.#shm?.destroy();
    this.#shm = undefined;
    this.#damage?.close();
    this.#display.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new X11Error("the capture is closed");
  }
}

/** `rect` cut to the screen; `undefined` when nothing is left. */
function clip(
  rect: Rect,
  screen: { width: number; height: number },
): Rect | undefined {
  const x = Math.max(0, rect.x);
  const y = Math.max(0, rect.y);
  const right = Math.min(screen.width, rect.x + rect.width);
  const bottom = Math.min(screen.height, rect.y + rect.height);
  if (right <= x || bottom <= y) return undefined;
  return { x, y, width: right - x, height: bottom - y };
}
