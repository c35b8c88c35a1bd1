/**
 * SIGHUP (the terminal of `deno task start` closed) shuts a role down as
 * SIGTERM does. A real `webstream -sm` (the current-user pool, on loopback)
 * hung up exits 0 with its "shutting down" line naming SIGHUP; a second
 * hang-up during the shutdown does not cut it short; and the Xvfb it
 * started, found among its descendants by PID, is gone. A real
 * `webstream -gateway` hung up exits 0 the same way. A `webstream -backend`
 * sent SIGTERM while it starts (its HTTP port open, its pool not yet
 * started) finishes starting, then shuts down cleanly: exit 0, and nothing
 * of its warm session runs on.
 */
import { assert, assertEquals } from "../support/assert.ts";
import { writeTestConfig } from "../support/config.ts";
import { startGateway, writeGatewayConfig } from "../support/gateway.ts";
import {
  descendants,
  liveProcesses,
  type ProcInfo,
  stillRunning,
} from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";
import {
  type LogRecord,
  startWebstream,
} from "../support/webstream_process.ts";

/** Ends what a role left behind, by PID (nothing, when it shut down well). */
async function killLeftovers(processes: ProcInfo[]): Promise<void> {
  for (const { pid, argv } of processes) {
    if (await stillRunning(pid, argv)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
  }
}

Deno.test({
  name: "-sm: SIGHUP shuts down cleanly and its Xvfb is gone",
  ignore: Deno.build.os !== "linux",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cfg = await writeTestConfig({
      slots: 1,
      settings: { poolAccounts: "current" },
    });
    const sm = startWebstream(["-sm", "-config", cfg.path]);
    let started: ProcInfo[] = [];
    try {
      // The warm session's display and streamer, by PID.
      const isXvfb = (p: ProcInfo) => p.argv[0]?.split("/").pop() === "Xvfb";
      started = await waitFor(async () => {
        const found = await descendants(sm.pid);
        return found.some(isXvfb) &&
            found.some((p) => p.argv.includes("streamer"))
          ? found
          : undefined;
      }, { what: "the session's Xvfb and streamer" });
      const xvfb = started.filter(isXvfb);
      assertEquals(xvfb.length, 1, JSON.stringify(started));
      const health = `http://127.0.0.1:${cfg.base + 1}/health`;
      await waitFor(
        async () => (await (await fetch(health)).json()).status === "healthy",
        {
          what: "the pool to be healthy",
        },
      );
      started = await descendants(sm.pid);

      Deno.kill(sm.pid, "SIGHUP");
      const shutdown = (r: LogRecord) => r.msg === "shutting down";
      const line = await Promise.race([
        sm.waitForLog(shutdown),
        sm.status.then(() => sm.logs.find(shutdown)),
      ]);
      assert(line, `-sm ended without shutting down: ${sm.logs.at(-1)?.msg}`);
      assertEquals(line.signal, "SIGHUP");
      // The shell passes the hang-up on too: a second one changes nothing.
      try {
        Deno.kill(sm.pid, "SIGHUP");
      } catch {
        // Already done.
      }
      const status = await sm.status;
      assertEquals(
        { code: status.code, signal: status.signal },
        { code: 0, signal: null },
        JSON.stringify(sm.logs.slice(-5)),
      );
      for (const { pid, argv } of xvfb) {
        assert(!await stillRunning(pid, argv), `Xvfb ${pid} outlived -sm`);
      }
      for (const { pid, argv } of started) {
        assert(
          !await stillRunning(pid, argv),
          `${argv.join(" ")} (${pid}) outlived -sm`,
        );
      }
    } finally {
      await sm.stop("SIGKILL");
      await killLeftovers(started);
      await cfg.remove();
    }
  },
});

Deno.test({
  name: "-gateway: SIGHUP shuts down cleanly",
  ignore: Deno.build.os !== "linux",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const config = await writeGatewayConfig();
    const gateway = await startGateway(config);
    try {
      Deno.kill(gateway.process.pid, "SIGHUP");
      const status = await gateway.process.status;
      assertEquals(
        { code: status.code, signal: status.signal },
        { code: 0, signal: null },
      );
      const line = gateway.process.logs.find((r) => r.msg === "shutting down");
      assertEquals(line?.signal, "SIGHUP");
    } finally {
      await gateway.process.stop("SIGKILL");
      await config.remove();
    }
  },
});

Deno.test({
  name: "-backend: SIGTERM while it starts stops it cleanly once started",
  ignore: Deno.build.os !== "linux",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cfg = await writeTestConfig({
      slots: 1,
      settings: { poolAccounts: "current", warmSessionCount: 1 },
    });
    const host = startWebstream(["-backend", "-config", cfg.path]);
    const ours = async () =>
      (await liveProcesses()).filter((p) =>
        p.pid !== host.pid && p.argv.some((a) => a.includes(cfg.dir))
      );
    try {
      // Listening comes before the pool starts (and its warm session).
      await host.waitForLog((r) => r.msg === "session host listening");
      Deno.kill(host.pid, "SIGTERM");
      const status = await host.status;
      assertEquals(
        { code: status.code, signal: status.signal },
        { code: 0, signal: null },
        JSON.stringify(host.logs.slice(-5)),
      );
      const line = host.logs.find((r) => r.msg === "shutting down");
      assertEquals(line?.signal, "SIGTERM");
      assert(
        host.logs.some((r) => r.msg === "session pool started"),
        "it finished starting first",
      );
      assertEquals(await ours(), [], "nothing of the pool runs on");
    } finally {
      await host.stop("SIGKILL");
      await killLeftovers(await ours());
      await cfg.remove();
    }
  },
});
