/**
 * `X-Workspace-Shell` (beside the seed's `/getConnection` headers): the
 * desktop shell the gateway asks a host to start in a desktop session, by
 * name, or `command` with the command line in `X-Workspace-Shell-Command`.
 * A desktop launch without it gets {@linkcode DEFAULT_DESKTOP_SHELL}.
 *
 * @module
 */
import { z } from "zod";

/** The named shells a desktop workspace can have (`mod/host/desktop_shell.ts`). */
export const DESKTOP_SHELLS = ["openbox", "xfce", "none"] as const;

/** A named desktop shell. */
export type DesktopShell = typeof DESKTOP_SHELLS[number];

/** The shell of a desktop that names none. */
export const DEFAULT_DESKTOP_SHELL: DesktopShell = "openbox";

/** `X-Workspace-Shell`'s values: a named shell, or `command`. */
export const SHELL_HEADER_VALUES = [...DESKTOP_SHELLS, "command"] as const;

/**
 * A workspace's `desktop` property: a named shell, or `command` with the
 * command line to start instead (split like an app's, without a shell).
 */
export const desktopSchema = z.discriminatedUnion("shell", [
  z.object({ shell: z.enum(DESKTOP_SHELLS) }).strict(),
  z.object({
    shell: z.literal("command"),
    command: z.string().min(1).max(8000),
  }).strict(),
], { error: `one of ${SHELL_HEADER_VALUES.join(", ")} as shell` });

/** A workspace's `desktop` property. */
export type DesktopSettings = z.infer<typeof desktopSchema>;
