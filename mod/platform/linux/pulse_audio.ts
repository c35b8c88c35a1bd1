/**
 * A session's own PulseAudio server: one null sink named `webstream` (what
 * the session's apps play into; the streamer records its monitor) and one
 * private native-protocol socket, `<directory>/native`. No system or user
 * configuration is read (no `default.pa`, an empty `daemon.conf`): the two
 * modules are loaded from the command line, so a distribution's setup
 * (hardware sinks, network modules, D-Bus) never applies. Nothing is
 * written for it either: the daemon makes its own private `directory`, so
 * root never writes into a folder a pool user owns.
 *
 * The server runs in the foreground as the session's user, leading its own
 * process group like Xvfb and the streamer, and is stopped by that group.
 * Only clients with the server's own uid get in (credentials over the Unix
 * socket; no cookie, no anonymous access), and module loading is disallowed
 * after startup, so no app can open a network socket through it.
 *
 * As root (accountMode `current` under root, as the tests run) PulseAudio
 * warns "This program is not intended to be run as root (unless --system is
 * specified)" and runs anyway; `--system` would be the wrong thing (a shared
 * server with its own user and rules).
 *
 * @module
 */
import { delay } from "../../util/async.ts";
import { keepTail } from "./output_tail.ts";
import { stopProcessGroup } from "./processes.ts";

/** The sink the session's apps play into. */
export const SINK_NAME = "webstream";

/** The source to record the sink from. */
export const MONITOR_SOURCE = `${SINK_NAME}.monitor`;

/** Options for {@linkcode startPulseAudio}. */
export interface PulseAudioOptions {
  /**
   * Folder for the server's socket, made by the daemon (mode 0700; one that
   * exists must be the server user's, or the daemon refuses it).
   */
  directory: string;
  /** Run as this user and group (root only). */
  uid?: number;
  /** Group for `uid`. */
  gid?: number;
  /** Environment for the server (the session's); the `PULSE_*` paths are added. */
  env?: Record<string, string>;
  /** Sample rate of the sink. Default 48000 (Opus's). */
  sampleRate?: number;
  /** Give up after this long. Default 10 s. */
  timeoutMs?: number;
  /** The daemon's command. Default `pulseaudio`. */
  command?: string;
}

/** A running session PulseAudio server. */
export interface PulseAudioServer {
  /** The server address for `PULSE_SERVER` and `--server`: `unix:<socket>`. */
  server: string;
  /** The socket path. */
  socket: string;
  /** PID of the daemon; it leads its own process group. */
  pid: number;
  /** The daemon process. */
  child: Deno.ChildProcess;
  /** Stops the daemon's process group (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
}

/** The longest Unix socket path Linux accepts (`sun_path` less its NUL). */
const MAX_SOCKET_PATH = 107;

/**
 * Starts a PulseAudio server for one session and resolves once its socket
 * accepts connections.
 *
 * @throws {Error} if the daemon exits or does not listen in time, with its
 * last error output; no process is left behind then.
 */
export async function startPulseAudio(
  options: PulseAudioOptions,
): Promise<PulseAudioServer> {
  const dir = options.directory;
  const socket = `${dir}/native`;
  if (new TextEncoder().encode(socket).length > MAX_SOCKET_PATH) {
    throw new Error(`PulseAudio socket path too long: ${socket}`);
  }
  // Module arguments are split on white space and quotes.
  if (/[\s"']/.test(socket)) {
    throw new Error(`PulseAudio socket path has a space or quote: ${socket}`);
  }
  const rate = options.sampleRate ?? 48_000;
  if (!Number.isInteger(rate) || rate < 8000 || rate > 192_000) {
    throw new Error(`invalid sample rate ${rate}`);
  }
  const child = new Deno.Command(options.command ?? "pulseaudio", {
    args: [
      "--daemonize=no",
      "--system=no",
      "--exit-idle-time=-1",
      "--disallow-exit",
      "--disallow-module-loading",
      "--use-pid-file=no",
      // Audio is a few hundred KB/s: copies cost nothing, and no shared
      // memory segment can be left behind by a killed daemon.
      "--disable-shm=yes",
      // Same behaviour as root and as a pool user (who may not raise either).
      "--realtime=no",
      "--high-priority=no",
      "--log-target=stderr",
      "--log-level=error",
      "-n",
      // The only sink, so the default one.
      "-L",
      `module-null-sink sink_name=${SINK_NAME} rate=${rate} channels=2 ` +
      `sink_properties=device.description=${SINK_NAME}`,
      // Last, so once the socket answers the sink is there.
      "-L",
      `module-native-protocol-unix socket=${socket} auth-anonymous=0 ` +
      "auth-cookie-enabled=0",
    ],
    uid: options.uid,
    gid: options.gid,
    cwd: "/",
    env: {
      ...options.env,
      PULSE_RUNTIME_PATH: dir,
      PULSE_STATE_PATH: dir,
      // Read instead of /etc/pulse/daemon.conf and the user's.
      PULSE_CONFIG: "/dev/null",
    },
    clearEnv: options.env !== undefined,
    detached: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = keepTail(child.stderr);
  const stop = () => stopProcessGroup(child, { graceMs: 1000 });
  try {
    await waitForSocket(socket, child.status, options.timeoutMs ?? 10_000);
  } catch (error) {
    await stop();
    throw new Error(
      `${(error as Error).message}: ${(await stderr()).trim() || "no output"}`,
    );
  }
  return { server: `unix:${socket}`, socket, pid: child.pid, child, stop };
}

/**
 * Resolves once `socket` accepts a connection; rejects if the daemon exits
 * or `timeoutMs` passes.
 */
async function waitForSocket(
  socket: string,
  exited: Promise<Deno.CommandStatus>,
  timeoutMs: number,
): Promise<void> {
  let status: Deno.CommandStatus | undefined;
  exited.then((s) => status = s);
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (Date.now() > deadline) {
      throw new Error("PulseAudio did not open its socket in time");
    }
    if (status) {
      throw new Error(
        `PulseAudio exited (${
          status.signal ? `signal ${status.signal}` : `code ${status.code}`
        })`,
      );
    }
    try {
      const connection = await Deno.connect({
        transport: "unix",
        path: socket,
      });
      connection.close();
      return;
    } catch {
      // Not listening yet.
    }
    await delay(20);
  }
}
