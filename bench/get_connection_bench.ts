/**
 * `/getConnection` on a real `webstream -backend` (real pool users, real Xvfb,
 * real streamers), against the bare baseline server measured the same way:
 *
 * - warm: a session is already ready (logged on, streamer handshake done),
 *   so the launch only binds it and has the streamer arm a token;
 * - cold: no session is warm, so the launch starts Xvfb and the streamer and
 *   waits for the control handshake first.
 *
 * Each sample is one `GET /getConnection` with a fresh `X-Session-ID` on a
 * fresh connection, taken only once the pool is back in its resting state
 * (the previous session recycled; for warm, a ready session waiting). After
 * the answer the streamer WebSocket is opened with the token until its
 * `hello` ("stream open"), then closed, so the session is recycled after the
 * short reconnect grace period.
 *
 * @module
 */
import type { BaselineServer } from "./baseline_server.ts";
import {
  type BenchHost,
  type BenchRunOptions,
  SECRET,
  sessionId,
  sleep,
  startHost,
  type Stats,
  summarize,
  timedGet,
  until,
} from "./common.ts";
import { nextStreamerMessage, openSocket } from "../tests/support/ws.ts";

/** Options for {@linkcode runGetConnectionBench}. */
export interface GetConnectionBenchOptions extends BenchRunOptions {
  /** Warm samples. */
  warmSamples: number;
  /** Cold samples. */
  coldSamples: number;
  /** Baseline samples. */
  baselineSamples: number;
  /** The baseline server. */
  baseline: BaselineServer;
  /** Pause before each sample once the pool rests, ms. Default 100. */
  settleMs?: number;
}

/** The figures of one kind of launch. */
export interface LaunchFigures {
  /** `/getConnection` round trip. */
  allocation: Stats;
  /** From the answer to the streamer's `hello` on the token's WebSocket. */
  streamOpen: Stats;
  /** From sending `/getConnection` to the `hello`. */
  readyToStream: Stats;
  /**
   * Launches retried because the pool recycled the session before the
   * viewer's WebSocket reached its streamer (see `GRACE_SECONDS`).
   */
  recycled: number;
}

/** Everything {@linkcode runGetConnectionBench} measured. */
export interface GetConnectionResult {
  /** The baseline server's `/getConnection`-like answer. */
  baseline: Stats;
  /** Launches onto a ready session (absent when they failed). */
  warm?: LaunchFigures;
  /** Launches that start a session (absent when they failed). */
  cold?: LaunchFigures;
  /** Why warm or cold launches failed: one failing keeps the other. */
  errors: { warm?: string; cold?: string };
}

/**
 * The reconnect grace period: after a sample's viewer closes, the session
 * is recycled this soon, so the next sample starts sooner. The pool arms
 * the same timer when it answers `/getConnection`, until the streamer
 * reports the viewer; on a loaded machine a viewer can miss it, the
 * session is recycled under it and its socket closes before `hello`.
 * Such a launch is retried (and counted) rather than ending the run.
 */
const GRACE_SECONDS = 0.5;

/** Launches in a row that may be recycled before the run gives up. */
const MAX_RECYCLED_IN_A_ROW = 5;

/** Runs the warm, cold and baseline `/getConnection` measurements. */
export async function runGetConnectionBench(
  options: GetConnectionBenchOptions,
): Promise<GetConnectionResult> {
  const { signal } = options;
  const settleMs = options.settleMs ?? 100;
  const progress = options.progress ?? (() => {});
  const hostOptions = { signal, interrupted: options.interrupted };

  progress(`baseline /getConnection: ${options.baselineSamples} samples`);
  const baseline: number[] = [];
  for (let i = 0; i < options.baselineSamples; i++) {
    await sleep(settleMs, signal);
    const r = await timedGet(
      `${options.baseline.url}/getConnection`,
      launchHeaders(sessionId("base", i)),
    );
    if (r.status !== 200) throw new Error(`baseline answered ${r.status}`);
    baseline.push(r.elapsed);
  }

  const result: GetConnectionResult = {
    baseline: summarize(baseline),
    errors: {},
  };
  progress(`warm /getConnection: ${options.warmSamples} samples`);
  result.warm = await withHost(
    { slots: 2, warm: 1, grace: GRACE_SECONDS, ...hostOptions },
    (host) =>
      measureLaunches(host, "warm", options.warmSamples, {
        signal,
        settleMs,
        progress,
        // One session ready, the other slot free: nothing recycling or warming.
        resting: (s) =>
          s.filter((x) => x === "ready").length === 1 &&
          s.filter((x) => x === "free").length === s.length - 1,
      }),
  ).catch((error) => {
    signal.throwIfAborted();
    result.errors.warm = String(error);
    return undefined;
  });

  progress(`cold /getConnection: ${options.coldSamples} samples`);
  result.cold = await withHost(
    { slots: 1, warm: 0, grace: GRACE_SECONDS, ...hostOptions },
    (host) =>
      measureLaunches(host, "cold", options.coldSamples, {
        signal,
        settleMs,
        progress,
        resting: (s) => s.every((x) => x === "free"),
      }),
  ).catch((error) => {
    signal.throwIfAborted();
    result.errors.cold = String(error);
    return undefined;
  });
  return result;
}

function launchHeaders(id: string): Record<string, string> {
  return { "X-Session-ID": id, Authorization: `Bearer ${SECRET}` };
}

async function withHost<T>(
  options: {
    slots: number;
    warm: number;
    grace: number;
    signal: AbortSignal;
    interrupted: () => boolean;
  },
  fn: (host: BenchHost) => Promise<T>,
): Promise<T> {
  const host = await startHost(options);
  try {
    return await fn(host);
  } finally {
    await host.stop();
  }
}

async function measureLaunches(
  host: BenchHost,
  kind: string,
  samples: number,
  options: {
    signal: AbortSignal;
    settleMs: number;
    progress: (line: string) => void;
    resting: (states: readonly string[]) => boolean;
  },
): Promise<LaunchFigures> {
  const { signal } = options;
  const allocation: number[] = [];
  const streamOpen: number[] = [];
  const readyToStream: number[] = [];
  let recycled = 0;
  let recycledInARow = 0;
  const resting = async (): Promise<boolean> => {
    if (!options.resting(host.slots.states())) return false;
    const response = await fetch(`${host.url}/health`);
    const health = await response.json();
    return health.status === "healthy" && health.sessions.active === 0 &&
      health.sessions.available === health.sessions.total;
  };
  for (let i = 0; i < samples; i++) {
    // Rest, pause, and make sure nothing moved during the pause.
    do {
      await until(resting, {
        what: `the pool to rest before ${kind} sample ${i + 1}`,
        signal,
      });
      await sleep(options.settleMs, signal);
    } while (!options.resting(host.slots.states()));

    const id = sessionId(kind, i);
    const answer = await timedGet(
      `${host.url}/getConnection`,
      launchHeaders(id),
    );
    if (answer.status !== 200) {
      throw new Error(
        `${kind} /getConnection answered ${answer.status}: ${
          JSON.stringify(answer.body)
        }`,
      );
    }
    const c = answer.body;
    const start = performance.now();
    const ws = await openSocket(
      `ws://${c.host}:${c.port}${c.path}?token=${
        encodeURIComponent(String(c.token))
      }`,
    );
    let opened: number;
    try {
      const { hello } = await nextStreamerMessage(ws, "hello");
      opened = performance.now() - start;
      if (hello.sessionUuid !== c.sessionUuid) {
        throw new Error(`hello for another session ${hello.sessionUuid}`);
      }
    } catch (error) {
      const reason = await recycleReason(host, id);
      if (reason === undefined || ++recycledInARow > MAX_RECYCLED_IN_A_ROW) {
        throw new Error(
          `${kind} sample ${i + 1}: ${(error as Error).message}${
            reason === undefined ? "" : ` (session recycled: ${reason})`
          }`,
        );
      }
      recycled++;
      options.progress(
        `  ${kind} ${i + 1}/${samples}: session recycled before the viewer ` +
          `connected (${reason}); retrying`,
      );
      i--;
      continue;
    } finally {
      await ws.close();
    }
    recycledInARow = 0;
    streamOpen.push(opened);
    readyToStream.push(answer.elapsed + opened);
    allocation.push(answer.elapsed);
    options.progress(
      `  ${kind} ${i + 1}/${samples}: /getConnection ${
        answer.elapsed.toFixed(1)
      } ms, stream open ${opened.toFixed(1)} ms`,
    );
  }
  return {
    allocation: summarize(allocation),
    streamOpen: summarize(streamOpen),
    readyToStream: summarize(readyToStream),
    recycled,
  };
}

/**
 * Why the host recycled session `id`, if it did (its debug log says; the
 * record may reach us a moment after the socket closed).
 */
async function recycleReason(
  host: BenchHost,
  id: string,
): Promise<string | undefined> {
  const deadline = Date.now() + 2000;
  do {
    const record = host.process.logs.find((r) =>
      r.msg === "recycling session" && r.sessionId === id
    );
    if (record) return String(record.reason);
    await sleep(50);
  } while (Date.now() < deadline);
  return undefined;
}
