/**
 * Tests for `mod/devices/input.ts`: the browser button bits, the presses
 * and releases between two button states, and pointer coordinate clamping.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import {
  ALL_BUTTONS,
  buttonChanges,
  BUTTONS,
  clampCoordinate,
} from "../../mod/devices/input.ts";

Deno.test("input: button bits are those of MouseEvent.buttons", () => {
  assertEquals(BUTTONS, {
    LEFT: 1,
    RIGHT: 2,
    MIDDLE: 4,
    BACK: 8,
    FORWARD: 16,
  });
  assertEquals(ALL_BUTTONS, 31);
});

Deno.test("input: buttonChanges presses and releases the difference", () => {
  assertEquals(buttonChanges(0, 0), { press: [], release: [] });
  assertEquals(buttonChanges(0, 1), { press: [1], release: [] });
  assertEquals(buttonChanges(1, 0), { press: [], release: [1] });
  assertEquals(buttonChanges(1 | 4, 2 | 4), { press: [2], release: [1] });
  assertEquals(buttonChanges(0, 31), { press: [1, 2, 4, 8, 16], release: [] });
  // Bits above FORWARD are not buttons.
  assertEquals(buttonChanges(0, 32 | 64), { press: [], release: [] });
});

Deno.test("input: clampCoordinate keeps the pointer on the screen", () => {
  assertEquals(clampCoordinate(10, 100), 10);
  assertEquals(clampCoordinate(-5, 100), 0);
  assertEquals(clampCoordinate(100, 100), 99);
  assertEquals(clampCoordinate(65535, 1024), 1023);
  assertEquals(clampCoordinate(10.6, 100), 11);
  assertEquals(clampCoordinate(Number.NaN, 100), 0);
  assertEquals(clampCoordinate(5, 0), 0);
});
