/**
 * The `gateway` section's properties for the `-gateway` role: listener and
 * TLS, host health checks (`healthCheck.timeout` and
 * `healthCheck.failureThreshold` are the contract's names), placement,
 * licences, users, admin access, workspaces and the state store.
 * `gateway.backend` (the host side) is in `schema.ts`.
 *
 * @module
 */
import { z } from "zod";
import { desktopSchema } from "../contract/desktop_shell.ts";
import { maxPixelRatioSchema } from "../contract/get_connection.ts";

const seconds = z.number().positive().max(86_400);
const name = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/,
  "a name: letters, digits, '.', '_', '@' or '-', starting with a letter or digit",
);
const tag = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
  "a tag: letters, digits, '.', '_' or '-', starting with a letter or digit",
);
const percent = z.number().min(0).max(100);

/** `gateway.tls`: the certificate the gateway terminates HTTPS with. */
export const tlsSchema = z.object({
  certificate: z.string().min(1),
  key: z.string().min(1),
}).strict();

/** `gateway.healthCheck`: how hosts are probed. */
export const healthCheckSchema = z.object({
  interval: z.number().min(1).max(10).default(5),
  timeout: seconds.default(6),
  failureThreshold: z.number().int().min(1).max(100).default(3),
  heartbeatInterval: seconds.default(10),
  missedHeartbeats: z.number().int().min(1).max(100).default(3),
  /**
   * Probes in flight at most (each round is spread over the interval
   * anyway); unset: `DEFAULT_MAX_CONCURRENT_PROBES` (`probe_schedule.ts`).
   */
  maxConcurrentProbes: z.number().int().min(1).max(100_000).optional(),
}).strict();

/** `gateway.placement`: how a host is chosen for a new session. */
export const placementSchema = z.object({
  strategy: z.enum(["breadth", "depth"]).default("breadth"),
  weights: z.object({
    sessions: z.number().min(0).default(0.5),
    cpu: z.number().min(0).default(0.3),
    memory: z.number().min(0).default(0.2),
  }).strict().default({ sessions: 0.5, cpu: 0.3, memory: 0.2 }),
  overload: z.object({
    sessionRatio: z.number().min(0).max(1).default(0.9),
    cpuUsage: percent.default(90),
    memoryUsage: percent.default(90),
  }).strict().default({ sessionRatio: 0.9, cpuUsage: 90, memoryUsage: 90 }),
  maxConcurrentLogons: z.number().int().min(1).max(1000).default(2),
  hostAttempts: z.number().int().min(1).max(10).default(2),
  hostTimeout: seconds.default(45),
}).strict();

/** `gateway.licence`: the concurrent-session limit and streamer check-ins. */
export const licenceSchema = z.object({
  maxConcurrentSessions: z.number().int().min(0).default(0),
  checkinInterval: seconds.default(15),
  staleAfter: seconds.default(45),
}).strict();

/** One user who may sign in with a password. */
export const userSchema = z.object({
  name,
  passwordHash: z.string().regex(
    /^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/,
    "a hash from `webstream hash-password`",
  ),
  groups: z.array(name).default([]),
  admin: z.boolean().default(false),
}).strict();

/** `gateway.auth`: who may sign in and how the browser stays signed in. */
export const authSchema = z.object({
  users: z.array(userSchema).default([]),
  trustedHeader: z.object({
    user: z.string().min(1),
    groups: z.string().min(1).optional(),
    trustedProxies: z.array(z.string().min(1)).min(1),
  }).strict().optional(),
  cookieSecret: z.string().min(32, "at least 32 characters").optional(),
  sessionTtl: seconds.default(8 * 3600),
}).strict();

/** What a workspace needs from its session. */
export const resourcesSchema = z.object({
  clipboard: z.boolean().default(true),
  fileUpload: z.boolean().default(false),
  fileDownload: z.boolean().default(false),
  printing: z.boolean().default(false),
  /** The session's sound plays in the browser. */
  audio: z.boolean().default(true),
  /** Most kbit/s a viewer's video may take; 0: no video, tiles only. */
  videoMaxKbps: z.number().int().min(0).max(100_000).default(8000),
  /** Largest file a viewer may download from the session, in bytes. */
  downloadMaxBytes: z.number().int().min(0).max(2 ** 40).default(2 ** 30),
  /** Most session pixels per CSS pixel (high-DPI screens); 1 to 4. */
  maxPixelRatio: maxPixelRatioSchema,
}).strict();

/**
 * `gateway.store`: a PostgreSQL database shared by the gateway (instead of
 * the SQLite file at `storePath`). The URL may list several servers
 * (`postgres://a:5432,b:5432/db`); credentials may be in it.
 */
export const storeSchema = z.object({
  url: z.string().regex(
    /^postgres(ql)?:\/\/\S+$/,
    "a postgres:// connection string",
  ),
}).strict();

/** A published app or desktop. */
export const workspaceSchema = z.object({
  id: z.string().regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    "an id: lowercase letters, digits, '.', '_' or '-'",
  ),
  name: z.string().min(1).max(100),
  kind: z.enum(["app", "desktop"]),
  command: z.object({
    linux: z.string().min(1).max(8000).optional(),
    windows: z.string().min(1).max(8000).optional(),
  }).strict().default({}),
  requiredTags: z.array(tag).default([]),
  requiredCapabilities: z.array(tag).default([]),
  resources: resourcesSchema.default(() => resourcesSchema.parse({})),
  credentials: name.default("user"),
  users: z.array(name).default([]),
  groups: z.array(name).default([]),
  /** A desktop's shell on Linux hosts; default `{ shell: "openbox" }`. */
  desktop: desktopSchema.optional(),
}).strict().refine(
  (w) => w.kind === "desktop" || w.command.linux || w.command.windows,
  {
    message: "a published app needs a command (linux or windows)",
    path: ["command"],
  },
).refine((w) => w.kind === "desktop" || w.desktop === undefined, {
  message: 'only a desktop (kind "desktop") has a desktop shell',
  path: ["desktop"],
});

/** The gateway role's own properties (siblings of `gateway.backend`). */
export const gatewayRoleShape = {
  port: z.number().int().min(1).max(65535).default(9000),
  listenAddress: z.string().min(1).optional(),
  tls: tlsSchema.optional(),
  insecureHttp: z.boolean().default(false),
  healthCheck: healthCheckSchema.default(() => healthCheckSchema.parse({})),
  placement: placementSchema.default(() => placementSchema.parse({})),
  licence: licenceSchema.default(() => licenceSchema.parse({})),
  auth: authSchema.default(() => authSchema.parse({})),
  adminToken: z.string().min(16, "at least 16 characters").optional(),
  workspaces: z.array(workspaceSchema).default([]),
  storePath: z.string().min(1).optional(),
  store: storeSchema.optional(),
};

/** A validated workspace. */
export type Workspace = z.infer<typeof workspaceSchema>;
/** A validated user. */
export type GatewayUser = z.infer<typeof userSchema>;
/** A validated `gateway.placement`. */
export type PlacementSettings = z.infer<typeof placementSchema>;
/** A validated `gateway.healthCheck`. */
export type HealthCheckSettings = z.infer<typeof healthCheckSchema>;
/** A validated `gateway.licence`. */
export type LicenceSettings = z.infer<typeof licenceSchema>;
/** A validated `gateway.auth`. */
export type AuthSettings = z.infer<typeof authSchema>;
/** What a workspace needs from its session. */
export type Resources = z.infer<typeof resourcesSchema>;
