/**
 * Session truth between a session host and its gateway, beside the seed's
 * register / heartbeat / unregister (which stay as the seed names them):
 *
 * - `GET {serverUrl}/sessions` (host, shared secret): the sessions the host
 *   has, bound to a gateway session. The gateway reconciles with it on every
 *   registration.
 * - `POST {serverUrl}/sessions/{sessionUuid}/logoff` (host, shared secret):
 *   ends a session on its host (a user or an administrator logged it off).
 * - `POST {gatewayUrl}/gateway/sessionEnded` (gateway, shared secret): the
 *   host says a session ended, at once; retried until the gateway answers.
 *
 * Both sides import these schemas; neither imports the other.
 *
 * @module
 */
import { z } from "zod";

/** A host's URL as it registers (`serverUrl`). */
export const serverUrlSchema = z.url({ protocol: /^https?$/ });

/** A pool session's UUID. */
export const sessionUuidSchema = z.string().uuid();

/** One session in `GET /sessions`. */
export const hostSessionSchema = z.object({
  sessionUuid: sessionUuidSchema,
  sessionId: z.string().min(1).max(128),
  slot: z.number().int().min(1),
  clientConnected: z.boolean(),
});

/** A session a host has. */
export type HostSession = z.infer<typeof hostSessionSchema>;

/** The answer of `GET /sessions`. */
export const hostSessionsSchema = z.object({
  sessions: z.array(hostSessionSchema).max(100_000),
});

/** The answer of `GET /sessions`. */
export type HostSessions = z.infer<typeof hostSessionsSchema>;

/** `POST /sessions/{sessionUuid}/logoff` body. */
export const logOffSchema = z.object({
  reason: z.string().min(1).max(200),
});

/** `POST /sessions/{sessionUuid}/logoff` body. */
export type LogOff = z.infer<typeof logOffSchema>;

/** `POST /gateway/sessionEnded` body. */
export const sessionEndedSchema = z.object({
  serverUrl: serverUrlSchema,
  sessionUuid: sessionUuidSchema,
  reason: z.string().min(1).max(500),
});

/** `POST /gateway/sessionEnded` body. */
export type SessionEnded = z.infer<typeof sessionEndedSchema>;
