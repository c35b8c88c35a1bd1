/**
 * The Windows session screen over the fake display: GDI capture and
 * SendInput, never resized; closing releases what input held and every GDI
 * object.
 *
 * @module
 */
import { MIN_SIZE } from "../../../mod/devices/screen.ts";
import { openWin32Screen } from "../../../mod/devices/windows/win32_screen.ts";
import { assertEquals } from "../../support/assert.ts";
import { fakeGraphicsLibraries } from "../../support/windows/fake_gdi32.ts";
import { FakeDisplay } from "../../support/windows/fake_user32.ts";

Deno.test("the Windows session screen: GDI capture, SendInput, no resize", () => {
  const display = new FakeDisplay(1280, 800);
  display.paintPattern();
  const screen = openWin32Screen({
    libraries: fakeGraphicsLibraries(display),
  });
  try {
    assertEquals([screen.capture.width, screen.capture.height], [1280, 800]);
    assertEquals(screen.capture.grab().data, display.pixels);
    // The RDP session's size stays: viewers get their size within it.
    assertEquals(screen.resize({ width: 800, height: 600 }), {
      width: 800,
      height: 600,
      applied: false,
    });
    assertEquals(screen.resize({ width: 4000, height: 3000 }), {
      width: 1280,
      height: 800,
      applied: false,
    });
    assertEquals(screen.resize({ width: 10, height: 10 }), {
      ...MIN_SIZE,
      applied: false,
    });
    screen.input.pointer(0, 0, 1);
    screen.input.key("KeyA", "a", true);
    assertEquals(display.inputBatches.length, 2);
  } finally {
    screen.close();
  }
  // Closing let go of the key and button, and freed every GDI object.
  assertEquals(display.inputBatches.at(-1)?.map((e) => e.flags), [
    0x0008 | 0x0002, // KEYEVENTF_SCANCODE | KEYEVENTF_KEYUP
    0x0004, // MOUSEEVENTF_LEFTUP
  ]);
  assertEquals(display.liveObjects(), []);
});
