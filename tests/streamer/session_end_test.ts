/**
 * An orphaned streamer ends its session's processes: every process whose
 * `XAUTHORITY` is the streamer's own (in whatever process group it runs),
 * and nothing else; without `XAUTHORITY` it ends nothing. Real processes;
 * this test process stands in for the streamer (it is spared).
 */
import { endSessionProcesses } from "../../mod/streamer/session_end.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { spawnQuiet } from "../support/command.ts";
import { captureLogs } from "../support/log.ts";
import { waitFor } from "../support/wait.ts";
import { processesWithEnv } from "../../mod/platform/linux/processes.ts";

Deno.test("the session's processes are ended, others are left", async () => {
  const { logger, records } = captureLogs();
  const marker = `/tmp/webstream-test-${crypto.randomUUID()}/Xauthority`;
  const spawn = (value: string) =>
    spawnQuiet("sleep", {
      args: ["300"],
      env: { XAUTHORITY: value },
      detached: true,
    });
  const ours = [spawn(marker), spawn(marker)];
  const theirs = spawn(`${marker}-other`);
  const saved = Deno.env.get("XAUTHORITY");
  try {
    await waitFor(async () =>
      (await processesWithEnv("XAUTHORITY", marker)).length === 2
    );
    Deno.env.set("XAUTHORITY", marker);
    await endSessionProcesses(logger);
    for (const child of ours) {
      assertEquals((await child.status).signal, "SIGTERM");
    }
    assert(records.some((r) => r.msg === "ended the session's processes"));
    const status = await Promise.race([
      theirs.status,
      new Promise((r) => setTimeout(() => r("running"), 100)),
    ]);
    assertEquals(status, "running", "another session's process is left");
  } finally {
    if (saved === undefined) Deno.env.delete("XAUTHORITY");
    else Deno.env.set("XAUTHORITY", saved);
    for (const child of [...ours, theirs]) {
      try {
        Deno.kill(-child.pid, "SIGKILL");
      } catch {
        // Gone.
      }
      await child.status;
    }
  }
});

Deno.test("without XAUTHORITY nothing is ended", async () => {
  const { logger, records } = captureLogs();
  const saved = Deno.env.get("XAUTHORITY");
  Deno.env.delete("XAUTHORITY");
  try {
    await endSessionProcesses(logger);
    assert(
      records.some((r) =>
        r.msg === "no session processes to end here; exiting only"
      ),
    );
  } finally {
    if (saved !== undefined) Deno.env.set("XAUTHORITY", saved);
  }
});
