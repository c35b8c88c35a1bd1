/**
 * Tests for the configuration schema: the seed's defaults (advertised port
 * 9005, heartbeat 10 s, base port 9000, registration retried every 30 s up to
 * 10 times), the seed's property names, refusal of unknown properties, the
 * per-field bounds and the cross-field checks (port range, advertised port
 * colliding with a streamer port), and `webstreamSettings.windows` (the RDP
 * client's placeholders, `{password}` kept off its command line).
 *
 * @module
 */
import {
  activityLoggingSchema,
  backendSchema,
  configSchema,
  metricsSchema,
  profileCleanupSchema,
  rdpClientSchema,
  restrictionSchema,
  settingsSchema,
  windowsSettingsSchema,
} from "../../mod/config/schema.ts";
import { DEFAULT_RDP_CLIENT } from "../../mod/platform/windows/rdp_client.ts";
import { assert, assertEquals } from "../support/assert.ts";

/** The issues of an input that must not validate, as `path: message`. */
function failures(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  assert(!result.success, "expected the input to be refused");
  return result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

/** The issue paths of an input that must not validate. */
function failingPaths(input: unknown): string[] {
  const result = configSchema.safeParse(input);
  assert(!result.success, "expected the input to be refused");
  return result.error.issues.map((i) => i.path.join("."));
}

Deno.test("configSchema: an empty file gets the seed's defaults", () => {
  const config = configSchema.parse({});
  const backend = config.gateway.backend;
  assertEquals(backend.advertisedUrl, "http://127.0.0.1:9005");
  assertEquals(new URL(backend.advertisedUrl).port, "9005");
  assertEquals(backend.heartbeatInterval, 10);
  assertEquals(backend.registrationRetryInterval, 30);
  assertEquals(backend.registrationMaxAttempts, 10);
  assertEquals(backend.gatewayUrl, undefined);
  assertEquals(backend.sharedSecret, undefined);
  assertEquals(backend.tags, []);
  assertEquals(backend.capabilities, []);
  const settings = config.webstreamSettings;
  assertEquals(settings.basePortNumber, 9000);
  assertEquals(settings.serverSessionUsername, "webs");
  assertEquals(settings.serverSessionPwd, undefined);
  assertEquals(settings.screen, {
    width: 1920,
    height: 1080,
    depth: 24,
    maxWidth: 3840,
    maxHeight: 2160,
  });
  assertEquals(settings.orphanTimeout, 300);
  assertEquals(config.filesystemRestrictions, []);
  assertEquals(config.profileCleanup, {
    enabled: true,
    skeleton: "/etc/skel",
    purgeTemp: true,
  });
  assertEquals(config.metrics.enabled, false);
  assertEquals(config.activityLogging.enabled, false);
});

Deno.test("configSchema: each section's defaults equal the section parsed from nothing", () => {
  const config = configSchema.parse({});
  assertEquals(config.gateway.backend, backendSchema.parse({}));
  assertEquals(config.webstreamSettings, settingsSchema.parse({}));
  assertEquals(config.profileCleanup, profileCleanupSchema.parse({}));
  assertEquals(config.metrics, metricsSchema.parse({}));
  assertEquals(config.activityLogging, activityLoggingSchema.parse({}));
});

Deno.test("configSchema: the seed's property names are accepted and kept", () => {
  const input = {
    gateway: {
      backend: {
        gatewayUrl: "https://gateway.example",
        advertisedUrl: "http://10.0.0.5:9005",
        heartbeatInterval: 15,
        maxSessions: 12,
      },
    },
    webstreamSettings: {
      serverMaxSessionCount: 12,
      serverSessionUsername: "webs",
      serverSessionPwd: "a-long-password",
      basePortNumber: 9000,
      serverHttpPath: "/opt/webstream/httpdocs",
    },
    filesystemRestrictions: [{ path: "/srv/private" }],
    profileCleanup: { enabled: false },
    metrics: { enabled: true },
    activityLogging: { enabled: true },
  };
  const config = configSchema.parse(input);
  assertEquals(config.gateway.backend.gatewayUrl, "https://gateway.example");
  assertEquals(config.gateway.backend.advertisedUrl, "http://10.0.0.5:9005");
  assertEquals(config.gateway.backend.heartbeatInterval, 15);
  assertEquals(config.gateway.backend.maxSessions, 12);
  assertEquals(config.webstreamSettings.serverMaxSessionCount, 12);
  assertEquals(config.webstreamSettings.serverSessionUsername, "webs");
  assertEquals(config.webstreamSettings.serverSessionPwd, "a-long-password");
  assertEquals(config.webstreamSettings.basePortNumber, 9000);
  assertEquals(
    config.webstreamSettings.serverHttpPath,
    "/opt/webstream/httpdocs",
  );
  assertEquals(config.filesystemRestrictions, [{
    path: "/srv/private",
    deny: ["read", "write", "execute"],
    recursive: false,
  }]);
  assertEquals(config.profileCleanup.enabled, false);
  assertEquals(config.metrics.enabled, true);
  assertEquals(config.activityLogging.enabled, true);
});

Deno.test("configSchema: the seed's names are the schema's keys", () => {
  const seedNames = [
    [
      "gateway.backend",
      Object.keys(backendSchema.shape),
      ["gatewayUrl", "advertisedUrl", "heartbeatInterval", "maxSessions"],
    ],
    [
      "webstreamSettings",
      Object.keys(settingsSchema.shape),
      [
        "serverMaxSessionCount",
        "serverSessionUsername",
        "serverSessionPwd",
        "basePortNumber",
        "serverHttpPath",
      ],
    ],
  ] as const;
  for (const [section, keys, names] of seedNames) {
    for (const name of names) {
      assert(keys.includes(name), `${section}.${name}`);
    }
  }
  assertEquals(Object.keys(configSchema.parse({})).sort(), [
    "activityLogging",
    "filesystemRestrictions",
    "gateway",
    "metrics",
    "profileCleanup",
    "webstreamSettings",
  ]);
});

Deno.test("configSchema: unknown properties are refused at every level", async (t) => {
  await t.step("top level", () => {
    assertEquals(failingPaths({ webstreamSetings: {} }), [""]);
  });
  await t.step("gateway", () => {
    assertEquals(failingPaths({ gateway: { backnd: {} } }), ["gateway"]);
  });
  await t.step("gateway.backend (a misspelt seed name)", () => {
    assertEquals(
      failingPaths({ gateway: { backend: { heartbeatIntervall: 5 } } }),
      [
        "gateway.backend",
      ],
    );
  });
  await t.step("webstreamSettings", () => {
    assertEquals(
      failingPaths({ webstreamSettings: { serverSessionPassword: "x" } }),
      [
        "webstreamSettings",
      ],
    );
  });
  await t.step("screen, restrictions and the other sections", () => {
    assertEquals(
      failingPaths({ webstreamSettings: { screen: { dpi: 96 } } }),
      ["webstreamSettings.screen"],
    );
    assertEquals(
      failingPaths({ filesystemRestrictions: [{ path: "/x", allow: [] }] }),
      ["filesystemRestrictions.0"],
    );
    assertEquals(failingPaths({ profileCleanup: { wipe: true } }), [
      "profileCleanup",
    ]);
    assertEquals(failingPaths({ metrics: { port: 1 } }), ["metrics"]);
    assertEquals(failingPaths({ activityLogging: { sink: "x" } }), [
      "activityLogging",
    ]);
  });
});

Deno.test("configSchema: field bounds", async (t) => {
  const refused: [string, unknown][] = [
    ["gateway.backend.heartbeatInterval", {
      gateway: { backend: { heartbeatInterval: 0 } },
    }],
    ["gateway.backend.heartbeatInterval", {
      gateway: { backend: { heartbeatInterval: "10" } },
    }],
    ["gateway.backend.gatewayUrl", {
      gateway: { backend: { gatewayUrl: "ftp://gw" } },
    }],
    ["gateway.backend.advertisedUrl", {
      gateway: { backend: { advertisedUrl: "not a url" } },
    }],
    ["gateway.backend.sharedSecret", {
      gateway: { backend: { sharedSecret: "short" } },
    }],
    ["gateway.backend.maxSessions", {
      gateway: { backend: { maxSessions: 0 } },
    }],
    ["gateway.backend.instanceMetadata", {
      gateway: { backend: { instanceMetadata: "maybe" } },
    }],
    ["gateway.backend.tags.1", {
      gateway: { backend: { tags: ["gpu", "bad tag"] } },
    }],
    ["webstreamSettings.serverMaxSessionCount", {
      webstreamSettings: { serverMaxSessionCount: 100 },
    }],
    ["webstreamSettings.serverMaxSessionCount", {
      webstreamSettings: { serverMaxSessionCount: 2.5 },
    }],
    ["webstreamSettings.serverSessionUsername", {
      webstreamSettings: { serverSessionUsername: "Webs" },
    }],
    ["webstreamSettings.serverSessionUsername", {
      webstreamSettings: { serverSessionUsername: "a".repeat(15) },
    }],
    ["webstreamSettings.serverSessionPwd", {
      webstreamSettings: { serverSessionPwd: "1234567" },
    }],
    ["webstreamSettings.orphanTimeout", {
      webstreamSettings: { orphanTimeout: 0 },
    }],
    ["webstreamSettings.orphanTimeout", {
      webstreamSettings: { orphanTimeout: "ten" },
    }],
    ["webstreamSettings.orphanTimeout", {
      webstreamSettings: { orphanTimeout: 86_401 },
    }],
    ["webstreamSettings.basePortNumber", {
      webstreamSettings: { basePortNumber: 0 },
    }],
    ["webstreamSettings.basePortNumber", {
      webstreamSettings: { basePortNumber: 65536 },
    }],
    ["webstreamSettings.screen.depth", {
      webstreamSettings: { screen: { depth: 32 } },
    }],
    ["webstreamSettings.screen.width", {
      webstreamSettings: { screen: { width: 100 } },
    }],
    ["filesystemRestrictions.0.deny.0", {
      filesystemRestrictions: [{ path: "/x", deny: ["fly"] }],
    }],
    ["filesystemRestrictions.0.deny", {
      filesystemRestrictions: [{ path: "/x", deny: [] }],
    }],
    ["metrics.report.0", { metrics: { report: ["temperature"] } }],
  ];
  for (const [path, input] of refused) {
    await t.step(`refuses ${JSON.stringify(input)}`, () => {
      assertEquals(failingPaths(input), [path]);
    });
  }
  await t.step("accepts the edges", () => {
    const config = configSchema.parse({
      webstreamSettings: {
        serverMaxSessionCount: 99,
        serverSessionUsername: "a".repeat(14),
        serverSessionPwd: "12345678",
        basePortNumber: 1,
        screen: { width: 320, height: 200, depth: 16 },
      },
    });
    assertEquals(config.webstreamSettings.serverMaxSessionCount, 99);
    assertEquals(config.webstreamSettings.screen.depth, 16);
  });
});

Deno.test("configSchema: the highest streamer port must stay within 65535", async (t) => {
  await t.step("65000 + 99 × 10 is refused, naming the numbers", () => {
    const problems = failures({
      webstreamSettings: { basePortNumber: 65000, serverMaxSessionCount: 99 },
    });
    assertEquals(problems.length, 1);
    assert(problems[0].startsWith("webstreamSettings.basePortNumber: "));
    assert(problems[0].includes("65990"), problems[0]);
    assert(problems[0].includes("65535"), problems[0]);
  });
  await t.step("exactly 65535 is accepted", () => {
    const config = configSchema.parse({
      webstreamSettings: { basePortNumber: 64545, serverMaxSessionCount: 99 },
    });
    assertEquals(config.webstreamSettings.basePortNumber, 64545);
  });
  await t.step("one above is refused", () => {
    assertEquals(
      failingPaths({
        webstreamSettings: { basePortNumber: 64546, serverMaxSessionCount: 99 },
      }),
      ["webstreamSettings.basePortNumber"],
    );
  });
});

Deno.test("configSchema: the advertised port must not be a streamer port", async (t) => {
  const settings = { basePortNumber: 9000, serverMaxSessionCount: 4 };
  for (const slot of [1, 2, 4]) {
    await t.step(`port of slot ${slot} is refused`, () => {
      const port = 9000 + slot * 10;
      const problems = failures({
        gateway: { backend: { advertisedUrl: `http://10.0.0.5:${port}` } },
        webstreamSettings: settings,
      });
      assertEquals(problems, [
        `gateway.backend.advertisedUrl: port ${port} is the streamer port of pool slot ${slot}`,
      ]);
    });
  }
  await t.step("ports beside the streamer ports are accepted", () => {
    for (const port of [9005, 9001, 9015, 9050, 8990]) {
      const config = configSchema.parse({
        gateway: { backend: { advertisedUrl: `http://10.0.0.5:${port}` } },
        webstreamSettings: settings,
      });
      assertEquals(
        new URL(config.gateway.backend.advertisedUrl).port,
        `${port}`,
      );
    }
  });
  await t.step("a URL without a port is accepted", () => {
    const config = configSchema.parse({
      gateway: { backend: { advertisedUrl: "http://host.internal" } },
    });
    assertEquals(config.gateway.backend.advertisedUrl, "http://host.internal");
  });
});

Deno.test("restrictionSchema: deny defaults to everything, recursive to false", () => {
  assertEquals(restrictionSchema.parse({ path: "/srv/x" }), {
    path: "/srv/x",
    deny: ["read", "write", "execute"],
    recursive: false,
  });
  assertEquals(
    restrictionSchema.parse({
      path: "/srv/x",
      deny: ["write"],
      recursive: true,
    }),
    { path: "/srv/x", deny: ["write"], recursive: true },
  );
  assert(!restrictionSchema.safeParse({ path: "" }).success);
});

Deno.test("webstreamSettings.windows: defaults are FreeRDP's client, 60 s logon, 30 s logoff", () => {
  const windows = configSchema.parse({}).webstreamSettings.windows;
  assertEquals(windows, windowsSettingsSchema.parse({}));
  assertEquals(windows.logonTimeout, 60);
  assertEquals(windows.logoffTimeout, 30);
  assertEquals(windows.rdpClient, {
    command: DEFAULT_RDP_CLIENT.command,
    args: [...DEFAULT_RDP_CLIENT.args],
    stdin: DEFAULT_RDP_CLIENT.stdin,
  });
  // The defaults are copies: changing a parsed config leaves them alone.
  windows.rdpClient.args.push("/extra");
  assertEquals(
    configSchema.parse({}).webstreamSettings.windows.rdpClient.args,
    [...DEFAULT_RDP_CLIENT.args],
  );
});

Deno.test("webstreamSettings.windows: a configured client and timeouts are kept", () => {
  const config = configSchema.parse({
    webstreamSettings: {
      provisioningTimeout: 120,
      windows: {
        rdpClient: {
          command: "C:\\Program Files\\FreeRDP\\wfreerdp.exe",
          args: ["/v:{server}", "/u:{account}", "/w:{width}", "/h:{height}"],
          stdin: "{password}\r\n",
        },
        logonTimeout: 90,
        logoffTimeout: 20,
      },
    },
  });
  assertEquals(config.webstreamSettings.windows, {
    rdpClient: {
      command: "C:\\Program Files\\FreeRDP\\wfreerdp.exe",
      args: ["/v:{server}", "/u:{account}", "/w:{width}", "/h:{height}"],
      stdin: "{password}\r\n",
    },
    logonTimeout: 90,
    logoffTimeout: 20,
  });
  // Only the command given: FreeRDP's arguments and standard input.
  assertEquals(
    rdpClientSchema.parse({ command: "D:\\rdp\\wfreerdp.exe" }).args,
    [...DEFAULT_RDP_CLIENT.args],
  );
});

Deno.test("webstreamSettings.windows: refusals name the field", async (t) => {
  const windows = (w: unknown) => ({ webstreamSettings: { windows: w } });
  const at = "webstreamSettings.windows";
  await t.step("{password} in an argument: the password goes on stdin", () => {
    const [problem, ...rest] = failures(
      windows({ rdpClient: { args: ["/v:{server}", "/p:{password}"] } }),
    );
    assertEquals(rest, []);
    assert(problem.startsWith(`${at}.rdpClient.args.1: {password} is not `));
    assert(problem.includes("standard input (rdpClient.stdin)"), problem);
  });
  await t.step("an unknown placeholder, in args or stdin", () => {
    assertEquals(
      failures(windows({
        rdpClient: { args: ["/d:{realm}"], stdin: "{password}{pin}\n" },
      })),
      [
        `${at}.rdpClient.args.0: unknown placeholder {realm} (the arguments may use {server}, {account}, {domain}, {width}, {height})`,
        `${at}.rdpClient.stdin: unknown placeholder {pin} (standard input may use {server}, {account}, {domain}, {width}, {height}, {password})`,
      ],
    );
  });
  await t.step("the command: not empty, no placeholder, no NUL", () => {
    assertEquals(failingPaths(windows({ rdpClient: { command: "" } })), [
      `${at}.rdpClient.command`,
    ]);
    assertEquals(
      failures(windows({ rdpClient: { command: "{password}.exe" } })),
      [
        `${at}.rdpClient.command: {password} is not allowed in the command: every local user can read a process's command line; the password is written to the client's standard input (rdpClient.stdin)`,
      ],
    );
    assertEquals(
      failures(windows({ rdpClient: { command: "rdp\0.exe" } })),
      [`${at}.rdpClient.command: contains a NUL character`],
    );
  });
  await t.step("types, bounds and unknown properties", () => {
    assertEquals(
      failingPaths(windows({
        rdpClient: { args: "/v:{server}", port: 3389 },
        logonTimeout: 0,
        logoffTimeout: "30",
        pollInterval: 1,
      })).sort(),
      [
        at,
        `${at}.logoffTimeout`,
        `${at}.logonTimeout`,
        `${at}.rdpClient`,
        `${at}.rdpClient.args`,
      ],
    );
    assertEquals(failingPaths(windows("yes")), [at]);
  });
  await t.step("validated on every OS, though only Windows uses it", () => {
    assert(!configSchema.safeParse(windows({ logonTimeout: -1 })).success);
  });
});

Deno.test("webstreamSettings.screen: the largest size a viewer may get", () => {
  const screen = (input: Record<string, unknown>) =>
    configSchema.parse({ webstreamSettings: { screen: input } })
      .webstreamSettings.screen;
  // 3840 × 2160 unless the start size is larger.
  assertEquals(screen({ width: 1280, height: 720 }).maxWidth, 3840);
  assertEquals(screen({ width: 5120, height: 2880 }), {
    width: 5120,
    height: 2880,
    depth: 24,
    maxWidth: 5120,
    maxHeight: 2880,
  });
  assertEquals(screen({ maxWidth: 2560, maxHeight: 1440 }), {
    width: 1920,
    height: 1080,
    depth: 24,
    maxWidth: 2560,
    maxHeight: 1440,
  });
  assertEquals(
    failures({
      webstreamSettings: { screen: { width: 1920, maxWidth: 1600 } },
    }),
    ["webstreamSettings.screen.maxWidth: at least the width (1920)"],
  );
  assertEquals(
    failingPaths({ webstreamSettings: { screen: { maxHeight: 9000 } } }),
    ["webstreamSettings.screen.maxHeight"],
  );
});

Deno.test("gatewayUrl: one gateway or a list of them; an empty list or a bad URL is refused", () => {
  const list = ["https://gw1.example", "https://gw2.example"];
  assertEquals(backendSchema.parse({ gatewayUrl: list }).gatewayUrl, list);
  assertEquals(
    backendSchema.parse({ gatewayUrl: "https://gw.example" }).gatewayUrl,
    "https://gw.example",
  );
  assert(!backendSchema.safeParse({ gatewayUrl: [] }).success);
  const bad = backendSchema.safeParse({
    gatewayUrl: ["https://gw1.example", "ftp://x"],
  });
  assert(!bad.success);
  assertEquals(bad.error.issues[0].path.slice(0, 1), ["gatewayUrl"]);
});
