/**
 * Tests for `mod/devices/windows/win32_clipboard.ts` over the fake display
 * and kernel32 (real memory): text round-trips as CF_UNICODETEXT with CR LF
 * line ends; our own text is not reported back while another app's change
 * is seen through the sequence number in the GDI capture's poll() and read;
 * a clipboard held by another app is retried, then refused with a clear
 * error; the block SetClipboardData took is never freed by us (the fake
 * throws if it is) and a block it refused is; no owner window outlives a
 * write, so the capture still follows the input desktop; a message sent to
 * the owner window in the meantime is answered.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../../support/assert.ts";
import { Win32Error } from "../../../ffi/windows/errors.ts";
import { GMEM_MOVEABLE, Kernel32 } from "../../../ffi/windows/kernel32.ts";
import {
  CF_UNICODETEXT,
  User32,
  type User32Symbols,
} from "../../../ffi/windows/user32.ts";
import { pointerAt } from "../../../ffi/windows/struct.ts";
import { MAX_CLIPBOARD } from "../../../mod/devices/clipboard.ts";
import { openGdiCapture } from "../../../mod/devices/windows/gdi_capture.ts";
import {
  ClipboardBusyError,
  fromWindowsText,
  openWin32Clipboard,
  toWindowsText,
  type Win32ClipboardOptions,
} from "../../../mod/devices/windows/win32_clipboard.ts";
import { fakeGraphicsLibraries } from "../../support/windows/fake_gdi32.ts";
import {
  ERROR_CLIPBOARD_NOT_OPEN,
  FakeDisplay,
} from "../../support/windows/fake_user32.ts";

const WM_DESTROYCLIPBOARD = 0x0307;

function setUp(
  options: Omit<Win32ClipboardOptions, "libraries"> = {},
  override: Partial<User32Symbols> = {},
) {
  const display = new FakeDisplay(8, 6);
  const clipboard = openWin32Clipboard({
    libraries: {
      user32: { ...display.user32, ...override } as User32Symbols,
      kernel32: display.kernel32.symbols,
    },
    retryDelayMs: 0,
    ...options,
  });
  return { display, clipboard };
}

/** Nothing of ours left behind: no window, no open clipboard, no block. */
function assertClean(display: FakeDisplay): void {
  assertEquals(display.windows.size, 0, "no window outlives a call");
  assertEquals(display.clipboardOpen, undefined, "the clipboard is closed");
  display.kernel32.assertGlobalsFreed();
  assertEquals(display.kernel32.globalViolations, []);
  assertEquals(display.violations, []);
}

Deno.test("text round-trips as CF_UNICODETEXT with CR LF, owned by the system", async () => {
  const { display, clipboard } = setUp();
  await clipboard.write("héllo ✓ 😀\nline two\r\nthree");
  assertEquals(display.clipboardText(), "héllo ✓ 😀\r\nline two\r\nthree");
  // A message-only STATIC window opened it, and is gone: the data stays.
  assertEquals(
    display.windowHistory.map((w) => [w.className, w.messageOnly]),
    [["STATIC", true]],
  );
  assertEquals(display.clipboardOwner, 0n);
  const [block] = display.kernel32.globals();
  assertEquals([block.moveable, block.owner, block.freed, block.locks], [
    true,
    "system",
    false,
    0,
  ]);
  assertEquals(await clipboard.read(), "héllo ✓ 😀\nline two\nthree");
  assertClean(display);
});

Deno.test("our own text is not news; another app's change is seen by poll() and read", async () => {
  const { display, clipboard } = setUp();
  const capture = openGdiCapture({ libraries: fakeGraphicsLibraries(display) });
  try {
    assertEquals(capture.poll().clipboardChanged, false);
    await clipboard.write("from the browser");
    assertEquals(capture.poll().clipboardChanged, true, "our write bumps it");
    assertEquals(await clipboard.readChange(), undefined, "our own text");
    assertEquals(capture.poll().clipboardChanged, false);

    display.otherAppCopies("from the app\r\nsecond line");
    assertEquals(capture.poll().clipboardChanged, true);
    assertEquals(capture.poll().clipboardChanged, false, "reported once");
    assertEquals(await clipboard.readChange(), "from the app\nsecond line");
    // Our block was freed by the system when the app emptied the clipboard.
    assert(display.kernel32.globals()[0].freed);
  } finally {
    capture.close();
  }
  assertClean(display);
});

Deno.test("no owner window outlives a write: the capture still follows the input desktop", async () => {
  const { display, clipboard } = setUp();
  const capture = openGdiCapture({ libraries: fakeGraphicsLibraries(display) });
  try {
    await clipboard.write("x");
    display.inputDesktop = "Screen-saver";
    capture.poll();
    assertEquals(capture.desktop, "Screen-saver");
  } finally {
    capture.close();
  }
  assertClean(display);
});

Deno.test("an app holding the clipboard is waited out", async () => {
  const { display, clipboard } = setUp();
  display.otherAppHolds = 2;
  await clipboard.write("after two refusals");
  assertEquals(display.openClipboardCalls, 3);
  assertEquals(display.windowHistory.length, 3, "a fresh window per attempt");
  assertEquals(display.clipboardText(), "after two refusals");
  // Refusals without any last error are retried the same way.
  display.otherAppHolds = 2;
  display.openClipboardError = undefined;
  assertEquals(await clipboard.read(), "after two refusals");
  assertEquals(display.openClipboardCalls, 6);
  assertClean(display);
});

Deno.test("a clipboard held throughout: a clear error, our block freed", async () => {
  const { display, clipboard } = setUp({ openAttempts: 4 });
  display.otherAppCopies("theirs");
  display.otherAppOpens();
  const error = await assertRejects(
    () => clipboard.write("mine"),
    ClipboardBusyError,
    /another application holds it \(4 attempts; last: OpenClipboard failed: ERROR_ACCESS_DENIED \(5\)\)/,
  );
  assert(error.cause instanceof Win32Error);
  assertEquals(display.openClipboardCalls, 4);
  await assertRejects(() => clipboard.read(), ClipboardBusyError);
  assertEquals(display.openClipboardCalls, 8);
  display.otherAppCloses();
  assertEquals(await clipboard.read(), "theirs");
  assertClean(display);
});

Deno.test("a refused SetClipboardData: the block is ours and freed, the clipboard closed", async () => {
  const display = new FakeDisplay(4, 4);
  const clipboard = openWin32Clipboard({
    libraries: {
      user32: {
        ...display.user32,
        SetClipboardData: () => {
          display.kernel32.lastError = 8;
          return null;
        },
      },
      kernel32: display.kernel32.symbols,
    },
  });
  await assertRejects(
    () => clipboard.write("refused"),
    Win32Error,
    /SetClipboardData failed: ERROR_NOT_ENOUGH_MEMORY \(8\)/,
  );
  const [block] = display.kernel32.globals();
  assertEquals([block.owner, block.freed], ["app", true]);
  assertClean(display);
});

Deno.test("the fake flags freeing a block the clipboard owns, and a NULL owner", () => {
  const display = new FakeDisplay(4, 4);
  const kernel32 = new Kernel32(display.kernel32.symbols);
  const user32 = new User32(display.user32, kernel32);
  const block = kernel32.globalAlloc(GMEM_MOVEABLE, 2);
  // Documented: without an owner window SetClipboardData fails.
  user32.openClipboard(null);
  user32.emptyClipboard();
  const error = assertThrows(
    () => user32.setClipboardData(CF_UNICODETEXT, block),
    Win32Error,
  ) as Win32Error;
  assertEquals(error.code, ERROR_CLIPBOARD_NOT_OPEN);
  user32.closeClipboard();
  // With one, the system takes the block over; freeing it is a bug.
  const window = user32.createMessageWindow();
  user32.openClipboard(window);
  user32.emptyClipboard();
  user32.setClipboardData(CF_UNICODETEXT, block);
  user32.closeClipboard();
  user32.destroyWindow(window);
  assertThrows(() => kernel32.globalFree(block), Error, /the system owns/);
  assertEquals(display.kernel32.globalViolations.length, 1);
});

Deno.test("a WM_DESTROYCLIPBOARD sent to the owner before it is destroyed is answered", async () => {
  const { display, clipboard } = setUp();
  display.onClipboardClosed = () => {
    display.onClipboardClosed = undefined;
    // Another app empties the clipboard right after our CloseClipboard,
    // and posts to the window for good measure.
    display.otherAppEmpties();
    display.postMessage(display.windowHistory[0].hwnd, 0x0400);
  };
  await clipboard.write("short-lived");
  assertEquals(display.windowHistory[0].received, [WM_DESTROYCLIPBOARD]);
  assertEquals(display.waitingSenders(), [], "the sender was released");
  assertEquals(display.messages, [], "what was posted was dropped");
  // The app left the clipboard empty: read() does not even open it.
  const opened = display.openClipboardCalls;
  assertEquals(await clipboard.read(), undefined);
  assertEquals(display.openClipboardCalls, opened);
  assertClean(display);
});

Deno.test("reading is bounded by GlobalSize when the text has no NUL", async () => {
  const { display, clipboard } = setUp();
  display.otherAppCopies("ignored");
  const block = display.kernel32.allocGlobal(6, {
    moveable: false,
    owner: "system",
    what: "unterminated text",
  });
  new Uint16Array(block.bytes.buffer).set([0x61, 0x62, 0x63]); // "abc", no NUL
  display.clipboardData.set(CF_UNICODETEXT, block.handle);
  assertEquals(await clipboard.read(), "abc");
  assertClean(display);
});

Deno.test("text is cut to MAX_CLIPBOARD both ways; NULs are dropped", async () => {
  const { display, clipboard } = setUp();
  await clipboard.write("a\0b");
  assertEquals(display.clipboardText(), "ab");
  assertEquals(await clipboard.readChange(), undefined, "still our own text");
  await clipboard.write("x".repeat(MAX_CLIPBOARD + 10));
  assertEquals(display.clipboardText()?.length, MAX_CLIPBOARD);
  display.otherAppCopies("y".repeat(MAX_CLIPBOARD + 5));
  assertEquals((await clipboard.readChange())?.length, MAX_CLIPBOARD);
  assertClean(display);
});

Deno.test("a lone surrogate we set is still recognised as ours", async () => {
  const { clipboard } = setUp();
  await clipboard.write("\ud800x");
  assertEquals(await clipboard.read(), "\ufffdx");
  assertEquals(await clipboard.readChange(), undefined);
});

Deno.test("line ends: LF becomes CR LF on the way in and back", () => {
  assertEquals(toWindowsText("a\nb\r\nc\rd\0"), "a\r\nb\r\nc\rd");
  assertEquals(fromWindowsText("a\r\nb\r\nc\rd"), "a\nb\nc\rd");
});

Deno.test("a closed clipboard refuses further calls", async () => {
  const { display, clipboard } = setUp();
  clipboard.close();
  await assertRejects(() => clipboard.write("late"), Error, /closed/);
  await assertRejects(() => clipboard.read(), Error, /closed/);
  assertEquals(display.windowHistory, []);
});

Deno.test("the clipboard data handle is unlocked before the clipboard closes", async () => {
  const { display, clipboard } = setUp();
  await clipboard.write("ours, read back in this process");
  // Our own (moveable) block is what GetClipboardData hands back here.
  assertEquals(await clipboard.read(), "ours, read back in this process");
  assertEquals(display.kernel32.globals()[0].locks, 0);
  assertEquals(display.violations, []);
  assertEquals(
    display.kernel32.global(pointerAt(display.kernel32.globals()[0].handle))
      ?.owner,
    "system",
  );
});
