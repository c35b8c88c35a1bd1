/**
 * Tests for loading the configuration: defaults without a file, YAML and JSON
 * files, unreadable files and invalid YAML, error lines formatted
 * `path: expected …, got …`, secrets from `WEBSTREAM_SESSION_PWD` /
 * `WEBSTREAM_GATEWAY_SECRET` overriding the file, and secrets never showing
 * in error messages or in `redactConfig` output.
 *
 * @module
 */
import { stringify } from "yaml";
import {
  ConfigError,
  loadConfig,
  parseConfig,
  redactConfig,
  SECRET_ENV,
} from "../../mod/config/load.ts";
import { createLogger } from "../../mod/log/mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
} from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";

/** An environment without secrets, so the caller's env never leaks in. */
const NO_ENV = {};

/** A fresh secret-looking value, unique per call. */
function secretValue(label: string): string {
  return `${label}-${crypto.randomUUID()}`;
}

/** The ConfigError `fn` throws. */
function configError(fn: () => unknown): ConfigError {
  return assertThrows(fn, ConfigError) as ConfigError;
}

Deno.test("loadConfig without a path returns the defaults", async () => {
  const config = await loadConfig(undefined, { env: NO_ENV });
  assertEquals(config.gateway.backend.advertisedUrl, "http://127.0.0.1:9005");
  assertEquals(config.gateway.backend.heartbeatInterval, 10);
  assertEquals(config.gateway.backend.registrationRetryInterval, 30);
  assertEquals(config.gateway.backend.registrationMaxAttempts, 10);
  assertEquals(config.webstreamSettings.basePortNumber, 9000);
  assertEquals(config.webstreamSettings.serverSessionPwd, undefined);
});

Deno.test("loadConfig reads a YAML file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/webstream.yaml`;
    await Deno.writeTextFile(
      path,
      [
        "# comments are fine",
        "gateway:",
        "  backend:",
        "    gatewayUrl: https://gateway.example",
        "    heartbeatInterval: 3",
        "    tags: [gpu, autocad]",
        "webstreamSettings:",
        "  serverMaxSessionCount: 2",
        "  basePortNumber: 12000",
        "filesystemRestrictions:",
        "  - path: /srv/private",
        "    deny: [write]",
        "",
      ].join("\n"),
    );
    const config = await loadConfig(path, { env: NO_ENV });
    assertEquals(config.gateway.backend.gatewayUrl, "https://gateway.example");
    assertEquals(config.gateway.backend.heartbeatInterval, 3);
    assertEquals(config.gateway.backend.tags, ["gpu", "autocad"]);
    assertEquals(config.webstreamSettings.serverMaxSessionCount, 2);
    assertEquals(config.webstreamSettings.basePortNumber, 12000);
    assertEquals(config.filesystemRestrictions, [
      { path: "/srv/private", deny: ["write"], recursive: false },
    ]);
    // Unset properties still get their defaults.
    assertEquals(config.gateway.backend.advertisedUrl, "http://127.0.0.1:9005");
  });
});

Deno.test("loadConfig reads a JSON file", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/webstream.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        gateway: { backend: { maxSessions: 6 } },
        webstreamSettings: { serverSessionUsername: "pool" },
      }),
    );
    const config = await loadConfig(path, { env: NO_ENV });
    assertEquals(config.gateway.backend.maxSessions, 6);
    assertEquals(config.webstreamSettings.serverSessionUsername, "pool");
  });
});

Deno.test("loadConfig: an empty file means all defaults", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/empty.yaml`;
    await Deno.writeTextFile(path, "# nothing set\n");
    const config = await loadConfig(path, { env: NO_ENV });
    assertEquals(config, await loadConfig(undefined, { env: NO_ENV }));
  });
});

Deno.test("loadConfig: an unreadable file is a ConfigError naming it", async (t) => {
  await withTempDir(async (dir) => {
    await t.step("missing file", async () => {
      const path = `${dir}/absent.yaml`;
      const error = await assertRejects(
        () => loadConfig(path, { env: NO_ENV }),
        ConfigError,
      ) as ConfigError;
      assert(error.message.includes(path), error.message);
      assertEquals(error.problems.length, 1);
      assertMatch(error.problems[0], /^cannot read the file: /);
    });
    await t.step("a directory", async () => {
      const error = await assertRejects(
        () => loadConfig(dir, { env: NO_ENV }),
        ConfigError,
      ) as ConfigError;
      assertMatch(error.problems[0], /^cannot read the file: /);
    });
  });
});

Deno.test("loadConfig: invalid YAML is a ConfigError that does not echo the file", async () => {
  await withTempDir(async (dir) => {
    const password = secretValue("pw");
    const path = `${dir}/broken.yaml`;
    await Deno.writeTextFile(
      path,
      `webstreamSettings:\n  serverSessionPwd: ${password}\n  basePortNumber: [9000\n`,
    );
    const error = await assertRejects(
      () => loadConfig(path, { env: NO_ENV }),
      ConfigError,
    ) as ConfigError;
    assert(error.message.includes(path));
    assertEquals(error.problems.length, 1);
    assertMatch(error.problems[0], /^not valid YAML or JSON: /);
    assert(!error.message.includes(password), "password not in the error");
    assert(!error.message.includes("\n  \n"), "a single line per problem");
  });
});

Deno.test("parseConfig: a top level that is not a mapping is refused", () => {
  for (
    const [raw, got] of [
      [[1, 2], "a list ([1,2])"],
      ["text", 'string "text"'],
      [42, "number 42"],
      [null, "null"],
    ] as const
  ) {
    const error = configError(() => parseConfig(raw, { env: NO_ENV }));
    assertEquals(error.problems, [
      `(top level): expected a mapping of sections, got ${got}`,
    ]);
  }
});

Deno.test("parseConfig: every problem is one line `path: expected …, got …`", () => {
  const error = configError(() =>
    parseConfig({
      gateway: { backend: { heartbeatInterval: "fast", tags: ["ok", "b ad"] } },
      webstreamSettings: {
        basePortNumber: 70000,
        poolAccounts: "everyone",
        screen: { depth: 32 },
      },
      filesystemRestrictions: [{ path: "/x", deny: ["fly"] }],
    }, { env: NO_ENV, source: "test.yaml" })
  );
  assertEquals(
    [...error.problems].sort(),
    [
      'filesystemRestrictions[0].deny[0]: expected one of "read", "write", "execute", got string "fly"',
      'gateway.backend.heartbeatInterval: expected number, got string "fast"',
      `gateway.backend.tags[1]: expected a tag: letters, digits, '.', '_' or '-', starting with a letter or digit, got string "b ad"`,
      "webstreamSettings.basePortNumber: expected a number ≤ 65535, got number 70000",
      'webstreamSettings.poolAccounts: expected one of "auto", "system", "current", got string "everyone"',
      "webstreamSettings.screen.depth: expected one of 16, 24, got number 32",
    ].sort(),
  );
  assertEquals(
    error.message,
    `invalid configuration (test.yaml):\n  ${error.problems.join("\n  ")}`,
  );
});

Deno.test("parseConfig: webstreamSettings.windows problems name the field", () => {
  const error = configError(() =>
    parseConfig({
      webstreamSettings: {
        windows: {
          rdpClient: { args: ["/u:{account}", "/p:{password}"] },
          logonTimeout: "long",
        },
      },
    }, { env: NO_ENV })
  );
  assertEquals([...error.problems].sort(), [
    'webstreamSettings.windows.logonTimeout: expected number, got string "long"',
    "webstreamSettings.windows.rdpClient.args[1]: {password} is not allowed in the arguments: every local user can read a process's command line; the password is written to the client's standard input (rdpClient.stdin)",
  ]);
});

Deno.test("parseConfig: unknown properties are refused by name", () => {
  const error = configError(() =>
    parseConfig({
      gateway: { backend: { heartbeatIntervall: 5 } },
      webstreamSettings: { colour: "blue", size: 2 },
      extra: true,
    }, { env: NO_ENV })
  );
  assertEquals([...error.problems].sort(), [
    '(top level): unknown property "extra"',
    'gateway.backend: unknown property "heartbeatIntervall"',
    'webstreamSettings: unknown properties "colour", "size"',
  ]);
});

Deno.test("parseConfig: cross-field problems are reported by path", () => {
  const ports = configError(() =>
    parseConfig({
      webstreamSettings: { basePortNumber: 65000, serverMaxSessionCount: 99 },
    }, { env: NO_ENV })
  );
  assertEquals(ports.problems.length, 1);
  assertMatch(
    ports.problems[0],
    /^webstreamSettings\.basePortNumber: .*65990.*65535/,
  );
  const collision = configError(() =>
    parseConfig({
      gateway: { backend: { advertisedUrl: "http://10.1.2.3:9030" } },
    }, { env: NO_ENV })
  );
  assertEquals(collision.problems, [
    "gateway.backend.advertisedUrl: port 9030 is the streamer port of pool slot 3",
  ]);
});

Deno.test("parseConfig: an advertisedUrl that is no URL is a ConfigError, not a crash", () => {
  const error = configError(() =>
    parseConfig({ gateway: { backend: { advertisedUrl: "not a url" } } }, {
      env: NO_ENV,
    })
  );
  assertEquals(error.problems, [
    'gateway.backend.advertisedUrl: expected an http(s) URL, got string "not a url"',
  ]);
});

Deno.test("parseConfig: secrets from the environment override the file", async (t) => {
  const filePassword = secretValue("file-pw");
  const fileSecret = secretValue("file-gw");
  const envPassword = secretValue("env-pw");
  const envSecret = secretValue("env-gw");
  const raw = {
    gateway: { backend: { sharedSecret: fileSecret } },
    webstreamSettings: { serverSessionPwd: filePassword },
  };
  await t.step("file values without env", () => {
    const config = parseConfig(raw, { env: NO_ENV });
    assertEquals(config.webstreamSettings.serverSessionPwd, filePassword);
    assertEquals(config.gateway.backend.sharedSecret, fileSecret);
  });
  await t.step("env values win", () => {
    const config = parseConfig(raw, {
      env: {
        WEBSTREAM_SESSION_PWD: envPassword,
        WEBSTREAM_GATEWAY_SECRET: envSecret,
      },
    });
    assertEquals(config.webstreamSettings.serverSessionPwd, envPassword);
    assertEquals(config.gateway.backend.sharedSecret, envSecret);
  });
  await t.step("the input object is not modified", () => {
    assertEquals(raw.webstreamSettings.serverSessionPwd, filePassword);
  });
  await t.step("env values fill sections the file does not have", () => {
    const config = parseConfig({}, {
      env: {
        WEBSTREAM_SESSION_PWD: envPassword,
        WEBSTREAM_GATEWAY_SECRET: envSecret,
      },
    });
    assertEquals(config.webstreamSettings.serverSessionPwd, envPassword);
    assertEquals(config.gateway.backend.sharedSecret, envSecret);
    // The rest of the section still gets defaults.
    assertEquals(config.gateway.backend.heartbeatInterval, 10);
  });
  await t.step("an empty env value is ignored", () => {
    const config = parseConfig(raw, {
      env: { WEBSTREAM_SESSION_PWD: "", WEBSTREAM_GATEWAY_SECRET: "" },
    });
    assertEquals(config.webstreamSettings.serverSessionPwd, filePassword);
  });
  await t.step("the variables map to the documented paths", () => {
    assertEquals(SECRET_ENV, {
      WEBSTREAM_SESSION_PWD: ["webstreamSettings", "serverSessionPwd"],
      WEBSTREAM_GATEWAY_SECRET: ["gateway", "backend", "sharedSecret"],
      WEBSTREAM_COOKIE_SECRET: ["gateway", "auth", "cookieSecret"],
      WEBSTREAM_STORE_URL: ["gateway", "store", "url"],
      WEBSTREAM_ADMIN_TOKEN: ["gateway", "adminToken"],
    });
  });
});

Deno.test("gateway.store.url: a postgres:// URL whose password is masked", () => {
  const password = secretValue("pg-pw");
  const url = `postgres://farm:${password}@db1:5432,db2:5432/webstream`;
  const config = parseConfig({}, { env: { WEBSTREAM_STORE_URL: url } });
  assertEquals(config.gateway.store?.url, url);
  assertEquals(
    JSON.stringify(redactConfig(config)).includes(password),
    false,
    "the password is redacted",
  );
  const error = configError(() =>
    parseConfig({ gateway: { store: { url: "mysql://db/farm" } } }, {
      env: {},
    })
  );
  assertEquals(error.problems.length, 1);
  assert(
    error.problems[0].startsWith("gateway.store.url: expected a postgres://"),
    error.problems[0],
  );
});

Deno.test("parseConfig: an env secret does not hide an invalid section", () => {
  const error = configError(() =>
    parseConfig({ gateway: "yes", webstreamSettings: [1] }, {
      env: {
        WEBSTREAM_SESSION_PWD: secretValue("pw"),
        WEBSTREAM_GATEWAY_SECRET: secretValue("gw"),
      },
    })
  );
  assertEquals([...error.problems].sort(), [
    'gateway: expected object, got string "yes"',
    "webstreamSettings: expected object, got a list ([1])",
  ]);
});

Deno.test("loadConfig reads secrets from Deno.env by default", async () => {
  const password = secretValue("deno-env-pw");
  const before = Deno.env.get("WEBSTREAM_SESSION_PWD");
  Deno.env.set("WEBSTREAM_SESSION_PWD", password);
  try {
    const config = await loadConfig();
    assertEquals(config.webstreamSettings.serverSessionPwd, password);
  } finally {
    if (before === undefined) Deno.env.delete("WEBSTREAM_SESSION_PWD");
    else Deno.env.set("WEBSTREAM_SESSION_PWD", before);
  }
});

Deno.test("parseConfig: secrets never appear in error messages", async (t) => {
  await t.step("too short, from the file", () => {
    const error = configError(() =>
      parseConfig({
        webstreamSettings: { serverSessionPwd: "Zq9!x" },
        gateway: { backend: { sharedSecret: "Kp3#y" } },
      }, { env: NO_ENV })
    );
    assert(!error.message.includes("Zq9!x"), error.message);
    assert(!error.message.includes("Kp3#y"), error.message);
    assertEquals([...error.problems].sort(), [
      'gateway.backend.sharedSecret: expected at least 8 characters, got string "[redacted]"',
      'webstreamSettings.serverSessionPwd: expected at least 8 characters, got string "[redacted]"',
    ]);
  });
  await t.step("too short, from the environment", () => {
    const error = configError(() =>
      parseConfig({}, { env: { WEBSTREAM_GATEWAY_SECRET: "Wv7&q" } })
    );
    assert(!error.message.includes("Wv7&q"), error.message);
    assertMatch(
      error.message,
      /gateway\.backend\.sharedSecret: .*\[redacted\]/,
    );
  });
  await t.step("the wrong type still says which type it was", () => {
    // YAML reads `serverSessionPwd: 73918264` as a number.
    const error = configError(() =>
      parseConfig({ webstreamSettings: { serverSessionPwd: 73918264 } }, {
        env: NO_ENV,
      })
    );
    assertEquals(error.problems, [
      "webstreamSettings.serverSessionPwd: expected string, got number [redacted]",
    ]);
  });
  await t.step("a known secret is masked in another field's error", () => {
    const password = secretValue("Pw");
    parseConfig({ webstreamSettings: { serverSessionPwd: password } }, {
      env: NO_ENV,
    });
    // The password pasted into the wrong field of a later file.
    const error = configError(() =>
      parseConfig({ webstreamSettings: { serverSessionUsername: password } }, {
        env: NO_ENV,
      })
    );
    assert(!error.message.includes(password), error.message);
    assertMatch(
      error.problems[0],
      /^webstreamSettings\.serverSessionUsername: expected .*, got string "\[redacted\]"$/,
    );
  });
});

Deno.test("parseConfig registers the secrets with the logger", () => {
  const password = secretValue("pw");
  const secret = secretValue("gw");
  parseConfig({
    webstreamSettings: { serverSessionPwd: password },
    gateway: { backend: { sharedSecret: secret } },
  }, { env: NO_ENV });
  const lines: string[] = [];
  const logger = createLogger({ format: "json", sink: (l) => lines.push(l) });
  logger.info(`command line had ${password} and ${secret}`, {
    detail: { argv: [password] },
  });
  assertEquals(lines.length, 1);
  assert(!lines[0].includes(password), lines[0]);
  assert(!lines[0].includes(secret), lines[0]);
  assertMatch(lines[0], /\[redacted\]/);
});

Deno.test("redactConfig hides every secret and keeps the rest", () => {
  const password = secretValue("pw");
  const secret = secretValue("gw");
  const config = parseConfig({
    webstreamSettings: { serverSessionPwd: password, basePortNumber: 11000 },
    gateway: {
      backend: { sharedSecret: secret, gatewayUrl: "https://gw.example" },
    },
  }, { env: NO_ENV });
  const redacted = redactConfig(config) as typeof config;
  const text = JSON.stringify(redacted);
  assert(!text.includes(password), "password");
  assert(!text.includes(secret), "shared secret");
  assertEquals(redacted.webstreamSettings.serverSessionPwd, "[redacted]");
  assertEquals(redacted.gateway.backend.sharedSecret, "[redacted]");
  assertEquals(redacted.webstreamSettings.basePortNumber, 11000);
  assertEquals(redacted.gateway.backend.gatewayUrl, "https://gw.example");
  // The configuration itself is untouched.
  assertEquals(config.webstreamSettings.serverSessionPwd, password);
});

Deno.test("loadConfig round-trips a file written with yaml's stringify", async () => {
  await withTempDir(async (dir) => {
    const raw = {
      gateway: { backend: { advertisedUrl: "http://127.0.0.1:21005" } },
      webstreamSettings: { basePortNumber: 21000, serverMaxSessionCount: 3 },
    };
    const path = `${dir}/w.yaml`;
    await Deno.writeTextFile(path, stringify(raw));
    const config = await loadConfig(path, { env: NO_ENV });
    assertEquals(
      config.gateway.backend.advertisedUrl,
      raw.gateway.backend.advertisedUrl,
    );
    assertEquals(config.webstreamSettings.serverMaxSessionCount, 3);
  });
});
