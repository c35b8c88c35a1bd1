/**
 * The seed's host → gateway contract (`session_host_service.txt`):
 * `POST /gateway/register`, `/gateway/heartbeat` and `/gateway/unregister`,
 * with the seed's field names. The host builds these bodies and the gateway
 * validates them with the same schemas.
 *
 * @module
 */
import { z } from "zod";
import { serverUrlSchema } from "./sessions.ts";

const tag = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/);
const serverUrl = serverUrlSchema;
const percent = z.number().min(0).max(100);

/** `POST /gateway/register`, as the seed names it. */
export const registerSchema = z.object({
  serverUrl,
  maxSessions: z.number().int().min(1).max(100_000),
  instanceType: z.string().min(1).max(100),
  ec2InstanceId: z.string().min(1).max(100),
  tags: z.array(tag).max(100),
  capabilities: z.array(tag).max(200),
  version: z.string().min(1).max(50),
});

/** `POST /gateway/heartbeat`, as the seed names it. */
export const heartbeatSchema = z.object({
  serverUrl,
  status: z.string().min(1).max(50),
  activeSessions: z.number().int().min(0).max(100_000),
  maxSessions: z.number().int().min(1).max(100_000),
  instanceType: z.string().min(1).max(100),
  tags: z.array(tag).max(100),
  cpuUsage: percent,
  memoryUsage: percent,
  timestamp: z.string().min(1).max(64),
});

/** `POST /gateway/unregister`. */
export const unregisterSchema = z.object({ serverUrl });

/** `POST /gateway/register` body, as the seed names it. */
export type RegisterPayload = z.infer<typeof registerSchema>;

/** `POST /gateway/heartbeat` body, as the seed names it. */
export type HeartbeatPayload = z.infer<typeof heartbeatSchema>;

/** `POST /gateway/unregister` body. */
export type UnregisterPayload = z.infer<typeof unregisterSchema>;
