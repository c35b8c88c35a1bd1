/**
 * The X clipboard through real xclip on a real Xvfb: text set is readable by
 * other clients; our own text is not reported back as a change; another
 * client's text is; close() ends our xclip owner. And the streamer's
 * factory picks the X11 clipboard on Linux, the Win32 one on Windows.
 *
 * @module
 */
import {
  openSessionClipboard,
  X11Clipboard,
} from "../../mod/streamer/clipboard.ts";
import { Win32Clipboard } from "../../mod/platform/windows/win32_clipboard.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { FakeDisplay } from "../support/windows/fake_user32.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

async function xclipOut(env: Record<string, string>): Promise<string> {
  const out = await new Deno.Command("xclip", {
    args: ["-selection", "clipboard", "-out"],
    env,
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test({
  name: "clipboard text both ways through xclip",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withXvfb({ width: 640, height: 480 }, async (screen) => {
      const saved = Deno.env.get("DISPLAY");
      Deno.env.set("DISPLAY", screen.display);
      const clipboard = new X11Clipboard();
      let other: Deno.ChildProcess | undefined;
      try {
        await clipboard.write("from the browser ✓");
        await waitFor(
          async () => (await xclipOut(screen.env)) === "from the browser ✓",
          { what: "another client to read our text" },
        );
        assertEquals(await clipboard.readChange(), undefined, "our own text");
        // Another client (an app in the session) takes the clipboard.
        other = new Deno.Command("xclip", {
          args: ["-selection", "clipboard", "-in", "-quiet"],
          env: screen.env,
          stdin: "piped",
          stdout: "null",
          stderr: "null",
        }).spawn();
        const writer = other.stdin.getWriter();
        await writer.write(new TextEncoder().encode("from the app"));
        await writer.close();
        await waitFor(async () => (await clipboard.read()) === "from the app", {
          what: "the app's text",
        });
        assertEquals(await clipboard.readChange(), "from the app");
      } finally {
        clipboard.close();
        if (other) {
          try {
            other.kill("SIGTERM");
          } catch {
            // Ended when it lost the selection.
          }
          await other.status;
        }
        if (saved === undefined) Deno.env.delete("DISPLAY");
        else Deno.env.set("DISPLAY", saved);
      }
    });
  },
});

Deno.test("the streamer's clipboard is X11's on Linux and Win32's on Windows", async () => {
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
    libraries: {
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
