/**
 * The session screen on a real Xvfb: capture and input open on the given
 * display; a resize within the screen is applied with RandR (and captured at
 * the new size); a request beyond the start size is kept within it; a size
 * below the minimum is raised to it. The Windows screen over the fake
 * display: GDI capture and SendInput, never resized.
 *
 * @module
 */
import {
  MIN_SIZE,
  openSessionScreen,
  openWindowsSessionScreen,
} from "../../mod/streamer/screen.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { FakeDisplay } from "../support/windows/fake_user32.ts";
import { fakeGraphicsLibraries } from "../support/windows/fake_gdi32.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

Deno.test({
  name: "the session screen resizes within its bounds",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withXvfb({ width: 1280, height: 800 }, async (x) => {
      const screen = openSessionScreen({ display: x.display });
      try {
        assertEquals(
          [screen.capture.width, screen.capture.height],
          [1280, 800],
        );
        const smaller = screen.resize({ width: 800, height: 600 });
        assertEquals(smaller, { width: 800, height: 600, applied: true });
        // The capture follows once it has polled the server's notice.
        await waitFor(() => {
          screen.capture.poll();
          return screen.capture.width === 800;
        }, { what: "the capture at 800×600" });
        const frame = screen.capture.grab();
        assertEquals([frame.width, frame.height], [800, 600]);
        // Beyond the start size: the screen stays within it.
        const bigger = screen.resize({ width: 4000, height: 3000 });
        assert(
          bigger.width <= 1280 && bigger.height <= 800,
          JSON.stringify(bigger),
        );
        // Below the minimum: raised to it.
        const tiny = screen.resize({ width: 10, height: 10 });
        assertEquals([tiny.width, tiny.height], [
          MIN_SIZE.width,
          MIN_SIZE.height,
        ]);
        // Input works on the same display. The motion goes out on the input
        // connection and the query on the capture's: the server may answer
        // the query first.
        screen.input.pointer(100, 50, 0);
        await waitFor(() => {
          const at = screen.capture.pointer();
          return at?.x === 100 && at.y === 50;
        }, { what: "the pointer at (100, 50)" });
      } finally {
        screen.close();
      }
    }),
});

Deno.test("the Windows session screen: GDI capture, SendInput, no resize", () => {
  const display = new FakeDisplay(1280, 800);
  display.paintPattern();
  const screen = openWindowsSessionScreen({
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
