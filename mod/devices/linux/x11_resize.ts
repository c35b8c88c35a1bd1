/**
 * Changing the X screen's size with RandR 1.2, as the browser window
 * changes. Xvfb (xorg 21.1) lets a client resize its screen anywhere between
 * 1×1 and the size it was started with: its range is `1×1 … start size`, it
 * accepts user modes within that range, and its CRTC must fit inside the
 * screen at every step. So shrinking sets the CRTC first and then the screen
 * size, growing sets the size first, and a change that grows one side and
 * shrinks the other switches the CRTC off in between.
 *
 * A refusal (no RandR, no CRTC, a protocol error) is reported in the result,
 * never thrown: the caller falls back to showing part of the screen.
 *
 * @module
 */
import type { XDisplay } from "../../../ffi/x11/display.ts";
import {
  addOutputMode,
  createMode,
  deleteOutputMode,
  destroyMode,
  NO_MODE,
  queryRandr,
  RR_SET_CONFIG_SUCCESS,
  ScreenResources,
  screenSize,
  screenSizeRange,
  setCrtcConfig,
  setScreenSize,
  trapErrors,
} from "../../../ffi/x11/randr.ts";
import { clamp } from "../../util/clamp.ts";

/** The outcome of {@linkcode resizeScreen}. */
export interface ResizeResult {
  /** Whether the screen now has exactly `width`×`height`. */
  applied: boolean;
  /** The screen's width now (the request clamped to the server's range when applied). */
  width: number;
  /** The screen's height now. */
  height: number;
  /** Why the request was not (fully) applied. */
  reason?: string;
}

/** Prefix of the modes this module creates; older ones are removed. */
const MODE_PREFIX = "webstream-";

/**
 * Resizes the screen of `display` to `size`, clamped to the size range the
 * server reports. Returns the size the screen has afterwards.
 */
export function resizeScreen(
  display: XDisplay,
  size: { width: number; height: number },
): ResizeResult {
  const now = () => screenSize(display);
  const refuse = (reason: string): ResizeResult => {
    const { width, height } = now();
    return { applied: false, width, height, reason };
  };
  if (
    !(Number.isInteger(size.width) && Number.isInteger(size.height)) ||
    size.width < 1 || size.height < 1
  ) {
    return refuse(`invalid size ${size.width}x${size.height}`);
  }
  if (!queryRandr(display)) return refuse("the X server lacks RandR");
  const range = screenSizeRange(display);
  if (!range) return refuse("the X server reports no screen size range");
  const width = clamp(size.width, range.minWidth, range.maxWidth);
  const height = clamp(size.height, range.minHeight, range.maxHeight);
  const clamped = width !== size.width || height !== size.height
    ? `clamped to the server's range ${range.minWidth}x${range.minHeight}` +
      `..${range.maxWidth}x${range.maxHeight}`
    : undefined;
  const before = now();
  if (before.width === width && before.height === height) {
    return clamped
      ? { applied: false, width, height, reason: clamped }
      : { applied: true, width, height };
  }

  const resources = ScreenResources.current(display);
  if (!resources) return refuse("RandR returned no screen resources");
  try {
    const target = findCrtc(resources);
    if (!target) return refuse("no CRTC drives an output");
    const { errors, result: failure } = trapErrors(
      display,
      () => apply(display, resources, { ...target, width, height, before }),
    );
    const after = now();
    const applied = after.width === width && after.height === height;
    const reasons = [
      failure,
      ...errors.map((e) =>
        `${e.text} (RandR request ${e.minor}, value ${e.value})`
      ),
      clamped,
    ].filter(Boolean);
    return {
      applied: applied && !clamped,
      width: after.width,
      height: after.height,
      ...(reasons.length || !applied
        ? { reason: reasons.join("; ") || "the server kept its size" }
        : {}),
    };
  } finally {
    resources.close();
  }
}

interface Target {
  crtc: bigint;
  output: bigint;
  /** The CRTC's current mode and size. */
  mode: bigint;
  crtcWidth: number;
  crtcHeight: number;
}

/** The first CRTC driving an output (Xvfb has one: "screen"). */
function findCrtc(resources: ScreenResources): Target | undefined {
  for (const crtc of resources.crtcs) {
    const info = resources.crtcInfo(crtc);
    if (info && info.mode !== NO_MODE && info.outputs.length) {
      return {
        crtc,
        output: info.outputs[0],
        mode: info.mode,
        crtcWidth: info.width,
        crtcHeight: info.height,
      };
    }
  }
  return undefined;
}

/** Runs the RandR steps; returns a failure text, or nothing on success. */
function apply(
  display: XDisplay,
  resources: ScreenResources,
  job: Target & {
    width: number;
    height: number;
    before: { width: number; height: number; mmWidth: number };
  },
): string | undefined {
  const { width, height, before } = job;
  const mode = findOrCreateMode(display, resources, job);
  if (!mode) return `the server would not create a ${width}x${height} mode`;
  // Keep the DPI. Xlib's pixel and millimetre copies are from the same
  // moment (its start, or its last handled change), so their ratio holds.
  const xlibWidth = display.size().width;
  const dotsPerMm = before.mmWidth > 0 && xlibWidth > 0
    ? xlibWidth / before.mmWidth
    : 96 / 25.4;
  const screen = {
    width,
    height,
    mmWidth: Math.max(1, Math.round(width / dotsPerMm)),
    mmHeight: Math.max(1, Math.round(height / dotsPerMm)),
  };
  const crtcTo = (m: bigint) =>
    setCrtcConfig(display, resources, {
      crtc: job.crtc,
      mode: m,
      outputs: m === NO_MODE ? [] : [job.output],
    });
  let status: number;
  if (width <= before.width && height <= before.height) {
    // Shrinking: the CRTC must fit the screen, so it goes first.
    status = crtcTo(mode);
    if (status !== RR_SET_CONFIG_SUCCESS) return `set CRTC: status ${status}`;
    setScreenSize(display, screen);
  } else if (job.crtcWidth <= width && job.crtcHeight <= height) {
    // Growing: a bigger screen first, then the CRTC.
    setScreenSize(display, screen);
    display.sync();
    status = crtcTo(mode);
    if (status !== RR_SET_CONFIG_SUCCESS) return `set CRTC: status ${status}`;
  } else {
    // One side grows, the other shrinks: switch the CRTC off in between.
    status = crtcTo(NO_MODE);
    if (status !== RR_SET_CONFIG_SUCCESS) {
      return `disable CRTC: status ${status}`;
    }
    setScreenSize(display, screen);
    display.sync();
    status = crtcTo(mode);
    if (status !== RR_SET_CONFIG_SUCCESS) return `set CRTC: status ${status}`;
  }
  display.sync();
  forgetOldModes(display, resources, { output: job.output, keep: mode });
  return undefined;
}

/** A mode of exactly the wanted size that the output may use. */
function findOrCreateMode(
  display: XDisplay,
  resources: ScreenResources,
  job: Target & { width: number; height: number },
): bigint {
  const existing = resources.modes.find((m) =>
    m.width === job.width && m.height === job.height
  );
  const allowed = resources.outputInfo(job.output)?.modes ?? [];
  if (existing) {
    if (!allowed.includes(existing.id)) {
      addOutputMode(display, { output: job.output, mode: existing.id });
    }
    return existing.id;
  }
  const mode = createMode(display, {
    width: job.width,
    height: job.height,
    name: `${MODE_PREFIX}${job.width}x${job.height}`,
  });
  if (mode) addOutputMode(display, { output: job.output, mode });
  display.sync();
  return mode;
}

/** Removes the modes this module made earlier, so they do not pile up. */
function forgetOldModes(
  display: XDisplay,
  resources: ScreenResources,
  job: { output: bigint; keep: bigint },
): void {
  for (const mode of resources.modes) {
    if (mode.id === job.keep || !mode.name.startsWith(MODE_PREFIX)) continue;
    deleteOutputMode(display, { output: job.output, mode: mode.id });
    destroyMode(display, mode.id);
  }
}
