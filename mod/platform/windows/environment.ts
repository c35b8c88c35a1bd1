/**
 * Environment blocks for `CreateProcessAsUserW`: the user's own block (from
 * `CreateEnvironmentBlock`) with webstream's variables added. Windows
 * variable names are case-insensitive, and the block must be sorted by name,
 * case-insensitively, in Unicode order without regard to locale. Also
 * this computer's name, read from the environment.
 *
 * @module
 */

/** The name of a `NAME=value` entry (`=C:` style entries keep their leading `=`). */
export function entryName(entry: string): string {
  const at = entry.indexOf("=", 1);
  return at < 0 ? entry : entry.slice(0, at);
}

/**
 * `block` (`NAME=value` entries) with `extra` set, replacing any variable of
 * the same name in any case, sorted as Windows requires.
 *
 * @throws {Error} on an empty name, a name with `=`, or a NUL anywhere.
 */
export function mergeEnvironment(
  block: readonly string[],
  extra: Readonly<Record<string, string>>,
): string[] {
  for (const [name, value] of Object.entries(extra)) {
    if (!name || name.includes("=") || name.includes("\0")) {
      throw new Error(`invalid environment variable name "${name}"`);
    }
    if (value.includes("\0")) {
      throw new Error(`environment variable ${name} contains a NUL`);
    }
  }
  const replaced = new Set(Object.keys(extra).map((n) => n.toUpperCase()));
  const kept = block.filter((entry) =>
    !replaced.has(entryName(entry).toUpperCase())
  );
  const added = Object.entries(extra).map(([n, v]) => `${n}=${v}`);
  return [...kept, ...added].sort((a, b) => {
    const x = entryName(a).toUpperCase(), y = entryName(b).toUpperCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/**
 * This computer's NetBIOS name, the domain of its local accounts:
 * `COMPUTERNAME` (set for every Windows process), else the host name's first
 * label; undefined when neither can be read.
 */
export function localComputerName(): string | undefined {
  try {
    return Deno.env.get("COMPUTERNAME") ?? Deno.hostname().split(".")[0];
  } catch {
    return undefined;
  }
}
