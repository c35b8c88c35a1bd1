/**
 * The platform for this OS and the account mode it resolves to, and the
 * plumbing of `webstreamSettings.windows` into the Windows platform: the
 * options `createPlatform` hands `createWindowsPlatform`, and (over a
 * minimal fake API) the configured RDP client reaching the launcher.
 *
 * @module
 */
import { parseConfig } from "../../mod/config/mod.ts";
import { createLogger } from "../../mod/log/mod.ts";
import {
  createPlatform,
  type CreatePlatformOptions,
  windowsPlatformOptions,
} from "../../mod/platform/mod.ts";
import type { WindowsApi } from "../../mod/platform/windows/api.ts";
import { createWindowsPlatform } from "../../mod/platform/windows/mod.ts";
import type { RdpLaunch } from "../../mod/platform/windows/rdp_client.ts";
import { platformOptions } from "../../mod/roles/common.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  assertThrows,
} from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";

const logger = createLogger({ sink: () => {} });

/** Stands for the Win32 API where nothing may be called. */
const UNUSED_API = {} as WindowsApi;

Deno.test({
  name: "Linux gets the Linux platform; auto picks real accounts only as root",
  ignore: Deno.build.os !== "linux",
  fn() {
    const auto = createPlatform({ accountMode: "auto", logger });
    assertEquals(auto.name, "linux");
    assertEquals(auto.accountMode, Deno.uid() === 0 ? "system" : "current");
    assertEquals(
      createPlatform({ accountMode: "current", logger }).accountMode,
      "current",
    );
    assertEquals(auto.capabilities.includes("xvfb"), true);
  },
});

Deno.test({
  name: "Linux ignores the Windows settings",
  ignore: Deno.build.os !== "linux",
  fn() {
    const platform = createPlatform({
      accountMode: "current",
      logger,
      windows: { logonTimeoutMs: 1, rdpClient: undefined },
    });
    assertEquals(platform.name, "linux");
  },
});

Deno.test("windowsPlatformOptions: the common options and every Windows setting reach the platform", () => {
  const rdpClient = {
    command: "C:\\FreeRDP\\wfreerdp.exe",
    args: ["/v:{server}", "/u:{account}"],
    stdin: "{password}\n",
  };
  const options: CreatePlatformOptions = {
    accountMode: "system",
    runtimeDirectory: "D:\\webstream",
    logger,
    windows: { rdpClient, logonTimeoutMs: 90_000, logoffTimeoutMs: 20_000 },
  };
  assertEquals(windowsPlatformOptions(options, UNUSED_API), {
    api: UNUSED_API,
    accountMode: "system",
    runtimeDirectory: "D:\\webstream",
    logger,
    rdpClient,
    logonTimeoutMs: 90_000,
    logoffTimeoutMs: 20_000,
  });
});

Deno.test("windowsPlatformOptions: unset settings are left to the platform's defaults", () => {
  const result = windowsPlatformOptions(
    { accountMode: "auto", logger },
    UNUSED_API,
  );
  assertEquals(result, { api: UNUSED_API, accountMode: "auto", logger });
  for (const key of ["rdpClient", "logonTimeoutMs", "runtimeDirectory"]) {
    assert(!(key in result), `${key} is not set to undefined`);
  }
  const platform = createWindowsPlatform(result);
  assertEquals(platform.name, "windows");
  assertThrows(
    () =>
      createWindowsPlatform(
        windowsPlatformOptions({ accountMode: "current", logger }, UNUSED_API),
      ),
    Error,
    /poolAccounts "current" is not possible on Windows/,
  );
});

/**
 * Just enough of Windows for `prepare`, `ensureAccount` and the start of
 * `startSession`, up to the RDP client's launch.
 */
function minimalApi(): WindowsApi {
  const api: Partial<WindowsApi> = {
    enablePrivileges: () => Promise.resolve(),
    groupName: () => Promise.resolve("Remote Desktop Users"),
    protectFolder: () => Promise.resolve(),
    createProcessJob: () => Promise.resolve({ killOnClose: true }),
    getUser: () => Promise.resolve(undefined),
    addUser: () => Promise.resolve(),
    accountSid: () =>
      Promise.resolve({
        sid: new Uint8Array(16),
        sidString: "S-1-5-21-1-2-3-1001",
      }),
    addToGroup: () => Promise.resolve(),
    sessions: () => Promise.resolve([]),
  };
  return api as WindowsApi;
}

Deno.test("the configured RDP client reaches the launcher: config → createPlatform options → Windows platform", async () => {
  await withTempDir(async (dir) => {
    const config = parseConfig({
      webstreamSettings: {
        runtimeDirectory: dir,
        windows: {
          rdpClient: {
            command: "mstsc-stand-in",
            args: ["--to", "{server}", "--as", "{account}", "{width}x{height}"],
            stdin: "pw={password}\n",
          },
          logonTimeout: 5,
        },
      },
    }, { env: {} });
    const launches: RdpLaunch[] = [];
    const platform = createWindowsPlatform({
      ...windowsPlatformOptions(platformOptions(config, logger), minimalApi()),
      launcher: (launch) => {
        launches.push(launch);
        throw new Error("launch captured");
      },
    });
    await platform.prepare();
    await platform.ensureAccount("webs01", "Str0ng-Passw0rd");
    await assertRejects(
      () =>
        platform.startSession({
          slot: 1,
          account: "webs01",
          streamerPort: 9010,
          bindAddress: "127.0.0.1",
          controlUrl: "ws://127.0.0.1:9005/control",
          screen: { width: 1280, height: 720, depth: 24 },
        }),
      Error,
      /launch captured/,
    );
    assertEquals(launches.length, 1);
    const [launch] = launches;
    assertEquals(launch.command, "mstsc-stand-in");
    assertEquals(launch.args, [
      "--to",
      "127.0.0.2",
      "--as",
      "webs01",
      "1280x720",
    ]);
    assertEquals(launch.stdin, "pw=Str0ng-Passw0rd\n");
    assertEquals(launch.cwd, dir);
  });
});
