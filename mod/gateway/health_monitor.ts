/**
 * Probes every registered host's `GET /health` every `healthCheck.interval`
 * seconds with `healthCheck.timeout`: each round's hosts spread evenly over
 * the interval (the first round's started as fast as slots free up, the
 * restored hosts not heard from first: `unheard`, `firstProbes`), at most
 * `healthCheck.maxConcurrentProbes` in flight (`probe_schedule.ts`). A probe
 * still running when the next is due is left alone, so a host that answers
 * slowly (heavy logon provisioning) but within the timeout is never counted
 * as failing. With several gateways on one store each probes only the hosts
 * it holds a lease for (`targets`, `probe_sharing.ts`); a probe names its
 * gateway in `X-Gateway-Id`, so a host's operator (or a test) can tell who
 * probes. Probes open a connection each (`health_probe.ts`).
 *
 * @module
 */
import type { HealthCheckSettings } from "../config/mod.ts";
import {
  DEFAULT_MAX_CONCURRENT_PROBES,
  ProbeSlots,
  realClock,
  type RoundClock,
  runProbeRound,
} from "./probe_schedule.ts";
import type { HostRegistry } from "./registry.ts";
import { HealthProber, type Prober } from "./health_probe.ts";

/** Options for {@linkcode startHealthMonitor}. */
export interface HealthMonitorOptions {
  /** `gateway.healthCheck`. */
  health: HealthCheckSettings;
  /**
   * The hosts to probe this interval. Default every registered host
   * (`registry.probeTargets()`).
   */
  targets?: () => Promise<string[]>;
  /**
   * Hosts the first round probes too, first and whoever's lease they are:
   * those restored from the store and not heard from
   * (`registry.unheard()`), which a starting gateway waits for
   * ({@linkcode HealthMonitor.firstProbes}).
   */
  unheard?: readonly string[];
  /** This gateway's id, sent as `X-Gateway-Id` with each probe. */
  gatewayId?: string;
  /** The rounds' clock, for tests. Default {@linkcode realClock}. */
  clock?: RoundClock;
  /**
   * How hosts are probed. Default a {@linkcode HealthProber} with the
   * settings' timeout: a connection each, no idle one kept (a connection
   * kept alive to each of 10,000 hosts held 22 KB each and saved no CPU
   * measurably, `probe_bench.ts`). Closed when the monitor stops.
   */
  prober?: Prober;
}

/** A running health monitor. */
export interface HealthMonitor {
  /** Probes one host as soon as a slot is free (after a registration, say). */
  probe(serverUrl: string): Promise<void>;
  /**
   * Settles once the first round has probed every `unheard` host (each
   * probe bounded by `healthCheck.timeout`; the round by its slots), or the
   * monitor stopped.
   */
  firstProbes: Promise<void>;
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

  const slots = new ProbeSlots(
    options.health.maxConcurrentProbes ?? DEFAULT_MAX_CONCURRENT_PROBES,
  );
  const clock = options.clock ?? realClock;
  const prober = options.prober ??
    new HealthProber({ timeoutMs: timeout * 1000, headers });

  /** Runs `run` as `serverUrl`'s probe in flight. */
  function track(serverUrl: string, run: () => Promise<void>): Promise<void> {
    const done = run().finally(() => inFlight.delete(serverUrl));
    inFlight.set(serverUrl, done);
    return done;
  }

  /** One probe, holding a slot; records its result. */
  async function check(serverUrl: string): Promise<void> {
    const started = performance.now();
    const answer = await prober.probe(serverUrl);
    if (stopping.signal.aborted) return;
    const ok = answer.kind === "answered" && answer.status === 200;
    const error = answer.kind === "failed"
      ? answer.error
      : ok
      ? undefined
      : `answered ${answer.status}`;
    registry.recordProbe(serverUrl, {
      at: Date.now(),
      ok,
      latencyMs: Math.round(performance.now() - started),
      error,
    });
  }

  function probe(serverUrl: string): Promise<void> {
    return inFlight.get(serverUrl) ?? track(serverUrl, async () => {
      if (!await slots.take(stopping.signal)) return;
      try {
        await check(serverUrl);
      } finally {
        slots.release();
      }
    });
  }

  let firstProbed!: () => void;
  const firstProbes = new Promise<void>((resolve) => firstProbed = resolve);
  const loop = (async () => {
    // The first round as fast as the slots allow: a restarted gateway holds
    // its hosts Unreachable until it hears from them.
    let spreadMs = 0;
    let unheard: Set<string> | undefined = new Set(options.unheard);
    while (!stopping.signal.aborted) {
      const held = await targets();
      if (stopping.signal.aborted) break;
      const due = unheard ? [...new Set([...unheard, ...held])] : held;
      const awaited: Promise<void>[] = [];
      const started = clock.now();
      await runProbeRound(due, {
        intervalMs: spreadMs,
        slots,
        probe: (url) => {
          const done = track(url, () => check(url));
          if (unheard?.has(url)) awaited.push(done);
          return done;
        },
        busy: (url) => inFlight.has(url),
        signal: stopping.signal,
        clock,
      });
      if (unheard) Promise.allSettled(awaited).then(firstProbed);
      unheard = undefined;
      spreadMs = interval * 1000;
      const rest = started + interval * 1000 - clock.now();
      if (rest > 0) await clock.sleep(rest, stopping.signal);
    }
  })().finally(() => firstProbed());

  return {
    probe,
    firstProbes,
    async stop() {
      stopping.abort();
      prober.close();
      await loop;
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
