/**
 * What the server roles share: bind addresses, the web client folder,
 * signals, the platform options built from the configuration, and the
 * warning for streamer ports inside the kernel's ephemeral range.
 */
import { parseConfig } from "../../mod/config/mod.ts";
import { createLogger } from "../../mod/log/mod.ts";
import {
  bindAddress,
  DEFAULT_HTTPDOCS,
  ephemeralPortsWarning,
  localAddress,
  platformOptions,
  requireSecretBeyondLoopback,
  SHUTDOWN_SIGNALS,
  staticRoot,
  waitForShutdownSignal,
  windowsTimeoutWarning,
} from "../../mod/roles/common.ts";
import { assert, assertEquals, assertThrows } from "../support/assert.ts";

Deno.test("a loopback advertised host keeps the host local; others listen everywhere", () => {
  assertEquals(bindAddress(undefined, "127.0.0.1"), "127.0.0.1");
  assertEquals(bindAddress(undefined, "localhost"), "127.0.0.1");
  assertEquals(bindAddress(undefined, "[::1]"), "127.0.0.1");
  assertEquals(bindAddress(undefined, "10.0.4.7"), "0.0.0.0");
  assertEquals(bindAddress(undefined, "host-a.internal"), "0.0.0.0");
  assertEquals(bindAddress("10.0.4.7", "host-a.internal"), "10.0.4.7");
});

Deno.test("local clients reach a wildcard bind through loopback", () => {
  assertEquals(localAddress("0.0.0.0"), "127.0.0.1");
  assertEquals(localAddress("::"), "127.0.0.1");
  assertEquals(localAddress("10.0.4.7"), "10.0.4.7");
  assertEquals(localAddress("fd00::7"), "[fd00::7]");
});

Deno.test("the embedded web client is the default static root", async () => {
  assertEquals(staticRoot(undefined), DEFAULT_HTTPDOCS);
  assertEquals(staticRoot("/srv/httpdocs"), "/srv/httpdocs");
  assert((await Deno.stat(`${DEFAULT_HTTPDOCS}/index.html`)).isFile);
});

Deno.test({
  name: "SIGTERM resolves the shutdown wait with its name",
  ignore: Deno.build.os === "windows",
  async fn() {
    // Signal listeners do not keep the event loop alive; a server would.
    const alive = setInterval(() => {}, 20);
    try {
      const waiting = waitForShutdownSignal();
      Deno.kill(Deno.pid, "SIGTERM");
      assertEquals(await waiting, "SIGTERM");
    } finally {
      clearInterval(alive);
    }
  },
});

Deno.test({
  name: "SIGHUP (the terminal closed) shuts down like SIGTERM",
  ignore: Deno.build.os === "windows",
  async fn() {
    assertEquals(SHUTDOWN_SIGNALS, ["SIGINT", "SIGTERM", "SIGHUP"]);
    const alive = setInterval(() => {}, 20);
    try {
      const waiting = waitForShutdownSignal();
      Deno.kill(Deno.pid, "SIGHUP");
      assertEquals(await waiting, "SIGHUP");
    } finally {
      clearInterval(alive);
    }
  },
});

Deno.test("the shared secret is required only beyond loopback", () => {
  requireSecretBeyondLoopback("127.0.0.1", undefined);
  requireSecretBeyondLoopback("::1", undefined);
  requireSecretBeyondLoopback("0.0.0.0", "a-long-secret");
  for (const bind of ["0.0.0.0", "10.0.4.7", "::"]) {
    assertThrows(
      () => requireSecretBeyondLoopback(bind, undefined),
      Error,
      /sharedSecret \(or WEBSTREAM_GATEWAY_SECRET\) is required/,
    );
  }
});

Deno.test("platformOptions: the pool settings, and webstreamSettings.windows in milliseconds", () => {
  const logger = createLogger({ sink: () => {} });
  const config = parseConfig({
    webstreamSettings: {
      poolAccounts: "system",
      runtimeDirectory: "/srv/webstream",
      windows: {
        rdpClient: { command: "C:\\FreeRDP\\wfreerdp.exe" },
        logonTimeout: 90,
        logoffTimeout: 12.5,
      },
    },
  }, { env: {} });
  const options = platformOptions(config, logger);
  assertEquals(options, {
    accountMode: "system",
    runtimeDirectory: "/srv/webstream",
    logger,
    windows: {
      rdpClient: config.webstreamSettings.windows.rdpClient,
      logonTimeoutMs: 90_000,
      logoffTimeoutMs: 12_500,
    },
  });
  assertEquals(
    options.windows?.rdpClient?.command,
    "C:\\FreeRDP\\wfreerdp.exe",
  );
  // Without a windows section: the schema's defaults, 60 s and 30 s.
  const defaults = platformOptions(parseConfig({}, { env: {} }), logger);
  assertEquals(defaults.windows?.logonTimeoutMs, 60_000);
  assertEquals(defaults.windows?.logoffTimeoutMs, 30_000);
  assertEquals(defaults.windows?.rdpClient?.command, "wfreerdp.exe");
});

Deno.test("windowsTimeoutWarning: provisioningTimeout must outlast the Windows logon", () => {
  const warning = (settings: Record<string, unknown>) =>
    windowsTimeoutWarning(
      parseConfig({ webstreamSettings: settings }, { env: {} }),
    );
  const defaults = warning({});
  assert(defaults !== undefined, "the defaults (30 s < 60 s) warn");
  assert(
    defaults.startsWith(
      "webstreamSettings.provisioningTimeout (30 s) is not longer than " +
        "webstreamSettings.windows.logonTimeout (60 s)",
    ),
    defaults,
  );
  assert(defaults.includes("raise provisioningTimeout (e.g. to 90)"));
  assert(warning({ provisioningTimeout: 60 }) !== undefined);
  assertEquals(warning({ provisioningTimeout: 90 }), undefined);
  assertEquals(
    warning({ provisioningTimeout: 40, windows: { logonTimeout: 30 } }),
    undefined,
  );
});

Deno.test("streamer ports inside the ephemeral range are warned of", () => {
  const config = (basePortNumber: number) =>
    parseConfig({
      webstreamSettings: { basePortNumber, serverMaxSessionCount: 4 },
    }, { env: {} });
  const range = { low: 32768, high: 60999 };
  // 9010–9040 and 61000–61030 lie outside; 32740–32770 reaches into it.
  assertEquals(ephemeralPortsWarning(config(9000), range), undefined);
  assertEquals(ephemeralPortsWarning(config(60990), range), undefined);
  assertEquals(ephemeralPortsWarning(config(9000), undefined), undefined);
  const warning = ephemeralPortsWarning(config(32730), range);
  assert(
    warning?.includes("streamer ports 32740–32770") &&
      warning.includes("32768–60999") &&
      warning.includes("basePortNumber"),
    warning,
  );
  assert(ephemeralPortsWarning(config(40000), range));
});
