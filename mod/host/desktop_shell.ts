/**
 * The desktop shell a Linux desktop session starts: a window manager, a
 * panel (application menu, task list, clock) and a background, all from
 * Debian packages. The host turns a desktop launch's `X-Workspace-Shell`
 * into the command line the session's streamer starts like an app (as the
 * pool user, in the session's environment, in a process group of its own).
 *
 * - `openbox` (the default): openbox, lxpanel and a plain background
 *   (`xsetroot`), under a session bus of their own (`dbus-run-session`);
 * - `xfce`: the Xfce session (`xfce4-session`: xfwm4, xfce4-panel,
 *   xfdesktop, settings and autostart entries), under its own session bus;
 * - `none`: nothing, the bare X screen.
 *
 * `docs/dependencies.md` says why openbox is the default, with figures.
 *
 * @module
 */

/** The shells a desktop workspace can have. */
export const DESKTOP_SHELLS = ["openbox", "xfce", "none"] as const;

/** A desktop shell's name. */
export type DesktopShell = typeof DESKTOP_SHELLS[number];

/** The shell of a desktop workspace that names none. */
export const DEFAULT_DESKTOP_SHELL: DesktopShell = "openbox";

/** The background colour the `openbox` shell paints. */
export const DESKTOP_BACKGROUND = "#2f5d8a";

/** Whether `name` is one of {@linkcode DESKTOP_SHELLS}. */
export function isDesktopShell(name: string): name is DesktopShell {
  return (DESKTOP_SHELLS as readonly string[]).includes(name);
}

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
