/**
 * A farm's hosts for the gateway's health probes, each at an address of
 * its own as real hosts are (`http://127.1.X.Y:<port>`, one listener per
 * host on loopback's 127.0.0.0/8), so the probes open a connection per host
 * and keep-alive reuses each host's own, as in a farm. One server at one
 * address would let every probe share a handful of connections. Each
 * answers `/health` as the baseline server does.
 *
 * Run as child processes (`startProbeFarm`), each with at most
 * {@linkcode HOSTS_PER_CHILD} hosts (a listener and a connection each must
 * fit its open-file limit); a child prints `{"port":N}` once every host of
 * its share listens.
 *
 * @module
 */
import { baselineHandler } from "./baseline_server.ts";
import { type ChildServer, startChildServer } from "./child_server.ts";

/** Hosts at most (addresses 127.1.0.0–127.1.255.255). */
export const PROBE_FARM_MAX = 65_536;

/** Hosts a child serves at most. */
export const HOSTS_PER_CHILD = 2500;

/** Host `n`'s address. */
export function probeFarmAddress(n: number): string {
  return `127.1.${n >> 8 & 255}.${n & 255}`;
}

/** A running probe farm. */
export interface ProbeFarm {
  /** Host `n`'s URL. */
  url(n: number): string;
  /** Stops its children by their PIDs. */
  stop(): Promise<void>;
}

/** Starts `count` hosts in child processes. */
export async function startProbeFarm(count: number): Promise<ProbeFarm> {
  if (count > PROBE_FARM_MAX) {
    throw new RangeError(`a probe farm has ${PROBE_FARM_MAX} hosts at most`);
  }
  const children: ChildServer[] = [];
  const stop = async () => {
    await Promise.all(children.splice(0).map((child) => child.stop()));
  };
  try {
    for (let from = 0; from < count; from += HOSTS_PER_CHILD) {
      const to = Math.min(count, from + HOSTS_PER_CHILD);
      children.push(
        await startChildServer(new URL(import.meta.url), [
          String(from),
          String(to),
        ]),
      );
    }
  } catch (error) {
    await stop();
    throw error;
  }
  const ports = children.map((child) => child.port);
  return {
    url: (n) =>
      `http://${probeFarmAddress(n)}:${ports[Math.floor(n / HOSTS_PER_CHILD)]}`,
    stop,
  };
}

if (import.meta.main) {
  const [from, to] = Deno.args.map(Number);
  const servers: Deno.HttpServer[] = [];
  const listen = (n: number, port: number) =>
    Deno.serve({
      hostname: probeFarmAddress(n),
      port,
      onListen: () => {},
    }, baselineHandler);
  const first = listen(from, 0);
  servers.push(first);
  for (let n = from + 1; n < to; n++) servers.push(listen(n, first.addr.port));
  console.log(JSON.stringify({ port: first.addr.port }));
  const stopped = new Promise<void>((resolve) => {
    Deno.addSignalListener("SIGTERM", resolve);
    Deno.addSignalListener("SIGINT", resolve);
  });
  await stopped;
  await Promise.all(servers.map((s) => s.shutdown()));
  Deno.exit(0);
}
