/**
 * Downloads (issue 13) end to end, with real components only: headless
 * Chromium signs in to a real `webstream -gateway`, launches apps on a real
 * `webstream -backend` host (real Xvfb sessions, real pool users as root),
 * and files leave the session for the browser:
 * - a file an app writes into `~/Downloads` in several steps is offered
 *   once it stops growing, and Chromium saves it byte-exact;
 * - `webstream download FILE` run by an app sends a file (exit 0), the page
 *   showing progress, and Chromium saves it byte-exact;
 * - a file over the workspace's `downloadMaxBytes` is refused: the command
 *   exits 1 naming the limit and the page says so;
 * - a workspace without `fileDownload` refuses the command (exit 1, "not
 *   allowed") and offers nothing from its `~/Downloads`;
 * - printing: a job sent with `lp` to a real CUPS with a cups-pdf queue
 *   lands as a PDF in the job owner's `~/PDF` and arrives in Chromium (its
 *   `%PDF` header checked, and the printed text read back with pdftotext);
 *   a workspace without `printing` offers nothing of its jobs.
 *
 * Needs the Debian packages chromium, xvfb, x11-utils and iproute2 (ss);
 * for printing cups, cups-client, printer-driver-cups-pdf and poppler-utils
 * (the printing steps are skipped without them).
 *
 * @module
 */
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  hasChromium,
  launchBrowser,
  type Page,
  type TestBrowser,
} from "../support/browser.ts";
import {
  AdminClient,
  launchHost,
  resolveSession,
  signIn,
  startGateway,
  staysOpen,
  Teardown,
  writeGatewayConfig,
} from "../support/gateway.ts";
import { findStreamer } from "../support/proc.ts";
import { runCommand } from "../support/command.ts";
import { hasCupsPdf, startCups, type TestCups } from "../support/cups.ts";
import { waitFor } from "../support/wait.ts";

const OPTIONS = {
  // The session belongs to a pool user: reading its files needs root.
  ignore: !hasChromium() || Deno.uid() !== 0,
  sanitizeOps: false,
  sanitizeResources: false,
};

/** The cap of the workspaces that allow downloads. */
const CAP = 3_000_000;

/** What the test needs to know about a session. */
interface SessionEnv {
  home: string;
  denoDir: string;
  /** The streamer's command line up to `streamer`: starts webstream. */
  webstream: string[];
}

function app(
  id: string,
  command: string,
  user: string,
  allowed: boolean,
): Record<string, unknown> {
  return {
    id,
    name: id,
    kind: "app",
    command: { linux: command },
    resources: {
      fileDownload: allowed,
      printing: allowed,
      downloadMaxBytes: CAP,
      clipboard: true,
    },
    users: [user],
  };
}

function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

function read<T>(page: Page, expression: string): Promise<T> {
  return page.evaluate(expression) as Promise<T>;
}

async function waitPage(page: Page, expression: string, what: string) {
  return await waitFor(() => read(page, expression), {
    what,
    timeoutMs: 60_000,
  });
}

async function portal(
  browser: TestBrowser,
  url: string,
  user: string,
): Promise<Page> {
  const page = await browser.newPage({ width: 800, height: 600 });
  await page.goto(`${url}/`);
  await page.locator("#signin").waitFor();
  await page.locator("input[name=user]").fill(user);
  await page.locator("input[name=password]").fill("Test-Passw0rd!");
  await page.locator("#signin button[type=submit]").click();
  await page.locator("#workspace-list button").first().waitFor();
  return page;
}

async function launchFromPortal(page: Page, workspaceId: string) {
  await page.locator(`#workspace-list button[data-workspace=${workspaceId}]`)
    .click();
  await waitPage(
    page,
    "window.webstream?.session?.status === 'connected' && " +
      "!!webstream.session.hello && " +
      "document.querySelector('.ws-overlay').hidden",
    `the ${workspaceId} session view to connect`,
  );
  // Every message the page shows, as it shows it (progress included).
  await page.evaluate(`(() => {
    window.toastLog = [];
    const toasts = document.querySelector('.ws-toasts');
    new MutationObserver(() => {
      for (const t of toasts.querySelectorAll('.ws-toast')) {
        if (window.toastLog.at(-1) !== t.textContent) {
          window.toastLog.push(t.textContent);
        }
      }
    }).observe(toasts, { subtree: true, childList: true, characterData: true });
  })()`);
}

async function sessionEnv(
  gatewayUrl: string,
  sessionId: string,
): Promise<SessionEnv> {
  const resolved = await resolveSession(gatewayUrl, sessionId);
  assertEquals(resolved.status, 200, resolved.body);
  const streamer = await findStreamer(JSON.parse(resolved.body).Port);
  assert(streamer, "a streamer serves the session");
  const environ = Object.fromEntries(
    (await Deno.readTextFile(`/proc/${streamer.pid}/environ`)).split("\0")
      .filter(Boolean).map((entry) => {
        const at = entry.indexOf("=");
        return [entry.slice(0, at), entry.slice(at + 1)];
      }),
  );
  return {
    home: environ.HOME,
    denoDir: environ.DENO_DIR,
    webstream: streamer.argv.slice(0, streamer.argv.indexOf("streamer")),
  };
}

/** A shell line running `webstream download FILE` as the streamer does. */
function downloadLine(env: SessionEnv, file: string, tag: string): string {
  const command = [...env.webstream, "download", file].map(shellQuote)
    .join(" ");
  return `DENO_DIR=${shellQuote(env.denoDir)} DENO_NO_UPDATE_CHECK=1 ` +
    `${command} > "$HOME/${tag}.out" 2> "$HOME/${tag}.err"; ` +
    `echo $? > "$HOME/${tag}.code"\n`;
}

async function readTextOrEmpty(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return "";
  }
}

/** The command's exit code, stdout and stderr, once it ended. */
async function commandResult(env: SessionEnv, tag: string) {
  const code = await waitFor(
    async () => (await readTextOrEmpty(`${env.home}/${tag}.code`)).trim(),
    { what: `webstream download (${tag}) to end`, timeoutMs: 60_000 },
  );
  return {
    code: Number(code),
    out: (await readTextOrEmpty(`${env.home}/${tag}.out`)).trim(),
    err: (await readTextOrEmpty(`${env.home}/${tag}.err`)).trim(),
  };
}

/** Saves Chromium's download and checks it is `expected`, byte for byte. */
async function assertSaved(
  download: { suggestedFilename(): string; saveAs(p: string): Promise<void> },
  name: string,
  expected: Uint8Array,
  dir: string,
): Promise<void> {
  assertEquals(download.suggestedFilename(), name);
  const saved = `${dir}/saved-${name}`;
  await download.saveAs(saved);
  const bytes = await Deno.readFile(saved);
  assertEquals(bytes.length, expected.length, `${name}: length`);
  assert(bytes.every((b, i) => b === expected[i]), `${name}: the same bytes`);
}

Deno.test("downloads from a real session to Chromium", OPTIONS, async (t) => {
  const teardown = new Teardown();
  try {
    const dir = await Deno.makeTempDir({ prefix: "webstream-download-" });
    teardown.defer(() => Deno.remove(dir, { recursive: true }));
    await Deno.chmod(dir, 0o755);
    const script = (name: string) => `${dir}/${name}.sh`;
    const printing = hasCupsPdf();
    let cups: TestCups | undefined;
    if (printing) {
      cups = await startCups();
      teardown.defer(() => cups!.stop());
    }
    /** A shell line printing `$HOME/doc.txt` on the cups-pdf queue. */
    const lpLine = (title: string) =>
      cups
        ? `CUPS_SERVER=${shellQuote(cups.socket)} lp -t ${
          shellQuote(title)
        } "$HOME/doc.txt" > "$HOME/lp.out" 2>&1\n`
        : "";
    const config = await writeGatewayConfig({
      users: ["alice", "bob"],
      workspaces: [
        app("idle", staysOpen("xsetroot -solid grey"), "alice", true),
        app("folder", staysOpen(`/bin/sh ${script("folder")}`), "alice", true),
        app("send", staysOpen(`/bin/sh ${script("send")}`), "alice", true),
        app("huge", staysOpen(`/bin/sh ${script("huge")}`), "alice", true),
        app("print", staysOpen(`/bin/sh ${script("print")}`), "alice", true),
        app("locked", staysOpen(`/bin/sh ${script("locked")}`), "bob", false),
      ],
    });
    teardown.defer(() => config.remove());
    const gateway = await startGateway(config);
    teardown.defer(() => gateway.stop());
    const host = await launchHost(teardown, gateway.url, {
      slots: 2,
      settings: { warmSessionCount: 1 },
    });
    await new AdminClient(gateway.url).waitForHealthy([host]);
    const step = async (name: string, fn: () => Promise<void>) => {
      if (!await t.step(name, fn)) {
        console.error(
          `host log after "${name}":\n` +
            host.process.logs.slice(-40).map((r) => JSON.stringify(r))
              .join("\n"),
        );
      }
    };
    const browser = await launchBrowser();
    teardown.defer(() => browser.close());

    const page = await portal(browser, gateway.url, "alice");
    const errors: string[] = [];
    page.on("pageerror", (error: unknown) => errors.push(String(error)));
    await launchFromPortal(page, "idle");
    assertEquals(await read(page, "webstream.session.hello.download"), true);
    const alice = await signIn(gateway.url, "alice");
    const [{ sessionId }] = await (await alice.fetch("/api/sessions")).json();
    const env = await sessionEnv(gateway.url, sessionId);

    await step(
      "a file written into ~/Downloads arrives byte-exact",
      async () => {
        // Three appends 0.3 s apart: offered only once it stopped growing.
        await Deno.writeTextFile(
          script("folder"),
          `for i in 1 2 3; do head -c 400000 /dev/urandom >> "$HOME/Downloads/folder.bin"; sleep 0.3; done\n`,
        );
        const saved = page.waitForEvent("download", { timeout: 60_000 });
        await alice.launchOk("folder");
        const download = await saved;
        const expected = await Deno.readFile(
          `${env.home}/Downloads/folder.bin`,
        );
        assertEquals(expected.length, 1_200_000);
        await assertSaved(download, "folder.bin", expected, dir);
        const seen = await read<{ name: string; size: number }[]>(
          page,
          "webstream.session.downloads.map(d => ({ name: d.name, size: d.size, state: d.state }))",
        );
        assertEquals(seen, [{
          name: "folder.bin",
          size: 1_200_000,
          state: "done",
        }]);
      },
    );

    await step("webstream download sends a file, with progress", async () => {
      await Deno.writeTextFile(
        script("send"),
        `head -c 2500000 /dev/urandom > "$HOME/report.bin"\n` +
          downloadLine(env, `${env.home}/report.bin`, "send"),
      );
      const saved = page.waitForEvent("download", { timeout: 60_000 });
      await alice.launchOk("send");
      const download = await saved;
      const result = await commandResult(env, "send");
      assertEquals(result, {
        code: 0,
        out: "sent report.bin (2500000 bytes)",
        err: "",
      });
      await assertSaved(
        download,
        "report.bin",
        await Deno.readFile(`${env.home}/report.bin`),
        dir,
      );
      const log = await read<string[]>(page, "window.toastLog");
      assert(
        log.some((text) => /^Downloading report\.bin: \d+ %$/.test(text)),
        `progress shown: ${JSON.stringify(log)}`,
      );
      assert(
        log.includes("Downloaded report.bin (2500000 bytes)"),
        JSON.stringify(log),
      );
    });

    await step("a file over the cap is refused with a message", async () => {
      await Deno.writeTextFile(
        script("huge"),
        `head -c ${CAP + 1} /dev/zero > "$HOME/huge.bin"\n` +
          downloadLine(env, `${env.home}/huge.bin`, "huge"),
      );
      await alice.launchOk("huge");
      const result = await commandResult(env, "huge");
      assertEquals(result.code, 1, JSON.stringify(result));
      assertMatch(
        result.err,
        /huge\.bin is 3000001 bytes, more than this session's download limit of 3000000 bytes/,
      );
      await waitPage(
        page,
        "window.toastLog.some(t => t.startsWith('Download refused: huge.bin is 3000001 bytes'))",
        "the page to say the download was refused",
      );
      assertEquals(
        await read(page, "webstream.session.downloads.length"),
        2,
        "nothing of it was offered",
      );
    });

    await t.step({
      name: "a job sent with lp arrives in the browser as a PDF",
      ignore: !printing,
      fn: async () => {
        await Deno.writeTextFile(
          script("print"),
          // PostScript as apps print it, in a standard font, so the PDF
          // keeps the text (texttopdf's own font subset loses its mapping).
          `printf '%%!PS\\n/Helvetica findfont 24 scalefont setfont\\n` +
            `72 700 moveto (Quarterly report 2026) show showpage\\n' > "$HOME/doc.txt"\n` +
            lpLine("quarterly"),
        );
        const saved = page.waitForEvent("download", { timeout: 60_000 });
        await alice.launchOk("print");
        let download;
        try {
          download = await saved;
        } catch (error) {
          throw new Error(
            `${error}; lp said: ${await readTextOrEmpty(
              `${env.home}/lp.out`,
            )}; cupsd: ${(await cups!.log()).slice(-2000)}`,
          );
        }
        const name: string = download.suggestedFilename();
        assertMatch(name, /\.pdf$/);
        const path = `${dir}/printed.pdf`;
        await download.saveAs(path);
        const bytes = await Deno.readFile(path);
        assertEquals(new TextDecoder().decode(bytes.subarray(0, 5)), "%PDF-");
        // The same bytes as cups-pdf wrote into the user's ~/PDF.
        const original = await Deno.readFile(`${env.home}/PDF/${name}`);
        assertEquals(bytes.length, original.length);
        assert(bytes.every((b, i) => b === original[i]), "the same bytes");
        const text = await runCommand("pdftotext", { args: [path, "-"] });
        assert(text.ok, text.stderr);
        assertMatch(text.stdout, /Quarterly report 2026/);
        const kinds = await read<string[]>(
          page,
          "webstream.session.downloads.map(d => d.kind)",
        );
        assertEquals(kinds.at(-1), "print");
        const log = await read<string[]>(page, "window.toastLog");
        assert(
          log.some((t) => t.startsWith(`Print job ${name}`)),
          JSON.stringify(log),
        );
      },
    });

    await step(
      "a session without fileDownload refuses and offers nothing",
      async () => {
        // The app waits for the test's word, so a viewer is there when it asks.
        // The host runs every session's streamer alike: alice's command line
        // and Deno cache serve for bob's session too.
        await Deno.writeTextFile(
          script("locked"),
          `cd "$HOME"; while [ ! -e "$HOME/go" ]; do sleep 0.1; done\n` +
            `head -c 1000 /dev/urandom > "$HOME/Downloads/secret.bin"\n` +
            downloadLine(env, "Downloads/secret.bin", "locked") +
            `printf 'not for the browser\\n' > "$HOME/doc.txt"\n` +
            lpLine("locked"),
        );
        const bobPage = await portal(browser, gateway.url, "bob");
        await launchFromPortal(bobPage, "locked");
        assertEquals(
          await read(bobPage, "webstream.session.hello.download"),
          false,
        );
        const bob = await signIn(gateway.url, "bob");
        const [{ sessionId: bobSession }] =
          await (await bob.fetch("/api/sessions")).json();
        const bobEnv = await sessionEnv(gateway.url, bobSession);
        assert(bobEnv.home !== env.home, "bob has a session of his own");
        await Deno.writeTextFile(`${bobEnv.home}/go`, "");
        const result = await commandResult(bobEnv, "locked");
        assertEquals(result, {
          code: 1,
          out: "",
          err:
            "webstream download: file download is not allowed in this session",
        });
        if (printing) {
          // The print job lands in bob's ~/PDF, and goes no further.
          await waitFor(async () => {
            try {
              for await (const entry of Deno.readDir(`${bobEnv.home}/PDF`)) {
                if (entry.name.endsWith(".pdf")) return true;
              }
            } catch {
              // Not made yet.
            }
            return false;
          }, { what: "bob's print job in his ~/PDF", timeoutMs: 60_000 });
        }
        // The folders' files settle within a second; give them three.
        await new Promise((r) => setTimeout(r, 3000));
        assertEquals(
          await read(bobPage, "webstream.session.downloads.length"),
          0,
        );
        assertEquals(
          await read(page, "webstream.session.downloads.length"),
          printing ? 3 : 2,
          "nothing of bob's reaches alice's page",
        );
        await bobPage.context().close();
      },
    );

    assertEquals(errors, []);
    await page.context().close();
  } finally {
    await teardown.run();
  }
});
