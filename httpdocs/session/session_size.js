// @ts-check
/**
 * The session size a browser view gets (no DOM here, so the page, the
 * streamer and tests use the same rule). The page shows the session at one
 * session pixel per device pixel, so text is sharp on high-DPI screens: the
 * session is the view's size in device pixels, at most `maxPixelRatio`
 * (the workspace's policy) session pixels per CSS pixel, and made smaller
 * (keeping its shape) to fit the largest screen the session can have. It is
 * never made smaller than the view's CSS size to fit: such a session is
 * clamped by the screen itself, as before (the page then shows what the
 * screen gives at one session pixel per CSS pixel).
 *
 * @module
 */

/**
 * The browser's view: its size in CSS pixels and in device pixels
 * (`devicePixelRatio` × the CSS size).
 *
 * @typedef {{ width: number, height: number, deviceWidth: number,
 *   deviceHeight: number }} ViewSize
 */

/**
 * What bounds the session: the policy's `maxPixelRatio`, and the largest
 * screen the session can have (none when unknown).
 *
 * @typedef {{ maxPixelRatio: number, maxWidth?: number,
 *   maxHeight?: number }} SizeLimits
 */

/**
 * A session size, and how many of its pixels fall on one CSS pixel of the
 * view (the page draws the canvas at `width / pixelRatio` CSS pixels).
 *
 * @typedef {{ width: number, height: number, pixelRatio: number }} SessionSize
 */

/**
 * The view of `width` × `height` CSS pixels at `devicePixelRatio`.
 *
 * @param {{ width: number, height: number }} css
 * @param {number} devicePixelRatio
 * @returns {ViewSize}
 */
export function viewOf(css, devicePixelRatio) {
  const ratio = Number.isFinite(devicePixelRatio) && devicePixelRatio > 0
    ? devicePixelRatio
    : 1;
  const width = Math.max(1, Math.floor(css.width));
  const height = Math.max(1, Math.floor(css.height));
  return {
    width,
    height,
    deviceWidth: Math.max(1, Math.round(width * ratio)),
    deviceHeight: Math.max(1, Math.round(height * ratio)),
  };
}

/**
 * The session size for `view` within `limits` (see the module's rule).
 *
 * @param {ViewSize} view
 * @param {SizeLimits} limits
 * @returns {SessionSize}
 */
export function sessionSize(view, limits) {
  const { width, height, deviceWidth, deviceHeight } = view;
  const ratio = Math.max(deviceWidth / width, deviceHeight / height);
  const scale = Math.min(
    1,
    limits.maxPixelRatio / ratio,
    (limits.maxWidth ?? Infinity) / deviceWidth,
    (limits.maxHeight ?? Infinity) / deviceHeight,
  );
  // A zoomed-out view (fewer device pixels than CSS pixels) is never made
  // smaller than its device pixels: the screen clamps it.
  if (scale >= 1 || ratio <= 1) {
    return { width: deviceWidth, height: deviceHeight, pixelRatio: ratio };
  }
  if (ratio * scale <= 1) return { width, height, pixelRatio: 1 };
  return {
    width: Math.max(1, Math.floor(deviceWidth * scale + 1e-9)),
    height: Math.max(1, Math.floor(deviceHeight * scale + 1e-9)),
    pixelRatio: ratio * scale,
  };
}

/**
 * The media query that stops matching when `devicePixelRatio` changes from
 * `ratio` (browser zoom, a move to another monitor).
 *
 * @param {number} ratio
 * @returns {string}
 */
export function resolutionQuery(ratio) {
  return `(resolution: ${ratio}dppx)`;
}
