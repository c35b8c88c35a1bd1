/**
 * Tests for `mod/streamer/session_reporting.ts` against a recording gateway
 * on loopback: nothing is reported before `start()` or without a gateway;
 * once started, activity goes out as the settings ask, `session_start` once
 * for the first viewer, and `stop()` reports `session_end` and the last
 * metrics; invalid `-reporting` JSON is logged and only check-ins remain.
 *
 * @module
 */
import {
  parseReportingSettings,
  SessionReporting,
  type SessionReportingOptions,
} from "../../mod/streamer/session_reporting.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { captureLogs } from "../support/log.ts";
import { recordingGateway } from "../support/recording_gateway.ts";

const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";
const SETTINGS = JSON.stringify({
  metrics: { enabled: true, interval: 3600, report: ["fps", "input"] },
  activityLogging: {
    enabled: true,
    events: ["session_start", "session_end", "app_launch"],
  },
});

function options(
  overrides: Partial<SessionReportingOptions>,
): SessionReportingOptions {
  return {
    sample: () => ({ fps: 10, bytes: 1, inputEvents: 3 }),
    onRefused: () => {},
    logger: captureLogs().logger,
    ...overrides,
  };
}

Deno.test("session reporting: activity once started, session start and end, last metrics", async () => {
  const gateway = recordingGateway();
  const reporting = new SessionReporting(options({
    gateway: { gatewayUrl: gateway.url, serverUrl: "http://host.test:9005" },
    reporting: SETTINGS,
  }));
  try {
    reporting.activity("app_launch", "before the first token");
    reporting.viewerConnected();
    reporting.start(UUID);
    reporting.start(UUID); // once
    reporting.activity("app_launch", "xterm");
    reporting.viewerConnected();
    reporting.viewerConnected(); // the session started once
  } finally {
    await reporting.stop();
    await reporting.stop(); // once
    await gateway.stop();
  }
  const activity = gateway.seen.filter((s) => s.path === "/gateway/activity");
  assertEquals(activity.map((a) => [a.body.event, a.body.detail]), [
    ["app_launch", "xterm"],
    ["session_start", undefined],
    ["session_end", undefined],
  ]);
  assertEquals(activity[0].body.sessionUuid, UUID);
  const metrics = gateway.seen.filter((s) => s.path === "/gateway/metrics");
  assertEquals(metrics.map((m) => [m.body.fps, m.body.inputEvents]), [[10, 3]]);
});

Deno.test("session reporting: no session_end without a viewer; nothing without a gateway", async () => {
  const gateway = recordingGateway();
  const quiet = new SessionReporting(options({
    gateway: { gatewayUrl: gateway.url, serverUrl: "http://host.test:9005" },
    reporting: SETTINGS,
  }));
  quiet.start(UUID);
  await quiet.stop();
  await gateway.stop();
  assertEquals(gateway.seen.map((s) => s.path), ["/gateway/metrics"]);

  const none = new SessionReporting(options({ reporting: SETTINGS }));
  none.start(UUID);
  none.viewerConnected();
  none.activity("app_launch");
  await none.stop();
});

Deno.test("invalid -reporting settings are logged and not used", async () => {
  const { logger, records } = captureLogs();
  const reporting = new SessionReporting(options({
    gateway: { gatewayUrl: "http://127.0.0.1:9", serverUrl: "http://h:1" },
    reporting: "{not json",
    logger,
  }));
  assert(
    records.some((r) => r.msg === "invalid -reporting settings; not reporting"),
  );
  reporting.start(UUID);
  await reporting.stop();
});

Deno.test("parseReportingSettings accepts the schema only", () => {
  assertEquals(parseReportingSettings("{not json"), undefined);
  assertEquals(parseReportingSettings('{"metrics":{}}'), undefined);
  assertEquals(
    parseReportingSettings(SETTINGS)?.activityLogging.events.length,
    3,
  );
});
