/**
 * A farm's hosts for the gateway's health probes, each at an address of
 * its own as real hosts are (`http://127.1.X.Y:<port>`, one listener per
 * host on loopback's 127.0.0.0/8), so the probes open a connection per host
 * and keep-alive reuses each host's own, as in a farm. One server at one
 * address would let every probe share a handful of connections. Each
 * answers `/health` as the baseline server does.
 *
 * Run as a child process (`startProbeFarm`); the child prints `{"port":N}`
 * once every host listens.
 *
 * @module
 */
import { baselineHandler } from "./baseline_server.ts";
import { startChildServer } from "./child_server.ts";

/** Hosts at most (addresses 127.1.0.0–127.1.255.255). */
export const PROBE_FARM_MAX = 65_536;

/** Host `n`'s address. */
export function probeFarmAddress(n: number): string {
  return `127.1.${n >> 8 & 255}.${n & 255}`;
}

/** A running probe farm. */
export interface ProbeFarm {
  /** Its PID. */
  pid: number;
  /** Host `n`'s URL. */
  url(n: number): string;
  /** Stops it by its PID. */
  stop(): Promise<void>;
}

/** Starts `count` hosts in a child process. */
export async function startProbeFarm(count: number): Promise<ProbeFarm> {
  if (count > PROBE_FARM_MAX) {
    throw new RangeError(`a probe farm has ${PROBE_FARM_MAX} hosts at most`);
  }
  const { pid, port, stop } = await startChildServer(
    new URL(import.meta.url),
    [String(count)],
  );
  return {
    pid,
    url: (n) => `http://${probeFarmAddress(n)}:${port}`,
    stop,
  };
}

if (import.meta.main) {
  const count = Number(Deno.args[0]);
  const servers: Deno.HttpServer[] = [];
  const listen = (n: number, port: number) =>
    Deno.serve({
      hostname: probeFarmAddress(n),
      port,
      onListen: () => {},
    }, baselineHandler);
  const first = listen(0, 0);
  servers.push(first);
  for (let n = 1; n < count; n++) servers.push(listen(n, first.addr.port));
  console.log(JSON.stringify({ port: first.addr.port }));
  const stopped = new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGTERM", resolve);
    Deno.addSignalListener("SIGINT", resolve);
  });
  await stopped;
  await Promise.all(servers.map((s) => s.shutdown()));
  Deno.exit(0);
}
