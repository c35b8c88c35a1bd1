/**
 * The configuration schema. Property names under `gateway.backend`,
 * `webstreamSettings`, `filesystemRestrictions`, `profileCleanup`, `metrics`
 * and `activityLogging` are the seed's contract and must not be renamed;
 * properties the seed does not name are webstream extensions, documented in
 * `docs/configuration.md`.
 *
 * @module
 */
import { z } from "zod";
import { SCREEN_BOUNDS } from "../contract/limits.ts";
import {
  DEFAULT_RDP_CLIENT,
  RDP_ARGUMENT_PLACEHOLDERS,
} from "../platform/windows/rdp_client.ts";
import { gatewayRoleShape } from "./gateway_schema.ts";

const port = z.number().int().min(1).max(65535);
const seconds = z.number().positive().max(86_400);
const tag = z.string().regex(
  /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
  "a tag: letters, digits, '.', '_' or '-', starting with a letter or digit",
);
const httpUrl = z.url({ protocol: /^https?$/, error: "an http(s) URL" });

/** `gateway.backend`: how this host registers with its gateway. */
export const backendSchema = z.object({
  // One gateway, or several (tried in turn when one does not answer).
  gatewayUrl: z.union([httpUrl, z.array(httpUrl).min(1).max(16)]).optional(),
  advertisedUrl: httpUrl.default("http://127.0.0.1:9005"),
  heartbeatInterval: seconds.default(10),
  maxSessions: z.number().int().min(1).max(10_000).optional(),
  sharedSecret: z.string().min(8, "at least 8 characters").optional(),
  registrationRetryInterval: seconds.default(30),
  registrationMaxAttempts: z.number().int().min(1).max(1000).default(10),
  unregisterTimeout: seconds.default(5),
  requestTimeout: seconds.default(5),
  caCertificate: z.string().min(1).optional(),
  instanceType: z.string().min(1).optional(),
  ec2InstanceId: z.string().min(1).optional(),
  instanceMetadata: z.enum(["auto", "on", "off"]).default("auto"),
  instanceMetadataUrl: httpUrl.default("http://169.254.169.254"),
  tags: z.array(tag).default([]),
  capabilities: z.array(tag).default([]),
}).strict();

/** The largest screen a session may be resized to, when not configured. */
export const DEFAULT_MAX_SCREEN = { width: 3840, height: 2160 } as const;

const screenWidth = z.number().int().min(SCREEN_BOUNDS.width.min).max(
  SCREEN_BOUNDS.width.max,
);
const screenHeight = z.number().int().min(SCREEN_BOUNDS.height.min).max(
  SCREEN_BOUNDS.height.max,
);

/**
 * A screen geometry for new sessions: the size a session starts at, and
 * the largest a viewer may resize it to (`maxWidth` × `maxHeight`, by
 * default 3840 × 2160 or the start size if larger; Xvfb keeps a frame
 * buffer of that size).
 */
export const screenSchema = z.object({
  width: screenWidth.default(1920),
  height: screenHeight.default(1080),
  depth: z.literal([16, 24]).default(24),
  maxWidth: screenWidth.optional(),
  maxHeight: screenHeight.optional(),
}).strict().superRefine((screen, ctx) => {
  for (const side of ["width", "height"] as const) {
    const key = side === "width" ? "maxWidth" : "maxHeight";
    const max = screen[key];
    if (max !== undefined && max < screen[side]) {
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: `at least the ${side} (${screen[side]})`,
      });
    }
  }
}).transform((screen) => ({
  ...screen,
  maxWidth: screen.maxWidth ?? Math.max(DEFAULT_MAX_SCREEN.width, screen.width),
  maxHeight: screen.maxHeight ??
    Math.max(DEFAULT_MAX_SCREEN.height, screen.height),
}));

/**
 * A string checked for the RDP client's `{name}` placeholders: only those in
 * `allowed`, with a reason for `{password}` where it is not allowed, and no
 * NUL (it cannot be passed to a process).
 */
function rdpTemplate(allowed: readonly string[], where: string) {
  return z.string().superRefine((text, ctx) => {
    if (text.includes("\0")) {
      ctx.addIssue({ code: "custom", message: "contains a NUL character" });
    }
    for (const [, name] of text.matchAll(/\{(\w+)\}/g)) {
      if (allowed.includes(name)) continue;
      ctx.addIssue({
        code: "custom",
        message: name === "password"
          ? `{password} is not allowed in ${where}: every local user can ` +
            `read a process's command line; the password is written to the ` +
            `client's standard input (rdpClient.stdin)`
          : allowed.length
          ? `unknown placeholder {${name}} (${where} may use ${
            allowed.map((a) => `{${a}}`).join(", ")
          })`
          : `${where} takes no placeholders, got {${name}}`,
      });
    }
  });
}

/**
 * `webstreamSettings.windows.rdpClient`: the loopback RDP client that logs a
 * slot's account on. Each part defaults to FreeRDP's (`wfreerdp.exe`).
 */
export const rdpClientSchema = z.object({
  command: rdpTemplate([], "the command").min(1, "a non-empty command")
    .default(DEFAULT_RDP_CLIENT.command),
  args: z.array(rdpTemplate(RDP_ARGUMENT_PLACEHOLDERS, "the arguments"))
    .default(() => [...DEFAULT_RDP_CLIENT.args]),
  stdin: rdpTemplate(
    [...RDP_ARGUMENT_PLACEHOLDERS, "password"],
    "standard input",
  ).default(DEFAULT_RDP_CLIENT.stdin),
}).strict();

/**
 * `webstreamSettings.windows`: settings of the Windows platform, validated
 * everywhere and used only on Windows hosts.
 */
export const windowsSettingsSchema = z.object({
  rdpClient: rdpClientSchema.default(() => rdpClientSchema.parse({})),
  logonTimeout: seconds.default(60),
  logoffTimeout: seconds.default(30),
}).strict();

/** `webstreamSettings`: the local session pool. */
export const settingsSchema = z.object({
  serverMaxSessionCount: z.number().int().min(1).max(99).default(4),
  serverSessionUsername: z.string().regex(
    /^[a-z_][a-z0-9_-]{0,13}$/,
    "a user name prefix: lowercase letters, digits, '_' or '-', at most 14 characters",
  ).default("webs"),
  serverSessionPwd: z.string().min(8, "at least 8 characters").optional(),
  basePortNumber: port.default(9000),
  serverHttpPath: z.string().min(1).optional(),
  listenAddress: z.string().min(1).optional(),
  warmSessionCount: z.number().int().min(0).max(99).default(1),
  provisioningTimeout: seconds.default(30),
  reconnectGracePeriod: seconds.default(120),
  connectionTokenTtl: seconds.default(60),
  // A session whose host stays gone this long ends itself (its streamer
  // ends the session's processes), so nothing runs forever unowned.
  orphanTimeout: seconds.default(300),
  // An app session whose last app closed is logged off this long after.
  appExitGrace: z.number().min(0).max(86_400).default(10),
  poolAccounts: z.enum(["auto", "system", "current"]).default("auto"),
  removeAccountsOnExit: z.boolean().default(false),
  runtimeDirectory: z.string().min(1).optional(),
  screen: screenSchema.prefault({}),
  windows: windowsSettingsSchema.default(() => windowsSettingsSchema.parse({})),
}).strict();

/** One entry of `filesystemRestrictions`: a path the pool users may not use. */
export const restrictionSchema = z.object({
  path: z.string().min(1),
  deny: z.array(z.enum(["read", "write", "execute"])).min(1).default([
    "read",
    "write",
    "execute",
  ]),
  recursive: z.boolean().default(false),
}).strict();

/** `profileCleanup`: how a pool user's profile is reset at recycle. */
export const profileCleanupSchema = z.object({
  enabled: z.boolean().default(true),
  skeleton: z.string().min(1).default("/etc/skel"),
  purgeTemp: z.boolean().default(true),
}).strict();

/** `metrics`: what streamers report to the metrics engine. */
export const metricsSchema = z.object({
  enabled: z.boolean().default(false),
  interval: seconds.default(60),
  report: z.array(z.enum(["fps", "bandwidth", "latency", "input"])).default([
    "fps",
    "bandwidth",
    "latency",
    "input",
  ]),
}).strict();

/** `activityLogging`: which session events streamers report. */
export const activityLoggingSchema = z.object({
  enabled: z.boolean().default(false),
  events: z.array(
    z.enum(["session_start", "session_end", "app_launch", "upload"]),
  ).default(["session_start", "session_end", "app_launch", "upload"]),
}).strict();

/** `gateway`: the host side (`backend`) and the gateway role's own settings. */
export const gatewaySchema = z.object({
  backend: backendSchema.default(() => backendSchema.parse({})),
  ...gatewayRoleShape,
}).strict().superRefine((gateway, ctx) => {
  const ids = new Set<string>();
  gateway.workspaces.forEach((w, i) => {
    if (ids.has(w.id)) {
      ctx.addIssue({
        code: "custom",
        path: ["workspaces", i, "id"],
        message: `workspace id "${w.id}" is used twice`,
      });
    }
    ids.add(w.id);
  });
  const names = new Set<string>();
  gateway.auth.users.forEach((u, i) => {
    if (names.has(u.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["auth", "users", i, "name"],
        message: `user "${u.name}" is defined twice`,
      });
    }
    names.add(u.name);
  });
});

/** The whole configuration file. */
export const configSchema = z.object({
  gateway: gatewaySchema.default(() => gatewaySchema.parse({})),
  webstreamSettings: settingsSchema.default(() => settingsSchema.parse({})),
  filesystemRestrictions: z.array(restrictionSchema).default([]),
  profileCleanup: profileCleanupSchema.default(() =>
    profileCleanupSchema.parse({})
  ),
  metrics: metricsSchema.default(() => metricsSchema.parse({})),
  activityLogging: activityLoggingSchema.default(() =>
    activityLoggingSchema.parse({})
  ),
}).strict().superRefine((config, ctx) => {
  const s = config.webstreamSettings;
  const highest = s.basePortNumber + s.serverMaxSessionCount * 10;
  if (highest > 65535) {
    ctx.addIssue({
      code: "custom",
      path: ["webstreamSettings", "basePortNumber"],
      message:
        `basePortNumber ${s.basePortNumber} + serverMaxSessionCount ${s.serverMaxSessionCount} × 10 = ${highest}, above the highest port 65535`,
    });
  }
  const advertised = Number(new URL(config.gateway.backend.advertisedUrl).port);
  const offset = advertised - s.basePortNumber;
  if (
    offset > 0 && offset % 10 === 0 && offset / 10 <= s.serverMaxSessionCount
  ) {
    ctx.addIssue({
      code: "custom",
      path: ["gateway", "backend", "advertisedUrl"],
      message: `port ${advertised} is the streamer port of pool slot ${
        offset / 10
      }`,
    });
  }
  // zod runs this even after non-fatal field issues; the cross-field checks
  // need valid fields (an invalid advertisedUrl would make `new URL` throw).
}, { when: (payload) => payload.issues.length === 0 });

/** A validated configuration with every default filled in. */
export type Config = z.infer<typeof configSchema>;
/** A configuration as written in a file: everything optional. */
export type ConfigInput = z.input<typeof configSchema>;
/** A validated `filesystemRestrictions` entry. */
export type FilesystemRestriction = z.infer<typeof restrictionSchema>;
/** A validated `profileCleanup` section. */
export type ProfileCleanup = z.infer<typeof profileCleanupSchema>;
/** A validated `webstreamSettings.windows` section. */
export type WindowsSettings = z.infer<typeof windowsSettingsSchema>;
