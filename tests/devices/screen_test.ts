/**
 * Tests for `mod/devices/screen.ts`: sizes are raised to the minimum, and a
 * screen that is not resized gives the wanted size within it.
 *
 * @module
 */
import {
  atLeastMinimum,
  MIN_SIZE,
  viewportWithin,
} from "../../mod/devices/screen.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("a size below the minimum is raised to it, one side at a time", () => {
  assertEquals(atLeastMinimum({ width: 10, height: 10 }), { ...MIN_SIZE });
  assertEquals(atLeastMinimum({ width: 1000, height: 10 }), {
    width: 1000,
    height: MIN_SIZE.height,
  });
  assertEquals(atLeastMinimum({ width: 800, height: 600 }), {
    width: 800,
    height: 600,
  });
});

Deno.test("a screen that is not resized gives the wanted size within it", () => {
  const screen = { width: 1280, height: 800 };
  assertEquals(viewportWithin({ width: 800, height: 600 }, screen), {
    width: 800,
    height: 600,
    applied: false,
  });
  assertEquals(viewportWithin({ width: 4000, height: 600 }, screen), {
    width: 1280,
    height: 600,
    applied: false,
  });
});
