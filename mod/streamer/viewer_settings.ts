/**
 * `VIEWER_SETTINGS`: what the viewer presenting the next token may do
 * (`X-Policy-JSON` as the host validated it) and the screen size it asked
 * for. Validated again here, at the streamer's edge; anything invalid falls
 * back to the most restrictive policy.
 *
 * @module
 */
import { z } from "zod";
import { policySchema as contractPolicySchema } from "../contract/get_connection.ts";

// The contract's policy (`X-Policy-JSON`, which the host validated), with two
// differences: unknown fields are dropped rather than refused (a host of a
// newer release, restarted beside sessions this streamer still serves, may
// send more), and a host from before sound sent no `audio`: no sound for it.
const policySchema = z.object({
  ...contractPolicySchema.shape,
  audio: z.boolean().default(false),
});

const settingsSchema = z.object({
  policy: policySchema,
  width: z.number().int().min(1).max(65535).optional(),
  height: z.number().int().min(1).max(65535).optional(),
  /**
   * The command line of the published app the viewer's tab shows (only its
   * windows, filling the tab); absent for a desktop (the whole screen).
   */
  app: z.string().min(1).max(8000).optional(),
  /**
   * The app's name as the portal shows it (`X-App-Name`), for the tab's
   * "… has closed"; absent when the launch named none.
   */
  appName: z.string().min(1).max(256).optional(),
});

/** Settings for one viewer. */
export type ViewerSettings = z.infer<typeof settingsSchema>;

/** The policy for a viewer whose settings did not arrive or were invalid. */
export const RESTRICTIVE: ViewerSettings = {
  policy: {
    clipboard: "none",
    fileUpload: false,
    fileDownload: false,
    printing: false,
    shadowing: false,
    audio: false,
    videoMaxKbps: 0,
    downloadMaxBytes: 0,
    maxPixelRatio: 1,
  },
};

/** Parses the JSON of `VIEWER_SETTINGS`; an error names what was wrong. */
export function parseViewerSettings(
  json: string,
): { ok: true; value: ViewerSettings } | { ok: false; error: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  const result = settingsSchema.safeParse(raw);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    error: result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)
      .join("; "),
  };
}

/** Clipboard directions a policy allows. */
export function clipboardDirections(
  policy: ViewerSettings["policy"],
): { toSession: boolean; fromSession: boolean } {
  return {
    toSession: policy.clipboard === "both" ||
      policy.clipboard === "to-session",
    fromSession: policy.clipboard === "both" ||
      policy.clipboard === "from-session",
  };
}
