/**
 * The webstream version, taken from `deno.json` so there is one place to bump.
 *
 * @module
 */
import denoJson from "../deno.json" with { type: "json" };

/** The version of this webstream build, e.g. `"0.1.0"`. */
export const VERSION: string = denoJson.version;
