/**
 * Runs a system command to completion and reports failures with the command's
 * own error output.
 *
 * @module
 */

/** A system command that exited unsuccessfully. */
export class CommandError extends Error {
  /** The exit code. */
  readonly code: number;

  constructor(command: string, code: number, stderr: string) {
    super(`${command} failed (exit ${code}): ${stderr.trim() || "no output"}`);
    this.name = "CommandError";
    this.code = code;
  }
}

/** Options for {@linkcode run}. */
export interface RunOptions {
  /** Text written to the command's standard input (e.g. a password). */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Exit codes that are not failures. Default `[0]`. */
  okCodes?: number[];
}

/**
 * Runs `command args…`, returning its standard output.
 *
 * @throws {CommandError} on an exit code not in `okCodes`.
 */
export async function run(
  command: string,
  args: string[],
  options: RunOptions = {},
): Promise<string> {
  const child = new Deno.Command(command, {
    args,
    env: options.env,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  if (!(options.okCodes ?? [0]).includes(code)) {
    throw new CommandError(command, code, new TextDecoder().decode(stderr));
  }
  return new TextDecoder().decode(stdout);
}

/** True when `command` is on the PATH. */
export async function hasCommand(command: string): Promise<boolean> {
  try {
    await run("sh", ["-c", 'command -v "$0"', command]);
    return true;
  } catch {
    return false;
  }
}
