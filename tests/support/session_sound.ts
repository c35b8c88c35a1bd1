/**
 * A session's sound for tests and benchmarks: its own PulseAudio (as the
 * Linux platform starts one per session) in a temp folder, and a 440 Hz
 * tone to play into it with `paplay`. Everything is stopped afterwards.
 *
 * @module
 */
import {
  type PulseAudioServer,
  startPulseAudio,
} from "../../mod/platform/linux/pulse_audio.ts";
import { withTempDir } from "./fs.ts";
import { sine, wavFile } from "./tone.ts";

/** What {@linkcode withSessionSound} gives the test. */
export interface SessionSound {
  /** The running server (`server.server` is the `PULSE_SERVER` value). */
  pulse: PulseAudioServer;
  /** Starts `paplay` of the tone into the server; the caller awaits it. */
  play(): Deno.ChildProcess;
}

/** Runs `fn` with a session PulseAudio and a 440 Hz tone of `toneMs`. */
export async function withSessionSound(
  options: { toneMs: number; amplitude?: number },
  fn: (sound: SessionSound) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const pulse = await startPulseAudio({
      directory: `${dir}/pulse`,
      env: { PATH: "/usr/bin:/bin", HOME: dir },
    });
    const players: Deno.ChildProcess[] = [];
    try {
      const tone = `${dir}/tone.wav`;
      await Deno.writeFile(
        tone,
        wavFile(
          sine(440, options.toneMs * 48, {
            amplitude: options.amplitude ?? 12000,
          }),
        ),
      );
      await fn({
        pulse,
        play() {
          const child = new Deno.Command("paplay", {
            args: [`--server=${pulse.server}`, tone],
            stdin: "null",
            stdout: "null",
            stderr: "null",
          }).spawn();
          players.push(child);
          return child;
        },
      });
    } finally {
      for (const player of players) {
        try {
          player.kill("SIGKILL");
        } catch {
          // Already ended.
        }
        await player.status;
      }
      await pulse.stop();
    }
  });
}
