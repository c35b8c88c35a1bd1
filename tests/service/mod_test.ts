/**
 * The service commands as a real process on Linux (`deno run main.ts …`):
 * each exits 1 with its Windows-only message, and a missing role is a
 * usage error.
 *
 * @module
 */
import * as service from "../../mod/service/mod.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { runCommand } from "../support/command.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

async function webstream(args: string[]) {
  return await runCommand(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", MAIN, ...args],
    env: { NO_COLOR: "1" },
  });
}

Deno.test("the module exports the three commands", () => {
  assertEquals(typeof service.installService, "function");
  assertEquals(typeof service.uninstallService, "function");
  assertEquals(typeof service.runService, "function");
});

Deno.test("webstream install-service -backend on Linux exits 1 with the Windows-only message", async () => {
  const run = await webstream(["install-service", "-backend", "-tags", "gpu"]);
  assertEquals(run.code, 1);
  assertMatch(
    run.stderr,
    /^webstream install-service is for Windows; on Linux use a systemd unit \(ExecStart=\/usr\/local\/bin\/webstream -backend -tags gpu, Restart=on-failure, KillMode=process\)\.\n$/,
  );
  assertEquals(run.stdout, "");
});

Deno.test("webstream uninstall-service and run-service on Linux exit 1 saying so", async () => {
  const uninstall = await webstream(["uninstall-service"]);
  assertEquals(uninstall.code, 1);
  assertMatch(uninstall.stderr, /uninstall-service is for Windows/);
  const run = await webstream(["run-service", "--sm"]);
  assertEquals(run.code, 1);
  assertMatch(
    run.stderr,
    /run-service is what the Windows service control manager runs/,
  );
});

Deno.test("webstream install-service without a role is a usage error", async () => {
  const run = await webstream(["install-service"]);
  assertEquals(run.code, 2);
  assert(
    run.stderr.includes(
      "install-service needs a role: -backend, -sm or -gateway",
    ),
  );
});
