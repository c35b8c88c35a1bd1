/**
 * The gateway's routes over real parts (an in-memory store, a clock the
 * test moves), through Hono's own `request`: `/health` sums up and counts
 * its uptime on the gateway's clock; a host that registers is probed and
 * reconciled at once; what matches no route is a JSON 404, a store that
 * cannot be written a 503 naming it, anything else a 500 that is logged.
 *
 * @module
 */
import { gatewayApp } from "../../mod/gateway/routes.ts";
import { StoreUnavailableError } from "../../mod/gateway/store_guard.ts";
import type { HostRegistry } from "../../mod/gateway/registry.ts";
import { captureLogs } from "../support/log.ts";
import { assertEquals, assertMatch } from "../support/assert.ts";
import {
  addHost,
  gatewayConfig,
  gatewayParts,
  quietLogger,
  registerPayload,
  SECRET,
} from "../support/gateway_parts.ts";

const STATIC_ROOT = new URL("../../httpdocs/", import.meta.url).pathname;

Deno.test("/health sums up hosts and sessions, uptime on the gateway's clock", async () => {
  const parts = gatewayParts(gatewayConfig());
  try {
    const app = gatewayApp({
      ...parts,
      probe: () => {},
      reconcile: () => {},
    }, {
      staticRoot: STATIC_ROOT,
      logger: quietLogger,
      now: () => parts.clock.now,
    });
    addHost(parts.registry, "http://127.0.0.1:9201");
    parts.clock.now += 42_000;
    const body = await (await app.request("/health")).json();
    assertEquals(body.hosts, { total: 1, healthy: 0 });
    assertEquals(body.sessions, 0);
    assertEquals(body.uptime, 42);
    assertEquals(body.timestamp, new Date(parts.clock.now).toISOString());
  } finally {
    parts.close();
  }
});

Deno.test("a host that registers is probed and reconciled at once", async () => {
  const parts = gatewayParts(gatewayConfig());
  const probed: string[] = [];
  const reconciled: string[] = [];
  try {
    const app = gatewayApp({
      ...parts,
      probe: (url) => probed.push(url),
      reconcile: (url) => reconciled.push(url),
    }, { staticRoot: STATIC_ROOT, logger: quietLogger, now: Date.now });
    const response = await app.request("/gateway/register", {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Authorization: `Bearer ${SECRET}`,
      },
      body: JSON.stringify(registerPayload("http://127.0.0.1:9202")),
    });
    assertEquals(response.status, 200, await response.text());
    assertEquals(probed, ["http://127.0.0.1:9202"]);
    assertEquals(reconciled, ["http://127.0.0.1:9202"]);
  } finally {
    parts.close();
  }
});

Deno.test("no route: 404; the store cannot be written: 503 naming it; else 500, logged", async () => {
  const parts = gatewayParts(gatewayConfig());
  const { logger, records } = captureLogs();
  let failure: Error = new StoreUnavailableError("disk full");
  // A registry whose list fails, as a store failure or a bug would make it.
  const registry = Object.create(parts.registry, {
    list: {
      value: () => {
        throw failure;
      },
    },
  }) as HostRegistry;
  try {
    const app = gatewayApp({
      ...parts,
      registry,
      probe: () => {},
      reconcile: () => {},
    }, {
      staticRoot: STATIC_ROOT,
      logger,
      now: Date.now,
    });
    const missing = await app.request("/api/no-such-route");
    assertEquals(missing.status, 404);
    assertEquals(await missing.json(), { error: "not found" });

    const unavailable = await app.request("/health");
    assertEquals(unavailable.status, 503);
    assertEquals(unavailable.headers.get("Retry-After"), "10");
    assertMatch(
      (await unavailable.json()).error,
      /cannot be written: disk full/,
    );

    failure = new TypeError("a bug");
    const broken = await app.request("/health");
    assertEquals(broken.status, 500);
    assertEquals(await broken.json(), { error: "internal error" });
    assertEquals(
      records.filter((r) => r.msg === "request failed").length,
      1,
      "the 500 is logged, the 503 is the store guard's to log",
    );
  } finally {
    parts.close();
  }
});
