/**
 * libXdamage: which parts of the screen changed. A damage object on the root
 * in `XDamageReportNonEmpty` mode sends one notify event when its region goes
 * from empty to non-empty; {@linkcode DamageTracker.take} then moves the
 * accumulated region into an XFixes region (`XDamageSubtract`), which empties
 * the damage (so the next change notifies again) and fetches its rectangles.
 * Unlike `XDamageReportRawRectangles` this never floods the event queue and
 * the server coalesces overlapping damage.
 *
 * Layout (x64, LP64) relied on, from `<X11/extensions/Xdamage.h>`:
 *
 * ```c
 * typedef struct {
 *   int type;               // 0
 *   unsigned long serial;   // 8
 *   Bool send_event;        // 16
 *   Display *display;       // 24
 *   Drawable drawable;      // 32
 *   Damage damage;          // 40
 *   int level;              // 48
 *   Bool more;              // 52
 *   Time timestamp;         // 56
 *   XRectangle area;        // 64
 *   XRectangle geometry;    // 72
 * } XDamageNotifyEvent;     // size 80
 * ```
 *
 * @module
 */
import { loadLibrary, type XDisplay } from "./display.ts";
import {
  createRegion,
  decodeRectangles,
  destroyRegion,
  fetchRegion,
  fixesEventBase,
  XRECTANGLE,
} from "./fixes.ts";

/** Offsets in `XDamageNotifyEvent` (x64). */
export const XDAMAGE_NOTIFY = Object.freeze({
  type: 0,
  serial: 8,
  sendEvent: 16,
  display: 24,
  drawable: 32,
  damage: 40,
  level: 48,
  more: 52,
  timestamp: 56,
  area: 64,
  geometry: 72,
  size: 80,
});

/** `XDamageNotify`, added to the extension's event base. */
export const XDAMAGE_NOTIFY_EVENT = 0;

/** Report levels of `XDamageCreate`. */
export const REPORT = Object.freeze({
  rawRectangles: 0,
  deltaRectangles: 1,
  boundingBox: 2,
  nonEmpty: 3,
});

const SYMBOLS = {
  XDamageQueryExtension: {
    parameters: ["pointer", "buffer", "buffer"],
    result: "i32",
  },
  XDamageCreate: { parameters: ["pointer", "u64", "i32"], result: "u64" },
  XDamageDestroy: { parameters: ["pointer", "u64"], result: "void" },
  XDamageSubtract: {
    parameters: ["pointer", "u64", "u64", "u64"],
    result: "void",
  },
} as const satisfies Deno.ForeignLibraryInterface;

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/** libXdamage's symbols, loaded once. */
export function xdamage(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  library ??= loadLibrary(["libXdamage.so.1", "libXdamage.so"], SYMBOLS, {
    package: "libxdamage1",
  });
  return library.symbols;
}

/**
 * The DAMAGE extension's first event number, or `undefined` when the server
 * lacks it.
 */
export function damageEventBase(display: XDisplay): number | undefined {
  const event = new Int32Array(new ArrayBuffer(8));
  const error = new Int32Array(new ArrayBuffer(8));
  const ok = xdamage().XDamageQueryExtension(display.pointer, event, error);
  return ok ? event[0] : undefined;
}

/** A decoded `XDamageNotifyEvent`. */
export interface DamageNotify {
  /** Event type (the extension's event base + level bits). */
  type: number;
  /** The damaged drawable. */
  drawable: bigint;
  /** The damage object. */
  damage: bigint;
  /** The report level. */
  level: number;
  /** More events for this damage follow. */
  more: boolean;
  /** The damaged area (for `nonEmpty`, the first change). */
  area: { x: number; y: number; width: number; height: number };
  /** The drawable's geometry. */
  geometry: { x: number; y: number; width: number; height: number };
}

/** Decodes an `XDamageNotifyEvent` from an `XEvent` buffer. */
export function decodeDamageNotify(event: Uint8Array): DamageNotify {
  const view = new DataView(event.buffer, event.byteOffset, event.byteLength);
  const rect = (at: number) =>
    decodeRectangles(event.subarray(at, at + XRECTANGLE.size), 1)[0];
  return {
    type: view.getInt32(XDAMAGE_NOTIFY.type, true),
    drawable: view.getBigUint64(XDAMAGE_NOTIFY.drawable, true),
    damage: view.getBigUint64(XDAMAGE_NOTIFY.damage, true),
    level: view.getInt32(XDAMAGE_NOTIFY.level, true),
    more: view.getInt32(XDAMAGE_NOTIFY.more, true) !== 0,
    area: rect(XDAMAGE_NOTIFY.area),
    geometry: rect(XDAMAGE_NOTIFY.geometry),
  };
}

/**
 * Damage tracking of one drawable (the root: the whole screen, windows
 * included) in `nonEmpty` mode, with an XFixes region to fetch it into.
 */
export class DamageTracker {
  /** The connection. */
  readonly display: XDisplay;
  /** Event number of `XDamageNotify` on this connection. */
  readonly eventType: number;
  readonly #damage: bigint;
  readonly #region: bigint;
  #closed = false;

  private constructor(
    display: XDisplay,
    eventType: number,
    ids: { damage: bigint; region: bigint },
  ) {
    this.display = display;
    this.eventType = eventType;
    this.#damage = ids.damage;
    this.#region = ids.region;
  }

  /**
   * Starts tracking `drawable`; `undefined` when the server lacks DAMAGE or
   * XFIXES.
   */
  static create(
    display: XDisplay,
    drawable: bigint,
  ): DamageTracker | undefined {
    const base = damageEventBase(display);
    if (base === undefined || fixesEventBase(display) === undefined) {
      return undefined;
    }
    const damage = xdamage().XDamageCreate(
      display.pointer,
      drawable,
      REPORT.nonEmpty,
    );
    const region = createRegion(display);
    return new DamageTracker(display, base + XDAMAGE_NOTIFY_EVENT, {
      damage,
      region,
    });
  }

  /**
   * Takes the damage accumulated so far (emptying it, so the next change
   * sends a notify again) and returns its rectangles. One round trip.
   */
  take(): { x: number; y: number; width: number; height: number }[] {
    xdamage().XDamageSubtract(
      this.display.pointer,
      this.#damage,
      0n,
      this.#region,
    );
    return fetchRegion(this.display, this.#region);
  }

  /** Stops tracking (once). */
  close(): void {
    if (this.#closed || this.display.closed) return;
    this.#closed = true;
    xdamage().XDamageDestroy(this.display.pointer, this.#damage);
    destroyRegion(this.display, this.#region);
  }
}
