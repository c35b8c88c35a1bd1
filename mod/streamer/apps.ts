/**
 * The session's apps: started from the command line `SESSION_INFO` carries
 * (split like a shell would, without one), in the session's environment
 * minus webstream's own variables, tracked while they run and stopped
 * (SIGTERM) when the streamer ends.
 *
 * On Linux each app leads a process group (and session) of its own, so a
 * streamer that dies, however it dies, does not take the apps with it: the
 * session manager starts a new streamer in the same session and the apps
 * run on. What ends a session's apps is the session's end (the session
 * manager's logoff, or an orphaned streamer ending its session).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { CommandLineError, splitCommandLine } from "./command_line.ts";

/** Options for {@linkcode Apps}. */
export interface AppsOptions {
  /** Logger. */
  logger: Logger;
  /** An app started (activity reporting). */
  onStarted?: (program: string) => void;
  /** A started app's process exited. */
  onExited?: (app: RunningApp) => void;
}

/** An app the streamer started, while its process runs. */
export interface RunningApp {
  /** The command line it was started from. */
  readonly command: string;
  /** The program (the command line's first word). */
  readonly program: string;
  /** Its process id (on Linux also its process group's id). */
  readonly pid: number;
}

/** The apps started in the session. */
export class Apps {
  readonly #running = new Map<Deno.ChildProcess, RunningApp>();
  readonly #options: AppsOptions;

  /** Tracks nothing yet. */
  constructor(options: AppsOptions) {
    this.#options = options;
  }

  /** How many started apps still run. */
  get running(): number {
    return this.#running.size;
  }

  /** Whether an app started from `command` still runs. */
  runs(command: string): boolean {
    return this.list().some((app) => app.command === command);
  }

  /** The started apps that still run, oldest first. */
  list(): RunningApp[] {
    return [...this.#running.values()];
  }

  /**
   * Starts the app `commandLine` names, with {@linkcode appEnvironment}
   * plus `env`; true when it started. A command line that cannot be split,
   * or a program that cannot start, is logged; an empty one does nothing.
   */
  start(commandLine: string, env: Record<string, string> = {}): boolean {
    const { logger } = this.#options;
    let argv: string[];
    try {
      argv = splitCommandLine(commandLine);
    } catch (error) {
      if (!(error instanceof CommandLineError)) throw error;
      logger.error("cannot start app", { reason: error.message });
      return false;
    }
    if (!argv.length) return false;
    try {
      const child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        env: { ...appEnvironment(), ...env },
        clearEnv: true,
        // Not in the streamer's process group: the apps outlive it.
        detached: OWN_GROUPS,
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      const app = { command: commandLine, program: argv[0], pid: child.pid };
      this.#running.set(child, app);
      logger.info("app started", { program: argv[0], pid: child.pid });
      this.#options.onStarted?.(argv[0]);
      child.status.then((status) => {
        this.#running.delete(child);
        logger.info("app exited", { program: argv[0], code: status.code });
        this.#options.onExited?.(app);
      });
      return true;
    } catch (error) {
      logger.error("cannot start app", { program: argv[0], error });
      return false;
    }
  }

  /** Sends SIGTERM to every app still running (on Linux, to its group). */
  stopAll(): void {
    for (const app of this.#running.keys()) {
      try {
        if (OWN_GROUPS) Deno.kill(-app.pid, "SIGTERM");
        else app.kill("SIGTERM");
      } catch {
        // Already gone.
      }
    }
  }
}

/** Apps get process groups of their own (Linux; see the module doc). */
const OWN_GROUPS = Deno.build.os !== "windows";

/** The session's environment, minus webstream's own variables. */
export function appEnvironment(): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of Object.keys(env)) {
    if (name.startsWith("WEBSTREAM_") || name === "DENO_DIR") delete env[name];
  }
  return env;
}
