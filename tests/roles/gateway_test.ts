/**
 * `startGatewayRole`: the gateway wired from the configuration serves the
 * web client shipped with webstream (the embedded httpdocs) unless
 * `webstreamSettings.serverHttpPath` names another folder, and passes the
 * configuration's refusals through. The gateway itself is covered by
 * tests/gateway/.
 */
import { parseConfig } from "../../mod/config/mod.ts";
import { DEFAULT_HTTPDOCS } from "../../mod/roles/common.ts";
import { startGatewayRole } from "../../mod/roles/gateway.ts";
import { assertEquals, assertRejects } from "../support/assert.ts";
import { withTempDir } from "../support/fs.ts";
import { quietLogger, SECRET } from "../support/gateway_parts.ts";
import { freePort } from "../support/ports.ts";

function gatewaySection(dir: string): Record<string, unknown> {
  return {
    port: freePort(),
    insecureHttp: true,
    storePath: `${dir}/gateway.sqlite`,
    backend: { sharedSecret: SECRET },
  };
}

async function text(url: string): Promise<[number, string]> {
  const response = await fetch(url);
  return [response.status, await response.text()];
}

Deno.test("serves the embedded web client", async () => {
  assertEquals(
    DEFAULT_HTTPDOCS,
    new URL("../../httpdocs", import.meta.url).pathname,
  );
  await withTempDir(async (dir) => {
    const config = parseConfig({ gateway: gatewaySection(dir) }, { env: {} });
    const gateway = await startGatewayRole(config, { logger: quietLogger });
    const base = `http://127.0.0.1:${gateway.port}`;
    try {
      assertEquals(gateway.scheme, "http");
      for (
        const [path, file] of [
          ["/", "portal.html"],
          ["/admin", "admin.html"],
          ["/admin.js", "admin.js"],
          ["/launch.js", "launch.js"],
        ]
      ) {
        assertEquals(await text(`${base}${path}`), [
          200,
          await Deno.readTextFile(`${DEFAULT_HTTPDOCS}/${file}`),
        ], path);
      }
    } finally {
      await gateway.stop();
    }
  });
});

Deno.test("serverHttpPath replaces the embedded web client", async () => {
  await withTempDir(async (dir) => {
    const docs = `${dir}/docs`;
    await Deno.mkdir(docs);
    await Deno.writeTextFile(`${docs}/portal.html`, "<p>our portal</p>");
    await Deno.writeTextFile(`${docs}/admin.html`, "<p>our admin</p>");
    await Deno.writeTextFile(`${docs}/logo.svg`, "<svg></svg>");
    const config = parseConfig({
      gateway: gatewaySection(dir),
      webstreamSettings: { serverHttpPath: docs },
    }, { env: {} });
    const gateway = await startGatewayRole(config, { logger: quietLogger });
    const base = `http://127.0.0.1:${gateway.port}`;
    try {
      assertEquals(await text(`${base}/`), [200, "<p>our portal</p>"]);
      assertEquals(await text(`${base}/admin`), [200, "<p>our admin</p>"]);
      assertEquals(await text(`${base}/logo.svg`), [200, "<svg></svg>"]);
      const [status] = await text(`${base}/portal.js`);
      assertEquals(status, 404, "nothing of the embedded client");
    } finally {
      await gateway.stop();
    }
  });
});

Deno.test("a configuration without the shared secret is refused", async () => {
  await withTempDir(async (dir) => {
    const section = gatewaySection(dir);
    delete section.backend;
    const config = parseConfig({ gateway: section }, { env: {} });
    await assertRejects(
      () => startGatewayRole(config, { logger: quietLogger }),
      Error,
      /gateway\.backend\.sharedSecret .* is required/,
    );
  });
});
