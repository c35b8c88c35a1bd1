/**
 * Tests for the command-line parser: every role in single- and double-dash
 * spelling, `--x=value`, `-tags` parsing, the streamer's options and
 * `config check FILE`, and the usage errors (each naming its problem).
 *
 * @module
 */
import { parseCli, USAGE, UsageError } from "../../mod/cli/mod.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";

/** Asserts `args` is a usage error whose message matches `pattern`. */
function usageError(args: string[], pattern: RegExp): void {
  assertThrows(() => parseCli(args), UsageError, pattern);
}

Deno.test("parseCli selects each role in single- and double-dash spelling", async (t) => {
  for (const dash of ["-", "--"]) {
    await t.step(`${dash}backend`, () => {
      assertEquals(parseCli([`${dash}backend`]), {
        kind: "backend",
        config: undefined,
        tags: [],
      });
    });
    await t.step(`${dash}sm`, () => {
      assertEquals(parseCli([`${dash}sm`]), { kind: "sm", config: undefined });
    });
    await t.step(`${dash}gateway`, () => {
      assertEquals(parseCli([`${dash}gateway`]), {
        kind: "gateway",
        config: undefined,
      });
    });
    await t.step(`${dash}help`, () => {
      assertEquals(parseCli([`${dash}help`]), { kind: "help" });
    });
    await t.step(`${dash}version`, () => {
      assertEquals(parseCli([`${dash}version`]), { kind: "version" });
    });
  }
  await t.step("-h", () => {
    assertEquals(parseCli(["-h"]), { kind: "help" });
  });
});

Deno.test("parseCli: -help and -version win over a role", () => {
  assertEquals(parseCli(["-backend", "-help"]), { kind: "help" });
  assertEquals(parseCli(["-sm", "--version"]), { kind: "version" });
});

Deno.test("parseCli reads -config in every spelling", () => {
  for (
    const args of [
      ["-backend", "-config", "/etc/ws.yaml"],
      ["--backend", "--config", "/etc/ws.yaml"],
      ["-backend", "-config=/etc/ws.yaml"],
      ["--backend", "--config=/etc/ws.yaml"],
    ]
  ) {
    assertEquals(parseCli(args), {
      kind: "backend",
      config: "/etc/ws.yaml",
      tags: [],
    }, args.join(" "));
  }
  assertEquals(parseCli(["-sm", "--config=a.json"]), {
    kind: "sm",
    config: "a.json",
  });
  assertEquals(parseCli(["-gateway", "-config", "g.yaml"]), {
    kind: "gateway",
    config: "g.yaml",
  });
});

Deno.test("parseCli: a value containing '=' is kept whole", () => {
  const command = parseCli(["-backend", "--config=/tmp/a=b.yaml"]);
  assertEquals(command, {
    kind: "backend",
    config: "/tmp/a=b.yaml",
    tags: [],
  });
});

Deno.test("parseCli: -tags are split, trimmed, deduplicated, in order", () => {
  assertEquals(parseCli(["-backend", "-tags", "gpu, autocad,gpu,,x.y_z-1"]), {
    kind: "backend",
    config: undefined,
    tags: ["gpu", "autocad", "x.y_z-1"],
  });
  assertEquals(parseCli(["--backend", "--tags=gpu"]), {
    kind: "backend",
    config: undefined,
    tags: ["gpu"],
  });
  // An empty list is no tags, not an error.
  assertEquals(parseCli(["-backend", "-tags", ""]), {
    kind: "backend",
    config: undefined,
    tags: [],
  });
});

Deno.test("parseCli: an invalid tag is a usage error naming it", () => {
  usageError(["-backend", "-tags", "gpu,bad tag"], /-tags: "bad tag"/);
  usageError(["-backend", "-tags", "gpu,-cuda"], /-tags: "-cuda" is not a tag/);
  usageError(["-backend", "-tags", "a/b"], /"a\/b" is not a tag/);
  usageError(["-backend", "-tags", "x".repeat(65)], /is not a tag/);
});

Deno.test("parseCli: -tags applies to -backend only", () => {
  usageError(["-sm", "-tags", "gpu"], /-tags does not apply to -sm/);
  usageError(["-gateway", "-tags", "gpu"], /-tags does not apply to -gateway/);
});

Deno.test("parseCli: unknown options are usage errors naming the option", () => {
  usageError(["-bogus"], /unknown option -bogus/);
  usageError(["--bogus"], /unknown option -bogus/);
  usageError(["-backend", "-frobnicate=1"], /unknown option -frobnicate/);
  usageError(["-x"], /unknown option -x/);
});

Deno.test("parseCli: a missing option value is a usage error naming the option", () => {
  usageError(["-backend", "-config"], /option -config needs a value/);
  usageError(["--sm", "--config"], /option -config needs a value/);
  // An option where the value should be is not taken as the value.
  usageError(["-backend", "-tags", "-config"], /option -tags needs a value/);
});

Deno.test("parseCli: two roles are a usage error naming both", () => {
  usageError(["-backend", "-sm"], /choose one role, got -backend and -sm/);
  usageError(["--sm", "--gateway"], /choose one role.*-sm.*-gateway/);
  usageError(["-backend", "streamer"], /choose one role.*-backend.*streamer/);
  usageError(["-sm", "config", "check", "f"], /choose one role.*-sm.*config/);
});

Deno.test("parseCli: a stray argument is a usage error naming it", () => {
  usageError(["-backend", "extra.yaml"], /extra\.yaml/);
  usageError(
    ["config", "check", "a.yaml", "b.yaml"],
    /unexpected argument "b\.yaml"/,
  );
  usageError(
    [
      "streamer",
      "-control",
      "ws://127.0.0.1:9000/control",
      "-port",
      "9010",
      "more",
    ],
    /unexpected argument "more"/,
  );
});

Deno.test("parseCli: an unknown command or no role is a usage error", () => {
  usageError(["frobnicate"], /unknown command "frobnicate"/);
  usageError([], /no role given/);
});

Deno.test("parseCli: role options do not mix", () => {
  usageError(["-backend", "-port", "9010"], /-port does not apply to -backend/);
  usageError(["-sm", "-control", "ws://x"], /-control does not apply to -sm/);
  usageError(
    ["streamer", "-control", "ws://x", "-port", "9010", "-config", "c.yaml"],
    /-config does not apply to streamer/,
  );
  usageError(
    ["config", "check", "f", "-tags", "a"],
    /-tags does not apply to config/,
  );
});

Deno.test("parseCli: streamer with its options", async (t) => {
  await t.step("defaults: bind 127.0.0.1, no user", () => {
    assertEquals(
      parseCli([
        "streamer",
        "-control",
        "ws://127.0.0.1:9000/control",
        "-port",
        "9010",
      ]),
      {
        kind: "streamer",
        control: "ws://127.0.0.1:9000/control",
        port: 9010,
        bind: "127.0.0.1",
        user: undefined,
        licence: undefined,
        reporting: undefined,
      },
    );
  });
  await t.step("every option, double-dash and = spellings", () => {
    assertEquals(
      parseCli([
        "streamer",
        "--control=wss://host.example:9000/control",
        "--port=65535",
        "-bind",
        "0.0.0.0",
        "-user=webs01",
        "-gateway-url",
        "https://gw.example:9000",
        "--server-url=http://10.0.0.7:9005",
        "-gateway-ca",
        "/etc/webstream/ca.pem",
        "-reporting",
        '{"metrics":{}}',
        "-orphan-timeout",
        "2.5",
      ]),
      {
        kind: "streamer",
        control: "wss://host.example:9000/control",
        port: 65535,
        bind: "0.0.0.0",
        user: "webs01",
        licence: {
          gatewayUrl: ["https://gw.example:9000"],
          serverUrl: "http://10.0.0.7:9005",
          caCertificate: "/etc/webstream/ca.pem",
        },
        reporting: '{"metrics":{}}',
        orphanTimeout: 2.5,
      },
    );
  });
  await t.step("-gateway-url once per gateway, in order", () => {
    /** A streamer's arguments with gateway A and then `second`. */
    const twoGateways = (second: string) => [
      "streamer",
      "-control",
      "ws://x",
      "-port",
      "9010",
      "-gateway-url",
      "http://gw-a:9000",
      "-gateway-url",
      second,
      "-server-url",
      "http://h:9005",
    ];
    const command = parseCli(twoGateways("http://gw-b:9000"));
    assertEquals(
      command.kind === "streamer" && command.licence?.gatewayUrl,
      ["http://gw-a:9000", "http://gw-b:9000"],
    );
    usageError(
      twoGateways("gw-b"),
      /-gateway-url: expected an http\(s\) URL, got "gw-b"/,
    );
  });
  await t.step("-orphan-timeout: seconds above 0, at most a day", () => {
    for (const bad of ["0", "-1", "abc", "86401", "1e3", ""]) {
      usageError(
        [
          "streamer",
          "-control",
          "ws://x",
          "-port",
          "9010",
          `--orphan-timeout=${bad}`,
        ],
        /-orphan-timeout must be seconds above 0 and at most 86400/,
      );
    }
  });
  await t.step("file-dialog: title and timeout", () => {
    assertEquals(parseCli(["file-dialog"]), {
      kind: "file-dialog",
      title: undefined,
      timeout: undefined,
    });
    assertEquals(
      parseCli(["file-dialog", "-title", "Pick", "-timeout", "30"]),
      {
        kind: "file-dialog",
        title: "Pick",
        timeout: 30,
      },
    );
    usageError(
      ["file-dialog", "-timeout", "0"],
      /-timeout must be whole seconds/,
    );
    usageError(["file-dialog", "-port", "1"], /-port/);
  });
  await t.step("download: one FILE", () => {
    assertEquals(parseCli(["download", "report.pdf"]), {
      kind: "download",
      file: "report.pdf",
    });
    usageError(["download"], /download needs a FILE/);
    usageError(["download", "a", "b"], /b/);
    usageError(["download", "-title", "x", "a"], /-title/);
  });
  await t.step("licence check-ins need both URLs, as http(s)", () => {
    usageError(
      [
        "streamer",
        "-control",
        "ws://x",
        "-port",
        "9010",
        "-gateway-url",
        "https://g",
      ],
      /-server-url: expected an http\(s\) URL, got ""/,
    );
    usageError(
      [
        "streamer",
        "-control",
        "ws://x",
        "-port",
        "9010",
        "-gateway-url",
        "ftp://g",
        "-server-url",
        "http://h",
      ],
      /-gateway-url: expected an http\(s\) URL, got "ftp:\/\/g"/,
    );
  });
  await t.step("-control and -port are required", () => {
    usageError(["streamer", "-port", "9010"], /streamer needs -control URL/);
    usageError(["streamer", "-control", "ws://x"], /streamer needs -port N/);
  });
  await t.step("-control must be a ws:// or wss:// URL", () => {
    for (
      const bad of ["http://127.0.0.1:9000", "not a url", "127.0.0.1:9000"]
    ) {
      usageError(
        ["streamer", "-control", bad, "-port", "9010"],
        /-control: expected a ws:\/\/ URL/,
      );
    }
  });
  await t.step("-port must be an integer 1-65535", () => {
    for (const bad of ["0", "65536", "12a", "9010.5", "-1", " 80"]) {
      assertThrows(
        () => parseCli(["streamer", "-control", "ws://x", `--port=${bad}`]),
        UsageError,
        /-port: expected a port 1-65535/,
      );
    }
    assertEquals(
      (parseCli(["streamer", "-control", "ws://x", "-port", "1"]) as {
        port: number;
      }).port,
      1,
    );
  });
});

Deno.test("parseCli: config check FILE", () => {
  assertEquals(parseCli(["config", "check", "webstream.yaml"]), {
    kind: "config-check",
    file: "webstream.yaml",
  });
  usageError(["config", "check"], /config check needs a FILE/);
  usageError(["config"], /unknown config command ""/);
  usageError(["config", "lint", "f.yaml"], /unknown config command "lint"/);
});

Deno.test("parseCli: store migrate [-config FILE] [-from-sqlite PATH]", () => {
  assertEquals(parseCli(["store", "migrate"]), {
    kind: "store-migrate",
    config: undefined,
    fromSqlite: undefined,
  });
  assertEquals(
    parseCli([
      "store",
      "migrate",
      "-config",
      "w.yaml",
      "-from-sqlite",
      "/var/lib/webstream/gateway.sqlite",
    ]),
    {
      kind: "store-migrate",
      config: "w.yaml",
      fromSqlite: "/var/lib/webstream/gateway.sqlite",
    },
  );
  usageError(["store"], /unknown store command ""/);
  usageError(["store", "copy"], /unknown store command "copy"/);
  usageError(["store", "migrate", "now"], /unexpected argument "now"/);
  usageError(["store", "migrate", "-tags", "x"], /-tags does not apply/);
  usageError(["store", "migrate", "-from-sqlite="], /needs the path/);
});

Deno.test("parseCli: install-service and run-service take one service role", async (t) => {
  for (const kind of ["install-service", "run-service"] as const) {
    for (const dash of ["-", "--"]) {
      await t.step(`${kind} ${dash}backend ${dash}tags ${dash}config`, () => {
        assertEquals(
          parseCli([
            kind,
            `${dash}backend`,
            `${dash}tags`,
            "gpu,autocad",
            `${dash}config`,
            "C:\\Program Files\\webstream\\w.yaml",
          ]),
          {
            kind,
            role: {
              kind: "backend",
              config: "C:\\Program Files\\webstream\\w.yaml",
              tags: ["gpu", "autocad"],
            },
          },
        );
      });
      await t.step(`${kind} ${dash}sm / ${dash}gateway`, () => {
        assertEquals(parseCli([kind, `${dash}sm`]), {
          kind,
          role: { kind: "sm", config: undefined },
        });
        assertEquals(parseCli([`${dash}gateway`, kind]), {
          kind,
          role: { kind: "gateway", config: undefined },
        });
      });
    }
  }
  await t.step("--tags= spelling, role flag before the command", () => {
    assertEquals(parseCli(["-backend", "install-service", "--tags=gpu"]), {
      kind: "install-service",
      role: { kind: "backend", config: undefined, tags: ["gpu"] },
    });
  });
});

Deno.test("parseCli: service commands refuse what cannot be a service", () => {
  usageError(
    ["install-service"],
    /install-service needs a role: -backend, -sm or -gateway/,
  );
  usageError(["run-service"], /run-service needs a role/);
  usageError(
    ["install-service", "-farm"],
    /-farm cannot run as a service \(it is for trying webstream out\)/,
  );
  usageError(
    ["install-service", "-backend", "-sm"],
    /choose one role, got -backend and -sm/,
  );
  usageError(
    ["install-service", "-sm", "-tags", "gpu"],
    /-tags does not apply to install-service -sm/,
  );
  usageError(
    ["run-service", "-backend", "-port", "1"],
    /-port does not apply to run-service -backend/,
  );
  usageError(
    ["install-service", "-backend", "extra"],
    /unexpected argument "extra"/,
  );
  usageError(["install-service", "-backend", "-tags", "a b"], /-tags: "a b"/);
});

Deno.test("parseCli: uninstall-service takes nothing", () => {
  assertEquals(parseCli(["uninstall-service"]), { kind: "uninstall-service" });
  usageError(
    ["uninstall-service", "-backend"],
    /-backend does not apply to uninstall-service/,
  );
  usageError(
    ["uninstall-service", "-config", "a.yaml"],
    /-config does not apply to uninstall-service/,
  );
  usageError(["uninstall-service", "now"], /unexpected argument "now"/);
});

Deno.test("USAGE names every role and both dash spellings", () => {
  for (
    const word of [
      "-backend",
      "-sm",
      "-gateway",
      "streamer",
      "config check FILE",
      "store migrate",
      "-help",
      "-version",
      "-tags",
      "--backend",
      "install-service -backend",
      "uninstall-service",
      "run-service",
    ]
  ) {
    assert(USAGE.includes(word), `USAGE mentions ${word}`);
  }
});

Deno.test("UsageError is an Error named UsageError", () => {
  const error = new UsageError("nope");
  assert(error instanceof Error);
  assertEquals(error.name, "UsageError");
  assertEquals(error.message, "nope");
});
