/**
 * The keyboard end to end with real components: a real Xvfb, a real xterm
 * running `cat` into a file, a real `webstream streamer` process and the
 * real web client in headless Chromium. Chromium gets the key events a
 * browser on a German or a French layout gets from the OS (through CDP
 * `Input.dispatchKeyEvent`: dead keys, AltGr as Linux and as Windows report
 * it, letters the session's US layout has elsewhere), and an input method's
 * composition (`Input.imeSetComposition` then `Input.insertText`); the
 * file the xterm's `cat` writes holds exactly the characters the user
 * produced.
 *
 * Needs the Debian packages chromium, xvfb and xterm.
 *
 * @module
 */
import { stopProcessGroup } from "../../mod/platform/linux/processes.ts";
import { assertEquals } from "../support/assert.ts";
import { hasChromium, launchBrowser, type Page } from "../support/browser.ts";
import { startStreamerPage } from "../support/streamer_page.ts";
import { waitFor } from "../support/wait.ts";
import { withXvfb } from "../support/x11_draw.ts";

const OPTIONS = {
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
};

const SCREEN = { width: 800, height: 600 };

/** CDP modifier bits of `Input.dispatchKeyEvent`. */
const ALT = 1;
const CTRL = 2;

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

/** One key as the OS hands it to Chromium: its `key`, `code`, text. */
interface OsKey {
  key: string;
  code: string;
  /** The character the key types (absent for modifiers and dead keys). */
  text?: string;
  /** CDP modifier bits held. */
  modifiers?: number;
}

/** Sends key events to the page as the OS would, through CDP. */
class OsKeyboard {
  // deno-lint-ignore no-explicit-any
  constructor(readonly cdp: any) {}

  async down(k: OsKey): Promise<void> {
    await this.cdp.send("Input.dispatchKeyEvent", {
      type: k.text ? "keyDown" : "rawKeyDown",
      key: k.key,
      code: k.code,
      text: k.text,
      unmodifiedText: k.text,
      modifiers: k.modifiers ?? 0,
    });
  }

  async up(k: OsKey): Promise<void> {
    await this.cdp.send("Input.dispatchKeyEvent", {
      type: "keyUp",
      key: k.key,
      code: k.code,
      modifiers: k.modifiers ?? 0,
    });
  }

  async press(k: OsKey): Promise<void> {
    await this.down(k);
    await this.up(k);
  }

  /** A dead key, then the key it composes with, typing `composed`. */
  async dead(deadCode: string, code: string, composed: string) {
    await this.press({ key: "Dead", code: deadCode });
    await this.press({ key: composed, code, text: composed });
  }

  /** AltGr + `code` typing `character`, as Chromium on Linux reports it. */
  async altGr(code: string, character: string) {
    const altGr = { key: "AltGraph", code: "AltRight" };
    await this.down(altGr);
    await this.press({ key: character, code, text: character });
    await this.up(altGr);
  }

  /** The same as Chromium on Windows reports it: Ctrl+Alt, then the key. */
  async windowsAltGr(code: string, character: string) {
    const ctrl = { key: "Control", code: "ControlLeft", modifiers: CTRL };
    const altGr = {
      key: "AltGraph",
      code: "AltRight",
      modifiers: CTRL | ALT,
    };
    await this.down(ctrl);
    await this.down(altGr);
    await this.press({
      key: character,
      code,
      text: character,
      modifiers: CTRL | ALT,
    });
    await this.up(altGr);
    await this.up(ctrl);
  }

  async enter() {
    await this.press({ key: "Enter", code: "Enter", text: "\r" });
  }
}

Deno.test(
  "German and French layouts, dead keys, AltGr and IME type the right characters",
  OPTIONS,
  async () => {
    await withXvfb({ ...SCREEN }, async (screen) => {
      const dir = await Deno.makeTempDir({ prefix: "webstream-keys-" });
      const file = `${dir}/typed.txt`;
      const xterm = new Deno.Command("xterm", {
        args: ["-geometry", "60x10+0+0", "-e", "sh", "-c", `cat > '${file}'`],
        env: { ...screen.env, LANG: "C.UTF-8", LC_ALL: "C.UTF-8" },
        detached: true,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const streamer = await startStreamerPage({ env: screen.env });
      const browser = await launchBrowser();
      try {
        const page = await browser.newPage(SCREEN);
        await page.goto(streamer.url);
        await waitFor(
          () => read<number>(page, "webstream.session?.framesDrawn ?? 0"),
          { what: "a first frame", timeoutMs: 30_000 },
        );
        await waitFor(() => Deno.stat(file).then(() => true, () => false), {
          what: "cat to start",
          timeoutMs: 30_000,
        });
        // No window manager: the focus follows the pointer into the xterm.
        await page.mouse.click(100, 60);
        const cdp = await page.context().newCDPSession(page);
        const keys = new OsKeyboard(cdp);

        // German (QWERTZ): ^ is a dead key at Backquote, ´ at Equal; AltGr+q
        // is @, AltGr+e is €; z is where US has y.
        await keys.dead("Backquote", "KeyE", "ê");
        await keys.dead("Equal", "KeyA", "á");
        await keys.altGr("KeyQ", "@");
        await keys.altGr("KeyE", "€");
        await keys.press({ key: "z", code: "KeyY", text: "z" });
        await keys.windowsAltGr("KeyQ", "@");
        await keys.enter();

        // French (AZERTY): ^ is a dead key at BracketLeft; AltGr+0 is @;
        // a is where US has q; 2 without Shift is é.
        await keys.dead("BracketLeft", "KeyE", "ê");
        await keys.altGr("Digit0", "@");
        await keys.press({ key: "a", code: "KeyQ", text: "a" });
        await keys.press({ key: "é", code: "Digit2", text: "é" });
        await keys.windowsAltGr("Digit0", "@");
        await keys.enter();

        // An input method composes, then commits.
        await cdp.send("Input.imeSetComposition", {
          text: "にほん",
          selectionStart: 3,
          selectionEnd: 3,
        });
        await cdp.send("Input.insertText", { text: "日本" });
        await keys.enter();

        const text = await waitFor(async () => {
          const text = await Deno.readTextFile(file);
          return text.split("\n").length > 3 ? text : undefined;
        }, { what: "three typed lines", timeoutMs: 30_000 }).catch(() =>
          Deno.readTextFile(file)
        );
        assertEquals(text, "êá@€z@\nê@aé@\n日本\n");
        await cdp.detach();
      } finally {
        await browser.close();
        await streamer.stop();
        await stopProcessGroup(xterm, { graceMs: 2_000 });
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
);
