/**
 * Tests for `httpdocs/session/session_size.js`: the session size a view
 * gets (its device pixels, capped by the policy's `maxPixelRatio`, fitted
 * to the screen's maximum but never below its CSS size) and the media
 * query that notices a change of `devicePixelRatio`. The page's use of it
 * (canvas, input, zoom) is tested in real Chromium by
 * `tests/integration/browser_pixel_ratio_test.ts`.
 *
 * @module
 */
import {
  resolutionQuery,
  sessionSize,
  viewOf,
} from "../../../httpdocs/session/session_size.js";
import { assertEquals } from "../../support/assert.ts";

const TAB = { width: 1280, height: 720 };

Deno.test("viewOf: CSS pixels floored, device pixels rounded", () => {
  assertEquals(viewOf({ width: 1280.7, height: 720.2 }, 2), {
    width: 1280,
    height: 720,
    deviceWidth: 2560,
    deviceHeight: 1440,
  });
  assertEquals(viewOf({ width: 1001, height: 601 }, 1.25), {
    width: 1001,
    height: 601,
    deviceWidth: 1251,
    deviceHeight: 751,
  });
  // Nonsense ratios count as 1; an empty view as one pixel.
  assertEquals(viewOf({ width: 0, height: 10 }, NaN), {
    width: 1,
    height: 10,
    deviceWidth: 1,
    deviceHeight: 10,
  });
});

Deno.test("sessionSize: device pixels within the policy's cap", () => {
  const at2 = viewOf(TAB, 2);
  assertEquals(sessionSize(at2, { maxPixelRatio: 2 }), {
    width: 2560,
    height: 1440,
    pixelRatio: 2,
  });
  assertEquals(sessionSize(at2, { maxPixelRatio: 4 }).width, 2560);
  assertEquals(sessionSize(at2, { maxPixelRatio: 1.5 }), {
    width: 1920,
    height: 1080,
    pixelRatio: 1.5,
  });
  assertEquals(sessionSize(at2, { maxPixelRatio: 1 }), {
    width: 1280,
    height: 720,
    pixelRatio: 1,
  });
  // A 1× screen is its CSS size, whatever the cap.
  assertEquals(sessionSize(viewOf(TAB, 1), { maxPixelRatio: 2 }), {
    width: 1280,
    height: 720,
    pixelRatio: 1,
  });
  // A page claiming a huge ratio gets its CSS size × the cap, no more.
  const claim = {
    width: 100,
    height: 100,
    deviceWidth: 65535,
    deviceHeight: 1,
  };
  assertEquals(sessionSize(claim, { maxPixelRatio: 2 }), {
    width: 200,
    height: 1,
    pixelRatio: 2,
  });
});

Deno.test("sessionSize: fitted to the screen's maximum, keeping its shape", () => {
  const at2 = viewOf(TAB, 2);
  assertEquals(
    sessionSize(at2, { maxPixelRatio: 2, maxWidth: 1920, maxHeight: 1080 }),
    { width: 1920, height: 1080, pixelRatio: 1.5 },
  );
  assertEquals(
    sessionSize(at2, { maxPixelRatio: 2, maxWidth: 3840, maxHeight: 2160 }),
    { width: 2560, height: 1440, pixelRatio: 2 },
  );
  // Fitting never goes below the CSS size: the screen clamps that itself.
  const big = viewOf({ width: 2560, height: 1440 }, 2);
  assertEquals(
    sessionSize(big, { maxPixelRatio: 2, maxWidth: 1920, maxHeight: 1080 }),
    { width: 2560, height: 1440, pixelRatio: 1 },
  );
  // Never more than the maximum on either side.
  const odd = viewOf({ width: 1333, height: 777 }, 1.75);
  const fitted = sessionSize(odd, {
    maxPixelRatio: 4,
    maxWidth: 1920,
    maxHeight: 1080,
  });
  assertEquals(fitted.width <= 1920 && fitted.height <= 1080, true);
  assertEquals([fitted.width, fitted.height], [1852, 1080]);
});

Deno.test("sessionSize: a zoomed-out view keeps its device pixels", () => {
  const half = viewOf({ width: 2000, height: 1000 }, 0.5);
  assertEquals(sessionSize(half, { maxPixelRatio: 2 }), {
    width: 1000,
    height: 500,
    pixelRatio: 0.5,
  });
  // Larger than the maximum: left to the screen's clamp.
  assertEquals(
    sessionSize(half, { maxPixelRatio: 2, maxWidth: 800, maxHeight: 600 }),
    { width: 1000, height: 500, pixelRatio: 0.5 },
  );
});

Deno.test("resolutionQuery: a media query for the ratio", () => {
  assertEquals(resolutionQuery(2), "(resolution: 2dppx)");
  assertEquals(resolutionQuery(1.25), "(resolution: 1.25dppx)");
});
