/**
 * Builds the single-file executables with `deno compile`, the web client
 * (`httpdocs/`) embedded:
 *
 * - `dist/webstream`      Linux x64
 * - `dist/webstream.exe`  Windows x64
 *
 * `deno compile` downloads Deno's runtime base (`denort`) for each target.
 * Where that download is impossible, point `DENORT_BIN` (Linux target) and
 * `DENORT_BIN_WINDOWS` (Windows target) at a local `denort` of the same Deno
 * version.
 *
 * Usage: `deno task build [linux|windows|all]` (default `all`).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** A build target. */
export interface Target {
  /** Rust target triple passed to `--target`. */
  triple: string;
  /** Output path, relative to the project root. */
  output: string;
  /** Environment variable naming a local runtime base for this target. */
  denortEnv: string;
}

/** The targets webstream ships for. */
export const TARGETS: Record<"linux" | "windows", Target> = {
  linux: {
    triple: "x86_64-unknown-linux-gnu",
    output: "dist/webstream",
    denortEnv: "DENORT_BIN",
  },
  windows: {
    triple: "x86_64-pc-windows-msvc",
    output: "dist/webstream.exe",
    denortEnv: "DENORT_BIN_WINDOWS",
  },
};

const ROOT = fileURLToPath(new URL(".", import.meta.url));

/** Which targets a command line asks for. */
export function parseTargets(args: string[]): Target[] {
  const [which = "all", ...rest] = args;
  if (rest.length) throw new Error(`unexpected argument "${rest[0]}"`);
  if (which === "all") return [TARGETS.linux, TARGETS.windows];
  if (which === "linux" || which === "windows") return [TARGETS[which]];
  throw new Error(`unknown target "${which}" (linux, windows or all)`);
}

/** The `deno compile` arguments for `target`. */
export function compileArgs(target: Target): string[] {
  return [
    "compile",
    "--allow-all",
    "--no-prompt",
    "--include",
    "httpdocs",
    // Workers are not in the module graph: the tile encoder's must be added.
    "--include",
    "mod/streamer/encode/worker.ts",
    "--target",
    target.triple,
    "--output",
    target.output,
    "main.ts",
  ];
}

/** The environment `deno compile` runs with: `DENORT_BIN` set from the target's variable. */
export function compileEnv(
  target: Target,
  env: Record<string, string | undefined>,
): Record<string, string> {
  const denort = env[target.denortEnv];
  return denort ? { DENORT_BIN: denort } : {};
}

/** Explains a failed compile in terms a person can act on. */
export function explainFailure(target: Target, stderr: string): string {
  if (
    /denort|dl\.deno\.land|error sending request|dns error|download/i.test(
      stderr,
    )
  ) {
    return `cannot build ${target.output}: deno compile needs Deno's runtime base ` +
      `(denort) for ${target.triple} and could not get it.\n` +
      `  Download denort for Deno ${Deno.version.deno} (${target.triple}) on a ` +
      `machine that can, then set ${target.denortEnv}=/path/to/denort and run again.\n` +
      `  deno said: ${stderr.trim().split("\n").slice(0, 3).join(" | ")}`;
  }
  return `cannot build ${target.output}:\n${stderr.trim()}`;
}

async function build(target: Target): Promise<boolean> {
  await Deno.mkdir(`${ROOT}/dist`, { recursive: true });
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: compileArgs(target),
    cwd: ROOT,
    env: compileEnv(target, Deno.env.toObject()),
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code === 0) {
    console.log(`built ${target.output}`);
    return true;
  }
  console.error(explainFailure(target, new TextDecoder().decode(stderr)));
  return false;
}

if (import.meta.main) {
  let targets: Target[];
  try {
    targets = parseTargets(Deno.args);
  } catch (error) {
    console.error(`build: ${(error as Error).message}`);
    Deno.exit(2);
  }
  let ok = true;
  for (const target of targets) ok = (await build(target)) && ok;
  Deno.exit(ok ? 0 : 1);
}
