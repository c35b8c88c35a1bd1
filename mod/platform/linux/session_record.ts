/**
 * What the Linux platform records about a running session, so that a later
 * run of the host can take it back (or end it): the display, the session's
 * folder and Xauthority file, the account's ids and home, and each process
 * (Xvfb, PulseAudio, the streamer) by PID and start time, so that a PID the
 * kernel has since given to another process is never mistaken for it.
 *
 * The record names processes root may signal: it is kept where only the
 * host's user can write (the pool's state folder), and validated when read.
 *
 * @module
 */
import { z } from "zod";
import { formatIssues } from "../../util/zod_issues.ts";

const processRef = z.object({
  pid: z.number().int().min(2),
  start: z.number().int().nonnegative(),
}).strict();

/** The record of one Linux session (version 1). */
export const sessionRecordSchema = z.object({
  version: z.literal(1),
  /** The X display, `:N`. */
  display: z.string().regex(/^:\d{1,5}$/, "an X display such as :3"),
  /** `<runtimeDirectory>/sessions/<account>`. */
  sessionDir: z.string().startsWith("/"),
  /** The session's Xauthority file; every session process has it in `XAUTHORITY`. */
  authFile: z.string().startsWith("/"),
  /** The account's home. */
  home: z.string().startsWith("/"),
  /** The account's uid and gid when the session started. */
  uid: z.number().int().nonnegative(),
  gid: z.number().int().nonnegative(),
  /** The display server. */
  xvfb: processRef,
  /** The session's sound server, when it has one. */
  audio: processRef.extend({ server: z.string().startsWith("unix:") })
    .strict().nullable(),
  /** The current streamer. */
  streamer: processRef,
}).strict();

/** The record of one Linux session. */
export type SessionRecord = z.infer<typeof sessionRecordSchema>;

/** A record read back, or what was wrong with it. */
export type ParsedRecord =
  | { ok: true; record: SessionRecord }
  | { ok: false; error: string };

/** Validates a record read back from the state folder. */
export function parseSessionRecord(value: unknown): ParsedRecord {
  const parsed = sessionRecordSchema.safeParse(value);
  return parsed.success
    ? { ok: true, record: parsed.data }
    : { ok: false, error: formatIssues(parsed.error.issues, value).join("; ") };
}
