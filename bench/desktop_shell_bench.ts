/**
 * The desktop shell candidates on a bare Xvfb screen, each started the way
 * a session starts it (`mod/host/desktop_shell.ts`: a clean environment,
 * a process group and session of its own): **logon time**, from spawning
 * the shell to a window manager on the root window
 * (`_NET_SUPPORTING_WM_CHECK`) and a panel (a `_NET_WM_WINDOW_TYPE_DOCK`
 * client), and **memory**, the resident memory of the shell's processes
 * (its process session) plus what Xvfb grew by, read 2 s after it was
 * ready. The baseline is the bare Xvfb screen itself: its start to
 * accepting connections, and its resident memory.
 *
 * `deno run -A bench/desktop_shell_bench.ts [samples]` prints the table.
 *
 * @module
 */
import { desktopShellArgv } from "../mod/host/desktop_shell.ts";
import { encodeXauthority, newCookie } from "../mod/platform/linux/xauth.ts";
import { startXvfb } from "../mod/platform/linux/xvfb.ts";
import { ms, ratio, sleep, type Stats, summarize } from "./common.ts";
import {
  desktopReady,
  processMemory,
  sessionMemory,
} from "../tests/support/desktop_probe.ts";

/** A shell to measure: a name and the argument vector that starts it. */
export interface ShellCandidate {
  /** Shown in the table. */
  name: string;
  /** The command. */
  argv: string[];
  /** Programs it needs (a candidate missing one is skipped). */
  needs: string[];
}

/** The candidates: the configurable shells and a lighter panel without a menu. */
export const CANDIDATES: ShellCandidate[] = [
  {
    name: "openbox + lxpanel",
    argv: desktopShellArgv("openbox"),
    needs: ["openbox", "lxpanel"],
  },
  {
    name: "xfce (xfce4-session)",
    argv: desktopShellArgv("xfce"),
    needs: ["xfce4-session", "xfwm4", "xfce4-panel"],
  },
  {
    name: "openbox + tint2 + pcmanfm",
    argv: [
      "dbus-run-session",
      "--",
      "sh",
      "-c",
      "tint2 & pcmanfm --desktop & exec openbox",
    ],
    needs: ["openbox", "tint2", "pcmanfm"],
  },
];

/** One candidate's figures. */
export interface ShellFigures {
  /** The candidate. */
  name: string;
  /** Spawn → window manager and panel, ms. */
  logon: Stats;
  /** Resident memory of the shell's processes plus Xvfb's growth, KiB (median). */
  rssKiB: number;
  /** The same, proportional (`Pss`: shared pages divided), KiB (median). */
  pssKiB: number;
  /** The processes counted (last sample). */
  processes: string[];
}

/** The whole run. */
export interface ShellBenchResult {
  /** Xvfb start → accepting connections, ms. */
  xvfbStart: Stats;
  /** Xvfb's own resident memory, KiB (median). */
  xvfbRssKiB: number;
  /** Each candidate. */
  shells: ShellFigures[];
}

/** Measures every candidate `samples` times, and the bare Xvfb. */
export async function runDesktopShellBench(
  samples: number,
  options: { progress?: (line: string) => void; signal?: AbortSignal } = {},
): Promise<ShellBenchResult> {
  const progress = options.progress ?? (() => {});
  const signal = options.signal ?? new AbortController().signal;
  const candidates: ShellCandidate[] = [];
  for (const candidate of CANDIDATES) {
    const missing = [];
    for (const program of candidate.needs) {
      if (!await installed(program)) missing.push(program);
    }
    if (missing.length) {
      progress(`${candidate.name}: skipped, ${missing.join(", ")} missing`);
    } else candidates.push(candidate);
  }
  const dir = await Deno.makeTempDir({ prefix: "webstream-desktop-bench-" });
  try {
    const xvfbStart: number[] = [];
    const xvfbRss: number[] = [];
    const shells: ShellFigures[] = [];
    const perShell = new Map<
      string,
      { logon: number[]; rss: number[]; pss: number[] }
    >(
      candidates.map((c) => [c.name, { logon: [], rss: [], pss: [] }]),
    );
    let processes: Record<string, string[]> = {};
    // Alternate candidates within each round, so machine noise spreads.
    for (let i = 0; i < samples; i++) {
      for (const candidate of candidates) {
        signal.throwIfAborted();
        progress(`${candidate.name}: sample ${i + 1}/${samples}`);
        const s = await sample(candidate, `${dir}/${i}`, signal);
        xvfbStart.push(s.xvfbStartMs);
        xvfbRss.push(s.xvfbRssKiB);
        perShell.get(candidate.name)!.logon.push(s.logonMs);
        perShell.get(candidate.name)!.rss.push(s.rssKiB);
        perShell.get(candidate.name)!.pss.push(s.pssKiB);
        processes = { ...processes, [candidate.name]: s.processes };
      }
    }
    for (const candidate of candidates) {
      const figures = perShell.get(candidate.name)!;
      shells.push({
        name: candidate.name,
        logon: summarize(figures.logon),
        rssKiB: median(figures.rss),
        pssKiB: median(figures.pss),
        processes: processes[candidate.name],
      });
    }
    return {
      xvfbStart: summarize(xvfbStart),
      xvfbRssKiB: median(xvfbRss),
      shells,
    };
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

async function sample(
  candidate: ShellCandidate,
  home: string,
  signal: AbortSignal,
): Promise<{
  xvfbStartMs: number;
  xvfbRssKiB: number;
  logonMs: number;
  rssKiB: number;
  pssKiB: number;
  processes: string[];
}> {
  await Deno.mkdir(home, { recursive: true });
  const authFile = `${home}/.Xauthority`;
  await Deno.writeFile(authFile, encodeXauthority([{ cookie: newCookie() }]));
  const screen = { width: 1920, height: 1080, depth: 24 };
  const t0 = performance.now();
  const xvfb = await startXvfb({ authFile, screen });
  const xvfbStartMs = performance.now() - t0;
  let shell: Deno.ChildProcess | undefined;
  try {
    await sleep(300, signal);
    const xvfbRssKiB = await processMemory(xvfb.child.pid);
    const access = { display: `:${xvfb.display}`, authFile };
    const started = performance.now();
    shell = new Deno.Command(candidate.argv[0], {
      args: candidate.argv.slice(1),
      env: {
        DISPLAY: access.display,
        XAUTHORITY: authFile,
        HOME: home,
        PATH: "/usr/local/bin:/usr/bin:/bin",
        LANG: "C.UTF-8",
        XDG_RUNTIME_DIR: home,
      },
      clearEnv: true,
      cwd: home,
      detached: true,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const deadline = started + 30_000;
    while (!await desktopReady(access)) {
      if (performance.now() > deadline) {
        throw new Error(
          `${candidate.name}: no window manager and panel in 30 s`,
        );
      }
      await sleep(20, signal);
    }
    const logonMs = performance.now() - started;
    await sleep(2000, signal);
    const memory = await sessionMemory(shell.pid);
    const grown = await processMemory(xvfb.child.pid) - xvfbRssKiB;
    return {
      xvfbStartMs,
      xvfbRssKiB,
      logonMs,
      rssKiB: memory.rssKiB + Math.max(0, grown),
      pssKiB: memory.pssKiB + Math.max(0, grown),
      processes: memory.processes,
    };
  } finally {
    if (shell) {
      try {
        Deno.kill(-shell.pid, "SIGTERM");
      } catch {
        // Gone.
      }
      await shell.status;
    }
    try {
      Deno.kill(-xvfb.child.pid, "SIGTERM");
    } catch {
      // Gone.
    }
    await xvfb.child.status;
  }
}

/** Whether `program` is on the PATH. */
async function installed(program: string): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", 'command -v "$1"', "sh", program],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

function median(values: number[]): number {
  return summarize(values).p50;
}

/** The table of a run. */
export function formatDesktopShellBench(result: ShellBenchResult): string {
  const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
  const lines = [
    `bare Xvfb (baseline): start ${ms(result.xvfbStart.p50)} p50, ` +
    `RSS ${mib(result.xvfbRssKiB)}`,
  ];
  for (const s of result.shells) {
    lines.push(
      `${s.name}: logon ${ms(s.logon.p50)} p50 / ${ms(s.logon.max)} max ` +
        `(${ratio(s.logon.p50, result.xvfbStart.p50)} Xvfb start), ` +
        `RSS ${mib(s.rssKiB)} (${
          ratio(s.rssKiB, result.xvfbRssKiB)
        } Xvfb's), PSS ${mib(s.pssKiB)} [${s.processes.join(" ")}]`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) {
  const samples = Number(Deno.args[0] ?? 3);
  const result = await runDesktopShellBench(samples, {
    progress: (line) => console.error(line),
  });
  console.log(formatDesktopShellBench(result));
}
