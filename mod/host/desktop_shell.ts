/**
 * The desktop shell a Linux desktop session starts: a window manager, a
 * panel (application menu, task list, clock) and a background, all from
 * Debian packages. The host turns a desktop launch's `X-Workspace-Shell`
 * into the command line the session's streamer starts as it starts apps
 * (`mod/streamer/apps.ts`: as the pool user, with the session's environment
 * minus webstream's own variables, ended with the session). The shell gets
 * a session bus of its own from `dbus-run-session`, which ends the bus when
 * the shell ends.
 *
 * - `openbox` (the default): openbox, lxpanel (application menu, task
 *   list, clock) and a plain background (`xsetroot`);
 * - `xfce`: the Xfce session (`xfce4-session`: xfwm4, xfce4-panel,
 *   xfdesktop, settings and autostart entries);
 * - `none`: nothing, the bare X screen.
 *
 * `docs/dependencies.md` says why openbox is the default, with figures.
 *
 * @module
 */

import {
  DEFAULT_DESKTOP_SHELL,
  DESKTOP_SHELLS,
  type DesktopShell,
} from "../contract/desktop_shell.ts";

export {
  DEFAULT_DESKTOP_SHELL,
  DESKTOP_SHELLS,
  type DesktopShell,
} from "../contract/desktop_shell.ts";

/** The background colour the `openbox` shell paints. */
export const DESKTOP_BACKGROUND = "#2f5d8a";

/**
 * The argument vector that starts `shell`, or an empty one for `none`.
 * The panel and background start before the window manager, which the
 * script then becomes, so the session bus lives as long as the window
 * manager does.
 */
export function desktopShellArgv(shell: DesktopShell): string[] {
  switch (shell) {
    case "openbox":
      return [
        "dbus-run-session",
        "--",
        "sh",
        "-c",
        `xsetroot -solid '${DESKTOP_BACKGROUND}'; lxpanel & exec openbox`,
      ];
    case "xfce":
      return ["dbus-run-session", "--", "xfce4-session"];
    case "none":
      return [];
  }
}

/**
 * `shell`'s argument vector as one command line the streamer splits back
 * into the same words (`mod/streamer/command_line.ts`); empty for `none`.
 */
export function desktopShellCommandLine(shell: DesktopShell): string {
  return desktopShellArgv(shell).map(quoteWord).join(" ");
}

/**
 * `word` quoted so that `splitCommandLine` reads it back unchanged: plain
 * words as they are, others in single quotes (a `'` as `'\''`).
 */
export function quoteWord(word: string): string {
  if (/^[A-Za-z0-9_./=:@%+,-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** What {@linkcode desktopCommandFor} reads of a launch request. */
export interface ShellRequest {
  /** The `X-Workspace-*` headers by lowercased suffix (`type`, `shell`, …). */
  workspace: Record<string, string>;
}

/**
 * The command line that starts the shell of a desktop launch on this host
 * (`X-Workspace-Shell`, already validated, default
 * {@linkcode DEFAULT_DESKTOP_SHELL}); undefined for an app, for `none`, and
 * off Linux (a Windows session has its own shell).
 */
export function desktopCommandFor(
  request: ShellRequest,
  options: { os?: typeof Deno.build.os } = {},
): string | undefined {
  const { workspace } = request;
  if ((options.os ?? Deno.build.os) !== "linux") return undefined;
  if (workspace.type !== "desktop") return undefined;
  const shell = workspace.shell ?? DEFAULT_DESKTOP_SHELL;
  if (shell === "command") return workspace["shell-command"] || undefined;
  if (!isDesktopShell(shell)) return undefined;
  return desktopShellCommandLine(shell) || undefined;
}

function isDesktopShell(name: string): name is DesktopShell {
  return (DESKTOP_SHELLS as readonly string[]).includes(name);
}

/** A program a shell runs, and the Debian package that installs it. */
export interface ShellProgram {
  /** The program's name. */
  program: string;
  /** Its Debian package. */
  debianPackage: string;
}

/** The programs each named shell runs. */
export const SHELL_PROGRAMS: Readonly<Record<DesktopShell, ShellProgram[]>> = {
  openbox: [
    { program: "dbus-run-session", debianPackage: "dbus-daemon" },
    { program: "xsetroot", debianPackage: "x11-xserver-utils" },
    { program: "lxpanel", debianPackage: "lxpanel" },
    { program: "openbox", debianPackage: "openbox" },
  ],
  xfce: [
    { program: "dbus-run-session", debianPackage: "dbus-daemon" },
    { program: "xfce4-session", debianPackage: "xfce4-session" },
    { program: "xfwm4", debianPackage: "xfwm4" },
    { program: "xfce4-panel", debianPackage: "xfce4-panel" },
    { program: "xfdesktop", debianPackage: "xfdesktop4" },
  ],
  none: [],
};

/** The `PATH` sessions get on Linux (`mod/platform/linux/mod.ts`). */
export const SESSION_PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * The programs of `shell` found in no folder of `path` (default
 * {@linkcode SESSION_PATH}) as an executable file: what a host must
 * install before that shell can start.
 */
export async function missingShellPrograms(
  shell: DesktopShell,
  options: { path?: string } = {},
): Promise<ShellProgram[]> {
  const folders = (options.path ?? SESSION_PATH).split(":").filter(Boolean);
  const missing: ShellProgram[] = [];
  for (const needed of SHELL_PROGRAMS[shell]) {
    let found = false;
    for (const folder of folders) {
      const info = await Deno.stat(`${folder}/${needed.program}`).catch(
        () => undefined,
      );
      if (info?.isFile && (info.mode ?? 0o111) & 0o111) {
        found = true;
        break;
      }
    }
    if (!found) missing.push(needed);
  }
  return missing;
}
