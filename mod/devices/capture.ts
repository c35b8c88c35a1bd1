/**
 * Screen capture for the streamer, independent of the platform: the Linux
 * implementation is `linux/x11_capture.ts` (X11 with MIT-SHM, DAMAGE and
 * XFIXES), the Windows one `windows/gdi_capture.ts` (GDI).
 *
 * Pixels are 32-bit BGRX everywhere (byte 0 blue, 1 green, 2 red, 3 unused),
 * rows `stride` bytes apart.
 *
 * @module
 */

/** A rectangle in screen pixels. */
export interface Rect {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** Pixels grabbed from the screen. */
export interface CapturedFrame {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Bytes from one row to the next (at least `width * 4`). */
  stride: number;
  /**
   * BGRX, valid until the next `grab()` or `close()` (it may be a view over
   * memory those release or overwrite: copy what must be kept). A `poll()`
   * that sees a resize keeps it readable until the next `grab()`; with
   * several viewers on one capture, another viewer's grab overwrites it.
   */
  data: Uint8Array;
}

/** A cursor image. */
export interface CursorShape {
  /** Changes whenever the image does. */
  serial: number;
  /** Hotspot, in pixels from the top left. */
  hotX: number;
  /** Hotspot, in pixels from the top left. */
  hotY: number;
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Straight (non-premultiplied) RGBA, `width * height * 4` bytes. */
  rgba: Uint8Array;
}

/** What changed since the last `poll()`. */
export interface CaptureEvents {
  /** Damaged rectangles since the last poll (hints; may be coarse). */
  damage: Rect[];
  /** The cursor image changed. */
  cursorChanged: boolean;
  /** The CLIPBOARD selection owner changed. */
  clipboardChanged: boolean;
  /** The screen size changed. */
  resized: boolean;
}

/** A capture of one screen. */
export interface ScreenCapture {
  /** Current screen width. */
  readonly width: number;
  /** Current screen height. */
  readonly height: number;
  /** How `grab()` reads the screen: shared memory, or copies. */
  readonly method: "shm" | "getimage";
  /** Whether damage is tracked (otherwise every poll reports everything). */
  readonly damageAvailable: boolean;
  /** Drains pending events without blocking. */
  poll(): CaptureEvents;
  /**
   * Grabs the whole screen (or `region`, which must lie inside it) into a
   * reused buffer.
   */
  grab(region?: Rect): CapturedFrame;
  /** The current cursor image. */
  cursor(): CursorShape | undefined;
  /** The pointer position (screen coordinates). */
  pointer(): { x: number; y: number };
  /** Releases everything (once). */
  close(): void;
}

/** Options for opening a capture. */
export interface CaptureOptions {
  /** The display to capture (default: the platform's own). */
  display?: string;
  /** Force the copying path (no shared memory). */
  noShm?: boolean;
}

/** Whether `region` lies inside a `width`×`height` screen and is not empty. */
export function regionInside(
  region: Rect,
  screen: { width: number; height: number },
): boolean {
  const { x, y, width, height } = region;
  return [x, y, width, height].every(Number.isInteger) && x >= 0 && y >= 0 &&
    width > 0 && height > 0 && x + width <= screen.width &&
    y + height <= screen.height;
}

/**
 * The area a `grab(region)` asks for: `region`, or the whole screen when it
 * is absent.
 *
 * @throws {RangeError} naming the region when it is not inside the screen.
 */
export function grabArea(
  region: Rect | undefined,
  screen: { width: number; height: number },
): Rect {
  const area = region ?? fullScreen(screen);
  if (!regionInside(area, screen)) {
    throw new RangeError(
      `region ${
        JSON.stringify(area)
      } is not inside the ${screen.width}x${screen.height} screen`,
    );
  }
  return area;
}

/** The whole screen as a rectangle. */
export function fullScreen(screen: { width: number; height: number }): Rect {
  return { x: 0, y: 0, width: screen.width, height: screen.height };
}
