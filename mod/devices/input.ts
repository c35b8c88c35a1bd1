/**
 * The streamer's input injection, independent of the platform: the browser's
 * pointer, wheel and key events go into an {@linkcode InputSink}. Linux
 * implements it with XTEST (`linux/x11_input.ts`), Windows with SendInput
 * (`windows/send_input.ts`).
 *
 * @module
 */

/** Browser `MouseEvent.buttons` bits. */
export const BUTTONS = Object.freeze({
  LEFT: 1,
  RIGHT: 2,
  MIDDLE: 4,
  BACK: 8,
  FORWARD: 16,
});

/** Every button bit {@linkcode InputSink.pointer} understands. */
export const ALL_BUTTONS = 0x1f;

/** Browser MouseEvent.buttons bits: 1 left, 2 right, 4 middle, 8 back, 16 forward */
export interface InputSink {
  /** Moves the pointer to (x, y) and sets the pressed buttons to exactly `buttons` (presses/releases the difference). */
  pointer(x: number, y: number, buttons: number): void;
  /** Wheel in notches: dy > 0 scrolls down (X button 5), dy < 0 up (4), dx > 0 right (7), dx < 0 left (6); one click per notch. */
  wheel(dx: number, dy: number): void;
  /** A key from the browser: `code` is KeyboardEvent.code, `key` is KeyboardEvent.key. */
  key(code: string, key: string, down: boolean): void;
  /** Releases every key and button this sink holds down (client gone / focus lost). */
  releaseAll(): void;
  /** Releases everything held and frees the platform resources (once). */
  close(): void;
}

/**
 * The button bits to press and to release to go from `held` to `wanted`
 * (only the bits in {@linkcode ALL_BUTTONS}).
 */
export function buttonChanges(
  held: number,
  wanted: number,
): { press: number[]; release: number[] } {
  const press: number[] = [];
  const release: number[] = [];
  for (let bit = 1; bit <= ALL_BUTTONS; bit <<= 1) {
    const had = (held & bit) !== 0;
    const wants = (wanted & bit) !== 0;
    if (wants && !had) press.push(bit);
    if (had && !wants) release.push(bit);
  }
  return { press, release };
}

/** Clamps a pointer coordinate into `0 … size - 1` (NaN becomes 0). */
export function clampCoordinate(value: number, size: number): number {
  if (!Number.isFinite(value) || size <= 0) return 0;
  return Math.min(Math.max(Math.round(value), 0), size - 1);
}
