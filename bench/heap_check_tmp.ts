// Ad-hoc (not committed): a gateway on a seeded SQLite farm, its heap after a full GC via the inspector.
import { farmHosts, seedStore } from "./restart_bench.ts";
import { startProbeFarm } from "./probe_farm_server.ts";
import { benchRun, memoryMb, startGatewayProcess } from "./gateway_common.ts";
import { sleep } from "./common.ts";

const flags = Deno.args.filter((a) => a.startsWith("--v8-flags="));
const reuse = Deno.args.find((a) => a.startsWith("--store="))?.slice(8);
const run = await benchRun("heap");
const farm = await startProbeFarm(10_000);
run.cleanup.defer(() => farm.stop());
try {
  const storePath = reuse ?? `${run.dir}/farm.sqlite`;
  if (!reuse) {
    await seedStore(
      { storePath },
      farmHosts(10_000, farm.url),
      500_000,
      new AbortController().signal,
    );
  }
  const inspect = 9339;
  const gw = await startGatewayProcess({
    dir: run.dir,
    signal: new AbortController().signal,
    interrupted: () => false,
    run: { denoFlags: [`--inspect=127.0.0.1:${inspect}`, ...flags] },
    gateway: {
      storePath,
      healthCheck: { interval: 10, timeout: 6, heartbeatInterval: 10 },
      licence: { staleAfter: 3600 },
    },
  });
  try {
    await sleep(30_000);
    const list = await (await fetch(`http://127.0.0.1:${inspect}/json/list`))
      .json();
    const ws = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((r) => ws.onopen = r);
    let id = 0;
    const pending = new Map<number, (v: unknown) => void>();
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data);
      pending.get(m.id)?.(m);
    };
    const call = (method: string, params = {}) =>
      new Promise<any>((r) => {
        pending.set(++id, r);
        ws.send(JSON.stringify({ id, method, params }));
      });
    const evalJs = async (expr: string) =>
      (await call("Runtime.evaluate", {
        expression: expr,
        awaitPromise: true,
        returnByValue: true,
      })).result?.result?.value;
    const before = await memoryMb(gw.pid);
    const mu1 = await evalJs("JSON.stringify(Deno.memoryUsage())");
    await call("HeapProfiler.collectGarbage");
    await sleep(2000);
    const mu2 = await evalJs("JSON.stringify(Deno.memoryUsage())");
    const spaces = await evalJs(
      "import('node:v8').then(v8 => JSON.stringify(v8.getHeapSpaceStatistics().map(s => [s.space_name, Math.round(s.space_size/1e6), Math.round(s.space_used_size/1e6)])))",
    );
    const after = await memoryMb(gw.pid);
    const smaps = await Deno.readTextFile(`/proc/${gw.pid}/smaps_rollup`);
    console.log(
      JSON.stringify(
        {
          flags,
          before,
          mu1: JSON.parse(mu1),
          afterGc: after,
          mu2: JSON.parse(mu2),
          spaces: JSON.parse(spaces ?? "[]"),
        },
        null,
        1,
      ),
    );
    console.log(smaps);
    ws.close();
    if (Deno.args.includes("--keep")) {
      await Deno.copyFile(storePath, "/tmp/heapcheck/farm.sqlite");
    }
  } finally {
    await gw.stop();
  }
} finally {
  await run.cleanup.run();
}
