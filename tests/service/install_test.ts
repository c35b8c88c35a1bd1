/**
 * Tests for `install-service` against the fake SCM: the binary path (the
 * executable quoted, `run-service` and the role's arguments quoted by
 * Windows rules, the configuration made absolute) parses back to the same
 * command; the configuration is validated before anything is installed;
 * the SCM's refusals become clear messages; the preshutdown timeout is
 * written; on Linux the command only says what to use instead.
 *
 * @module
 */
import { parseCli, type ServiceRoleCommand } from "../../mod/cli/mod.ts";
import { ConfigError } from "../../mod/config/mod.ts";
import type { SelfCommand } from "../../mod/platform/self_command.ts";
import {
  absoluteConfigPath,
  installService,
  type InstallServiceOptions,
  SERVICE_PRESHUTDOWN_TIMEOUT_MS,
  serviceCommandLine,
} from "../../mod/service/install.ts";
import { SERVICE_AUTO_START } from "../../ffi/windows/services.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import { FakeServices } from "../support/windows/fake_services.ts";
import { windowsArgv } from "../support/windows/windows_argv.ts";

const EXE = "C:\\Program Files\\webstream\\webstream.exe";
const COMPILED: SelfCommand = { command: EXE, prefix: [], compiled: true };
const BACKEND: ServiceRoleCommand = {
  kind: "backend",
  tags: ["gpu", "autocad"],
  config: "conf\\webstream.yaml",
};

/** Options for a Windows install against `fake`, recording config loads. */
function windows(fake: FakeServices, loaded: (string | undefined)[] = []) {
  return {
    os: "windows",
    api: () => fake.api,
    self: COMPILED,
    cwd: "C:\\Program Data\\webstream",
    env: {},
    loadConfig: (path?: string) => {
      loaded.push(path);
      return Promise.resolve({});
    },
  } satisfies InstallServiceOptions;
}

Deno.test("install-service -backend: quoted exe, run-service, role args with an absolute config", async () => {
  const fake = new FakeServices();
  const loaded: (string | undefined)[] = [];
  const result = await installService(BACKEND, windows(fake, loaded));
  assertEquals(result.code, 0, result.message);
  const service = fake.service("webstream")!;
  const config = "C:\\Program Data\\webstream\\conf\\webstream.yaml";
  assertEquals(
    service.binaryPathName,
    `"${EXE}" run-service -backend -tags gpu,autocad -config "${config}"`,
  );
  assertEquals(loaded, [config], "the configuration is validated first");
  // What webstream.exe will parse when the SCM starts it.
  const argv = windowsArgv(service.binaryPathName);
  assertEquals(argv[0], EXE);
  assertEquals(parseCli(argv.slice(1)), {
    kind: "run-service",
    role: { ...BACKEND, config },
  });
  assertEquals(service.displayName, "webstream session host");
  assertEquals(service.startType, SERVICE_AUTO_START);
  assertEquals(service.account, null, "LocalSystem");
  assertEquals(service.dependencies, ["TermService"]);
  assertMatch(service.description!, /session host/);
  assert(service.failureActions, "restarts after a crash");
  // A minute for a clean stop at system shutdown (PRESHUTDOWN).
  assertEquals(SERVICE_PRESHUTDOWN_TIMEOUT_MS, 60_000);
  assertEquals(service.preshutdownTimeout, 60_000);
  assertMatch(result.message, /installed the "webstream" service/);
  assertMatch(result.message, /sc\.exe start webstream/);
  assertEquals(fake.openHandles(), 0);
});

Deno.test("install-service -gateway without -config: no config argument, no dependencies", async () => {
  const fake = new FakeServices();
  const loaded: (string | undefined)[] = [];
  const result = await installService(
    { kind: "gateway" },
    windows(fake, loaded),
  );
  assertEquals(result.code, 0);
  assertEquals(loaded, [undefined]);
  assertEquals(
    fake.service("webstream")!.binaryPathName,
    `"${EXE}" run-service -gateway`,
  );
  assertEquals(fake.service("webstream")!.dependencies, []);
});

Deno.test("absoluteConfigPath follows the target's path rules", () => {
  const cwd = "C:\\ProgramData\\webstream";
  assertEquals(
    absoluteConfigPath("w.yaml", { os: "windows", cwd }),
    "C:\\ProgramData\\webstream\\w.yaml",
  );
  assertEquals(
    absoluteConfigPath("D:\\cfg\\w.yaml", { os: "windows", cwd }),
    "D:\\cfg\\w.yaml",
  );
  assertEquals(
    absoluteConfigPath("..\\w.yaml", { os: "windows", cwd }),
    "C:\\ProgramData\\w.yaml",
  );
  assertEquals(
    absoluteConfigPath("w.yaml", { os: "linux", cwd: "/etc/webstream" }),
    "/etc/webstream/w.yaml",
  );
});

Deno.test("serviceCommandLine under deno run keeps Deno's own arguments", () => {
  const self: SelfCommand = {
    command: "C:\\Users\\op\\.deno\\bin\\deno.exe",
    prefix: ["run", "--allow-all", "C:\\src\\web stream\\main.ts"],
    compiled: false,
  };
  const line = serviceCommandLine(self, { kind: "sm" });
  assertEquals(
    line,
    `"C:\\Users\\op\\.deno\\bin\\deno.exe" run --allow-all "C:\\src\\web stream\\main.ts" run-service -sm`,
  );
});

Deno.test("install-service under deno run and with secrets in the shell adds notes", async () => {
  const fake = new FakeServices();
  const result = await installService({ kind: "sm" }, {
    ...windows(fake),
    self: {
      command: "C:\\deno.exe",
      prefix: ["run", "main.ts"],
      compiled: false,
    },
    env: { WEBSTREAM_GATEWAY_SECRET: "s3cret", PATH: "x" },
  });
  assertEquals(result.code, 0);
  assertMatch(result.message, /not a compiled webstream\.exe/);
  assertMatch(
    result.message,
    /WEBSTREAM_GATEWAY_SECRET is set in this shell only; the service will not see it/,
  );
  assert(!result.message.includes("s3cret"), "the secret is never printed");
});

Deno.test("install-service twice: the second says it is already installed", async () => {
  const fake = new FakeServices();
  assertEquals((await installService(BACKEND, windows(fake))).code, 0);
  const again = await installService(BACKEND, windows(fake));
  assertEquals(again.code, 1);
  assertMatch(
    again.message,
    /^webstream install-service: a service named "webstream" is already installed; remove it first with uninstall-service/,
  );
});

Deno.test("install-service unelevated says to elevate, installs nothing", async () => {
  const fake = new FakeServices();
  fake.elevated = false;
  const result = await installService(BACKEND, windows(fake));
  assertEquals(result.code, 1);
  assertMatch(result.message, /elevated prompt \(Run as administrator\)/);
  assertEquals(fake.services.size, 0);
});

Deno.test("install-service with an invalid configuration installs nothing", async () => {
  const fake = new FakeServices();
  const result = await installService(BACKEND, {
    ...windows(fake),
    loadConfig: () =>
      Promise.reject(new ConfigError("w.yaml", ["gateway: expected object"])),
  });
  assertEquals(result.code, 1);
  assertMatch(result.message, /gateway: expected object/);
  assertMatch(result.message, /not installed; fix the configuration first/);
  assertEquals(fake.services.size, 0);
});

Deno.test("install-service on Linux only says to use systemd", async () => {
  const fake = new FakeServices();
  const result = await installService(BACKEND, {
    ...windows(fake),
    os: "linux",
  });
  assertEquals(result.code, 1);
  assertMatch(
    result.message,
    /^webstream install-service is for Windows; on Linux use a systemd unit/,
  );
  assertEquals(fake.services.size, 0);
  assertEquals(fake.openHandles(), 0);
});
