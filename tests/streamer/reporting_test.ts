/**
 * Reporting to a recording HTTP server on loopback (the gateway accepting
 * these reports is covered by its own API tests): metrics at the configured interval carry only the figures
 * `metrics.report` names, activity events only those `activityLogging.events`
 * names; disabled sections send nothing; a gateway that is down is survived.
 *
 * @module
 */
import {
  reportingSchema,
  type ReportingSettings,
  startReporting,
} from "../../mod/streamer/reporting.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { recordingGateway } from "../support/recording_gateway.ts";
import { waitFor } from "../support/wait.ts";

const logger = createLogger({ format: "json", sink: () => {} });
const UUID = "3f2b8c1e-9d4a-4e6b-8a7c-0123456789ab";

function settings(
  overrides: Partial<ReportingSettings> = {},
): ReportingSettings {
  return reportingSchema.parse({
    metrics: { enabled: true, interval: 0.1, report: ["fps", "input"] },
    activityLogging: { enabled: true, events: ["session_start", "upload"] },
    ...overrides,
  });
}

Deno.test("metrics carry the named figures; activity only the named events", async () => {
  const gateway = recordingGateway();
  let samples = 0;
  const reporting = startReporting({
    gatewayUrl: `${gateway.url}/`,
    serverUrl: "http://host.test:9005",
    sessionUuid: UUID,
    proof: "ab".repeat(32),
    settings: settings(),
    sample: () => {
      samples++;
      return { fps: 29.999, bytes: 1234, latencyMs: 5, inputEvents: 7 };
    },
    logger,
  });
  try {
    reporting.activity("session_start");
    reporting.activity("app_launch", "xterm"); // not asked for
    reporting.activity("upload", "12 bytes");
    await waitFor(
      () => gateway.seen.filter((s) => s.path.endsWith("/metrics")).length >= 2,
      { what: "two metrics reports" },
    );
  } finally {
    await reporting.stop();
    await gateway.stop();
  }
  const metrics = gateway.seen.filter((s) => s.path === "/gateway/metrics");
  assertEquals(metrics[0].body, {
    sessionUuid: UUID,
    serverUrl: "http://host.test:9005",
    proof: "ab".repeat(32),
    fps: 30,
    inputEvents: 7,
  });
  const activity = gateway.seen.filter((s) => s.path === "/gateway/activity");
  assertEquals(activity.map((a) => a.body.event), ["session_start", "upload"]);
  assertEquals(activity[1].body.detail, "12 bytes");
  assert(samples >= 2);
});

Deno.test("disabled sections send nothing; an unreachable gateway is survived", async () => {
  const gateway = recordingGateway();
  const quiet = startReporting({
    gatewayUrl: gateway.url,
    serverUrl: "http://host.test:9005",
    sessionUuid: UUID,
    settings: settings({
      metrics: { enabled: false, interval: 0.05, report: ["fps"] },
      activityLogging: { enabled: false, events: ["upload"] },
    }),
    sample: () => ({ fps: 1, bytes: 1, inputEvents: 1 }),
    logger,
  });
  quiet.activity("upload");
  await new Promise((r) => setTimeout(r, 200));
  await quiet.stop();
  await gateway.stop();
  assertEquals(gateway.seen, []);
  // The gateway is gone now: reports fail quietly.
  const lost = startReporting({
    gatewayUrl: gateway.url,
    serverUrl: "http://host.test:9005",
    sessionUuid: UUID,
    settings: settings(),
    sample: () => ({ fps: 1, bytes: 1, inputEvents: 1 }),
    logger,
  });
  lost.activity("session_start");
  await lost.stop();
});
