/**
 * Asking a real X server about itself from a test: `xdpyinfo` against one
 * display with one Xauthority file, optionally as another user.
 *
 * @module
 */
import { type CommandResult, runCommand } from "./command.ts";

/**
 * Runs `xdpyinfo` on `display` (such as `:12`) with the cookie in
 * `authFile`, in an environment holding only those two, from `/` and as
 * `ids` when given. `ok` is false when the server refused or is not there.
 */
export async function xdpyinfo(
  display: string,
  authFile: string,
  ids: { uid?: number; gid?: number } = {},
): Promise<CommandResult> {
  return await runCommand("xdpyinfo", {
    env: { DISPLAY: display, XAUTHORITY: authFile },
    clearEnv: true,
    cwd: "/",
    ...ids,
  });
}
