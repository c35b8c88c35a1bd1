/**
 * Tests for `bench/media/profile.ts`: samples are summed per function, file
 * and category (each sample gets the delta that follows it), and a real
 * `deno --inspect` process with a worker is profiled in both isolates.
 *
 * @module
 */
import {
  categorize,
  connectProfiler,
  type CpuProfile,
  summarizeProfile,
} from "../../bench/media/profile.ts";
import { freePort } from "../support/ports.ts";
import { assert, assertEquals } from "../support/assert.ts";

const ROOT = "file:///work/webstream/";

Deno.test("functions are counted under the pipeline's categories", () => {
  const frame = (functionName: string, path: string) => ({
    functionName,
    url: path.includes(":") ? path : `${ROOT}${path}`,
    lineNumber: 0,
  });
  assertEquals(categorize(frame("(idle)", "")), "idle");
  assertEquals(categorize(frame("(garbage collector)", "")), "GC");
  assertEquals(categorize(frame("grab", "ffi/x11/shm.ts")), "capture");
  assertEquals(
    categorize(frame("tileDiffers", "mod/streamer/encode/tiles.ts")),
    "tile compare",
  );
  assertEquals(
    categorize(frame("findMoves", "mod/streamer/encode/motion.ts")),
    "move detection",
  );
  assertEquals(
    categorize(frame("toIndexed", "mod/streamer/encode/codecs.ts")),
    "PNG",
  );
  assertEquals(
    categorize(frame("encodeJpeg", "mod/streamer/encode/codecs.ts")),
    "JPEG",
  );
  assertEquals(categorize(frame("encode", "ffi/x264/mod.ts")), "video");
  assertEquals(
    categorize(frame("encodeStreamerMessage", "httpdocs/session/protocol.js")),
    "protocol/socket",
  );
  assertEquals(
    categorize(frame("dispatch", "ext:deno_web/02_event.js")),
    "Deno runtime",
  );
});

Deno.test("self time is the delta after each sample", () => {
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 } },
      { id: 2, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
      {
        id: 3,
        callFrame: {
          functionName: "tileDiffers",
          url: `${ROOT}mod/streamer/encode/tiles.ts`,
          lineNumber: 9,
        },
      },
    ],
    startTime: 0,
    endTime: 10_000,
    samples: [3, 3, 2],
    timeDeltas: [0, 2_000, 5_000],
  };
  const thread = summarizeProfile(profile, { thread: "main" });
  assertEquals(thread.wallMs, 10);
  assertEquals(thread.categories["tile compare"], 7);
  assertEquals(thread.categories.idle, 3);
  assertEquals(thread.activeMs, 7);
  assertEquals(
    thread.functions[0].name,
    "tileDiffers (mod/streamer/encode/tiles.ts)",
  );
  assertEquals(thread.files[0].name, "mod/streamer/encode/tiles.ts");
});

Deno.test("native code without a script counts for its caller", () => {
  const profile: CpuProfile = {
    nodes: [
      {
        id: 1,
        callFrame: { functionName: "(root)", url: "", lineNumber: -1 },
        children: [2],
      },
      {
        id: 2,
        callFrame: {
          functionName: "grab",
          url: `${ROOT}mod/devices/linux/x11_capture.ts`,
          lineNumber: 3,
        },
        children: [3],
      },
      { id: 3, callFrame: { functionName: "", url: "", lineNumber: -1 } },
    ],
    startTime: 0,
    endTime: 4_000,
    samples: [3, 3],
    timeDeltas: [0, 2_000],
  };
  const thread = summarizeProfile(profile, { thread: "main" });
  assertEquals(thread.categories.capture, 4);
  assertEquals(
    thread.functions[0].name,
    "native ← grab (mod/devices/linux/x11_capture.ts)",
  );
});

Deno.test("a process with a worker is profiled in both isolates", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/worker.ts`,
      "self.onmessage = () => { let s = 0; for (let i = 0; i < 2e6; i++) s += Math.sqrt(i); self.postMessage(s); };",
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `const w = new Worker(new URL("./worker.ts", import.meta.url), { type: "module" });
w.onmessage = () => {};
function spin() { let s = 0; for (let i = 0; i < 2e5; i++) s += Math.sin(i); return s; }
setInterval(() => { spin(); w.postMessage(1); }, 20);`,
    );
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `--inspect=127.0.0.1:${port}`, `${dir}/main.ts`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const profiler = await connectProfiler(port, { pid: child.pid });
      try {
        // The worker attaches a moment after the main isolate runs.
        await new Promise((r) => setTimeout(r, 500));
        await profiler.start();
        await new Promise((r) => setTimeout(r, 500));
        const profile = await profiler.stop();
        assertEquals(profile.threads[0].thread, "main");
        assertEquals(profile.threads.length, 2);
        assert(profile.threads[1].thread.includes("worker.ts"));
        for (const thread of profile.threads) {
          assert(thread.samples > 100, `${thread.thread}: ${thread.samples}`);
          assert(thread.activeMs > 0);
        }
        assert(profile.processCpuSeconds >= 0);
      } finally {
        profiler.close();
      }
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
