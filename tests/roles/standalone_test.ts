/**
 * `startStandalone` in-process (current-user pool): both listeners come up
 * on `basePortNumber` and `+1`, and when the second port is taken the first
 * listener is released again. The full flow is in
 * tests/integration/standalone_test.ts.
 */
import { createLogger } from "../../mod/log/mod.ts";
import { startStandalone } from "../../mod/roles/standalone.ts";
import { assertEquals, assertRejects } from "../support/assert.ts";
import { inProcessConfig } from "../support/config.ts";

const logger = createLogger({ sink: () => {} });

Deno.test({
  name: "listens on base (relay, /control) and base+1 (HTTP)",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const { config: c, base, dir } = await inProcessConfig();
    const sm = await startStandalone(c, { logger });
    try {
      assertEquals(sm.port, base + 1);
      const health = await fetch(`http://127.0.0.1:${base + 1}/health`);
      assertEquals(health.status, 200);
      await health.body?.cancel();
      const control = await fetch(`http://127.0.0.1:${base}/control`);
      assertEquals(control.status, 426);
      await control.body?.cancel();
    } finally {
      await sm.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("a taken HTTP port fails the start and frees the relay port", async () => {
  const { config: c, base, dir } = await inProcessConfig();
  const blocker = Deno.listen({ hostname: "127.0.0.1", port: base + 1 });
  try {
    await assertRejects(
      () => startStandalone(c, { logger }),
      Deno.errors.AddrInUse,
    );
    // The relay port is free again.
    Deno.listen({ hostname: "127.0.0.1", port: base }).close();
  } finally {
    blocker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("-sm beyond loopback needs the shared secret, and then requires it", async () => {
  const without = await inProcessConfig((base) => ({
    webstreamSettings: { basePortNumber: base, listenAddress: "0.0.0.0" },
    gateway: { backend: { advertisedUrl: `http://127.0.0.1:${base + 5}` } },
  }));
  try {
    await assertRejects(
      () => startStandalone(without.config, { logger }),
      Error,
      /sharedSecret .* is required when the host listens on 0\.0\.0\.0/,
    );
  } finally {
    await Deno.remove(without.dir, { recursive: true });
  }
});
