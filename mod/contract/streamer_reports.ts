/**
 * What streamers send their gateway (`POST /gateway/licence/checkin`,
 * `/gateway/metrics`, `/gateway/activity`): each names its session and host
 * and carries the session's licence proof (`licence_proof.ts`). The
 * streamer builds these bodies and the gateway validates them with the same
 * schemas.
 *
 * @module
 */
import { z } from "zod";
import { serverUrlSchema, sessionUuidSchema } from "./sessions.ts";

const serverUrl = serverUrlSchema;

const proof = z.string().regex(
  /^[0-9a-f]{64}$/,
  "a licence proof (64 hex digits)",
);

/** A streamer's licence check-in. */
export const checkinSchema = z.object({
  sessionUuid: sessionUuidSchema,
  serverUrl,
  proof,
});

/** A streamer's metrics report. */
export const metricsReportSchema = z.object({
  sessionUuid: sessionUuidSchema,
  serverUrl,
  proof,
  fps: z.number().min(0).max(1000).optional(),
  bytes: z.number().int().min(0).optional(),
  latencyMs: z.number().min(0).max(600_000).optional(),
  inputEvents: z.number().int().min(0).optional(),
});

/** A streamer's activity event. */
export const activitySchema = z.object({
  sessionUuid: sessionUuidSchema,
  serverUrl,
  proof,
  event: z.enum(["session_start", "session_end", "app_launch", "upload"]),
  detail: z.string().max(1000).optional(),
});

/** A streamer's licence check-in. */
export type Checkin = z.infer<typeof checkinSchema>;

/** A streamer's metrics report. */
export type MetricsReport = z.infer<typeof metricsReportSchema>;

/** A streamer's activity event. */
export type ActivityReport = z.infer<typeof activitySchema>;
