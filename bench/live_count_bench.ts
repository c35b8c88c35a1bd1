/**
 * The licence check's count of live sessions (`SessionMap.liveCount`, asked
 * by every launch while `licence.maxConcurrentSessions` is set, and by every
 * metrics scrape), against counting every session by the liveness rule (what
 * it did before the tally), in the same run and process.
 *
 * A real session map holds 500,000 sessions of 10,000 hosts (`--quick`:
 * 50,000), loaded as at a restart. A clock moves a second at a time, for
 * three `staleAfter` windows (45 s each, the default); every second, the
 * sessions' streamers check in as often as `licence.checkinInterval` (15 s)
 * has them do, but 5 % stay silent, and 20 launches ask for the count. Both
 * counts must agree at every step. Printed: p50/p99 of a count each way, and
 * the check-ins' cost per second (the tally is kept up to date there).
 *
 * `deno task bench:live-count [--quick]`
 *
 * @module
 */
import { SessionMap } from "../mod/gateway/sessions.ts";
import { openSqliteStore } from "../mod/gateway/store.ts";
import type { SessionRecord } from "../mod/gateway/types.ts";
import { createLogger } from "../mod/log/mod.ts";
import { fine, ratio, type Stats, summarize } from "./common.ts";
import { sessionRecord } from "../tests/support/gateway_parts.ts";

/** Options for {@linkcode runLiveCountBench}. */
export interface LiveCountBenchOptions {
  /** Sessions in the map. */
  sessions: number;
  /** Simulated seconds. Default three `staleAfter` windows. */
  seconds?: number;
  /** Counts asked for per simulated second. Default 20. */
  countsPerSecond?: number;
}

/** What {@linkcode runLiveCountBench} measured. */
export interface LiveCountFigures {
  /** Sessions in the map. */
  sessions: number;
  /** Live at the end. */
  live: number;
  /** `liveCount()` (the tally), ms. */
  tally: Stats;
  /** Every session counted by the rule, ms. */
  full: Stats;
  /** Check-ins' time per simulated second, ms (tally kept up to date). */
  checkinsMsPerSecond: number;
}

const STALE_AFTER = 45;
const CHECKIN_INTERVAL = 15;
const SILENT = 0.05;

/** Runs the benchmark; throws if the two counts ever disagree. */
export function runLiveCountBench(
  options: LiveCountBenchOptions,
): LiveCountFigures {
  const store = openSqliteStore(":memory:");
  let now = Date.now();
  const map = new SessionMap({
    store,
    staleAfter: STALE_AFTER,
    logger: createLogger({ level: "error" }),
    now: () => now,
  });
  try {
    const hosts = Array.from(
      { length: 10_000 },
      (_, i) => `http://10.0.${i >> 8}.${i & 255}:9005`,
    );
    const uuids: string[] = [];
    for (let i = 0; i < options.sessions; i++) {
      const record = session(i, hosts[i % hosts.length], now);
      uuids.push(record.sessionUuid);
      // Memory only, as a restart loads them.
      map.applyRemote(record);
    }
    const tally: number[] = [];
    const full: number[] = [];
    let checkinsMs = 0;
    const seconds = options.seconds ?? 3 * STALE_AFTER;
    const counts = options.countsPerSecond ?? 20;
    const checkers = Math.floor(options.sessions * (1 - SILENT));
    let live = 0;
    for (let second = 0; second < seconds; second++) {
      now += 1000;
      const t0 = performance.now();
      // This second's share of the streamers that still check in.
      const share = Math.ceil(checkers / CHECKIN_INTERVAL);
      const first = (second * share) % checkers;
      for (let k = 0; k < share; k++) {
        const i = (first + k) % checkers;
        map.checkin(uuids[i], hosts[i % hosts.length]);
      }
      checkinsMs += performance.now() - t0;
      for (let k = 0; k < counts; k++) {
        let t = performance.now();
        live = map.liveCount();
        tally.push(performance.now() - t);
        t = performance.now();
        const counted = countEvery(map);
        full.push(performance.now() - t);
        if (counted !== live) {
          throw new Error(
            `second ${second}: the tally says ${live} live, a full count ${counted}`,
          );
        }
      }
    }
    return {
      sessions: options.sessions,
      live,
      tally: summarize(tally),
      full: summarize(full),
      checkinsMsPerSecond: checkinsMs / seconds,
    };
  } finally {
    store.close();
  }
}

/** The figures, the tally against the full count. */
export function formatLiveCountBench(figures: LiveCountFigures): string {
  return [
    `live-session count, ${figures.sessions} sessions (${figures.live} live at the end)`,
    `  tally (liveCount)   p50 ${fine(figures.tally.p50)}, p99 ${
      fine(figures.tally.p99)
    }`,
    `  every session       p50 ${fine(figures.full.p50)}, p99 ${
      fine(figures.full.p99)
    }`,
    `  every session / tally: p50 ${
      ratio(figures.full.p50, figures.tally.p50)
    }, p99 ${ratio(figures.full.p99, figures.tally.p99)}`,
    `  check-ins (tally kept up to date): ${
      fine(figures.checkinsMsPerSecond)
    } per second`,
  ].join("\n");
}

/** What `liveCount` did before the tally: the rule on every session. */
function countEvery(map: SessionMap): number {
  let count = 0;
  for (const id of map.ids()) {
    if (map.isLive(map.get(id)!)) count++;
  }
  return count;
}

function session(i: number, serverUrl: string, now: number): SessionRecord {
  return sessionRecord({
    user: `user${i}`,
    serverUrl,
    host: new URL(serverUrl).hostname,
    port: 20_000 + (i % 1000),
    createdAt: now,
    lastLaunchAt: now - Math.floor(Math.random() * STALE_AFTER * 1000),
  });
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  console.log(
    `deno ${Deno.version.deno}, ${navigator.hardwareConcurrency} CPUs, load ${
      Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
    }`,
  );
  console.log(
    formatLiveCountBench(
      runLiveCountBench({ sessions: quick ? 50_000 : 500_000 }),
    ),
  );
}
