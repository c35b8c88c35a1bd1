/**
 * Tests for `mod/platform/self_command.ts` under `deno run` (how the tests
 * themselves run): the command is this Deno with `run --allow-all` on this
 * checkout's `main.ts` and `deno.json`, a staged project root can be given
 * instead, and the command line really starts webstream.
 *
 * @module
 */
import { assertEquals } from "../support/assert.ts";
import { runCommand } from "../support/command.ts";
import { isCompiled, selfCommand } from "../../mod/platform/self_command.ts";

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
      "--no-lock",
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
  assertEquals(command.prefix.slice(-2), [
    "--config=/srv/webstream-staged/deno.json",
    "/srv/webstream-staged/main.ts",
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
