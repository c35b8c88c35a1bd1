/**
 * What a streamer reports to the gateway's metrics engine, as the host's
 * `metrics` and `activityLogging` sections say: every `metrics.interval`
 * seconds `POST /gateway/metrics` with the figures named in `metrics.report`
 * (fps, bytes sent, latency, input events over the interval), and for each
 * event named in `activityLogging.events` a `POST /gateway/activity`. Both
 * carry the session's licence proof. Reporting never disturbs the session: a
 * gateway that fails is logged once and tried again next time.
 *
 * @module
 */
import { z } from "zod";
import type { Logger } from "../log/mod.ts";
import { GatewayEndpoints } from "../registration/gateway_endpoints.ts";

/** `-reporting JSON`, as the session manager passes it. */
export const reportingSchema = z.object({
  metrics: z.object({
    enabled: z.boolean(),
    interval: z.number().positive().max(86_400),
    report: z.array(z.enum(["fps", "bandwidth", "latency", "input"])),
  }),
  activityLogging: z.object({
    enabled: z.boolean(),
    events: z.array(
      z.enum(["session_start", "session_end", "app_launch", "upload"]),
    ),
  }),
});

/** Parsed reporting settings. */
export type ReportingSettings = z.infer<typeof reportingSchema>;

/** An activity event name. */
export type ActivityEvent =
  ReportingSettings["activityLogging"]["events"][number];

/** Figures gathered over one interval. */
export interface MetricsSample {
  /** Frames sent per second. */
  fps: number;
  /** Bytes sent to the viewer. */
  bytes: number;
  /** Frame round trip (send → acknowledged), ms; undefined without frames. */
  latencyMs?: number;
  /** Input events received. */
  inputEvents: number;
}

/** Options for {@linkcode startReporting}. */
export interface ReportingOptions {
  /** `gateway.backend.gatewayUrl`: one gateway or several, in order. */
  gatewayUrl: string | readonly string[];
  /** The host's `serverUrl`. */
  serverUrl: string;
  /** The session. */
  sessionUuid: string;
  /** Its licence proof. */
  proof?: string;
  /** A CA certificate file for the gateway. */
  caCertificate?: string;
  /** What to report. */
  settings: ReportingSettings;
  /** Takes (and resets) the figures of the interval. */
  sample: () => MetricsSample;
  /** Logger. */
  logger: Logger;
}

/** Running reports. */
export interface Reporting {
  /** Reports an activity event, if `activityLogging` asks for it. */
  activity(event: ActivityEvent, detail?: string): void;
  /** Sends a last metrics report, then stops. */
  stop(): Promise<void>;
}

/** Starts reporting. */
export function startReporting(options: ReportingOptions): Reporting {
  const { settings, logger } = options;
  const gateways = new GatewayEndpoints(options.gatewayUrl);
  const inFlight = new Set<Promise<void>>();
  let failing = false;
  let client: Deno.HttpClient | undefined;
  const ready = options.caCertificate
    ? Deno.readTextFile(options.caCertificate).then((pem) => {
      client = Deno.createHttpClient({ caCerts: [pem] });
    }).catch((error) => logger.warn("cannot read the gateway CA", { error }))
    : Promise.resolve();

  function post(path: string, body: Record<string, unknown>): void {
    const work = (async () => {
      await ready;
      try {
        const response = await gateways.fetch(path, {
          client,
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({
            sessionUuid: options.sessionUuid,
            serverUrl: options.serverUrl,
            proof: options.proof,
            ...body,
          }),
        }, { timeoutMs: 10_000 });
        await response.body?.cancel();
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        failing = false;
      } catch (error) {
        if (!failing) {
          logger.warn("reporting to the gateway failed", { path, error });
        }
        failing = true;
      }
    })();
    inFlight.add(work);
    work.finally(() => inFlight.delete(work));
  }

  function reportMetrics(): void {
    const sample = options.sample();
    const wanted = new Set(settings.metrics.report);
    post("metrics", {
      ...(wanted.has("fps") ? { fps: round(sample.fps) } : {}),
      ...(wanted.has("bandwidth") ? { bytes: sample.bytes } : {}),
      ...(wanted.has("latency") && sample.latencyMs !== undefined
        ? { latencyMs: round(sample.latencyMs) }
        : {}),
      ...(wanted.has("input") ? { inputEvents: sample.inputEvents } : {}),
    });
  }

  const timer = settings.metrics.enabled
    ? setInterval(reportMetrics, settings.metrics.interval * 1000)
    : undefined;

  return {
    activity(event, detail) {
      if (!settings.activityLogging.enabled) return;
      if (!settings.activityLogging.events.includes(event)) return;
      post("activity", {
        event,
        ...(detail ? { detail: detail.slice(0, 1000) } : {}),
      });
    },
    async stop() {
      clearInterval(timer);
      if (settings.metrics.enabled) reportMetrics();
      await Promise.allSettled([...inFlight]);
      client?.close();
    },
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
