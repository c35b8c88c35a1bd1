/**
 * The X clipboard through real xclip on a real Xvfb: text set is readable by
 * other clients; our own text is not reported back as a change; another
 * client's text is; close() ends our xclip owner. Images: a PNG set is
 * offered as `image/png` and read back byte-exact by another client; our
 * own image is not news; an app's image is, and an app's text still comes
 * as text; an image over the size bound is not read.
 *
 * @module
 */
// The project's import map has no entry for test-only packages.
import { encode } from "fast-png";
import {
  carriesImages,
  MAX_CLIPBOARD_IMAGE,
} from "../../../mod/devices/clipboard.ts";
import { X11Clipboard } from "../../../mod/devices/linux/x11_clipboard.ts";
import { assert, assertEquals } from "../../support/assert.ts";
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

/** An app in the session owning the clipboard with `data` as `target`. */
async function appOwns(
  env: Record<string, string>,
  target: string,
  data: Uint8Array,
): Promise<Deno.ChildProcess> {
  const child = new Deno.Command("xclip", {
    args: ["-selection", "clipboard", "-target", target, "-in", "-quiet"],
    env,
    stdin: "piped",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(data);
  await writer.close();
  return child;
}

async function stopApp(child: Deno.ChildProcess | undefined): Promise<void> {
  if (!child) return;
  try {
    child.kill("SIGTERM");
  } catch {
    // Ended when it lost the selection.
  }
  await child.status;
}

/** A small PNG with distinct pixels. */
function testPng(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data.set([(i * 7) & 0xff, (i * 13) & 0xff, (i * 29) & 0xff, 255], i * 4);
  }
  return encode({ width, height, data, channels: 4, depth: 8 });
}

Deno.test({
  name: "clipboard images both ways through xclip",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await withXvfb({ width: 640, height: 480 }, async (screen) => {
      const saved = Deno.env.get("DISPLAY");
      Deno.env.set("DISPLAY", screen.display);
      const clipboard = new X11Clipboard();
      assert(carriesImages(clipboard));
      let app: Deno.ChildProcess | undefined;
      try {
        const png = testPng(31, 17);
        await clipboard.writeImage(png);
        // Another client asks for image/png and gets the same bytes.
        const read = async () =>
          (await new Deno.Command("xclip", {
            args: ["-selection", "clipboard", "-o", "-t", "image/png"],
            env: screen.env,
            stderr: "null",
          }).output()).stdout;
        const got = await waitFor(async () => {
          const bytes = await read();
          return bytes.length ? bytes : undefined;
        }, { what: "another client to read our image" });
        assertEquals(got, png);
        assert((await clipboard.targets()).includes("image/png"));
        assertEquals(await clipboard.readContentChange(), undefined, "ours");

        // An app copies an image: it is news, byte-exact.
        const appPng = testPng(8, 9);
        app = await appOwns(screen.env, "image/png", appPng);
        const change = await waitFor(
          () => clipboard.readContentChange(),
          { what: "the app's image" },
        );
        assertEquals(change, { kind: "image", png: appPng });
        await stopApp(app);

        // An app copies text: it comes as text.
        app = await appOwns(
          screen.env,
          "UTF8_STRING",
          new TextEncoder().encode("text ✓"),
        );
        assertEquals(
          await waitFor(() => clipboard.readContentChange(), {
            what: "the app's text",
          }),
          { kind: "text", text: "text ✓" },
        );
        await stopApp(app);

        // An image over the bound is not read (nor held whole).
        const huge = new Uint8Array(MAX_CLIPBOARD_IMAGE + 1);
        huge.set(png);
        app = await appOwns(screen.env, "image/png", huge);
        await waitFor(
          async () => (await clipboard.targets()).includes("image/png"),
          { what: "the app's large image" },
        );
        assertEquals(await clipboard.readImage(), undefined);
        assertEquals(await clipboard.readContentChange(), undefined);
        // Nor can the browser set one.
        let refused: unknown;
        await clipboard.writeImage(huge).catch((e) => refused = e);
        assert(refused instanceof RangeError, `${refused}`);
      } finally {
        clipboard.close();
        await stopApp(app);
        if (saved === undefined) Deno.env.delete("DISPLAY");
        else Deno.env.set("DISPLAY", saved);
      }
    });
  },
});
