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
 * manager's logoff, or an orphaned streamer ending its session). The apps
 * that run are kept in a record (`app_record.ts`), from which a streamer
 * started again in the session takes them up ({@linkcode Apps.adopt}).
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { processStart, watchExit } from "../platform/linux/processes.ts";
import {
  isSessionApp,
  readAppRecord,
  type RecordedApp,
  writeAppRecord,
} from "./app_record.ts";
import { CommandLineError, splitCommandLine } from "./command_line.ts";

/** Options for {@linkcode Apps}. */
export interface AppsOptions {
  /** Logger. */
  logger: Logger;
  /** An app started (activity reporting). */
  onStarted?: (program: string) => void;
  /** A started (or taken up) app's process exited. */
  onExited?: (app: RunningApp) => void;
  /**
   * Where to keep the record of the running apps (`app_record.ts`), so a
   * streamer started again in the session takes them up. Default: none.
   */
  record?: string;
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
  /** Apps an earlier streamer of the session started, by PID (Linux). */
  readonly #adopted = new Map<number, RunningApp>();
  /** Stops watching the adopted apps. */
  readonly #unwatch = new AbortController();
  /** The record's writes, one after another. */
  #recording: Promise<void> = Promise.resolve();
  readonly #options: AppsOptions;

  /** Tracks nothing yet. */
  constructor(options: AppsOptions) {
    this.#options = options;
  }

  /** How many started apps still run. */
  get running(): number {
    return this.#adopted.size + this.#running.size;
  }

  /** Whether an app started from `command` still runs. */
  runs(command: string): boolean {
    return this.list().some((app) => app.command === command);
  }

  /** The started apps that still run, oldest first. */
  list(): RunningApp[] {
    return [...this.#adopted.values(), ...this.#running.values()];
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
      this.#record();
      logger.info("app started", { program: argv[0], pid: child.pid });
      this.#options.onStarted?.(argv[0]);
      child.status.then((status) => {
        this.#running.delete(child);
        this.#record();
        logger.info("app exited", { program: argv[0], code: status.code });
        this.#options.onExited?.(app);
      });
      return true;
    } catch (error) {
      logger.error("cannot start app", { program: argv[0], error });
      return false;
    }
  }

  /**
   * Takes up the apps an earlier streamer of this session started that
   * still run (from the record; see `app_record.ts`), and resolves with
   * them. Their exits are reported like any app's, watched through `/proc`
   * (they are not this process's children). The session is the one whose
   * Xauthority file is `authFile` (default `$XAUTHORITY`).
   */
  async adopt(
    authFile: string | undefined = Deno.env.get("XAUTHORITY"),
  ): Promise<RunningApp[]> {
    const { logger, record } = this.#options;
    if (!record || !authFile) return [];
    const read = await readAppRecord(record);
    if (!read.ok) {
      logger.warn("app record unreadable; no app taken up", {
        reason: read.error,
      });
      return [];
    }
    const taken: { app: RunningApp; entry: RecordedApp }[] = [];
    for (const entry of read.apps) {
      if (this.#adopted.has(entry.pid)) continue;
      if (!await isSessionApp(entry, authFile)) continue;
      const app: RunningApp = {
        command: entry.command,
        program: firstWord(entry.command),
        pid: entry.pid,
      };
      this.#adopted.set(entry.pid, app);
      taken.push({ app, entry });
    }
    // Watched from here on, all in this turn: no exit is reported before
    // the caller has the list.
    for (const { app, entry } of taken) {
      watchExit(entry, { signal: this.#unwatch.signal }).then(() => {
        this.#adopted.delete(entry.pid);
        this.#record();
        logger.info("app exited", { program: app.program });
        this.#options.onExited?.(app);
      });
    }
    if (taken.length) logger.info("apps taken up", { count: taken.length });
    this.#record();
    return taken.map(({ app }) => app);
  }

  /** Writes the record of the running apps, when one is kept. */
  #record(): void {
    const path = this.#options.record;
    if (!path) return;
    this.#recording = this.#recording.then(async () => {
      const apps: RecordedApp[] = [];
      for (const { command, pid } of this.list()) {
        const start = await processStart(pid);
        if (start !== undefined) apps.push({ command, pid, start });
      }
      await writeAppRecord(path, apps);
    }).catch((error) =>
      this.#options.logger.warn("cannot record the running apps", { error })
    );
  }

  /** Sends SIGTERM to every app still running (on Linux, to its group). */
  stopAll(): void {
    this.#unwatch.abort();
    for (const pid of this.#adopted.keys()) {
      try {
        Deno.kill(-pid, "SIGTERM");
      } catch {
        // Already gone.
      }
    }
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

/** A command line's first word ("" when it does not split). */
function firstWord(line: string): string {
  try {
    return splitCommandLine(line)[0] ?? "";
  } catch (error) {
    if (error instanceof CommandLineError) return "";
    throw error;
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
