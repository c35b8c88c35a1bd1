/**
 * `startBackend` in-process (current-user pool, so no accounts): tags from the
 * command line and the file are merged into the registration, platform
 * capabilities are advertised, and a taken port is a clear startup error.
 * The full process-level flow is in tests/integration/backend_test.ts.
 */
import { createLogger } from "../../mod/log/mod.ts";
import { startBackend } from "../../mod/roles/backend.ts";
import { assert, assertEquals, assertRejects } from "../support/assert.ts";
import { inProcessConfig } from "../support/config.ts";
import { startFakeGateway } from "../support/fake_gateway.ts";
import { waitFor } from "../support/wait.ts";

const logger = createLogger({ sink: () => {} });

/**
 * An in-process configuration with a backend section (plus `extra`);
 * `port` is the backend's HTTP port.
 */
async function config(extra: Record<string, unknown> = {}) {
  const made = await inProcessConfig((base) => ({
    gateway: {
      backend: {
        advertisedUrl: `http://127.0.0.1:${base + 5}`,
        instanceMetadata: "off",
        tags: ["gpu", "linux-host"],
        capabilities: ["autocad-2025"],
        ...extra,
      },
    },
  }));
  return { dir: made.dir, port: made.base + 5, config: made.config };
}

Deno.test({
  name:
    "registration merges -tags with the configured tags and platform capabilities",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const gateway = startFakeGateway();
    const { config: c, dir } = await config({ gatewayUrl: gateway.url });
    const host = await startBackend(c, { tags: ["autocad", "gpu"], logger });
    try {
      const register = await waitFor(() => gateway.of("register")[0]);
      assertEquals(register.body.tags, ["gpu", "linux-host", "autocad"]);
      const capabilities = register.body.capabilities as string[];
      assert(
        capabilities.includes("autocad-2025") && capabilities.includes("linux"),
      );
      assertEquals(register.body.maxSessions, 1);
    } finally {
      await host.stop();
      await gateway.stop();
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(gateway.of("unregister").length, 1);
  },
});

Deno.test("a port already in use is a startup error, and nothing is left running", async () => {
  const { config: c, port, dir } = await config();
  const blocker = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    await assertRejects(
      () => startBackend(c, { logger }),
      Deno.errors.AddrInUse,
    );
  } finally {
    blocker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a host listening beyond loopback refuses to start without a shared secret", async () => {
  const { config: c, dir } = await config({
    advertisedUrl: "http://host-a.internal:9005",
  });
  try {
    await assertRejects(
      () => startBackend(c, { logger }),
      Error,
      /sharedSecret .* is required when the host listens on 0\.0\.0\.0/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
