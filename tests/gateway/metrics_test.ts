/**
 * The gateway's Prometheus exposition: hosts by state and their sessions
 * (read from the sources callback at scrape time), live sessions, the licence
 * limit, launches by outcome, the placement-time histogram (only launches
 * that placed), proxy bytes by direction, streamer frame rate, latency,
 * bytes and input events, and activity events. Two gateways' metrics do not
 * collide.
 *
 * @module
 */
import type { DecisionRecord } from "../../mod/gateway/launch.ts";
import { createGatewayMetrics } from "../../mod/gateway/metrics.ts";
import type { PlacementDecision } from "../../mod/gateway/placement.ts";
import type { HostState, HostView } from "../../mod/gateway/types.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";

function host(name: string, state: HostState, active: number): HostView {
  const serverUrl = `http://${name}.test:8080`;
  return {
    serverUrl,
    registration: {
      serverUrl,
      maxSessions: 10,
      instanceType: "test",
      ec2InstanceId: "",
      tags: [],
      capabilities: ["linux"],
      version: "0.1.0",
    },
    registeredAt: 0,
    heartbeat: {
      serverUrl,
      status: state,
      activeSessions: active,
      maxSessions: 10,
      instanceType: "test",
      tags: [],
      cpuUsage: 0,
      memoryUsage: 0,
      timestamp: new Date(0).toISOString(),
      receivedAt: 0,
    },
    draining: state === "Draining",
    unregistered: state === "Unregistered",
    state,
    stateReason: "test",
    probeFailures: 0,
    logonsInFlight: 0,
    placedSinceHeartbeat: 0,
  };
}

const ROUND: PlacementDecision = {
  outcome: "new",
  serverUrl: "http://a.test:8080",
  summary: "new session on http://a.test:8080 (breadth-first)",
  sessions: [],
  hosts: [],
};

function decision(
  outcome: DecisionRecord["outcome"],
  placementMs: number,
  rounds = 1,
): DecisionRecord {
  return {
    id: crypto.randomUUID(),
    at: new Date().toISOString(),
    user: "alice",
    workspaceId: "calc",
    outcome,
    summary: outcome,
    rounds: Array.from({ length: rounds }, () => ROUND),
    placementMs,
  };
}

/** The value of one sample line, e.g. `name{label="x"}`. */
function sample(body: string, series: string): number | undefined {
  for (const line of body.split("\n")) {
    if (line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    if (line.slice(0, at) === series) return Number(line.slice(at + 1));
  }
  return undefined;
}

Deno.test("the exposition carries every gateway metric", async () => {
  let hosts = [
    host("a", "Healthy", 3),
    host("b", "Healthy", 2),
    host("c", "Draining", 4),
    host("d", "Unreachable", 7),
  ];
  let live = 5;
  const metrics = createGatewayMetrics({
    hosts: () => hosts,
    liveSessions: () => live,
    licenceLimit: 25,
  });

  metrics.launch(decision("new", 0.2));
  metrics.launch(decision("new", 0.8, 2));
  metrics.launch(decision("share", 0.05));
  // A refusal before any placement round has no placement time.
  metrics.launch(decision("refused", 0, 0));
  metrics.launch(decision("reconnect", 0, 0));
  metrics.proxied("to_host", 100);
  metrics.proxied("to_host", 50);
  metrics.proxied("to_browser", 4096);
  metrics.report({ fps: 30, latencyMs: 20, bytes: 1000, inputEvents: 7 });
  metrics.report({ fps: 12, latencyMs: 300, bytes: 500 });
  metrics.report({}); // An empty report changes nothing.
  metrics.activity("logon");
  metrics.activity("logon");
  metrics.activity("app_start");

  const { body, contentType } = await metrics.render();
  assertMatch(contentType, /^text\/plain/);

  const expected: Record<string, number> = {
    'webstream_hosts{state="Healthy"}': 2,
    'webstream_hosts{state="Draining"}': 1,
    'webstream_hosts{state="Unreachable"}': 1,
    'webstream_hosts{state="Unregistered"}': 0,
    // Healthy and draining hosts only: 3 + 2 + 4.
    "webstream_host_sessions": 9,
    "webstream_sessions": 5,
    "webstream_licence_limit": 25,
    'webstream_launches_total{outcome="new"}': 2,
    'webstream_launches_total{outcome="share"}': 1,
    'webstream_launches_total{outcome="refused"}': 1,
    'webstream_launches_total{outcome="reconnect"}': 1,
    "webstream_placement_seconds_count": 3,
    'webstream_placement_seconds_bucket{le="0.0001"}': 1,
    'webstream_placement_seconds_bucket{le="0.00025"}': 2,
    'webstream_placement_seconds_bucket{le="0.001"}': 3,
    'webstream_proxy_bytes_total{direction="to_host"}': 150,
    'webstream_proxy_bytes_total{direction="to_browser"}': 4096,
    "webstream_stream_fps_count": 2,
    "webstream_stream_fps_sum": 42,
    'webstream_stream_fps_bucket{le="10"}': 0,
    'webstream_stream_fps_bucket{le="15"}': 1,
    'webstream_stream_fps_bucket{le="30"}': 2,
    "webstream_stream_latency_seconds_count": 2,
    'webstream_stream_latency_seconds_bucket{le="0.025"}': 1,
    'webstream_stream_latency_seconds_bucket{le="0.25"}': 1,
    'webstream_stream_latency_seconds_bucket{le="0.5"}': 2,
    "webstream_stream_bytes_total": 1500,
    "webstream_input_events_total": 7,
    'webstream_activity_events_total{event="logon"}': 2,
    'webstream_activity_events_total{event="app_start"}': 1,
  };
  for (const [series, value] of Object.entries(expected)) {
    assertEquals(sample(body, series), value, series);
  }
  const placementSum = sample(body, "webstream_placement_seconds_sum")!;
  assertEquals(Math.round(placementSum * 1e6), 1050);
  const latencySum = sample(body, "webstream_stream_latency_seconds_sum")!;
  assertEquals(Math.round(latencySum * 1000), 320);
  for (
    const name of [
      "webstream_hosts",
      "webstream_launches_total",
      "webstream_placement_seconds",
      "webstream_proxy_bytes_total",
    ]
  ) {
    assertMatch(body, new RegExp(`^# HELP ${name} .+`, "m"));
  }

  // Gauges read their sources at every scrape.
  hosts = [host("a", "Unreachable", 3), host("e", "Unregistered", 0)];
  live = 0;
  const again = (await metrics.render()).body;
  assertEquals(sample(again, 'webstream_hosts{state="Healthy"}'), 0);
  assertEquals(sample(again, 'webstream_hosts{state="Unreachable"}'), 1);
  assertEquals(sample(again, 'webstream_hosts{state="Unregistered"}'), 1);
  assertEquals(sample(again, "webstream_host_sessions"), 0);
  assertEquals(sample(again, "webstream_sessions"), 0);
  // Counters keep counting.
  assertEquals(
    sample(again, 'webstream_launches_total{outcome="new"}'),
    2,
  );
});

Deno.test("two gateways' metrics do not collide", async () => {
  const sources = { hosts: () => [], liveSessions: () => 0, licenceLimit: 0 };
  const first = createGatewayMetrics(sources);
  const second = createGatewayMetrics({ ...sources, licenceLimit: 3 });
  first.proxied("to_host", 10);
  const one = (await first.render()).body;
  const two = (await second.render()).body;
  assertEquals(
    sample(one, 'webstream_proxy_bytes_total{direction="to_host"}'),
    10,
  );
  assertEquals(
    sample(two, 'webstream_proxy_bytes_total{direction="to_host"}'),
    undefined,
  );
  assertEquals(sample(one, "webstream_licence_limit"), 0);
  assertEquals(sample(two, "webstream_licence_limit"), 3);
});
