/**
 * `GET /getConnection`, the gateway → host launch call (the seed's
 * contract): the session policy sent as `X-Policy-JSON`, and the host's
 * answer. The gateway builds the policy and validates the answer, the host
 * validates the policy and builds the answer, both with these schemas.
 * Header values outside printable ASCII travel as encoded words
 * (`header_value.ts`), authenticated with the shared secret
 * (`shared_secret.ts`).
 *
 * @module
 */
import { z } from "zod";
import { sessionUuidSchema } from "./sessions.ts";

/**
 * The most session pixels per CSS pixel of the browser's view: the page asks
 * for its view's size × min(`devicePixelRatio`, this), so text is sharp on
 * high-DPI screens without sessions growing beyond what the farm allows.
 * 1 keeps sessions at CSS size (the browser upscales).
 */
export const maxPixelRatioSchema = z.number().min(1).max(4).default(2);

/** `X-Policy-JSON`: what the session may do. Unknown properties are refused. */
export const policySchema = z.object({
  clipboard: z.enum(["none", "to-session", "from-session", "both"]).default(
    "both",
  ),
  fileUpload: z.boolean().default(true),
  fileDownload: z.boolean().default(false),
  printing: z.boolean().default(false),
  shadowing: z.boolean().default(false),
  audio: z.boolean().default(true),
  videoMaxKbps: z.number().int().min(0).max(100_000).default(8000),
  /** Largest file a viewer may download (`fileDownload`), in bytes. */
  downloadMaxBytes: z.number().int().min(0).max(2 ** 40).default(2 ** 30),
  maxPixelRatio: maxPixelRatioSchema,
}).strict();

/** What the session may do, from `X-Policy-JSON`. */
export type SessionPolicy = z.infer<typeof policySchema>;

/** The host's `/getConnection` answer. */
export const connectionAnswerSchema = z.object({
  sessionId: z.string(),
  sessionUuid: sessionUuidSchema,
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
  path: z.string().startsWith("/"),
  token: z.string().min(16),
  tokenExpiresAt: z.string(),
  reconnect: z.boolean(),
});

/** The host's `/getConnection` answer (the host may add fields beside these). */
export type ConnectionAnswer = z.infer<typeof connectionAnswerSchema>;
