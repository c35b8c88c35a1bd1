/**
 * The desktop shells' command lines: each named shell's argument vector,
 * the command line the streamer splits back into the same words (quotes
 * included), and which command a launch request gets: the default shell
 * for a desktop naming none, a configured command as given, nothing for
 * `none`, an app, or a host that is not Linux.
 */
import {
  DEFAULT_DESKTOP_SHELL,
  DESKTOP_BACKGROUND,
  DESKTOP_SHELLS,
  desktopCommandFor,
  desktopShellArgv,
  desktopShellCommandLine,
  quoteWord,
} from "../../mod/host/desktop_shell.ts";
import { splitCommandLine } from "../../mod/streamer/command_line.ts";
import { assert, assertEquals } from "../support/assert.ts";

Deno.test("each shell's argument vector", () => {
  assertEquals(DEFAULT_DESKTOP_SHELL, "openbox");
  assertEquals(desktopShellArgv("openbox"), [
    "dbus-run-session",
    "--",
    "sh",
    "-c",
    `xsetroot -solid '${DESKTOP_BACKGROUND}'; lxpanel & exec openbox`,
  ]);
  assertEquals(desktopShellArgv("xfce"), [
    "dbus-run-session",
    "--",
    "xfce4-session",
  ]);
  assertEquals(desktopShellArgv("none"), []);
});

Deno.test("the command line splits back into the same words", () => {
  for (const shell of DESKTOP_SHELLS) {
    assertEquals(
      splitCommandLine(desktopShellCommandLine(shell)),
      desktopShellArgv(shell),
      shell,
    );
  }
  assertEquals(desktopShellCommandLine("none"), "");
  assertEquals(
    desktopShellCommandLine("xfce"),
    "dbus-run-session -- xfce4-session",
  );
});

Deno.test("quoteWord: plain words as they are, others single-quoted", () => {
  assertEquals(quoteWord("openbox"), "openbox");
  assertEquals(quoteWord("--"), "--");
  assertEquals(quoteWord("a b"), "'a b'");
  assertEquals(quoteWord(""), "''");
  for (
    const word of ["it's", "a'b'c", "$HOME; rm -rf /", 'x"y\\z', "tab\there"]
  ) {
    assertEquals(splitCommandLine(quoteWord(word)), [word], word);
  }
});

Deno.test("desktopCommandFor: which shell a launch starts", async (t) => {
  const linux = { os: "linux" as const };
  await t.step("a desktop naming no shell gets the default", () => {
    assertEquals(
      desktopCommandFor({ workspace: { type: "desktop" } }, linux),
      desktopShellCommandLine(DEFAULT_DESKTOP_SHELL),
    );
  });
  await t.step("a named shell, and none", () => {
    assertEquals(
      desktopCommandFor(
        { workspace: { type: "desktop", shell: "xfce" } },
        linux,
      ),
      "dbus-run-session -- xfce4-session",
    );
    assertEquals(
      desktopCommandFor(
        { workspace: { type: "desktop", shell: "none" } },
        linux,
      ),
      undefined,
    );
  });
  await t.step("a configured command, as given", () => {
    assertEquals(
      desktopCommandFor({
        workspace: {
          type: "desktop",
          shell: "command",
          "shell-command": "startlxqt --verbose",
        },
      }, linux),
      "startlxqt --verbose",
    );
  });
  await t.step("nothing for an app, an unknown type, or off Linux", () => {
    assertEquals(
      desktopCommandFor({ workspace: { type: "app" } }, linux),
      undefined,
    );
    assertEquals(desktopCommandFor({ workspace: {} }, linux), undefined);
    assertEquals(
      desktopCommandFor({ workspace: { type: "desktop" } }, { os: "windows" }),
      undefined,
    );
  });
  await t.step("this machine: Linux starts the default shell", () => {
    if (Deno.build.os !== "linux") return;
    assert(
      desktopCommandFor({ workspace: { type: "desktop" } })?.includes(
        "openbox",
      ),
    );
  });
});
