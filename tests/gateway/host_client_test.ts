/**
 * `getConnection`, the gateway's call to a session host, against a scripted
 * host on loopback: the exact headers it sends (session, workspace, app
 * context only for apps, the policy from the resources, the shared secret)
 * and the browser size; names and commands outside ASCII as RFC 2047
 * encoded words the host decodes; a validated answer; and the HostError for
 * each way a host can fail — 5xx, a timeout and a refused connection may
 * succeed on another host (retryable), a 4xx may not, an answer missing
 * fields is not trusted.
 */
import { type Workspace, workspaceSchema } from "../../mod/config/mod.ts";
import {
  type ConnectionRequest,
  getConnection,
  HostError,
  policyFor,
} from "../../mod/gateway/host_client.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../support/assert.ts";
import { encodeHeaderValue } from "../../mod/contract/mod.ts";
import { parseLaunchRequest } from "../../mod/host/mod.ts";
import { freePort } from "../support/ports.ts";
import { withScriptedHost } from "../support/scripted_host.ts";

const desktop: Workspace = workspaceSchema.parse({
  id: "desktop",
  name: "Desktop",
  kind: "desktop",
  resources: { clipboard: false, fileUpload: true },
});
const terminal: Workspace = workspaceSchema.parse({
  id: "terminal",
  name: "Terminal",
  kind: "app",
  command: { linux: "xterm -e top" },
});

/** A request to launch `workspace` (with its own resources) as `sessionId`. */
function launch(
  workspace: Workspace,
  sessionId: string,
  extra: Pick<ConnectionRequest, "command" | "width" | "height"> = {},
): ConnectionRequest {
  return { sessionId, workspace, resources: workspace.resources, ...extra };
}

/** Header names the gateway sets (lowercase, sorted). */
function contextHeaders(headers: Headers): string[] {
  return [...headers.keys()]
    .filter((name) => name.startsWith("x-") || name === "authorization")
    .sort();
}

Deno.test("a desktop: session, workspace, policy and secret headers, and the size", () =>
  withScriptedHost(async (host) => {
    const answer = await getConnection(
      host.url,
      launch(desktop, "client-facing-1", { width: 1280, height: 720 }),
      { sharedSecret: "farm-secret-123" },
    );
    assertEquals(host.requests.length, 1);
    const { url, headers } = host.requests[0];
    assertEquals(url.pathname, "/getConnection");
    assertEquals(url.search, "?width=1280&height=720");
    assertEquals(contextHeaders(headers), [
      "authorization",
      "x-policy-json",
      "x-session-id",
      "x-workspace-id",
      "x-workspace-name",
      "x-workspace-shell",
      "x-workspace-type",
    ]);
    assertEquals(headers.get("x-session-id"), "client-facing-1");
    // No shell configured: the default one, by name.
    assertEquals(headers.get("x-workspace-shell"), "openbox");
    assertEquals(headers.get("x-workspace-id"), "desktop");
    assertEquals(headers.get("x-workspace-name"), "Desktop");
    assertEquals(headers.get("x-workspace-type"), "desktop");
    assertEquals(headers.get("authorization"), "Bearer farm-secret-123");
    assertEquals(JSON.parse(headers.get("x-policy-json")!), {
      clipboard: "none",
      fileUpload: true,
      fileDownload: false,
      printing: false,
      shadowing: false,
      audio: true,
      videoMaxKbps: 8000,
      downloadMaxBytes: 2 ** 30,
      maxPixelRatio: 2,
    });
    // The validated answer, as the host gave it.
    assertEquals(answer.sessionId, "client-facing-1");
    assertEquals(answer.sessionUuid, host.uuidOf("client-facing-1"));
    assertEquals(answer.port, host.port);
    assertEquals(answer.reconnect, false);
  }));

Deno.test("a desktop's configured shell travels as X-Workspace-Shell, a command beside it", () =>
  withScriptedHost(async (host) => {
    const xfce = workspaceSchema.parse({
      id: "xfce",
      name: "Xfce",
      kind: "desktop",
      desktop: { shell: "xfce" },
    });
    const custom = workspaceSchema.parse({
      id: "custom",
      name: "Custom",
      kind: "desktop",
      desktop: { shell: "command", command: "startlxqt --verbose" },
    });
    await getConnection(host.url, launch(xfce, "shell-1"));
    await getConnection(host.url, launch(custom, "shell-2"));
    await getConnection(host.url, launch(terminal, "shell-3"));
    const [first, second, app] = host.requests.map((r) => r.headers);
    assertEquals(first.get("x-workspace-shell"), "xfce");
    assertEquals(first.get("x-workspace-shell-command"), null);
    assertEquals(second.get("x-workspace-shell"), "command");
    assertEquals(
      second.get("x-workspace-shell-command"),
      "startlxqt --verbose",
    );
    // The host reads them back as sent; an app has no shell.
    const read = parseLaunchRequest(second, new URLSearchParams());
    assertEquals(read.workspace.shell, "command");
    assertEquals(read.workspace["shell-command"], "startlxqt --verbose");
    assertEquals(app.get("x-workspace-shell"), null);
  }));

Deno.test("an app: X-App-ID, -Name and -Command; no secret and no size when not given", () =>
  withScriptedHost(async (host) => {
    await getConnection(
      `${host.url}/`,
      launch(terminal, "s-2", { command: "xterm -e top" }),
    );
    const { url, headers } = host.requests[0];
    assertEquals(url.pathname, "/getConnection", "a trailing slash is fine");
    assertEquals(url.search, "");
    assertEquals(contextHeaders(headers), [
      "x-app-command",
      "x-app-id",
      "x-app-name",
      "x-policy-json",
      "x-session-id",
      "x-workspace-id",
      "x-workspace-name",
      "x-workspace-type",
    ]);
    assertEquals(headers.get("x-workspace-type"), "app");
    assertEquals(headers.get("x-app-id"), "terminal");
    assertEquals(headers.get("x-app-name"), "Terminal");
    assertEquals(headers.get("x-app-command"), "xterm -e top");
    assertEquals(headers.get("x-policy-json"), policyFor(terminal.resources));
    assertEquals(JSON.parse(headers.get("x-policy-json")!).clipboard, "both");

    // Reconnecting to an app already running sends no command.
    const again = await getConnection(host.url, launch(terminal, "s-2"));
    assertEquals(host.requests[1].headers.get("x-app-command"), null);
    assertEquals(host.requests[1].headers.get("x-app-id"), "terminal");
    assertEquals(again.reconnect, true);
  }));

Deno.test("5xx, a timeout and a refused connection are retryable HostErrors", (t) =>
  withScriptedHost(async (host) => {
    const request = launch(desktop, "s-3");
    await t.step("503 with the host's reason", async () => {
      host.script = () =>
        Response.json({ error: "no free session" }, { status: 503 });
      const error = await assertRejects(
        () => getConnection(host.url, request),
        HostError,
      ) as HostError;
      assertEquals(error.status, 503);
      assertEquals(error.retryable, true);
      assertEquals(
        error.message,
        `${host.url} answered 503: no free session`,
      );
    });
    await t.step("500 without a JSON body", async () => {
      host.script = () => new Response("boom", { status: 500 });
      const error = await assertRejects(
        () => getConnection(host.url, request),
        HostError,
        /answered 500: Internal Server Error/,
      ) as HostError;
      assertEquals(error.retryable, true);
    });
    await t.step("no answer within the timeout", async () => {
      host.script = () => host.hang();
      const error = await assertRejects(
        () => getConnection(host.url, request, { timeoutMs: 200 }),
        HostError,
      ) as HostError;
      assertEquals(error.status, undefined);
      assertEquals(error.retryable, true);
      assertMatch(error.message, /did not answer/);
    });
    await t.step("a refused connection", async () => {
      const closed = `http://127.0.0.1:${freePort()}`;
      const error = await assertRejects(
        () => getConnection(closed, request),
        HostError,
      ) as HostError;
      assertEquals(error.status, undefined);
      assertEquals(error.retryable, true);
      assertMatch(error.message, new RegExp(`^${closed} did not answer: `));
    });
  }));

Deno.test("400 and 401 are HostErrors that another host would not fix", () =>
  withScriptedHost(async (host) => {
    for (const status of [400, 401, 403, 404]) {
      host.script = () =>
        Response.json({ error: `nope ${status}` }, { status });
      const error = await assertRejects(
        () => getConnection(host.url, launch(desktop, "s-4")),
        HostError,
      ) as HostError;
      assertEquals(error.status, status);
      assertEquals(error.retryable, false, String(status));
      assertMatch(error.message, new RegExp(`answered ${status}: nope`));
    }
  }));

Deno.test("an answer that is not what the contract says is a HostError", (t) =>
  withScriptedHost(async (host) => {
    const request = launch(desktop, "s-5");
    const valid = async () =>
      await host.answer(
        new Request(host.url, {
          headers: { "X-Session-ID": "s-5" },
        }),
      ).json();
    const broken: [string, (body: Record<string, unknown>) => unknown][] = [
      ["no token", (b) => ({ ...b, token: undefined })],
      ["no port", (b) => ({ ...b, port: undefined })],
      ["a port out of range", (b) => ({ ...b, port: 70_000 })],
      ["a sessionUuid that is not a UUID", (b) => ({ ...b, sessionUuid: "x" })],
      ["a path without a slash", (b) => ({ ...b, path: "stream" })],
      ["a short token", (b) => ({ ...b, token: "abc" })],
      ["no reconnect flag", (b) => ({ ...b, reconnect: undefined })],
      ["a list", () => []],
    ];
    for (const [what, breakIt] of broken) {
      await t.step(what, async () => {
        const body = breakIt(await valid());
        host.script = () => Response.json(body);
        const error = await assertRejects(
          () => getConnection(host.url, request),
          HostError,
        );
        assertEquals(
          error.message,
          `${host.url} gave an answer webstream does not understand`,
        );
      });
    }
    await t.step("a 200 that is not JSON", async () => {
      host.script = () => new Response("<html>proxy login</html>");
      await assertRejects(
        () => getConnection(host.url, request),
        HostError,
        /does not understand/,
      );
    });
    await t.step("the intact answer passes", async () => {
      host.script = undefined;
      const answer = await getConnection(host.url, request);
      assert(answer.token.length >= 16);
    });
  }));

Deno.test("names and commands outside ASCII travel encoded, and the host reads them back", () =>
  withScriptedHost(async (host) => {
    const buero: Workspace = workspaceSchema.parse({
      id: "buero",
      name: "Büro-Rechner ✓",
      kind: "app",
      command: { linux: "xcalc -title «Büro»" },
    });
    await getConnection(
      host.url,
      launch(buero, "s-6", { command: "xcalc -title «Büro»" }),
    );
    const { headers } = host.requests[0];
    for (const name of ["x-workspace-name", "x-app-name", "x-app-command"]) {
      assertMatch(headers.get(name)!, /^=\?utf-8\?b\?[A-Za-z0-9+/=]+\?=$/);
    }
    assertEquals(
      headers.get("x-workspace-name"),
      encodeHeaderValue("Büro-Rechner ✓"),
    );
    // What the host makes of them.
    const request = parseLaunchRequest(headers, new URLSearchParams());
    assertEquals(request.workspace.name, "Büro-Rechner ✓");
    assertEquals(request.app.name, "Büro-Rechner ✓");
    assertEquals(request.app.command, "xcalc -title «Büro»");
    assertEquals(request.app.id, "buero");
  }));
