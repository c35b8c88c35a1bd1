/**
 * Tests for `mod/devices/mod.ts`: the factories pick the X11 devices on
 * Linux and the Win32 ones on Windows (over the fake DLLs here); the
 * session's screen is opened on first use, then shared, and closed with
 * the clipboard.
 *
 * @module
 */
import { X11Clipboard } from "../../mod/devices/linux/x11_clipboard.ts";
import {
  openSessionClipboard,
  openSessionDevices,
  type SessionClipboard,
  sessionDevices,
  type SessionScreen,
} from "../../mod/devices/mod.ts";
import { Win32Clipboard } from "../../mod/devices/windows/win32_clipboard.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";
import { fakeGraphicsLibraries } from "../support/windows/fake_gdi32.ts";
import { FakeDisplay } from "../support/windows/fake_user32.ts";

Deno.test("the session's clipboard is X11's on Linux and Win32's on Windows", async () => {
  const here = openSessionClipboard();
  assert(
    Deno.build.os === "windows"
      ? here instanceof Win32Clipboard
      : here instanceof X11Clipboard,
  );
  here.close();
  const linux = openSessionClipboard({ os: "linux" });
  assert(linux instanceof X11Clipboard);
  linux.close();
  // Windows, over the fake DLLs: the same interface, the Win32 clipboard.
  const display = new FakeDisplay(4, 4);
  const windows = openSessionClipboard({
    os: "windows",
    clipboardLibraries: {
      user32: display.user32,
      kernel32: display.kernel32.symbols,
    },
  });
  assert(windows instanceof Win32Clipboard);
  await windows.write("through the interface");
  assertEquals(display.clipboardText(), "through the interface");
  assertEquals(await windows.readChange(), undefined);
  windows.close();
});

Deno.test("the Windows devices: GDI screen opened on first use, all closed together", () => {
  const display = new FakeDisplay(640, 480);
  display.paintPattern();
  const devices = openSessionDevices({
    os: "windows",
    graphics: fakeGraphicsLibraries(display),
    clipboardLibraries: {
      user32: display.user32,
      kernel32: display.kernel32.symbols,
    },
  });
  assert(devices.clipboard instanceof Win32Clipboard);
  assertEquals(display.liveObjects(), [], "no screen before it is asked for");
  const screen = devices.screen();
  assertEquals(devices.screen(), screen, "one screen, shared");
  assertEquals([screen.capture.width, screen.capture.height], [640, 480]);
  assertEquals(screen.capture.grab().data, display.pixels);
  devices.close();
  assertEquals(display.liveObjects(), []);
});

/** A clipboard that only records its closing in `closed`. */
function recordingClipboard(closed: string[]): SessionClipboard {
  return {
    write: () => Promise.resolve(),
    readChange: () => Promise.resolve(undefined),
    read: () => Promise.resolve(undefined),
    close: () => void closed.push("clipboard"),
  };
}

Deno.test("a screen that fails to open is tried again on the next call", () => {
  const closed: string[] = [];
  let attempts = 0;
  const screen = {
    close: () => void closed.push("screen"),
  } as unknown as SessionScreen;
  const devices = sessionDevices(recordingClipboard(closed), () => {
    if (++attempts === 1) throw new Error("no display");
    return screen;
  });
  assertThrows(() => devices.screen(), Error, /no display/);
  assertEquals(devices.screen(), screen);
  assertEquals(devices.screen(), screen);
  assertEquals(attempts, 2);
  devices.close();
  assertEquals(closed, ["clipboard", "screen"]);
});

Deno.test("devices whose screen was never opened close only the clipboard", () => {
  const closed: string[] = [];
  const devices = sessionDevices(recordingClipboard(closed), () => {
    throw new Error("not asked for");
  });
  devices.close();
  assertEquals(closed, ["clipboard"]);
});
