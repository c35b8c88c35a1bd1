/**
 * The streamer's capacity within one core: how many frames per second the
 * real `webstream streamer` process produces on the benchmark's animation
 * when all its threads are pinned to one CPU (`taskset`) and its viewer
 * acknowledges every frame as soon as it arrives, without decoding it.
 *
 * This is the "30 fps at 1080p within one core" measured apart
 * from the browser: on a small machine the browser's own decoding and
 * compositing share the cores with the streamer, so the frames a page
 * draws there say as much about the browser as about the streamer. The
 * viewer here is a plain WebSocket client in the benchmark's process
 * speaking `webstream/2`, offering the H.264 codecs a browser offers (so
 * the streamer may switch the animation to video, as it does for a page);
 * the streamer, X server and animation are the same real processes as in
 * the browser measurement.
 *
 * @module
 */
import {
  decodeStreamerMessage,
  encodeClientMessage,
  H264_CODECS,
} from "../../httpdocs/session/protocol.js";
import { groupCpuSeconds } from "./process.ts";
import { sleep } from "../common.ts";

/** What {@linkcode measureCapacity} measured. */
export interface CapacityFigures {
  /** The CPU the streamer was pinned to. */
  cpu: number;
  /** Frames per second the streamer sent (all acknowledged at once). */
  fps: number;
  /** Frames per second the workload drew meanwhile. */
  producedFps: number;
  /** Bytes per frame. */
  bytesPerFrame: number;
  /** The streamer's CPU, % of one core (at most 100 when pinned). */
  cpuPercent: number;
}

/** What {@linkcode measureCapacity} needs of the target. */
export interface CapacityTarget {
  /** The streamer's PID (its threads are pinned). */
  pid: number;
  /** A fresh viewer URL (a one-time token) of the given size. */
  viewerUrl(size: { width: number; height: number }): Promise<string>;
}

/** Durations and the workload. */
export interface CapacityOptions {
  /** The screen size asked for. */
  screen: { width: number; height: number };
  /** Starts the animation. */
  animate(): Promise<{ frames(): number; stop(): Promise<void> }>;
  /** Animation running before the window opens, ms. */
  warmupMs: number;
  /** The window, ms. */
  windowMs: number;
  /** Ends the run early. */
  signal: AbortSignal;
}

/** Pins every thread of `pid` to `cpu` (threads started later inherit it). */
export async function pinToCpu(pid: number, cpu: number): Promise<void> {
  const out = await new Deno.Command("taskset", {
    args: ["--all-tasks", "--cpu-list", "--pid", String(cpu), String(pid)],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `taskset could not pin ${pid} to CPU ${cpu}: ${
        new TextDecoder().decode(out.stderr).trim()
      }`,
    );
  }
}

/** Measures the streamer's frames per second within one core. */
export async function measureCapacity(
  target: CapacityTarget,
  options: CapacityOptions,
): Promise<CapacityFigures> {
  const cpu = Math.max(0, (navigator.hardwareConcurrency || 1) - 1);
  await pinToCpu(target.pid, cpu);
  const socket = new WebSocket(await target.viewerUrl(options.screen));
  socket.binaryType = "arraybuffer";
  let frames = 0;
  let bytes = 0;
  const opened = Promise.withResolvers<void>();
  socket.onopen = () => opened.resolve();
  socket.onerror = () => opened.reject(new Error("the viewer did not open"));
  socket.onmessage = (event) => {
    if (!(event.data instanceof ArrayBuffer)) return;
    const message = decodeStreamerMessage(new Uint8Array(event.data));
    if (message.type === "hello") {
      socket.send(encodeClientMessage({
        type: "caps",
        caps: { video: [...H264_CODECS], audio: false },
      }));
      return;
    }
    const frameId = message.type === "frame"
      ? message.frame.frameId
      : message.type === "video"
      ? message.video.frameId
      : undefined;
    if (frameId === undefined) return;
    frames++;
    bytes += event.data.byteLength;
    socket.send(encodeClientMessage({ type: "ack", frameId }));
  };
  const animation = await options.animate();
  try {
    await opened.promise;
    await sleep(options.warmupMs, options.signal);
    const f0 = frames, b0 = bytes, p0 = animation.frames();
    const c0 = await groupCpuSeconds([target.pid]);
    const t0 = performance.now();
    await sleep(options.windowMs, options.signal);
    const seconds = (performance.now() - t0) / 1000;
    const c1 = await groupCpuSeconds([target.pid]);
    const sent = frames - f0;
    return {
      cpu,
      fps: sent / seconds,
      producedFps: (animation.frames() - p0) / seconds,
      bytesPerFrame: sent ? (bytes - b0) / sent : 0,
      cpuPercent: (c1 - c0) / seconds * 100,
    };
  } finally {
    socket.close();
    await animation.stop();
  }
}
