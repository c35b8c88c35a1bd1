// deno-lint-ignore-file no-explicit-any
/**
 * Loose types for `playwright-core` as tests and benchmarks use it. Its own
 * types import `@types/node`, whose global `WebSocket` and stream types
 * replace Deno's in the whole type-checked program (breaking Deno's
 * `new WebSocket(url, { headers })`); these keep the program on Deno's.
 *
 * @module
 */

/** A Playwright page. */
export type Page = any;
/** A Playwright browser. */
export type Browser = any;
/** Playwright's Chromium launcher. */
export declare const chromium: any;
