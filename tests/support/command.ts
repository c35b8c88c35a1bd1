/**
 * Running child processes in tests: a command run to completion with its exit
 * code and its output as text, and a background process with no standard
 * streams (ended by the test, by its PID or process group).
 *
 * @module
 */

/** How a command run by {@linkcode runCommand} ended, and what it printed. */
export interface CommandResult {
  /** Exit code. */
  code: number;
  /** True when the exit code was 0. */
  ok: boolean;
  /** Standard output, decoded as UTF-8. */
  stdout: string;
  /** Standard error, decoded as UTF-8. */
  stderr: string;
}

/**
 * Options for {@linkcode runCommand} and {@linkcode spawnQuiet}: everything
 * but the standard streams, which those functions set.
 */
export type CommandOptions = Omit<
  Deno.CommandOptions,
  "stdin" | "stdout" | "stderr"
>;

/**
 * Runs `command` to completion with standard input closed and both outputs
 * captured; resolves with its exit code and its output as text.
 */
export async function runCommand(
  command: string | URL,
  options: CommandOptions = {},
): Promise<CommandResult> {
  const out = await new Deno.Command(command, {
    ...options,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: out.code,
    ok: out.success,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
  };
}

/** Starts `command` in the background with no standard streams. */
export function spawnQuiet(
  command: string | URL,
  options: CommandOptions = {},
): Deno.ChildProcess {
  return new Deno.Command(command, {
    ...options,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}
