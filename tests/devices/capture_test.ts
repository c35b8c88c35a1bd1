/**
 * Tests for `mod/devices/capture.ts`: the platform-neutral helpers every
 * capture uses to validate a grab region (inside the screen, non-empty,
 * whole pixels) and to name the whole screen.
 *
 * @module
 */
import { assertEquals, assertThrows } from "../support/assert.ts";
import {
  fullScreen,
  grabArea,
  regionInside,
} from "../../mod/devices/capture.ts";

const SCREEN = { width: 1920, height: 1080 };

Deno.test("regionInside accepts regions within the screen, edges included", () => {
  assertEquals(
    regionInside({ x: 0, y: 0, width: 1920, height: 1080 }, SCREEN),
    true,
  );
  assertEquals(
    regionInside({ x: 1919, y: 1079, width: 1, height: 1 }, SCREEN),
    true,
  );
  assertEquals(
    regionInside({ x: 64, y: 64, width: 64, height: 64 }, SCREEN),
    true,
  );
});

Deno.test("regionInside refuses regions off, across or without area", () => {
  for (
    const region of [
      { x: 1900, y: 0, width: 21, height: 1 },
      { x: 0, y: 1080, width: 1, height: 1 },
      { x: -1, y: 0, width: 2, height: 2 },
      { x: 0, y: -5, width: 2, height: 2 },
      { x: 0, y: 0, width: 0, height: 2 },
      { x: 0, y: 0, width: 2, height: -1 },
      { x: 0.5, y: 0, width: 2, height: 2 },
      { x: 0, y: 0, width: NaN, height: 2 },
    ]
  ) {
    assertEquals(regionInside(region, SCREEN), false, JSON.stringify(region));
  }
});

Deno.test("fullScreen is the whole screen at the origin", () => {
  assertEquals(fullScreen(SCREEN), { x: 0, y: 0, width: 1920, height: 1080 });
  // Any object with a size will do, such as a capture.
  const capture = { width: 8, height: 6, method: "shm" };
  assertEquals(fullScreen(capture), { x: 0, y: 0, width: 8, height: 6 });
});

Deno.test("grabArea: the region, or the whole screen; off the screen is refused", () => {
  const region = { x: 64, y: 64, width: 64, height: 64 };
  assertEquals(grabArea(region, SCREEN), region);
  assertEquals(grabArea(undefined, SCREEN), fullScreen(SCREEN));
  assertThrows(
    () => grabArea({ x: 1900, y: 0, width: 64, height: 64 }, SCREEN),
    RangeError,
    /region \{"x":1900,"y":0,"width":64,"height":64\} is not inside the 1920x1080 screen/,
  );
});
