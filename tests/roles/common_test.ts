/** What the server roles share: bind addresses, the web client folder, signals. */
import {
  bindAddress,
  DEFAULT_HTTPDOCS,
  localAddress,
  requireSecretBeyondLoopback,
  staticRoot,
  waitForShutdownSignal,
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
