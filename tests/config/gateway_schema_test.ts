/**
 * A workspace's `desktop` property in the gateway's configuration: optional
 * (a desktop without it gets the default shell at launch), a named shell or
 * a command, refused on an app, and every refusal names the property path.
 */
import { workspaceSchema } from "../../mod/config/gateway_schema.ts";
import { ConfigError, parseConfig } from "../../mod/config/load.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";

const DESKTOP = { id: "desktop", name: "Desktop", kind: "desktop" };

function refusal(workspace: Record<string, unknown>): string {
  const error = assertThrows(
    () => parseConfig({ gateway: { workspaces: [workspace] } }, { env: {} }),
    ConfigError,
  ) as ConfigError;
  return error.message;
}

Deno.test("workspace.desktop: optional, a named shell or a command", () => {
  assertEquals(workspaceSchema.parse(DESKTOP).desktop, undefined);
  assertEquals(
    workspaceSchema.parse({ ...DESKTOP, desktop: { shell: "xfce" } }).desktop,
    { shell: "xfce" },
  );
  assertEquals(
    workspaceSchema.parse({
      ...DESKTOP,
      desktop: { shell: "command", command: "startlxqt" },
    }).desktop,
    { shell: "command", command: "startlxqt" },
  );
});

Deno.test("workspace.desktop: refusals name the property", () => {
  const unknown = refusal({ ...DESKTOP, desktop: { shell: "kde" } });
  assert(
    unknown.includes(
      'gateway.workspaces[0].desktop.shell: expected one of openbox, xfce, none, command as shell, got string "kde"',
    ),
    unknown,
  );
  const noCommand = refusal({ ...DESKTOP, desktop: { shell: "command" } });
  assert(
    noCommand.includes("gateway.workspaces[0].desktop.command: expected"),
    noCommand,
  );
  const onApp = refusal({
    id: "terminal",
    name: "Terminal",
    kind: "app",
    command: { linux: "xterm" },
    desktop: { shell: "openbox" },
  });
  assert(
    onApp.includes(
      'gateway.workspaces[0].desktop: only a desktop (kind "desktop") has a desktop shell',
    ),
    onApp,
  );
});

Deno.test("workspace.resources.maxPixelRatio: 1 to 4, default 2", () => {
  assertEquals(workspaceSchema.parse(DESKTOP).resources.maxPixelRatio, 2);
  assertEquals(
    workspaceSchema.parse({ ...DESKTOP, resources: { maxPixelRatio: 1.5 } })
      .resources.maxPixelRatio,
    1.5,
  );
  for (const bad of [0.5, 5, "2"]) {
    const message = refusal({ ...DESKTOP, resources: { maxPixelRatio: bad } });
    assert(
      message.includes("gateway.workspaces[0].resources.maxPixelRatio:"),
      message,
    );
  }
});
