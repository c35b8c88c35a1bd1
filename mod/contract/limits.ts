/**
 * Limits both ends of a contract check the same way: the screen sizes a
 * session may have (the browser's launch request, `/getConnection`'s
 * `?width=&height=`, the configured default screen). The web client clamps
 * to the same numbers (`httpdocs/portal.js`, `httpdocs/launch.js`).
 *
 * @module
 */

/** Screen bounds, in pixels. */
export const SCREEN_BOUNDS = {
  width: { min: 320, max: 7680 },
  height: { min: 200, max: 4320 },
} as const;
