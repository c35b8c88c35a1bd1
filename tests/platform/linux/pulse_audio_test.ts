/**
 * Tests for `mod/platform/linux/pulse_audio.ts` with real PulseAudio
 * servers: the server answers on its private socket with the `webstream`
 * null sink as default at 48 kHz and refuses module loading; a 440 Hz WAV
 * played with `paplay` comes out of the session sound capture
 * (`mod/streamer/audio/mod.ts`) as Opus packets that decode (with
 * `ffi/opus/mod.ts`) to a signal where 440 Hz dominates; `stop()` ends the
 * daemon's process group; a start that fails (daemon that exits, a socket
 * path it cannot take) is an error with no process left; and (root) a
 * server for a test user runs with that uid and lets in only that user. The capture latency (paplay start to first
 * packet) and the bitrate are printed, not asserted.
 *
 * @module
 */
import {
  assert,
  assertEquals,
  assertGreater,
  assertMatch,
  assertRejects,
} from "../../support/assert.ts";
import { type CommandResult, runCommand } from "../../support/command.ts";
import { withTempDir } from "../../support/fs.ts";
import { withTestUser } from "../../support/pool_users.ts";
import { liveProcesses } from "../../support/proc.ts";
import { dominance, firstChannel, sine, wavFile } from "../../support/tone.ts";
import { waitFor } from "../../support/wait.ts";
import { OpusDecoder } from "../../../ffi/opus/mod.ts";
import {
  type PulseAudioServer,
  startPulseAudio,
} from "../../../mod/platform/linux/pulse_audio.ts";
import {
  type AudioPacket,
  AudioStream,
} from "../../../mod/streamer/audio/mod.ts";

const ROOT = Deno.uid() === 0;
const ENV = { PATH: "/usr/bin:/bin" };

/** Runs `fn` with a session PulseAudio server in a temp folder; stops it after. */
async function withServer(
  fn: (server: PulseAudioServer, dir: string) => Promise<void>,
): Promise<void> {
  await withTempDir(async (dir) => {
    const server = await startPulseAudio({
      directory: `${dir}/pulse`,
      env: { ...ENV, HOME: dir },
    });
    try {
      await fn(server, dir);
    } finally {
      await server.stop();
    }
  });
}

function pactl(server: string, ...args: string[]): Promise<CommandResult> {
  return runCommand("pactl", { args: [`--server=${server}`, ...args] });
}

async function isLive(pid: number): Promise<boolean> {
  return (await liveProcesses()).some((p) => p.pid === pid);
}

Deno.test("startPulseAudio: a private server with the webstream sink", async () => {
  await withServer(async (server, dir) => {
    assertEquals(server.server, `unix:${dir}/pulse/native`);
    const info = await pactl(server.server, "info");
    assert(info.ok, info.stderr);
    assertMatch(info.stdout, /Default Sink: webstream\n/);
    assertMatch(info.stdout, /Default Source: webstream\.monitor\n/);
    const sinks = await pactl(server.server, "list", "short", "sinks");
    const lines = sinks.stdout.trim().split("\n");
    assertEquals(lines.length, 1);
    assertMatch(lines[0], /^\d+\twebstream\t.*s16le 2ch 48000Hz/);
    // No app can load a module (a TCP listener, say) into it.
    const load = await pactl(
      server.server,
      "load-module",
      "module-native-protocol-tcp",
    );
    assertEquals(load.ok, false);
    // It leads its own process group, so stop() can end it whole.
    const stat = await Deno.readTextFile(`/proc/${server.pid}/stat`);
    const pgid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    assertEquals(pgid, server.pid);
    assertEquals((await Deno.stat(`${dir}/pulse`)).mode! & 0o777, 0o700);
  });
});

Deno.test("startPulseAudio: stop() ends the daemon", async () => {
  let pid = 0;
  await withServer(async (server) => {
    pid = server.pid;
    assert(await isLive(pid));
  });
  assertEquals(await isLive(pid), false);
});

Deno.test("a played 440 Hz tone comes out of the capture as Opus", async () => {
  await withServer(async (server, dir) => {
    const packets: AudioPacket[] = [];
    const arrivals: number[] = [];
    const stream = new AudioStream({ server: server.server }, (packet) => {
      packets.push(packet);
      arrivals.push(performance.now());
    });
    stream.start();
    try {
      // The monitor delivers (silence) once the sink runs at the capture's
      // latency; an idle session sends nothing.
      await waitFor(() => stream.stats.frames > 0, { what: "first frame" });
      const capturePid = stream.capturePid!;
      assertEquals(packets.length, 0);
      const wav = `${dir}/tone.wav`;
      await Deno.writeFile(wav, wavFile(sine(440, 48_000)));
      const started = performance.now();
      const play = await runCommand("paplay", {
        args: [`--server=${server.server}`, wav],
      });
      assert(play.ok, play.stderr);
      await waitFor(() => stream.stats.silentFrames > 30, {
        what: "silence after the tone",
      });
      const stats = stream.stats;
      await stream.stop();
      assertEquals(await isLive(capturePid), false);

      const decoder = new OpusDecoder();
      const pcm: number[] = [];
      for (const packet of packets) pcm.push(...decoder.decode(packet.data));
      decoder.close();
      const signal = firstChannel(pcm);
      assertGreater(signal.length, 48_000 * 0.9);
      assertGreater(dominance(signal, 440), 100);
      // Timestamps count samples: one frame apart within a run of sound.
      assertEquals(packets[1].timestampUs - packets[0].timestampUs, 10_000);
      const seconds = packets.length * stream.frameSamples / 48_000;
      console.log(
        `capture: first packet ${
          (arrivals[0] - started).toFixed(0)
        } ms after paplay started; ${packets.length} packets, ${
          (stats.bytes / packets.length).toFixed(0)
        } B/packet, ${(stats.bytes * 8 / seconds / 1000).toFixed(1)} kbit/s`,
      );
    } finally {
      await stream.stop();
    }
  });
});

Deno.test("startPulseAudio: a failed start is an error and leaves nothing", async () => {
  await withTempDir(async (dir) => {
    await assertRejects(
      () => startPulseAudio({ directory: `${dir}/a b`, env: ENV }),
      Error,
      /space or quote/,
    );
    const error = await assertRejects(
      () =>
        startPulseAudio({
          directory: `${dir}/other`,
          env: ENV,
          command: "false",
        }),
      Error,
      /PulseAudio exited \(code 1\)/,
    );
    assert(error);
    await assertRejects(
      () =>
        startPulseAudio({
          directory: `${dir}/${"x".repeat(120)}`,
          env: ENV,
        }),
      Error,
      /socket path too long/,
    );
  });
});

Deno.test({
  name: "startPulseAudio: as root, a server for a test user runs with its uid",
  ignore: !ROOT,
  fn: () =>
    withTestUser("pa", (user) =>
      withTempDir(async (dir) => {
        // Like a session folder: the user's, and the daemon makes its own in it.
        await Deno.chown(dir, user.uid, user.gid);
        const server = await startPulseAudio({
          directory: `${dir}/pulse`,
          uid: user.uid,
          gid: user.gid,
          env: { ...ENV, HOME: user.home },
        });
        try {
          const status = await Deno.readTextFile(`/proc/${server.pid}/status`);
          const uids = status.match(/^Uid:\s+(.*)$/m)![1].trim().split(/\s+/);
          assertEquals(uids.map(Number), Array(4).fill(user.uid));
          assertEquals((await Deno.stat(server.socket)).uid, user.uid);
          // Only the user's own clients get in: root's is refused.
          assertEquals((await pactl(server.server, "info")).ok, false);
          const asUser = await runCommand("pactl", {
            args: [`--server=${server.server}`, "info"],
            uid: user.uid,
            gid: user.gid,
            env: { ...ENV, HOME: user.home },
            clearEnv: true,
          });
          assert(asUser.ok, asUser.stderr);
        } finally {
          await server.stop();
        }
        assertEquals(await isLive(server.pid), false);
      })),
});
