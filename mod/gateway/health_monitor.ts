/**
 * Probes every registered host's `GET /health` every `healthCheck.interval`
 * seconds with `healthCheck.timeout`. A probe still running when the next is
 * due is left alone, so a host that answers slowly (heavy logon
 * provisioning) but within the timeout is never counted as failing. With
 * several gateways on one store each probes only the hosts it holds a lease
 * for (`targets`, `probe_sharing.ts`); a probe names its gateway in
 * `X-Gateway-Id`, so a host's operator (or a test) can tell who probes.
 *
 * @module
 */
import type { HealthCheckSettings } from "../config/mod.ts";
import { delay } from "../util/async.ts";
import type { HostRegistry } from "./registry.ts";

/** Options for {@linkcode startHealthMonitor}. */
export interface HealthMonitorOptions {
  /** `gateway.healthCheck`. */
  health: HealthCheckSettings;
  /**
   * The hosts to probe this interval. Default every registered host
   * (`registry.probeTargets()`).
   */
  targets?: () => Promise<string[]>;
  /** This gateway's id, sent as `X-Gateway-Id` with each probe. */
  gatewayId?: string;
}

/** A running health monitor. */
export interface HealthMonitor {
  /** Probes one host now (after a registration, say). */
  probe(serverUrl: string): Promise<void>;
  /** Stops probing and waits for probes in flight. */
  stop(): Promise<void>;
}

/** Starts probing the registry's hosts. */
export function startHealthMonitor(
  registry: HostRegistry,
  options: HealthMonitorOptions,
): HealthMonitor {
  const { interval, timeout } = options.health;
  const stopping = new AbortController();
  const inFlight = new Map<string, Promise<void>>();
  const headers: Record<string, string> = options.gatewayId
    ? { "X-Gateway-Id": options.gatewayId }
    : {};
  const targets = options.targets ??
    (() => Promise.resolve(registry.probeTargets()));

  function probe(serverUrl: string): Promise<void> {
    const running = inFlight.get(serverUrl);
    if (running) return running;
    const started = performance.now();
    const done = (async () => {
      let ok = false;
      let error: string | undefined;
      try {
        const response = await fetch(`${serverUrl.replace(/\/$/, "")}/health`, {
          headers,
          signal: AbortSignal.any([
            stopping.signal,
            AbortSignal.timeout(timeout * 1000),
          ]),
        });
        await response.body?.cancel();
        ok = response.status === 200;
        if (!ok) error = `answered ${response.status}`;
      } catch (cause) {
        error = (cause as Error).name === "TimeoutError"
          ? `no answer within ${timeout} s`
          : (cause as Error).message;
      }
      if (stopping.signal.aborted) return;
      registry.recordProbe(serverUrl, {
        at: Date.now(),
        ok,
        latencyMs: Math.round(performance.now() - started),
        error,
      });
    })().finally(() => inFlight.delete(serverUrl));
    inFlight.set(serverUrl, done);
    return done;
  }

  const loop = (async () => {
    while (!stopping.signal.aborted) {
      const due = await targets();
      if (stopping.signal.aborted) break;
      for (const serverUrl of due) probe(serverUrl);
      await delay(interval * 1000, { signal: stopping.signal });
    }
  })();

  return {
    probe,
    async stop() {
      stopping.abort();
      await loop;
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
