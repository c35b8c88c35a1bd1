/**
 * The desktop shells' command lines: each named shell's argument vector,
 * the command line the streamer splits back into the same words (quotes
 * included), and which command a launch request gets: the default shell
 * for a desktop naming none, a configured command as given, nothing for
 * `none`, an app, or a host that is not Linux; and which of a shell's
 * programs a host lacks.
 */
import {
  DEFAULT_DESKTOP_SHELL,
  DESKTOP_BACKGROUND,
  DESKTOP_SHELLS,
  desktopCommandFor,
  desktopShellArgv,
  desktopShellCommandLine,
  missingShellPrograms,
  quoteWord,
  SHELL_PROGRAMS,
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

Deno.test("missingShellPrograms: executables found on the path, the rest named with their package", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webstream-shell-" });
  try {
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    await Deno.writeTextFile(`${dir}/a/openbox`, "#!/bin/sh\n", {
      mode: 0o755,
    });
    await Deno.writeTextFile(`${dir}/b/dbus-run-session`, "", { mode: 0o755 });
    // Not executable: does not count.
    await Deno.writeTextFile(`${dir}/b/lxpanel`, "", { mode: 0o644 });
    // A folder of that name does not count either.
    await Deno.mkdir(`${dir}/a/xsetroot`);
    const missing = await missingShellPrograms("openbox", {
      path: `${dir}/a:${dir}/b:${dir}/absent`,
    });
    assertEquals(missing, [
      { program: "xsetroot", debianPackage: "x11-xserver-utils" },
      { program: "lxpanel", debianPackage: "lxpanel" },
    ]);
    assertEquals(await missingShellPrograms("none", { path: dir }), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("every program a shell's command line runs is checked for", () => {
  for (const shell of DESKTOP_SHELLS) {
    const line = desktopShellCommandLine(shell);
    for (const word of line.split(/[\s;&']+/)) {
      if (!/^[a-z][a-z0-9-]+$/.test(word) || word === "exec") continue;
      if (["sh", "solid"].includes(word)) continue;
      assert(
        SHELL_PROGRAMS[shell].some((p) => p.program === word),
        `${shell}: ${word}`,
      );
    }
  }
});

Deno.test("this host has the default shell's programs (.ci/run installs them)", async () => {
  if (Deno.build.os !== "linux") return;
  assertEquals(await missingShellPrograms(DEFAULT_DESKTOP_SHELL), []);
});
