/**
 * What an orphaned streamer does last: its session manager stayed gone for
 * `orphanTimeout`, so nobody will ever log the session off; the streamer
 * ends the session's processes itself (display, sound server, apps) and
 * exits, so nothing runs on unowned.
 *
 * On Linux a session's processes are those whose environment names the
 * session's Xauthority file (`XAUTHORITY`): the session manager gives it to
 * the display, the sound server and the streamer, and the apps inherit it,
 * whatever process group they moved to. Elsewhere (Windows) nothing is
 * ended here: the streamer only exits.
 *
 * @module
 */
import type { Logger } from "../log/mod.ts";
import { endProcessesWithEnv } from "../platform/linux/processes.ts";

/**
 * Ends every other process of this streamer's session (see the module
 * documentation). Without `XAUTHORITY`, or off Linux, nothing is ended.
 */
export async function endSessionProcesses(logger: Logger): Promise<void> {
  const authFile = Deno.build.os === "linux"
    ? Deno.env.get("XAUTHORITY")
    : undefined;
  if (!authFile) {
    logger.warn("no session processes to end here; exiting only");
    return;
  }
  try {
    await endProcessesWithEnv("XAUTHORITY", authFile, { graceMs: 1000 });
    logger.info("ended the session's processes", { xauthority: authFile });
  } catch (error) {
    logger.error("could not end every process of the session", { error });
  }
}
