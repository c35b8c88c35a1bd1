/**
 * The admin page (`admin.html` + `admin.js`) in real headless Chromium
 * against a real gateway on loopback (its store a real SQLite file): an
 * administrator signed in on the portal opens `/admin`, sees the tables,
 * and signs a user out everywhere with the page's form: every cookie of that
 * user is refused from then on, other users' are not, and the page says so;
 * an unknown name gets the gateway's error on the page.
 *
 * @module
 */
import { startGateway } from "../../mod/gateway/mod.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";
import { hasChromium, launchBrowser } from "../support/browser.ts";
import { withTempDir } from "../support/fs.ts";
import {
  gatewayConfig,
  quietLogger,
  signIn,
  userEntry,
} from "../support/gateway_parts.ts";
import { freePort } from "../support/ports.ts";
import { waitFor } from "../support/wait.ts";

const HTTPDOCS = new URL("../../httpdocs/", import.meta.url).pathname;

Deno.test({
  name: "the admin page signs a user out everywhere",
  ignore: !hasChromium(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (dir) => {
      const gateway = await startGateway(
        gatewayConfig({
          port: freePort(),
          listenAddress: "127.0.0.1",
          insecureHttp: true,
          storePath: `${dir}/gateway.sqlite`,
          auth: {
            users: [
              await userEntry("alice", "alice-password", { admin: true }),
              await userEntry("bob", "bob-password"),
              await userEntry("carol", "carol-password"),
            ],
          },
        }),
        { logger: quietLogger, staticRoot: HTTPDOCS },
      );
      const base = `http://127.0.0.1:${gateway.port}`;
      const me = async (cookie: string) => {
        const response = await fetch(`${base}/api/me`, {
          headers: { Cookie: cookie },
        });
        await response.body?.cancel();
        return response.status;
      };
      const browser = await launchBrowser();
      try {
        const bob = [
          await signIn(base, "bob", "bob-password"),
          await signIn(base, "bob", "bob-password"),
        ];
        const carol = await signIn(base, "carol", "carol-password");

        const page = await browser.newPage({ width: 1200, height: 900 });
        await page.goto(`${base}/`);
        await page.locator("#signin").waitFor();
        await page.locator("input[name=user]").fill("alice");
        await page.locator("input[name=password]").fill("alice-password");
        await page.locator("#signin button[type=submit]").click();
        // Signed in: the portal hides its form.
        await page.locator("#signin").waitFor({ state: "hidden" });
        await page.goto(`${base}/admin`);
        await waitFor(
          async () =>
            /0 hosts, 0 live sessions/.test(
              await page.locator("#status").innerText(),
            ),
          { what: "the admin page to load as alice" },
        );

        const form = page.locator("#signout-user");
        const result = page.locator("#signout-result");
        await form.locator("input[name=user]").fill("mallory");
        await form.locator("button[type=submit]").click();
        await waitFor(async () => (await result.innerText()) !== "", {
          what: "the answer for an unknown user",
        });
        assertEquals(
          await result.innerText(),
          'no user "mallory" in gateway.auth.users',
        );
        assertEquals(await result.getAttribute("class"), "error");

        await form.locator("input[name=user]").fill("bob");
        await form.locator("button[type=submit]").click();
        await waitFor(
          async () => /bob/.test(await result.innerText()),
          { what: "the page to confirm bob's sign-out" },
        );
        assertMatch(await result.innerText(), /^bob is signed out everywhere$/);
        // Every sign-in of bob is refused; carol's and alice's stand.
        for (const cookie of bob) assertEquals(await me(cookie), 401);
        assertEquals(await me(carol), 200);
        const status = await page.evaluate(async () =>
          (await fetch("/admin/api/hosts")).status
        );
        assertEquals(status, 200);
        await page.context().close();
      } finally {
        await browser.close();
        await gateway.stop();
      }
    });
  },
});
