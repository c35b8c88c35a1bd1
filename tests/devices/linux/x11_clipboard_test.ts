/**
 * The X clipboard through real xclip on a real Xvfb: text set is readable by
 * other clients; our own text is not reported back as a change; another
 * client's text is; close() ends our xclip owner.
 *
 * @module
 */
import { X11Clipboard } from "../../../mod/devices/linux/x11_clipboard.ts";
import { assertEquals } from "../../support/assert.ts";
import { waitFor } from "../../support/wait.ts";
import { withXvfb } from "../../support/x11_draw.ts";

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
