/**
 * The gateway's Prometheus metrics (`prom-client`): hosts by state, live
 * sessions and licences, launches by outcome, placement latency, bytes
 * through the WebSocket proxy, and what streamers report (frame rate,
 * latency, bytes, input events, activity events).
 *
 * @module
 */
import client from "prom-client";
import type { DecisionRecord } from "./launch.ts";
import type { HostView } from "./types.ts";

/** A streamer's periodic report, as the metrics endpoint accepts it. */
export interface StreamerReport {
  /** Frames per second over the report period. */
  fps?: number;
  /** Bytes sent to the viewer since the previous report. */
  bytes?: number;
  /** Round-trip latency to the viewer in milliseconds. */
  latencyMs?: number;
  /** Input events received since the previous report. */
  inputEvents?: number;
}

/** Where the gauges read their values at scrape time. */
export interface MetricsSources {
  /** Every host with its state. */
  hosts: () => HostView[];
  /** Live sessions (licences in use). */
  liveSessions: () => number;
  /** The licence limit (0: none). */
  licenceLimit: number;
}

/** The gateway's metrics. */
export interface GatewayMetrics {
  /** Counts a launch and its placement time. */
  launch(record: DecisionRecord): void;
  /** Counts bytes through the proxy. */
  proxied(direction: "to_host" | "to_browser", bytes: number): void;
  /** Takes a streamer report. */
  report(report: StreamerReport): void;
  /** Counts an activity event. */
  activity(event: string): void;
  /** The exposition text and its content type. */
  render(): Promise<{ body: string; contentType: string }>;
}

/** Creates a fresh metrics registry (one per gateway). */
export function createGatewayMetrics(sources: MetricsSources): GatewayMetrics {
  const registry = new client.Registry();
  const registers = [registry];
  new client.Gauge({
    name: "webstream_hosts",
    help: "Registered session hosts by state",
    labelNames: ["state"],
    registers,
    collect() {
      const counts: Record<string, number> = {
        Healthy: 0,
        Unreachable: 0,
        Draining: 0,
        Unregistered: 0,
      };
      for (const host of sources.hosts()) counts[host.state]++;
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new client.Gauge({
    name: "webstream_host_sessions",
    help: "Active sessions reported by healthy and draining hosts",
    registers,
    collect() {
      let total = 0;
      for (const host of sources.hosts()) {
        if (host.state === "Healthy" || host.state === "Draining") {
          total += host.heartbeat?.activeSessions ?? 0;
        }
      }
      this.set(total);
    },
  });
  new client.Gauge({
    name: "webstream_sessions",
    help: "Live sessions in the gateway's session map (licences in use)",
    registers,
    collect() {
      this.set(sources.liveSessions());
    },
  });
  new client.Gauge({
    name: "webstream_licence_limit",
    help: "Concurrent sessions the licence allows (0: no limit)",
    registers,
  }).set(sources.licenceLimit);
  const launches = new client.Counter({
    name: "webstream_launches_total",
    help: "Launches by outcome",
    labelNames: ["outcome"],
    registers,
  });
  const placement = new client.Histogram({
    name: "webstream_placement_seconds",
    help: "Time to decide where a launch goes (without host calls)",
    buckets: [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01],
    registers,
  });
  const proxyBytes = new client.Counter({
    name: "webstream_proxy_bytes_total",
    help: "Bytes relayed by the WebSocket proxy",
    labelNames: ["direction"],
    registers,
  });
  const fps = new client.Histogram({
    name: "webstream_stream_fps",
    help: "Frame rates streamers report",
    buckets: [1, 5, 10, 15, 20, 25, 30, 45, 60],
    registers,
  });
  const latency = new client.Histogram({
    name: "webstream_stream_latency_seconds",
    help: "Viewer round trips streamers report",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const streamBytes = new client.Counter({
    name: "webstream_stream_bytes_total",
    help: "Bytes streamers report sending to viewers",
    registers,
  });
  const inputEvents = new client.Counter({
    name: "webstream_input_events_total",
    help: "Input events streamers report",
    registers,
  });
  const activity = new client.Counter({
    name: "webstream_activity_events_total",
    help: "Activity events streamers report",
    labelNames: ["event"],
    registers,
  });

  return {
    launch(record) {
      launches.inc({ outcome: record.outcome });
      if (record.rounds.length) placement.observe(record.placementMs / 1000);
    },
    proxied(direction, bytes) {
      proxyBytes.inc({ direction }, bytes);
    },
    report(report) {
      if (report.fps !== undefined) fps.observe(report.fps);
      if (report.latencyMs !== undefined) {
        latency.observe(report.latencyMs / 1000);
      }
      if (report.bytes) streamBytes.inc(report.bytes);
      if (report.inputEvents) inputEvents.inc(report.inputEvents);
    },
    activity(event) {
      activity.inc({ event });
    },
    async render() {
      return {
        body: await registry.metrics(),
        contentType: registry.contentType,
      };
    },
  };
}
