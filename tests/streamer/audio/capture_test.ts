/**
 * Tests for `mod/streamer/audio/capture.ts`: bad options are refused; a
 * recorder's output is cut into whole frames with timestamps one frame
 * apart; a recorder that keeps dying is restarted a bounded number of times,
 * each restart and the giving up logged; and with a real PulseAudio server
 * a `parec` killed by its PID is replaced while `stop()` ends the current
 * one.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertThrows,
} from "../../support/assert.ts";
import { withTempDir } from "../../support/fs.ts";
import { captureLogs } from "../../support/log.ts";
import { liveProcesses } from "../../support/proc.ts";
import { waitFor } from "../../support/wait.ts";
import { startPulseAudio } from "../../../mod/platform/linux/pulse_audio.ts";
import { AudioCapture } from "../../../mod/streamer/audio/capture.ts";

/** A stand-in recorder: prints `bytes` zero bytes, then exits with 3. */
async function fakeRecorder(dir: string, bytes: number): Promise<string> {
  const path = `${dir}/fake-parec`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nhead -c ${bytes} /dev/zero\nexit 3\n`,
    { mode: 0o755 },
  );
  return path;
}

Deno.test("AudioCapture refuses bad options", () => {
  const ok = { server: "unix:/run/x/native" };
  assertThrows(() => new AudioCapture({ server: "tcp:host" }, () => {}));
  assertThrows(
    () => new AudioCapture({ ...ok, frameSamples: 0 }, () => {}),
    Error,
    /frame length 0/,
  );
  assertThrows(
    () => new AudioCapture({ ...ok, sampleRate: 44.1 }, () => {}),
    Error,
    /rate/,
  );
});

Deno.test("AudioCapture cuts whole frames and restarts a dying recorder a bounded number of times", async () => {
  await withTempDir(async (dir) => {
    // Two and a half 10 ms frames per run: the half is dropped.
    const command = await fakeRecorder(dir, 1920 * 2.5);
    const { logger, records } = captureLogs();
    const frames: { length: number; timestampUs: number }[] = [];
    const capture = new AudioCapture({
      server: "unix:/nowhere/native",
      command,
      maxRestarts: 2,
      restartDelayMs: 10,
      logger,
    }, (pcm, timestampUs) => frames.push({ length: pcm.length, timestampUs }));
    capture.start();
    await waitFor(
      () => records.some((r) => r.msg === "audio capture gave up"),
      {
        what: "giving up",
      },
    );
    await capture.stop();
    assertEquals(frames.length, 6);
    assert(frames.every((f) => f.length === 960));
    assertEquals(frames[1].timestampUs - frames[0].timestampUs, 10_000);
    // A new run's clock never goes back.
    assert(
      frames.every((f, i) =>
        i === 0 || f.timestampUs > frames[i - 1].timestampUs
      ),
    );
    assertEquals(capture.restarts, 2);
    const warnings = records.filter((r) =>
      r.msg === "audio capture restarting"
    );
    assertEquals(warnings.length, 2);
    assert(String(warnings[0].reason).includes("code 3"));
  });
});

Deno.test("AudioCapture replaces a killed parec and stop() ends it", async () => {
  await withTempDir(async (dir) => {
    const server = await startPulseAudio({
      directory: `${dir}/pulse`,
      env: { PATH: "/usr/bin:/bin", HOME: dir },
    });
    const { logger } = captureLogs();
    let frames = 0;
    const capture = new AudioCapture(
      { server: server.server, restartDelayMs: 10, logger },
      () => frames++,
    );
    try {
      capture.start();
      await waitFor(() => frames > 0, { what: "first frame" });
      const first = capture.pid!;
      Deno.kill(first, "SIGKILL");
      await waitFor(() => capture.pid !== undefined && capture.pid !== first, {
        what: "a new parec",
      });
      const seen = frames;
      await waitFor(() => frames > seen, { what: "frames after the restart" });
      assertEquals(capture.restarts, 1);
      const second = capture.pid!;
      await capture.stop();
      const live = (await liveProcesses()).map((p) => p.pid);
      assertEquals(live.includes(second), false);
      assertGreater(frames, seen);
    } finally {
      await capture.stop();
      await server.stop();
    }
  });
});
