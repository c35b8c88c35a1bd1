/**
 * Tests for reading a `/getConnection` request: `X-Session-ID` (required,
 * format), `?width=&height=` (bounds, integers only, at most once each),
 * `X-Workspace-*` and `X-App-*` collected under their lowercased suffix
 * (encoded words decoded; a malformed one, a value over its header's length
 * limit or one holding control characters refused by name), `X-Workspace-Type`,
 * `X-Policy-JSON` (defaults when missing; too long, too deep, invalid JSON,
 * wrong types and unknown keys refused), and several problems reported
 * together in a LaunchRequestError naming each header and field.
 *
 * @module
 */
import { encodeHeaderValue } from "../../mod/contract/header_value.ts";
import {
  HEADER_LIMITS,
  LaunchRequestError,
  MAX_POLICY_LENGTH,
  OTHER_HEADER_LIMIT,
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
  downloadMaxBytes: 2 ** 30,
  maxPixelRatio: 2,
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
  await t.step("each at most once", () => {
    assertEquals(
      problems({ "X-Session-ID": "s" }, "width=1280&width=1024&height=720"),
      ["width: given 2 times, expected at most once"],
    );
    assertEquals(
      problems(
        { "X-Session-ID": "s" },
        "width=1280&height=720&height=720&height=1",
      ),
      ["height: given 3 times, expected at most once"],
    );
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
  // What is not shaped like an encoded word is taken as it came.
  assertEquals(
    parse({ "X-Session-ID": "s", "X-App-Command": "echo =?x" }).app.command,
    "echo =?x",
  );
});

Deno.test("a malformed encoded word is refused by name, never used literally", () => {
  const malformed = "a malformed encoded word (expected =?utf-8?b?<base64>?=)";
  assertEquals(
    problems({
      "X-Session-ID": "s",
      "X-App-Command": "=?utf-8?b?%%%?=",
      "X-Workspace-Name": "=?iso-8859-1?b?QvxybW8=?=",
      "X-Workspace-ID": "=?utf-8?b?/w==?=",
    }),
    [
      "X-Workspace-ID: a malformed encoded word (its bytes are not UTF-8)",
      `X-Workspace-Name: ${malformed}`,
      `X-App-Command: ${malformed}`,
    ],
  );
});

Deno.test("each X-Workspace-* and X-App-* header has a length limit, named in the problem", async (t) => {
  assertEquals(HEADER_LIMITS, {
    "x-workspace-id": 128,
    "x-workspace-name": 256,
    "x-workspace-type": 16,
    "x-app-id": 128,
    "x-app-name": 256,
    "x-app-command": 8000,
    "x-workspace-shell": 16,
    "x-workspace-shell-command": 8000,
  });
  assertEquals(OTHER_HEADER_LIMIT, 1024);
  const names: [string, number][] = [
    ["X-Workspace-ID", 128],
    ["X-Workspace-Name", 256],
    ["X-App-ID", 128],
    ["X-App-Name", 256],
    ["X-App-Command", 8000],
    ["X-Workspace-Custom-Field", 1024],
  ];
  await t.step("a 5,000-character X-Workspace-Name is refused", () => {
    assertEquals(
      problems({ "X-Session-ID": "s", "X-Workspace-Name": "n".repeat(5000) }),
      ["X-Workspace-Name: longer than 256 characters"],
    );
  });
  await t.step("at the limit is accepted; one more is refused", () => {
    for (const [name, limit] of names) {
      const request = parse({ "X-Session-ID": "s", [name]: "v".repeat(limit) });
      const [prefix, ...rest] = name.toLowerCase().split("-").slice(1);
      const key = rest.join("-");
      const values = prefix === "app" ? request.app : request.workspace;
      assertEquals(values[key]?.length, limit, name);
      assertEquals(
        problems({ "X-Session-ID": "s", [name]: "v".repeat(limit + 1) }),
        [`${name}: longer than ${limit} characters`],
      );
    }
  });
  await t.step("X-Workspace-Type: the limit, then the value", () => {
    assertEquals(
      problems({ "X-Session-ID": "s", "X-Workspace-Type": "d".repeat(17) }),
      ["X-Workspace-Type: longer than 16 characters"],
    );
  });
  await t.step("encoded values count their decoded characters", () => {
    // 256 four-byte characters: 1024 UTF-8 bytes, ~1.4 KB encoded.
    const name = "😀".repeat(256);
    assertEquals(
      parse({
        "X-Session-ID": "s",
        "X-Workspace-Name": encodeHeaderValue(name),
      })
        .workspace.name,
      name,
    );
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-Workspace-Name": encodeHeaderValue(name + "😀"),
      }),
      ["X-Workspace-Name: longer than 256 characters"],
    );
    // Far beyond any encoding of the limit: refused without decoding.
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-App-Name": `=?utf-8?b?${"A".repeat(40_000)}?=`,
      }),
      ["X-App-Name: longer than 256 characters"],
    );
  });
});

Deno.test("decoded X-Workspace-* and X-App-* values with control characters are refused", async (t) => {
  await t.step("a command that decodes to NUL", () => {
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-App-Command": encodeHeaderValue("xterm\0-e rm"),
      }),
      ["X-App-Command: contains a control character (U+0000)"],
    );
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-App-Command": encodeHeaderValue("\0"),
      }),
      ["X-App-Command: contains a control character (U+0000)"],
    );
  });
  await t.step("other controls, in any header", () => {
    const cases: [string, string, string][] = [
      ["X-App-Command", "xterm\x1b[2J", "001B"],
      ["X-App-Command", "xterm\x7f", "007F"],
      ["X-App-Command", "xterm\u0085", "0085"],
      ["X-Workspace-Name", "Büro\nDesktop", "000A"],
      ["X-Workspace-Name", "tab\there", "0009"],
      ["X-App-Name", "bell\x07", "0007"],
      ["X-Workspace-ID", "id\r", "000D"],
    ];
    for (const [name, value, code] of cases) {
      assertEquals(
        problems({ "X-Session-ID": "s", [name]: encodeHeaderValue(value) }),
        [`${name}: contains a control character (U+${code})`],
        JSON.stringify(value),
      );
    }
    // A plain header may carry a tab; it is refused all the same.
    assertEquals(
      problems({ "X-Session-ID": "s", "X-App-Name": "a\tb" }),
      ["X-App-Name: contains a control character (U+0009)"],
    );
  });
  await t.step("a command may hold tabs and line breaks (word breaks)", () => {
    const command = "xterm\t-T x\r\n";
    assertEquals(
      parse({
        "X-Session-ID": "s",
        "X-App-Command": encodeHeaderValue(command),
      })
        .app.command,
      command,
    );
  });
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

Deno.test("X-Workspace-Shell: a known shell or a command, for a desktop only", async (t) => {
  const desktop = { "X-Session-ID": "s", "X-Workspace-Type": "desktop" };
  await t.step("each named shell and a command are accepted", () => {
    for (const shell of ["openbox", "xfce", "none"]) {
      const read = parse({ ...desktop, "X-Workspace-Shell": shell });
      assertEquals(read.workspace.shell, shell);
    }
    const read = parse({
      ...desktop,
      "X-Workspace-Shell": "command",
      "X-Workspace-Shell-Command": "startlxqt\t--verbose",
    });
    assertEquals(read.workspace["shell-command"], "startlxqt\t--verbose");
  });
  await t.step("an unknown shell is refused by name", () => {
    assertEquals(problems({ ...desktop, "X-Workspace-Shell": "kde" }), [
      'X-Workspace-Shell: expected one of openbox, xfce, none, command, got "kde"',
    ]);
  });
  await t.step("a shell for an app is refused", () => {
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-Workspace-Type": "app",
        "X-Workspace-Shell": "openbox",
      }),
      ['X-Workspace-Shell: only for "X-Workspace-Type: desktop"'],
    );
  });
  await t.step("command needs X-Workspace-Shell-Command, and only it", () => {
    assertEquals(problems({ ...desktop, "X-Workspace-Shell": "command" }), [
      'X-Workspace-Shell-Command: required with "X-Workspace-Shell: command"',
    ]);
    const stray =
      'X-Workspace-Shell-Command: given without "X-Workspace-Shell: command"';
    assertEquals(
      problems({
        ...desktop,
        "X-Workspace-Shell": "xfce",
        "X-Workspace-Shell-Command": "xterm",
      }),
      [stray],
    );
    assertEquals(
      problems({ ...desktop, "X-Workspace-Shell-Command": "xterm" }),
      [stray],
    );
  });
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
  await t.step("too long, or nested too deep", () => {
    assertEquals(MAX_POLICY_LENGTH, 4096);
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-Policy-JSON": JSON.stringify({ clipboard: "x".repeat(4096) }),
      }),
      ["X-Policy-JSON: longer than 4096 characters"],
    );
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-Policy-JSON": "[".repeat(2000) + "]".repeat(2000),
      }),
      ["X-Policy-JSON: JSON nested deeper than 64 levels"],
    );
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
  await t.step("maxPixelRatio: 1 to 4", () => {
    assertEquals(
      problems({
        "X-Session-ID": "s",
        "X-Policy-JSON": JSON.stringify({ maxPixelRatio: 8 }),
      }),
      ["X-Policy-JSON.maxPixelRatio: expected a number ≤ 4, got number 8"],
    );
    assertEquals(
      parse({
        "X-Session-ID": "s",
        "X-Policy-JSON": JSON.stringify({ maxPixelRatio: 1.5 }),
      }).policy.maxPixelRatio,
      1.5,
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
      "X-Workspace-Name": "n".repeat(5000),
      "X-App-Command": encodeHeaderValue("a\0b"),
      "X-App-Name": "=?utf-8?b?%%%?=",
      "X-Policy-JSON": '{"clipboard":1}',
    },
    "width=10&height=abc&height=720",
  );
  assertEquals(found, [
    "X-Session-ID header is required",
    'width: expected an integer from 320 to 7680, got "10"',
    "height: given 2 times, expected at most once",
    "X-Workspace-Name: longer than 256 characters",
    "X-App-Command: contains a control character (U+0000)",
    "X-App-Name: a malformed encoded word (expected =?utf-8?b?<base64>?=)",
    'X-Workspace-Type: expected "app" or "desktop", got "vm"',
    'X-Policy-JSON.clipboard: expected one of "none", "to-session", "from-session", "both", got number 1',
  ]);
});
