/**
 * Cold desktop sessions on a real `webstream -backend` (real pool users as
 * root, real Xvfb, real streamers): a desktop launch with the default shell
 * (`X-Workspace-Shell: openbox`) against today's bare session
 * (`X-Workspace-Shell: none`, the baseline), alternating in one run on one
 * host with no warm session, so each launch starts Xvfb, the streamer and
 * (for the shell) the desktop shell:
 *
 * - **first frame**: from sending `/getConnection` to the streamer's first
 *   `frame` (the whole screen) on the token's WebSocket;
 * - **desktop shown** (shell only): to the first `frame` received once the
 *   display has a window manager and a panel (`_NET_SUPPORTING_WM_CHECK`,
 *   a `_NET_WM_WINDOW_TYPE_DOCK` client);
 * - **memory per session**: the resident (`VmRSS`) and proportional
 *   (`Pss`) memory of every process of the session's pool user (Xvfb,
 *   PulseAudio, the streamer, the shell), 2 s after the desktop was shown
 *   (as root only: other users' sessions share this user).
 *
 * `deno run -A bench/desktop_bench.ts [samples]`, or part of
 * `deno task bench`.
 *
 * @module
 */
import {
  decodeStreamerMessage,
  encodeClientMessage,
} from "../httpdocs/session/protocol.js";
import {
  handleInterrupts,
  ms,
  ratio,
  SECRET,
  sessionId,
  sleep,
  startHost,
  type Stats,
  summarize,
  timedGet,
  until,
} from "./common.ts";
import { desktopReady, displayOf } from "../tests/support/desktop_probe.ts";
import { poolUsers, streamerPid } from "../tests/support/pool_users.ts";
import { liveProcesses } from "../tests/support/proc.ts";

/** One kind of launch's figures. */
export interface DesktopFigures {
  /** `/getConnection` sent → its answer (cold: the logon included). */
  answer: Stats;
  /** `/getConnection` sent → the first `frame`. */
  firstFrame: Stats;
  /** `/getConnection` sent → the first `frame` once the shell is up. */
  desktopShown?: Stats;
  /** Resident memory of the session's processes, KiB (median); 0 unknown. */
  rssKiB: number;
  /** The same, proportional (`Pss`), KiB (median); 0 unknown. */
  pssKiB: number;
}

/** Both kinds, from one run. */
export interface DesktopBenchResult {
  /** `X-Workspace-Shell: none`: today's bare session. */
  bare: DesktopFigures;
  /** The default shell. */
  shell: DesktopFigures;
}

/** Options for {@linkcode runDesktopBench}. */
export interface DesktopBenchOptions {
  /** Samples of each kind. */
  samples: number;
  /** Ends waits early. */
  signal: AbortSignal;
  /** Whether a SIGINT reached the process group. */
  interrupted: () => boolean;
  /** Progress output. */
  progress?: (line: string) => void;
}

interface Sample {
  answer: number;
  firstFrame: number;
  desktopShown?: number;
  rssKiB: number;
  pssKiB: number;
}

/** Runs cold launches, shell and bare alternating, on one host. */
export async function runDesktopBench(
  options: DesktopBenchOptions,
): Promise<DesktopBenchResult> {
  const { signal } = options;
  const progress = options.progress ?? (() => {});
  const host = await startHost({
    slots: 1,
    warm: 0,
    grace: 0.5,
    signal,
    interrupted: options.interrupted,
  });
  const bare: Sample[] = [];
  const shell: Sample[] = [];
  try {
    for (let i = 0; i < options.samples; i++) {
      for (const kind of ["none", "openbox"] as const) {
        await until(async () => {
          if (!host.slots.states().every((s) => s === "free")) return false;
          const health = await fetch(`${host.url}/health`).then((r) =>
            r.json()
          );
          return health.sessions.active === 0;
        }, { what: "the pool to rest", signal });
        await sleep(300, signal);
        const s = await launch(host.url, kind, {
          id: sessionId(`desktop-${kind}`, i),
          prefix: host.prefix,
          signal,
        });
        (kind === "none" ? bare : shell).push(s);
        progress(
          `  ${kind} ${i + 1}/${options.samples}: answer ${ms(s.answer)}, ` +
            `first frame ${ms(s.firstFrame)}` +
            (s.desktopShown ? `, desktop shown ${ms(s.desktopShown)}` : "") +
            `, ${(s.rssKiB / 1024).toFixed(1)} MiB RSS, ` +
            `${(s.pssKiB / 1024).toFixed(1)} MiB PSS`,
        );
      }
    }
  } finally {
    await host.stop();
  }
  return { bare: figures(bare), shell: figures(shell) };
}

function figures(samples: Sample[]): DesktopFigures {
  const shown = samples.flatMap((s) => s.desktopShown ?? []);
  return {
    answer: summarize(samples.map((s) => s.answer)),
    firstFrame: summarize(samples.map((s) => s.firstFrame)),
    desktopShown: shown.length ? summarize(shown) : undefined,
    rssKiB: summarize(samples.map((s) => s.rssKiB)).p50,
    pssKiB: summarize(samples.map((s) => s.pssKiB)).p50,
  };
}

async function launch(
  url: string,
  shell: "none" | "openbox",
  options: { id: string; prefix: string; signal: AbortSignal },
): Promise<Sample> {
  const sent = performance.now();
  const answer = await timedGet(`${url}/getConnection`, {
    "X-Session-ID": options.id,
    "X-Workspace-ID": "desktop",
    "X-Workspace-Type": "desktop",
    "X-Workspace-Shell": shell,
    Authorization: `Bearer ${SECRET}`,
  });
  if (answer.status !== 200) {
    throw new Error(
      `/getConnection answered ${answer.status}: ${
        JSON.stringify(answer.body)
      }`,
    );
  }
  const c = answer.body;
  // Every frame is timed and acknowledged (flow control) as it arrives.
  const frames: number[] = [];
  const firstFrame = Promise.withResolvers<number>();
  const socket = new WebSocket(
    `ws://${c.host}:${c.port}${c.path}?token=${
      encodeURIComponent(String(c.token))
    }`,
  );
  socket.binaryType = "arraybuffer";
  socket.onmessage = (event) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const message = decodeStreamerMessage(new Uint8Array(event.data));
    if (message.type !== "frame") return;
    const at = performance.now() - sent;
    frames.push(at);
    if (frames.length === 1) firstFrame.resolve(at);
    socket.send(
      encodeClientMessage({ type: "ack", frameId: message.frame.frameId }),
    );
  };
  socket.onclose = () => firstFrame.reject(new Error("the stream closed"));
  try {
    const first = await Promise.race([
      firstFrame.promise,
      sleep(30_000, options.signal).then(() => {
        throw new Error("no frame within 30 s");
      }),
    ]);
    let desktopShown: number | undefined;
    if (shell !== "none") {
      const access = await displayOf(await streamerPid(Number(c.port)));
      await until(() => desktopReady(access), {
        what: "a window manager and a panel",
        signal: options.signal,
        timeoutMs: 30_000,
      });
      const readyAt = performance.now() - sent;
      // The frame that carries the shell's last pixels: the first at or
      // after readiness; none within 1 s means they had already been sent.
      await until(() => frames.some((t) => t >= readyAt), {
        what: "a frame",
        signal: options.signal,
        timeoutMs: 1000,
      }).catch(() => {});
      desktopShown = frames.find((t) => t >= readyAt) ?? readyAt;
    }
    await sleep(2000, options.signal);
    return {
      answer: answer.elapsed,
      firstFrame: first,
      desktopShown,
      ...await poolMemory(options.prefix),
    };
  } finally {
    socket.onclose = null;
    socket.close();
  }
}

/** Resident and proportional memory of the run's pool users' processes, KiB. */
async function poolMemory(
  prefix: string,
): Promise<{ rssKiB: number; pssKiB: number }> {
  if (Deno.uid() !== 0) return { rssKiB: 0, pssKiB: 0 };
  const uids = new Set((await poolUsers(prefix)).map((u) => u.uid));
  let rssKiB = 0;
  let pssKiB = 0;
  for (const p of await liveProcesses()) {
    if (!uids.has(p.uid)) continue;
    try {
      const status = await Deno.readTextFile(`/proc/${p.pid}/status`);
      rssKiB += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
      const rollup = await Deno.readTextFile(`/proc/${p.pid}/smaps_rollup`);
      pssKiB += Number(/^Pss:\s+(\d+) kB/m.exec(rollup)?.[1] ?? 0);
    } catch {
      // Gone.
    }
  }
  return { rssKiB, pssKiB };
}

/** The table of a run. */
export function formatDesktopBench(result: DesktopBenchResult): string {
  const { bare, shell } = result;
  const mib = (kib: number) => kib ? `${(kib / 1024).toFixed(1)} MiB` : "n/a";
  const row = (name: string, f: DesktopFigures) =>
    `${name}: answer ${ms(f.answer.p50)}, first frame ${
      ms(f.firstFrame.p50)
    } p50 / ${ms(f.firstFrame.max)} max` +
    (f.desktopShown
      ? `, desktop shown ${ms(f.desktopShown.p50)} p50 / ${
        ms(f.desktopShown.max)
      } max`
      : "") +
    `, memory per session ${mib(f.rssKiB)} RSS, ${mib(f.pssKiB)} PSS`;
  return [
    row("bare Xvfb session (baseline)", bare),
    row("desktop with openbox + lxpanel", shell),
    `ratios: first frame ${
      ratio(shell.firstFrame.p50, bare.firstFrame.p50)
    }, desktop shown ${
      shell.desktopShown
        ? ratio(shell.desktopShown.p50, bare.firstFrame.p50)
        : "n/a"
    } (both against the bare first frame), memory ${
      ratio(shell.rssKiB, bare.rssKiB)
    } RSS, ${ratio(shell.pssKiB, bare.pssKiB)} PSS`,
  ].join("\n");
}

if (import.meta.main) {
  const interrupt = handleInterrupts();
  const result = await runDesktopBench({
    samples: Number(Deno.args[0] ?? 5),
    signal: interrupt.signal,
    interrupted: () => interrupt.received !== undefined,
    progress: (line) => console.error(line),
  });
  console.log(formatDesktopBench(result));
  interrupt.dispose();
}
