/**
 * # Xvfb memory by largest screen size
 *
 * `deno run -A bench/xvfb_memory_bench.ts` starts Xvfb the way the host
 * does (`startXvfb`: at the largest size, then set to the start size with
 * RandR) for a 1920 × 1080 session whose largest size is 1920 × 1080 (the
 * baseline: what a session cost before screens could grow), 2560 × 1440,
 * 3840 × 2160 and 5120 × 2880, and prints the server's RSS and PSS
 * (`/proc/PID/smaps_rollup`) after the root window was painted and an xterm
 * drew in it, with the ratio to the baseline and the extra MiB. Xvfb keeps
 * its frame buffer at the size it started with, so the largest size is what
 * costs memory, not the size a viewer uses.
 *
 * @module
 */
import { encodeXauthority, newCookie } from "../mod/platform/linux/xauth.ts";
import { startXvfb } from "../mod/platform/linux/xvfb.ts";
import { stopProcessGroup } from "../mod/platform/linux/processes.ts";

const START = { width: 1920, height: 1080 };
const MAXIMA = [
  { width: 1920, height: 1080 },
  { width: 2560, height: 1440 },
  { width: 3840, height: 2160 },
  { width: 5120, height: 2880 },
];

/** RSS and PSS of `pid`, in KiB. */
async function memory(pid: number): Promise<{ rss: number; pss: number }> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`);
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rss: field("Rss"), pss: field("Pss") };
}

async function run(
  command: string,
  args: string[],
  env: Record<string, string>,
) {
  await new Deno.Command(command, {
    args,
    env,
    stdout: "null",
    stderr: "null",
  }).output();
}

/** Memory of one server with this largest size, in use at START. */
async function measure(
  max: { width: number; height: number },
): Promise<{ rss: number; pss: number }> {
  const dir = await Deno.makeTempDir({ prefix: "webstream-xvfb-bench-" });
  try {
    const authFile = `${dir}/Xauthority`;
    await Deno.writeFile(
      authFile,
      encodeXauthority([{ cookie: newCookie() }]),
      {
        mode: 0o600,
      },
    );
    const server = await startXvfb({
      authFile,
      screen: {
        ...START,
        depth: 24,
        maxWidth: max.width,
        maxHeight: max.height,
      },
    });
    try {
      if (server.sizeProblem) throw new Error(server.sizeProblem);
      const env = { DISPLAY: `:${server.display}`, XAUTHORITY: authFile };
      await run(
        "xsetroot",
        ["-mod", "3", "3", "-fg", "red", "-bg", "blue"],
        env,
      );
      // An app that draws, then exits: what it made the server keep stays.
      await run("timeout", [
        "2",
        "xterm",
        "-geometry",
        "200x60+0+0",
        "-e",
        "sleep",
        "3",
      ], env);
      return await memory(server.child.pid);
    } finally {
      await stopProcessGroup(server.child, { graceMs: 2_000 });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const mib = (kib: number) => (kib / 1024).toFixed(1);
const results = [];
for (const max of MAXIMA) results.push({ max, ...(await measure(max)) });
const base = results[0];
console.log(
  `Xvfb in use at ${START.width}x${START.height}, by largest size (baseline: largest = start size)`,
);
console.log("largest      RSS MiB  PSS MiB  PSS/baseline  extra PSS MiB");
for (const r of results) {
  console.log(
    `${`${r.max.width}x${r.max.height}`.padEnd(11)}  ${
      mib(r.rss).padStart(7)
    }  ${mib(r.pss).padStart(7)}  ${
      `×${(r.pss / base.pss).toFixed(2)}`.padStart(12)
    }  ${mib(r.pss - base.pss).padStart(13)}`,
  );
}
