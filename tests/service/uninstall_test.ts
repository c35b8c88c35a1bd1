/**
 * Tests for `uninstall-service` against the fake SCM: a running service is
 * stopped, then removed; a missing one is a clear error; on Linux the
 * command only says what to use instead.
 *
 * @module
 */
import { uninstallService } from "../../mod/service/uninstall.ts";
import { SERVICE_RUNNING } from "../../ffi/windows/services.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";
import { FakeServices } from "../support/windows/fake_services.ts";

function windows(fake: FakeServices) {
  return {
    os: "windows" as const,
    api: () => fake.api,
    sleep: () => Promise.resolve(),
  };
}

Deno.test("uninstall-service stops the running service, then removes it", async () => {
  const fake = new FakeServices();
  fake.addService("webstream", { state: SERVICE_RUNNING });
  const result = await uninstallService(windows(fake));
  assertEquals(result, {
    code: 0,
    message: 'stopped and removed the "webstream" service',
  });
  assertEquals(fake.events, ["stop:webstream", "delete:webstream"]);
  assertEquals(fake.services.size, 0);
  assertEquals(fake.openHandles(), 0);
});

Deno.test("uninstall-service of a stopped service just removes it", async () => {
  const fake = new FakeServices();
  fake.addService("webstream");
  const result = await uninstallService(windows(fake));
  assertEquals(result, { code: 0, message: 'removed the "webstream" service' });
});

Deno.test("uninstall-service without the service: exit 1, nothing to remove", async () => {
  const fake = new FakeServices();
  const result = await uninstallService(windows(fake));
  assertEquals(result, {
    code: 1,
    message:
      'webstream uninstall-service: no service named "webstream" is installed; nothing to remove',
  });
});

Deno.test("uninstall-service that cannot stop the service in time leaves it", async () => {
  const fake = new FakeServices();
  fake.addService("webstream", {
    state: SERVICE_RUNNING,
    settleAfterQueries: 1e9,
  });
  const result = await uninstallService({ ...windows(fake), timeoutMs: 600 });
  assertEquals(result.code, 1);
  assertMatch(result.message, /did not stop within 1 s .*it was not removed/);
  assertEquals(fake.services.size, 1);
});

Deno.test("uninstall-service unelevated says to elevate", async () => {
  const fake = new FakeServices();
  fake.addService("webstream");
  fake.elevated = false;
  const result = await uninstallService(windows(fake));
  assertEquals(result.code, 1);
  assertMatch(
    result.message,
    /OpenServiceW was denied: run this from an elevated prompt/,
  );
});

Deno.test("uninstall-service on Linux only says what to do there", async () => {
  const fake = new FakeServices();
  const result = await uninstallService({ ...windows(fake), os: "linux" });
  assertEquals(result.code, 1);
  assertMatch(result.message, /^webstream uninstall-service is for Windows/);
  assertEquals(fake.openHandles(), 0);
});
