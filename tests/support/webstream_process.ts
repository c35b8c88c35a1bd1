/**
 * Runs a real `webstream` process (`deno run main.ts …`) for integration
 * tests, collects its structured log records, and stops it by its own PID.
 *
 * @module
 */
import { waitFor, type WaitOptions } from "./wait.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;

/** One log line (JSON records are parsed; others kept raw). */
export type LogRecord = Record<string, unknown> & { msg?: string };

/** A running webstream process. */
export interface WebstreamProcess {
  /** Its PID. */
  pid: number;
  /** Log records so far. */
  logs: LogRecord[];
  /** Captured standard output. */
  stdout(): string;
  /** Resolves with the first record matching `match`. */
  waitForLog(
    match: (record: LogRecord) => boolean,
    options?: WaitOptions,
  ): Promise<LogRecord>;
  /** Sends `signal` (default SIGTERM) and waits for the exit. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** The exit status. */
  status: Promise<Deno.CommandStatus>;
}

/** Options for {@linkcode startWebstream}. */
export interface StartWebstreamOptions {
  /** Extra environment. */
  env?: Record<string, string>;
  /** Extra `deno run` flags (before `main.ts`). */
  denoFlags?: string[];
  /**
   * A command that ends by exec-ing its arguments (so the PID stays the
   * webstream process's), e.g. `unshare -n …`; the Deno command line is
   * appended to it.
   */
  wrap?: string[];
  /**
   * The `main.ts` to run: another copy of webstream (a benchmark's
   * "before"). Default this tree's.
   */
  main?: string;
}

/** Starts `webstream args…`. */
export function startWebstream(
  args: string[],
  options: StartWebstreamOptions = {},
): WebstreamProcess {
  const argv = [
    Deno.execPath(),
    "run",
    "-A",
    "--no-prompt",
    ...options.denoFlags ?? [],
    options.main ?? MAIN,
    ...args,
  ];
  const wrapped = [...options.wrap ?? [], ...argv];
  const child = new Deno.Command(wrapped[0], {
    args: wrapped.slice(1),
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: LogRecord[] = [];
  let out = "";
  const verbose = Deno.env.get("WEBSTREAM_TEST_VERBOSE") === "1";
  const collected = Promise.all([
    (async () => {
      for await (
        const chunk of child.stdout.pipeThrough(new TextDecoderStream())
      ) {
        out += chunk;
      }
    })(),
    (async () => {
      let buffer = "";
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) {
        buffer += chunk;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          if (verbose) console.error(line);
          try {
            logs.push(JSON.parse(line));
          } catch {
            logs.push({ raw: line });
          }
        }
      }
    })(),
  ]);
  const status = child.status.then(async (s) => {
    // The rest of its output, but not forever: sessions a killed host
    // leaves running (they outlive it) hold its output pipes open.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      collected,
      new Promise((r) => timer = setTimeout(r, 2000)),
    ]);
    clearTimeout(timer);
    return s;
  });
  return {
    pid: child.pid,
    logs,
    stdout: () => out,
    waitForLog: (match, opts) =>
      waitFor(() => logs.find(match), { what: "a log record", ...opts }),
    async stop(signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      return await status;
    },
    status,
  };
}
