/**
 * The record of the apps a streamer started, kept in the session's runtime
 * folder (`$XDG_RUNTIME_DIR/webstream-apps.json`, else `$HOME`), so that a
 * streamer started again in the session (the previous one died; the apps
 * live on) takes them up: their exits then close their tabs and count for
 * the session's lifetime as before.
 *
 * Each app is named by its process: PID and start time, so a PID the kernel
 * has since given to another process is never taken for it. The file is the
 * pool user's, so an entry is taken up only while its process still runs,
 * leads its own process group (as every app does) and belongs to this
 * session (its `XAUTHORITY` is the streamer's). Linux only.
 *
 * @module
 */
import { z } from "zod";
import { processStart } from "../platform/linux/processes.ts";

/** The record's file name in `$XDG_RUNTIME_DIR` (or `$HOME`). */
export const APP_RECORD_NAME = "webstream-apps.json";

const entrySchema = z.object({
  /** The command line the app was started from. */
  command: z.string().min(1).max(65_536),
  /** Its PID (and process group id). */
  pid: z.number().int().min(1),
  /** Its start time, clock ticks after boot. */
  start: z.number().int().min(0),
}).strict();

const recordSchema = z.array(entrySchema).max(1000);

/** One app in the record. */
export type RecordedApp = z.infer<typeof entrySchema>;

/**
 * Where this session's record lives, from its environment; undefined off
 * Linux or without a folder to keep it in.
 */
export function appRecordPath(
  env: Record<string, string | undefined> = Deno.env.toObject(),
): string | undefined {
  if (Deno.build.os !== "linux") return undefined;
  const dir = env.XDG_RUNTIME_DIR ?? env.HOME;
  return dir ? `${dir}/${APP_RECORD_NAME}` : undefined;
}

/**
 * The apps in the record at `path`: none when there is no record; an error
 * naming what is wrong when it does not validate.
 */
export async function readAppRecord(
  path: string,
): Promise<{ ok: true; apps: RecordedApp[] } | { ok: false; error: string }> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { ok: true, apps: [] };
    return { ok: false, error: (error as Error).message };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  const parsed = recordSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      ok: false,
      error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)
        .join("; "),
    };
  }
  return { ok: true, apps: parsed.data };
}

/** Replaces the record at `path` (written beside, then renamed; owner-only). */
export async function writeAppRecord(
  path: string,
  apps: RecordedApp[],
): Promise<void> {
  const temporary = `${path}.tmp`;
  await Deno.writeTextFile(temporary, JSON.stringify(apps), { mode: 0o600 });
  await Deno.rename(temporary, path);
}

/**
 * Whether the recorded app still runs as recorded, leads its process group
 * and belongs to the session whose Xauthority file is `authFile`.
 */
export async function isSessionApp(
  app: RecordedApp,
  authFile: string,
): Promise<boolean> {
  if (await processStart(app.pid) !== app.start) return false;
  try {
    const stat = await Deno.readTextFile(`/proc/${app.pid}/stat`);
    // After the command name (which may hold spaces): state, ppid, pgrp.
    const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
    if (pgrp !== app.pid) return false;
    const environ = await Deno.readTextFile(`/proc/${app.pid}/environ`);
    return environ.split("\0").includes(`XAUTHORITY=${authFile}`);
  } catch {
    return false; // gone meanwhile, or not ours to read
  }
}
