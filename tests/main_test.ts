/**
 * Tests for the `webstream` command itself, run as a real child process
 * (`deno run -A main.ts …`): exit codes and output of usage errors, `-help`,
 * `-version`, `config check` on valid, invalid, YAML and JSON files (secrets
 * shown as `[redacted]`), and the not-yet-available `-gateway`; and what
 * `deno task start` loads: main.ts's module graph (`deno info`) holds no
 * test-only package such as playwright-core.
 *
 * @module
 */
import { stringify } from "yaml";
import { USAGE } from "../mod/cli/mod.ts";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { type CommandResult, runCommand } from "./support/command.ts";
import { withTempDir } from "./support/fs.ts";
import denoJson from "../deno.json" with { type: "json" };

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `webstream args…` to completion. */
async function webstream(
  args: string[],
  env: Record<string, string> = {},
): Promise<CommandResult> {
  return await runCommand(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", MAIN, ...args],
    // Secrets must come from the file in these tests, never the caller's env.
    env: {
      NO_COLOR: "1",
      WEBSTREAM_SESSION_PWD: "",
      WEBSTREAM_GATEWAY_SECRET: "",
      ...env,
    },
  });
}

/** The JSON printed after the `FILE: valid` line. */
function printedConfig(
  stdout: string,
): Record<string, Record<string, unknown>> {
  return JSON.parse(stdout.slice(stdout.indexOf("\n") + 1));
}

Deno.test("webstream -bogus exits 2 with the problem and the usage on stderr", async () => {
  const run = await webstream(["-bogus"]);
  assertEquals(run.code, 2);
  assertMatch(run.stderr, /^webstream: unknown option -bogus\n/);
  assert(run.stderr.includes(USAGE), "usage printed on stderr");
  assertEquals(run.stdout, "");
});

Deno.test("webstream -backend -config (no value) exits 2 naming the option", async () => {
  const run = await webstream(["-backend", "-config"]);
  assertEquals(run.code, 2);
  assertMatch(run.stderr, /option -config needs a value/);
  assert(run.stderr.includes(USAGE));
});

Deno.test("webstream with no arguments exits 2", async () => {
  const run = await webstream([]);
  assertEquals(run.code, 2);
  assertMatch(run.stderr, /no role given/);
});

Deno.test("webstream -help and --help exit 0 with the usage on stdout", async () => {
  for (const flag of ["-help", "--help"]) {
    const run = await webstream([flag]);
    assertEquals(run.code, 0, flag);
    assertEquals(run.stdout, USAGE + "\n", flag);
  }
});

Deno.test("webstream -version prints webstream X.Y.Z from deno.json", async () => {
  const run = await webstream(["-version"]);
  assertEquals(run.code, 0);
  assertMatch(run.stdout, /^webstream \d+\.\d+\.\d+\S*\n$/);
  assertEquals(run.stdout, `webstream ${denoJson.version}\n`);
});

Deno.test("webstream config check: valid YAML exits 0 and prints the effective config with secrets redacted", async () => {
  await withTempDir(async (dir) => {
    const password = `Pw-${crypto.randomUUID()}`;
    const secret = `Gw-${crypto.randomUUID()}`;
    const path = `${dir}/webstream.yaml`;
    await Deno.writeTextFile(
      path,
      stringify({
        gateway: {
          backend: {
            gatewayUrl: "https://gateway.example",
            heartbeatInterval: 7,
            sharedSecret: secret,
          },
        },
        webstreamSettings: {
          serverMaxSessionCount: 3,
          serverSessionPwd: password,
          basePortNumber: 12000,
        },
      }),
    );
    const run = await webstream(["config", "check", path]);
    assertEquals(run.code, 0, run.stderr);
    assert(run.stdout.startsWith(`${path}: valid\n`), run.stdout);
    assert(!run.stdout.includes(password), "password not printed");
    assert(!run.stdout.includes(secret), "shared secret not printed");
    assert(!run.stderr.includes(password) && !run.stderr.includes(secret));
    const config = printedConfig(run.stdout);
    const settings = config.webstreamSettings;
    const backend = (config.gateway as Record<string, Record<string, unknown>>)
      .backend;
    assertEquals(settings.serverSessionPwd, "[redacted]");
    assertEquals(backend.sharedSecret, "[redacted]");
    // Values from the file and filled-in defaults are both shown.
    assertEquals(settings.serverMaxSessionCount, 3);
    assertEquals(settings.basePortNumber, 12000);
    assertEquals(backend.heartbeatInterval, 7);
    assertEquals(backend.gatewayUrl, "https://gateway.example");
    assertEquals(backend.advertisedUrl, "http://127.0.0.1:9005");
    assertEquals(settings.serverSessionUsername, "webs");
  });
});

Deno.test("webstream config check: a JSON file works too", async () => {
  await withTempDir(async (dir) => {
    const password = `Pw-${crypto.randomUUID()}`;
    const path = `${dir}/webstream.json`;
    await Deno.writeTextFile(
      path,
      JSON.stringify({
        webstreamSettings: {
          serverSessionUsername: "pool",
          serverSessionPwd: password,
        },
      }),
    );
    const run = await webstream(["config", "check", path]);
    assertEquals(run.code, 0, run.stderr);
    assert(!run.stdout.includes(password));
    const settings = printedConfig(run.stdout).webstreamSettings;
    assertEquals(settings.serverSessionUsername, "pool");
    assertEquals(settings.serverSessionPwd, "[redacted]");
  });
});

Deno.test("webstream config check: an invalid file exits 1 naming path, expectation and value", async () => {
  await withTempDir(async (dir) => {
    const password = `Pw-${crypto.randomUUID()}`;
    const path = `${dir}/webstream.yaml`;
    await Deno.writeTextFile(
      path,
      [
        "gateway:",
        "  backend:",
        "    heartbeatInterval: fast",
        "webstreamSettings:",
        `  serverSessionPwd: ${password}`,
        "  basePortNumber: 70000",
        "  colour: blue",
        "",
      ].join("\n"),
    );
    const run = await webstream(["config", "check", path]);
    assertEquals(run.code, 1);
    assertEquals(run.stdout, "");
    assert(run.stderr.includes(path), "names the file");
    assertMatch(
      run.stderr,
      /gateway\.backend\.heartbeatInterval: expected number, got string "fast"/,
    );
    assertMatch(
      run.stderr,
      /webstreamSettings\.basePortNumber: expected a number ≤ 65535, got number 70000/,
    );
    assertMatch(run.stderr, /webstreamSettings: unknown property "colour"/);
    assert(!run.stderr.includes(password), "password not printed");
  });
});

Deno.test("webstream config check: a missing file exits 1 saying it cannot be read", async () => {
  await withTempDir(async (dir) => {
    const run = await webstream(["config", "check", `${dir}/absent.yaml`]);
    assertEquals(run.code, 1);
    assertMatch(run.stderr, /absent\.yaml/);
    assertMatch(run.stderr, /cannot read the file/);
  });
});

Deno.test("webstream -gateway without a shared secret refuses to start, naming it", async () => {
  const run = await webstream(["-gateway"]);
  assertEquals(run.code, 1);
  assertMatch(run.stderr, /gateway\.backend\.sharedSecret .* is required/);
});

Deno.test("webstream hash-password prints a scrypt hash of standard input", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "hash-password"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("correct horse\n"));
  await writer.close();
  const out = await child.output();
  assertEquals(out.code, 0);
  const hash = new TextDecoder().decode(out.stdout).trim();
  assertMatch(hash, /^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
  const { verifyPassword } = await import("../mod/gateway/auth/password.ts");
  assertEquals(await verifyPassword("correct horse", hash), true);
  assertEquals(await verifyPassword("correct horse\n", hash), false);
});

Deno.test("webstream -backend with an invalid config exits 1 before starting", async () => {
  await withTempDir(async (dir) => {
    const path = `${dir}/webstream.yaml`;
    await Deno.writeTextFile(path, "webstreamSettings:\n  basePortNumber: x\n");
    const run = await webstream(["-backend", "-config", path]);
    assertEquals(run.code, 1);
    assertMatch(
      run.stderr,
      /webstreamSettings\.basePortNumber: expected number, got string "x"/,
    );
  });
});

/** The npm packages (names) in the module graph of `entry`, per `deno info`. */
async function npmPackagesOf(entry: string): Promise<string[]> {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const out = await runCommand(Deno.execPath(), {
    args: [
      "info",
      "--json",
      `--lock=${root}/deno.lock`,
      "--frozen",
      `--config=${root}/deno.json`,
      entry,
    ],
    env: { NO_COLOR: "1" },
  });
  assert(out.ok, out.stderr);
  const graph = JSON.parse(out.stdout) as {
    modules: { kind?: string; specifier: string }[];
  };
  const names = graph.modules.filter((m) => m.kind === "npm").map((m) =>
    // npm:/name@version/path or npm:/@scope/name@version/path
    m.specifier.slice("npm:/".length).match(/^(@[^/]+\/[^@/]+|[^@/]+)@/)![1]
  );
  return [...new Set(names)].sort();
}

Deno.test("deno task start loads no test-only package (playwright-core)", async () => {
  const packages = await npmPackagesOf(MAIN);
  assert(packages.includes("hono"), packages.join(" "));
  assert(!packages.includes("playwright-core"), packages.join(" "));
  assertEquals(
    denoJson.tasks.start,
    "deno run -A main.ts -farm",
    "start runs main.ts",
  );
  // The check sees playwright-core where it is imported.
  await withTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/uses.ts`, 'import "playwright-core";\n');
    assert((await npmPackagesOf(`${dir}/uses.ts`)).includes("playwright-core"));
  });
});
