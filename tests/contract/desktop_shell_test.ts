/**
 * `desktopSchema` (a workspace's `desktop`): a named shell or a command,
 * nothing else; and the values `X-Workspace-Shell` may carry.
 */
import {
  DEFAULT_DESKTOP_SHELL,
  DESKTOP_SHELLS,
  desktopSchema,
  SHELL_HEADER_VALUES,
} from "../../mod/contract/desktop_shell.ts";
import { assert, assertEquals } from "../support/assert.ts";

Deno.test("desktopSchema: named shells and a command are accepted", () => {
  assertEquals(DESKTOP_SHELLS, ["openbox", "xfce", "none"]);
  assertEquals(SHELL_HEADER_VALUES, ["openbox", "xfce", "none", "command"]);
  assert((DESKTOP_SHELLS as readonly string[]).includes(DEFAULT_DESKTOP_SHELL));
  for (const shell of DESKTOP_SHELLS) {
    assertEquals(desktopSchema.parse({ shell }), { shell });
  }
  assertEquals(
    desktopSchema.parse({ shell: "command", command: "startlxqt" }),
    { shell: "command", command: "startlxqt" },
  );
});

Deno.test("desktopSchema: refusals", () => {
  for (
    const bad of [
      { shell: "kde" },
      { shell: "command" },
      { shell: "command", command: "" },
      { shell: "command", command: "x".repeat(8001) },
      { shell: "openbox", command: "xterm" },
      {},
    ]
  ) {
    assertEquals(
      desktopSchema.safeParse(bad).success,
      false,
      JSON.stringify(bad),
    );
  }
});
