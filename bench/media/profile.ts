/**
 * Where the streamer's CPU goes: a sampling profile of the streamer's V8
 * isolates over a measurement window, through its inspector
 * (`deno run --inspect=127.0.0.1:PORT`) and the Chrome DevTools Protocol.
 *
 * {@linkcode connectProfiler} reads `http://127.0.0.1:PORT/json/list`, opens
 * the main isolate's `webSocketDebuggerUrl`, and asks for
 * `Target.setAutoAttach` with `flatten: true`, so the encoding workers (PNG
 * and mozjpeg tiles run there) come as sessions of the same socket. Per
 * window it runs `Profiler.start`/`Profiler.stop` in every session and sums
 * each sample's time delta into the sampled function (self time), its module
 * file and one of the pipeline's categories ({@linkcode categorize}). It
 * also reads the whole process's CPU time (`utime + stime` of
 * `/proc/PID/stat`: every thread — the isolates, libuv's pool where sharp
 * encodes JPEG, x264's threads, V8's GC helpers) over the same window, so
 * the isolates' share of it shows. A sample in native code with no script
 * (a synchronous FFI symbol such as XShmGetImage or libyuv's conversion, an
 * op) is counted under its nearest JavaScript caller's category and named
 * `native ← caller`, so FFI time lands in its pipeline stage. Lines are those
 * of the emitted (type-stripped) JavaScript, so they are only shown for
 * anonymous functions, to tell them apart.
 *
 * @module
 */
import { z } from "zod";
import { clockTicks, cpuSeconds, readStat } from "../proc_stat.ts";

/** The pipeline stages a sampled function is counted under. */
export const CATEGORIES = [
  "capture",
  "tile compare",
  "move detection",
  "PNG",
  "JPEG",
  "video",
  "audio",
  "encoder (other)",
  "protocol/socket",
  "streamer (other)",
  "Deno runtime",
  "inspector",
  "GC",
  "(program)",
  "other",
  "idle",
] as const;

/** One of {@linkcode CATEGORIES}. */
export type Category = typeof CATEGORIES[number];

/** A sampled frame, as the profile gives it. */
export interface CallFrame {
  /** The function's name; empty for anonymous functions. */
  functionName: string;
  /** The script's URL (`file://`, `ext:`, `node:`, empty for V8's own). */
  url: string;
  /** 0-based line. */
  lineNumber: number;
}

const callFrameSchema = z.object({
  functionName: z.string(),
  url: z.string(),
  lineNumber: z.number(),
});

const profileSchema = z.object({
  nodes: z.array(z.object({
    id: z.number(),
    callFrame: callFrameSchema,
    children: z.array(z.number()).optional(),
  })),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number()).default([]),
  timeDeltas: z.array(z.number()).default([]),
});

/** A V8 CPU profile (`Profiler.stop`'s `profile`), the fields used here. */
export type CpuProfile = z.infer<typeof profileSchema>;

const messageSchema = z.object({
  id: z.number().optional(),
  method: z.string().optional(),
  sessionId: z.string().optional(),
  params: z.unknown().optional(),
  result: z.unknown().optional(),
  error: z.object({ message: z.string() }).optional(),
});

const attachedSchema = z.object({
  sessionId: z.string(),
  targetInfo: z.object({
    type: z.string(),
    title: z.string(),
    url: z.string(),
  }),
});

const detachedSchema = z.object({ sessionId: z.string() });

const targetListSchema = z.array(
  z.object({ webSocketDebuggerUrl: z.string(), url: z.string() }),
).min(1);

/** Self time of one function or file. */
export interface ProfileEntry {
  /** `function (file:line)` or the file. */
  name: string;
  /** Its category. */
  category: Category;
  /** Self time, ms. */
  ms: number;
}

/** One isolate's profile over a window, summed. */
export interface ThreadProfile {
  /** `main` or the worker's title and script. */
  thread: string;
  /** The profile's length, ms. */
  wallMs: number;
  /** Sampled time that was not idle, ms. */
  activeMs: number;
  /** Self time per category, ms (idle included). */
  categories: Record<Category, number>;
  /** Functions by self time, most first (idle, GC and program left out). */
  functions: ProfileEntry[];
  /** Module files by self time, most first (same exclusions). */
  files: ProfileEntry[];
  /** Samples taken. */
  samples: number;
}

/** What one window's profile gives. */
export interface WindowProfile {
  /** The window's wall time, seconds. */
  seconds: number;
  /** The whole process's CPU seconds (user + system, all threads). */
  processCpuSeconds: number;
  /** The main isolate first, then every worker that was attached. */
  threads: ThreadProfile[];
  /**
   * The process's CPU seconds per OS thread name (`/proc/PID/task/*\/comm`;
   * threads of one name summed), most first.
   */
  osThreads: { name: string; seconds: number }[];
}

/** A connection to a streamer's inspector that profiles windows. */
export interface StreamerProfiler {
  /** Starts profiling every isolate and notes the process CPU time. */
  start(): Promise<void>;
  /** Stops, and sums what was sampled since {@linkcode start}. */
  stop(): Promise<WindowProfile>;
  /** Closes the inspector connection. */
  close(): void;
}

/** Options for {@linkcode connectProfiler}. */
export interface ProfilerOptions {
  /** The profiled process (its `/proc` CPU time is read). */
  pid: number;
  /** Sampling interval, µs. Default 200. */
  intervalUs?: number;
  /** Gives up connecting after this long, ms. Default 10 s. */
  timeoutMs?: number;
}

/** User + system CPU seconds per thread of process `pid`, by thread id. */
async function taskCpuSeconds(
  pid: number,
): Promise<Map<string, { name: string; seconds: number }>> {
  const ticks = await clockTicks();
  const tasks = new Map<string, { name: string; seconds: number }>();
  for await (const entry of Deno.readDir(`/proc/${pid}/task`)) {
    const stat = await readStat(`/proc/${pid}/task/${entry.name}/stat`);
    if (!stat) continue; // Ended meanwhile.
    tasks.set(entry.name, { name: stat.name, seconds: stat.ticks / ticks });
  }
  return tasks;
}

/** CPU seconds per thread name between two {@linkcode taskCpuSeconds}. */
function taskDelta(
  before: Map<string, { name: string; seconds: number }>,
  after: Map<string, { name: string; seconds: number }>,
): { name: string; seconds: number }[] {
  const byName = new Map<string, number>();
  for (const [tid, { name, seconds }] of after) {
    // A thread born in the window counts from zero.
    const used = seconds - (before.get(tid)?.seconds ?? 0);
    byName.set(name, (byName.get(name) ?? 0) + used);
  }
  return [...byName].map(([name, seconds]) => ({ name, seconds }))
    .sort((a, b) => b.seconds - a.seconds);
}

/** The pipeline stage a sampled function belongs to. */
export function categorize(frame: CallFrame): Category {
  const { functionName: name, url } = frame;
  if (name === "(idle)") return "idle";
  if (name === "(garbage collector)") return "GC";
  if (name === "(program)" || name === "(root)") return "(program)";
  // The profiler's own cost: with a session attached Deno reports events.
  if (name.startsWith("op_inspector") || url.includes("inspector")) {
    return "inspector";
  }
  if (
    url.includes("/ffi/x11/") || url.includes("/devices/linux/x11_") ||
    url.includes("/streamer/shared_capture.ts") ||
    url.includes("/devices/capture.ts")
  ) return "capture";
  if (url.includes("/encode/tiles.ts")) return "tile compare";
  if (url.includes("/encode/motion.ts")) return "move detection";
  if (url.includes("/encode/codecs.ts")) {
    return /jpeg/i.test(name) ? "JPEG" : "PNG";
  }
  if (
    url.includes("fast-png") || url.includes("/pako/") ||
    url.includes("/fflate/") || url.includes("/iobuffer/")
  ) return "PNG";
  if (
    url.includes("/encode/native_jpeg.ts") || url.includes("mozjpeg") ||
    url.includes("@jsquash") || url.includes("/sharp/") ||
    url.startsWith("wasm://")
  ) return "JPEG";
  if (
    url.includes("/streamer/video/") || url.includes("/ffi/x264/") ||
    url.includes("/ffi/libyuv/")
  ) return "video";
  if (url.includes("/streamer/audio/") || url.includes("/ffi/opus/")) {
    return "audio";
  }
  if (url.includes("/streamer/encode/")) return "encoder (other)";
  if (
    url.includes("/session/protocol.js") || url.includes("websocket") ||
    url.includes("/streamer/viewer") || url.includes("ext:deno_net") ||
    url.includes("ext:deno_http")
  ) return "protocol/socket";
  if (url.includes("/mod/")) return "streamer (other)";
  if (url.startsWith("ext:") || url.startsWith("node:")) {
    return "Deno runtime";
  }
  return "other";
}

/** The short form of a script URL: from `mod/`, `ffi/`, … or the package. */
function shortUrl(url: string): string {
  if (!url) return "(native)";
  const npm = url.match(/\/npm\/[^/]+\/(.+)$/);
  if (npm) return `npm:${npm[1]}`;
  const local = url.match(/\/((?:mod|ffi|httpdocs|bench|tests)\/.+)$/);
  return local ? local[1] : url;
}

/** Sums a profile's samples per function, file and category. */
export function summarizeProfile(
  profile: CpuProfile,
  options: { thread: string },
): ThreadProfile {
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parents = new Map<number, number>();
  for (const node of profile.nodes) {
    for (const child of node.children ?? []) parents.set(child, node.id);
  }
  // Native code without a script counts for its nearest script caller.
  const caller = (id: number): CallFrame | undefined => {
    for (let p = parents.get(id); p !== undefined; p = parents.get(p)) {
      const frame = frames.get(p)!;
      if (frame.url) return frame;
    }
    return undefined;
  };
  const categories = Object.fromEntries(
    CATEGORIES.map((c) => [c, 0]),
  ) as Record<Category, number>;
  const functions = new Map<string, ProfileEntry>();
  const files = new Map<string, ProfileEntry>();
  const add = (
    map: Map<string, ProfileEntry>,
    name: string,
    category: Category,
    ms: number,
  ): void => {
    const entry = map.get(name);
    if (entry) entry.ms += ms;
    else map.set(name, { name, category, ms });
  };
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    const sampled = frames.get(samples[i]);
    if (!sampled) continue;
    const native = !sampled.url && !sampled.functionName.startsWith("(") &&
      !sampled.functionName.startsWith("op_inspector");
    const frame = native ? caller(samples[i]) ?? sampled : sampled;
    // V8's delta at i is the time before sample i: sample i's time is the
    // next delta (the last one takes the time to the profile's end).
    const us = i + 1 < samples.length ? timeDeltas[i + 1] : Math.max(
      0,
      profile.endTime - profile.startTime -
        timeDeltas.reduce((a, b) => a + b, 0),
    );
    const ms = Math.max(0, us) / 1000;
    const category = categorize(frame);
    categories[category] += ms;
    if (category === "idle" || category === "GC" || category === "(program)") {
      continue;
    }
    const file = shortUrl(frame.url);
    const name = `${native ? `${sampled.functionName || "native"} ← ` : ""}${
      frame.functionName || `(anonymous):${frame.lineNumber + 1}`
    } (${file})`;
    add(functions, name, category, ms);
    add(files, file, category, ms);
  }
  const sorted = (map: Map<string, ProfileEntry>): ProfileEntry[] =>
    [...map.values()].sort((a, b) => b.ms - a.ms);
  const wallMs = (profile.endTime - profile.startTime) / 1000;
  return {
    thread: options.thread,
    wallMs,
    activeMs: Object.entries(categories)
      .filter(([c]) => c !== "idle")
      .reduce((sum, [, ms]) => sum + ms, 0),
    categories,
    functions: sorted(functions),
    files: sorted(files),
    samples: samples.length,
  };
}

/** Connects to the inspector at `127.0.0.1:port` of process `options.pid`. */
export async function connectProfiler(
  port: number,
  options: ProfilerOptions,
): Promise<StreamerProfiler> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  let list: z.infer<typeof targetListSchema> | undefined;
  // The inspector listens a moment after the process starts.
  while (!list) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/json/list`);
      list = targetListSchema.parse(await response.json());
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`no inspector on port ${port}: ${error}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const socket = new WebSocket(list[0].webSocketDebuggerUrl);
  const opened = Promise.withResolvers<void>();
  socket.onopen = () => opened.resolve();
  socket.onerror = () => opened.reject(new Error("inspector socket failed"));
  await opened.promise;

  let nextId = 0;
  const pending = new Map<
    number,
    { resolve(v: unknown): void; reject(e: Error): void }
  >();
  // Worker sessions (flattened auto-attach), by session id: their title.
  const workers = new Map<string, string>();
  socket.onmessage = (event) => {
    const message = messageSchema.safeParse(JSON.parse(String(event.data)));
    if (!message.success) return;
    const { id, method, params, result, error } = message.data;
    if (id !== undefined) {
      const waiter = pending.get(id);
      pending.delete(id);
      if (error) waiter?.reject(new Error(error.message));
      else waiter?.resolve(result);
    } else if (method === "Target.attachedToTarget") {
      const attached = attachedSchema.safeParse(params);
      if (attached.success) {
        const { sessionId, targetInfo } = attached.data;
        workers.set(
          sessionId,
          `${targetInfo.title} ${shortUrl(targetInfo.url)}`,
        );
      }
    } else if (method === "Target.detachedFromTarget") {
      const detached = detachedSchema.safeParse(params);
      if (detached.success) workers.delete(detached.data.sessionId);
    }
  };
  socket.onclose = () => {
    for (const waiter of pending.values()) {
      waiter.reject(new Error("inspector socket closed"));
    }
    pending.clear();
  };
  function send(
    method: string,
    params: Record<string, unknown> = {},
    sessionId?: string,
  ): Promise<unknown> {
    const id = ++nextId;
    const reply = new Promise<unknown>((resolve, reject) =>
      pending.set(id, { resolve, reject })
    );
    socket.send(JSON.stringify({ id, method, params, sessionId }));
    return reply;
  }

  const intervalUs = options.intervalUs ?? 200;
  await send("Target.setAutoAttach", {
    autoAttach: true,
    waitForDebuggerOnStart: false,
    flatten: true,
  });
  // Sessions profiling this window: undefined is the main isolate.
  let profiled: (string | undefined)[] = [];
  let cpu0 = 0;
  let tasks0 = new Map<string, { name: string; seconds: number }>();
  let t0 = 0;
  async function startOne(sessionId?: string): Promise<void> {
    await send("Profiler.enable", {}, sessionId);
    await send(
      "Profiler.setSamplingInterval",
      { interval: intervalUs },
      sessionId,
    );
    await send("Profiler.start", {}, sessionId);
  }
  return {
    async start() {
      profiled = [undefined, ...workers.keys()];
      await Promise.all(profiled.map((s) => startOne(s)));
      cpu0 = await cpuSeconds(options.pid);
      tasks0 = await taskCpuSeconds(options.pid);
      t0 = performance.now();
    },
    async stop() {
      const cpu1 = await cpuSeconds(options.pid);
      const osThreads = taskDelta(tasks0, await taskCpuSeconds(options.pid));
      const seconds = (performance.now() - t0) / 1000;
      const threads: ThreadProfile[] = [];
      for (const sessionId of profiled) {
        // A worker that ended meanwhile has no profile to give.
        if (sessionId !== undefined && !workers.has(sessionId)) continue;
        const result = z.object({ profile: profileSchema }).parse(
          await send("Profiler.stop", {}, sessionId),
        );
        await send("Profiler.disable", {}, sessionId);
        threads.push(summarizeProfile(result.profile, {
          thread: sessionId === undefined ? "main" : workers.get(sessionId)!,
        }));
      }
      return {
        seconds,
        processCpuSeconds: cpu1 - cpu0,
        threads,
        osThreads,
      };
    },
    close() {
      socket.close();
    },
  };
}

function pad(table: string[][]): string[] {
  const widths = table[0].map((_, i) =>
    Math.max(...table.map((r) => (r[i] ?? "").length))
  );
  const line = (r: string[]): string =>
    r.map((cell, i) =>
      i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i])
    ).join("  ").trimEnd();
  return [
    line(table[0]),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...table.slice(1).map(line),
  ];
}

/** The profile of one window as text: per thread, categories and top functions. */
export function formatWindowProfile(
  profile: WindowProfile,
  options: { top?: number } = {},
): string[] {
  const top = options.top ?? 10;
  const perSecond = (ms: number): string => (ms / profile.seconds).toFixed(1);
  const lines: string[] = [];
  const isolates = profile.threads.reduce((s, t) => s + t.activeMs, 0);
  lines.push(
    `  process CPU ${
      (profile.processCpuSeconds * 1000 / profile.seconds).toFixed(0)
    } ms/s ` +
      `(all threads); isolates active ${perSecond(isolates)} ms/s ` +
      `(${profile.threads.length} profiled: ${
        profile.threads.map((t) => t.thread).join(", ")
      }); ` +
      `the rest is native threads (sharp/libuv, x264, GC helpers) and the inspector`,
  );
  const busy = profile.osThreads.filter((t) => t.seconds > 0);
  if (busy.length) {
    lines.push(
      `  OS threads (ms/s): ${
        busy.slice(0, 8).map((t) => `${t.name} ${perSecond(t.seconds * 1000)}`)
          .join(", ")
      }`,
    );
  }
  for (const thread of profile.threads) {
    lines.push(
      `  ${thread.thread}: active ${
        perSecond(thread.activeMs)
      } ms/s of wall time ` +
        `(${thread.samples} samples over ${
          (thread.wallMs / 1000).toFixed(1)
        } s)`,
    );
    const rows: string[][] = [["category", "ms/s", "share of active"]];
    for (const category of CATEGORIES) {
      const ms = thread.categories[category];
      if (category === "idle" || ms < 0.05 * profile.seconds) continue;
      rows.push([
        category,
        perSecond(ms),
        thread.activeMs ? `${(ms / thread.activeMs * 100).toFixed(1)} %` : "—",
      ]);
    }
    rows.push(["idle", perSecond(thread.categories.idle), ""]);
    lines.push(...pad(rows).map((l) => `    ${l}`));
    const functions: string[][] = [[
      "top functions (self)",
      "category",
      "ms/s",
      "share",
    ]];
    for (const entry of thread.functions.slice(0, top)) {
      functions.push([
        entry.name,
        entry.category,
        perSecond(entry.ms),
        thread.activeMs
          ? `${(entry.ms / thread.activeMs * 100).toFixed(1)} %`
          : "—",
      ]);
    }
    if (functions.length > 1) {
      lines.push(...pad(functions).map((l) => `    ${l}`));
    }
    if (thread.files.length) {
      lines.push(
        `    top files (self, ms/s): ${
          thread.files.slice(0, 6)
            .map((f) => `${f.name} ${perSecond(f.ms)}`).join(", ")
        }`,
      );
    }
  }
  return lines;
}
