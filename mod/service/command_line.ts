/**
 * Windows command lines for the service's `binaryPathName`: the executable
 * always quoted (an unquoted path with spaces is both fragile and the
 * classic "unquoted service path" hole; advapi32's `quoteCommandLine` quotes
 * it only when it has blanks), each argument quoted by advapi32's
 * `quoteArgument` (the rules `CommandLineToArgvW` and the MSVC runtime parse
 * with), and the role's arguments as `run-service` will read them back.
 *
 * @module
 */
import type { ServiceRoleCommand } from "../cli/mod.ts";
import { quoteArgument } from "../../ffi/windows/advapi32.ts";

/**
 * Quotes the program path. The first token of a command line is parsed
 * differently (up to the next quote, no escapes), so it is always quoted
 * and must not contain a quote, which no Windows path can.
 *
 * @throws {TypeError} for an empty path or one with a quote or NUL.
 */
export function quoteExecutable(path: string): string {
  if (!path || /["\0]/.test(path)) {
    throw new TypeError(
      `not a usable executable path: ${JSON.stringify(path)}`,
    );
  }
  return `"${path}"`;
}

/**
 * The command line running `executable` with `args`, each quoted by
 * advapi32's `quoteArgument` (the `CommandLineToArgvW` rules).
 */
export function buildCommandLine(
  executable: string,
  args: readonly string[],
): string {
  return [quoteExecutable(executable), ...args.map(quoteArgument)].join(" ");
}

/** Options for {@linkcode roleArguments}. */
export interface RoleArgumentsOptions {
  /** The configuration file to pass instead of the role's own (made absolute). */
  config?: string;
}

/**
 * The role's command-line arguments, as `parseCli` reads them back:
 * `-backend -tags gpu,autocad -config FILE`.
 */
export function roleArguments(
  role: ServiceRoleCommand,
  options: RoleArgumentsOptions = {},
): string[] {
  const args = [`-${role.kind}`];
  if (role.kind === "backend" && role.tags.length) {
    args.push("-tags", role.tags.join(","));
  }
  const config = options.config ?? role.config;
  if (config) args.push("-config", config);
  return args;
}
