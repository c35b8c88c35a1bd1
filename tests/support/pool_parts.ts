/**
 * The pool's parts wired as `SessionPool` wires them, over a platform of
 * the test's, for the tests of each part on its own.
 *
 * @module
 */
import { type Config, parseConfig } from "../../mod/config/mod.ts";
import type { Logger } from "../../mod/log/mod.ts";
import type { Platform } from "../../mod/platform/mod.ts";
import { Allocator } from "../../mod/pool/allocation.ts";
import { SlotTable, type SlotTableOptions } from "../../mod/pool/slot_table.ts";
import { StreamerSupervisor } from "../../mod/pool/streamers.ts";
import type { SessionEnd } from "../../mod/pool/types.ts";
import { Warming } from "../../mod/pool/warming.ts";

/** The parts of one pool. */
export interface PoolParts {
  /** The configuration. */
  config: Config;
  /** The slots. */
  table: SlotTable;
  /** The streamers. */
  streamers: StreamerSupervisor;
  /** Session starts. */
  warming: Warming;
  /** Launches. */
  allocator: Allocator;
  /** The session ends reported. */
  ends: SessionEnd[];
}

/**
 * A two-slot pool's parts over `platform`, with `settings` for
 * `webstreamSettings` and `extra` for the table (licence, say).
 */
export function poolParts(
  platform: Platform,
  logger: Logger,
  settings: Record<string, unknown> = {},
  extra: Partial<SlotTableOptions> = {},
): PoolParts {
  const config = parseConfig({
    webstreamSettings: {
      serverMaxSessionCount: 2,
      serverSessionUsername: "webs",
      basePortNumber: 9000,
      warmSessionCount: 0,
      provisioningTimeout: 5,
      reconnectGracePeriod: 30,
      ...settings,
    },
  }, { env: {} });
  const ends: SessionEnd[] = [];
  const table = new SlotTable({
    config,
    platform,
    controlUrl: "ws://127.0.0.1:9005/control",
    bindAddress: "127.0.0.1",
    logger,
    onSessionEnd: (end) => ends.push(end),
    ...extra,
  });
  const streamers = new StreamerSupervisor(table, 200);
  const warming = new Warming(table, streamers);
  table.onFree = () => warming.replenish();
  const allocator = new Allocator(table, {
    warming,
    streamers,
    tokenAckTimeoutMs: 200,
  });
  table.started = true;
  return { config, table, streamers, warming, allocator, ends };
}
