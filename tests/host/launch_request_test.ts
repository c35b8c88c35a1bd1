/**
 * Tests for reading a `/getConnection` request: `X-Session-ID` (required,
 * format), `?width=&height=` (bounds, integers only), `X-Workspace-*` and
 * `X-App-*` collected under their lowercased suffix (encoded words decoded),
 * `X-Workspace-Type`, `X-Policy-JSON` (defaults when missing; invalid JSON,
 * wrong types and unknown keys refused), and several problems reported
 * together in a LaunchRequestError naming each header and field.
 *
 * @module
 */
import { encodeHeaderValue } from "../../mod/host/header_value.ts";
import {
  LaunchRequestError,
  parseLaunchRequest,
  policySchema,
  SCREEN_BOUNDS,
} from "../../mod/host/launch_request.ts";
import type { LaunchRequest } from "../../mod/pool/mod.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";

const DEFAULT_POLICY = {
  clipboard: "both",
  fileUpload: true,
  fileDownload: false,
  printing: false,
  shadowing: false,
  audio: true,
  videoMaxKbps: 8000,
};

/** Parses a request made of `headers` and `query`. */
function parse(
  headers: Record<string, string>,
  query = "",
): LaunchRequest {
  return parseLaunchRequest(new Headers(headers), new URLSearchParams(query));
}

/** The problems of a request that must be refused. */
function problems(headers: Record<string, string>, query = ""): string[] {
  const error = assertThrows(
    () => parse(headers, query),
    LaunchRequestError,
  ) as LaunchRequestError;
  assertEquals(error.message, error.problems.join("; "));
  assertEquals(error.name, "LaunchRequestError");
  return error.problems;
}

Deno.test("a minimal request: session id only, default policy", () => {
  assertEquals(parse({ "X-Session-ID": "sess-1" }), {
    sessionId: "sess-1",
    workspace: {},
    app: {},
    policy: DEFAULT_POLICY,
    width: undefined,
    height: undefined,
  });
  assertEquals(policySchema.parse({}), DEFAULT_POLICY);
});

Deno.test("X-Session-ID is required", () => {
  assertEquals(problems({}), ["X-Session-ID header is required"]);
  assertEquals(problems({ "X-Session-ID": "" }), [
    "X-Session-ID header is required",
  ]);
});

Deno.test("X-Session-ID format", async (t) => {
  await t.step("accepted characters and lengths", () => {
    for (
      const id of [
        "a",
        "user@example.com:42",
        "A-Z_a.z-0:9@x",
        "x".repeat(128),
        "550e8400-e29b-41d4-a716-446655440000",
      ]
    ) {
      assertEquals(parse({ "X-Session-ID": id }).sessionId, id);
    }
  });
  await t.step("refused", () => {
    for (
      const id of ["a b", "a/b", "x".repeat(129), "semi;colon", 'quo"te', "é"]
    ) {
      const found = problems({ "X-Session-ID": id });
      assertEquals(found.length, 1, id);
      assert(found[0].startsWith("X-Session-ID: expected 1-128"), id);
    }
  });
});

Deno.test("width and height", async (t) => {
  await t.step("accepted within bounds, as numbers", () => {
    const request = parse({ "X-Session-ID": "s" }, "width=1280&height=720");
    assertEquals(request.width, 1280);
    assertEquals(request.height, 720);
    const low = parse(
      { "X-Session-ID": "s" },
      `width=${SCREEN_BOUNDS.width.min}&height=${SCREEN_BOUNDS.height.min}`,
    );
    assertEquals([low.width, low.height], [320, 200]);
    const high = parse(
      { "X-Session-ID": "s" },
      `width=${SCREEN_BOUNDS.width.max}&height=${SCREEN_BOUNDS.height.max}`,
    );
    assertEquals([high.width, high.height], [7680, 4320]);
  });
  await t.step("either may be given alone", () => {
    const request = parse({ "X-Session-ID": "s" }, "width=800");
    assertEquals(request.width, 800);
    assertEquals(request.height, undefined);
  });
  await t.step("out of bounds", () => {
    assertEquals(problems({ "X-Session-ID": "s" }, "width=319&height=4321"), [
      'width: expected an integer from 320 to 7680, got "319"',
      'height: expected an integer from 200 to 4320, got "4321"',
    ]);
    assertEquals(problems({ "X-Session-ID": "s" }, "width=7681&height=199"), [
      'width: expected an integer from 320 to 7680, got "7681"',
      'height: expected an integer from 200 to 4320, got "199"',
    ]);
  });
  await t.step("not integers", () => {
    for (const raw of ["1280.5", "abc", "-1280", "", "1e3", " 800", "0x500"]) {
      const found = problems(
        { "X-Session-ID": "s" },
        new URLSearchParams({ width: raw }).toString(),
      );
      assertEquals(found, [
        `width: expected an integer from 320 to 7680, got "${raw}"`,
      ]);
    }
  });
  await t.step("a long value is cut short in the problem", () => {
    const [problem] = problems(
      { "X-Session-ID": "s" },
      `height=${"9".repeat(500)}`,
    );
    assert(problem.length < 100, problem);
  });
});

Deno.test("X-Workspace-* and X-App-* are collected under lowercased suffixes", () => {
  const request = parse({
    "X-Session-ID": "s",
    "X-Workspace-ID": "ws-42",
    "X-Workspace-Name": "Design Tools",
    "X-Workspace-Type": "app",
    "x-workspace-Custom-Field": "v",
    "X-App-Command": "xterm -fa Mono",
    "X-APP-NAME": "Terminal",
    "X-Other": "ignored",
    "X-Workspace-": "no suffix, ignored",
    "X-Apps": "not the prefix",
  });
  assertEquals(request.workspace, {
    id: "ws-42",
    name: "Design Tools",
    type: "app",
    "custom-field": "v",
  });
  assertEquals(request.app, { command: "xterm -fa Mono", name: "Terminal" });
});

Deno.test("encoded X-Workspace-* and X-App-* values are decoded", () => {
  const command = "xterm -T «Büro» -e 'less ~/Übersicht.txt'";
  const request = parse({
    "X-Session-ID": "s",
    "X-Workspace-Name": encodeHeaderValue("Büro-Desktop"),
    "X-Workspace-Type": "app",
    "X-App-Name": encodeHeaderValue("Rechner ✓"),
    "X-App-Command": encodeHeaderValue(command),
    "X-App-ID": "calc",
  });
  assertEquals(request.workspace, {
    name: "Büro-Desktop",
    type: "app",
  });
  assertEquals(request.app, {
    name: "Rechner ✓",
    command,
    id: "calc",
  });
  // What is not an encoded word is taken as it came.
  assertEquals(
    parse({ "X-Session-ID": "s", "X-App-Command": "=?utf-8?b?%%%?=" }).app
      .command,
    "=?utf-8?b?%%%?=",
  );
});

Deno.test("an oversized X-Workspace-* or X-App-* header is refused by name", () => {
  assertEquals(
    problems({ "X-Session-ID": "s", "X-App-Command": "x".repeat(8193) }),
    ["x-app-command: longer than 8192 characters"],
  );
  assertEquals(
    parse({ "X-Session-ID": "s", "X-App-Command": "x".repeat(8192) }).app
      .command.length,
    8192,
  );
});

Deno.test("X-Workspace-Type is app or desktop", () => {
  for (const type of ["app", "desktop"]) {
    assertEquals(
      parse({ "X-Session-ID": "s", "X-Workspace-Type": type }).workspace.type,
      type,
    );
  }
  assertEquals(problems({ "X-Session-ID": "s", "X-Workspace-Type": "vm" }), [
    'X-Workspace-Type: expected "app" or "desktop", got "vm"',
  ]);
  assertEquals(
    problems({ "X-Session-ID": "s", "X-Workspace-Type": "Desktop" }),
    ['X-Workspace-Type: expected "app" or "desktop", got "Desktop"'],
  );
});

Deno.test("X-Policy-JSON", async (t) => {
  await t.step("values override the defaults", () => {
    const request = parse({
      "X-Session-ID": "s",
      "X-Policy-JSON": JSON.stringify({
        clipboard: "to-session",
        fileDownload: true,
        printing: true,
      }),
    });
    assertEquals(request.policy, {
      ...DEFAULT_POLICY,
      clipboard: "to-session",
      fileDownload: true,
      printing: true,
    });
  });
  await t.step("an empty object is the defaults", () => {
    assertEquals(
      parse({ "X-Session-ID": "s", "X-Policy-JSON": "{}" }).policy,
      DEFAULT_POLICY,
    );
  });
  await t.step("invalid JSON", () => {
    const found = problems({ "X-Session-ID": "s", "X-Policy-JSON": "{bad" });
    assertEquals(found.length, 1);
    assert(found[0].startsWith("X-Policy-JSON: not valid JSON ("), found[0]);
  });
  await t.step("wrong types name the field", () => {
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-Policy-JSON": JSON.stringify({
          clipboard: "sideways",
          fileUpload: "yes",
          shadowing: 1,
        }),
      }),
      [
        'X-Policy-JSON.clipboard: expected one of "none", "to-session", "from-session", "both", got string "sideways"',
        'X-Policy-JSON.fileUpload: expected boolean, got string "yes"',
        "X-Policy-JSON.shadowing: expected boolean, got number 1",
      ],
    );
  });
  await t.step("unknown keys are refused", () => {
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-Policy-JSON": JSON.stringify({ printing: true, webcam: true }),
      }),
      ['X-Policy-JSON: unknown property "webcam"'],
    );
  });
  await t.step("not an object", () => {
    assertEquals(problems({ "X-Session-ID": "s", "X-Policy-JSON": "[1]" }), [
      "X-Policy-JSON: expected object, got a list ([1])",
    ]);
    assertEquals(problems({ "X-Session-ID": "s", "X-Policy-JSON": "null" }), [
      "X-Policy-JSON: expected object, got null",
    ]);
    assertEquals(problems({ "X-Session-ID": "s", "X-Policy-JSON": "true" }), [
      "X-Policy-JSON: expected object, got boolean true",
    ]);
  });
});

Deno.test("several problems are reported together, each by name", () => {
  const found = problems(
    {
      "X-Workspace-Type": "vm",
      "X-Policy-JSON": '{"clipboard":1}',
    },
    "width=10&height=abc",
  );
  assertEquals(found, [
    "X-Session-ID header is required",
    'width: expected an integer from 320 to 7680, got "10"',
    'height: expected an integer from 200 to 4320, got "abc"',
    'X-Workspace-Type: expected "app" or "desktop", got "vm"',
    'X-Policy-JSON.clipboard: expected one of "none", "to-session", "from-session", "both", got number 1',
  ]);
});
