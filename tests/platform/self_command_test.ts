/**
 * Tests for `mod/platform/self_command.ts` under `deno run` (how the tests
 * themselves run): the command is this Deno with `run --allow-all` on this
 * checkout's `main.ts` and `deno.json`, held to its `deno.lock` (frozen) and
 * to the Deno cache (`--cached-only`); a staged project root can be given
 * instead (its own lock file then), and the command line really starts
 * webstream.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { runCommand } from "../support/command.ts";
import {
  isCompiled,
  lockedOffline,
  selfCommand,
} from "../../mod/platform/self_command.ts";

const CHECKOUT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("isCompiled: false under deno run", () => {
  assertEquals(isCompiled(), false);
});

Deno.test("selfCommand: this Deno running this checkout's main.ts", () => {
  assertEquals(selfCommand(), {
    command: Deno.execPath(),
    prefix: [
      "run",
      "--allow-all",
      "--no-prompt",
      `--lock=${CHECKOUT}/deno.lock`,
      "--frozen",
      "--cached-only",
      `--config=${CHECKOUT}/deno.json`,
      `${CHECKOUT}/main.ts`,
    ],
    compiled: false,
    projectRoot: CHECKOUT,
  });
});

Deno.test("selfCommand: a given project root replaces the checkout", () => {
  const command = selfCommand({ projectRoot: "/srv/webstream-staged" });
  assertEquals(command.projectRoot, "/srv/webstream-staged");
  assertEquals(command.prefix.slice(-5), [
    "--lock=/srv/webstream-staged/deno.lock",
    "--frozen",
    "--cached-only",
    "--config=/srv/webstream-staged/deno.json",
    "/srv/webstream-staged/main.ts",
  ]);
  assertEquals(lockedOffline("/srv/x"), [
    "--lock=/srv/x/deno.lock",
    "--frozen",
    "--cached-only",
  ]);
  assertEquals(command.command, Deno.execPath());
});

Deno.test("selfCommand: the command line starts webstream", async () => {
  const { command, prefix } = selfCommand();
  const out = await runCommand(command, {
    args: [...prefix, "-version"],
    cwd: "/",
  });
  const { version } = JSON.parse(
    await Deno.readTextFile(`${CHECKOUT}/deno.json`),
  );
  assertEquals(out.stdout, `webstream ${version}\n`, out.stderr);
  assertEquals(out.code, 0);
});
