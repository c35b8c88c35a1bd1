/**
 * Tests for `mod/platform/streamer_command.ts`: the streamer's arguments
 * (as both platforms start it) and its extra environment, with the licence
 * proof in the environment and never in the arguments.
 *
 * @module
 */
import {
  licenceArgs,
  streamerArgs,
  streamerEnv,
} from "../../mod/platform/streamer_command.ts";
import type { SessionSpec } from "../../mod/platform/types.ts";
import { assertEquals } from "../support/assert.ts";

const SPEC: SessionSpec = {
  slot: 2,
  account: "webs02",
  streamerPort: 9020,
  bindAddress: "0.0.0.0",
  controlUrl: "ws://127.0.0.1:9005/control",
  screen: { width: 1920, height: 1080, depth: 24 },
};

Deno.test("streamerArgs: control, port and bind; -user only when asked", () => {
  assertEquals(streamerArgs(SPEC), [
    "streamer",
    "-control",
    "ws://127.0.0.1:9005/control",
    "-port",
    "9020",
    "-bind",
    "0.0.0.0",
  ]);
  assertEquals(streamerArgs(SPEC, { user: "webs02" }).slice(7), [
    "-user",
    "webs02",
  ]);
});

Deno.test("streamerArgs: licence and reporting arguments, proof kept out", () => {
  const reporting = {
    metrics: { enabled: true, interval: 30, report: ["fps" as const] },
    activityLogging: { enabled: true, events: ["upload" as const] },
  };
  const args = streamerArgs({
    ...SPEC,
    licence: {
      gatewayUrl: ["https://gw:9000", "https://gw2:9000"],
      serverUrl: "http://host:9005",
      caCertificate: "/etc/webstream/ca.pem",
      proof: "secret-proof",
    },
    reporting,
  });
  assertEquals(args.slice(7), [
    "-gateway-url",
    "https://gw:9000",
    "-gateway-url",
    "https://gw2:9000",
    "-server-url",
    "http://host:9005",
    "-gateway-ca",
    "/etc/webstream/ca.pem",
    "-reporting",
    JSON.stringify(reporting),
  ]);
  assertEquals(args.includes("secret-proof"), false);
  assertEquals(licenceArgs(undefined), []);
});

Deno.test("streamerArgs: the orphan timeout when one is given", () => {
  assertEquals(
    streamerArgs({ ...SPEC, orphanTimeout: 300 }).slice(-2),
    ["-orphan-timeout", "300"],
  );
  assertEquals(streamerArgs(SPEC).includes("-orphan-timeout"), false);
});

Deno.test("streamerEnv: the proof and the logging variables", () => {
  const saved = Deno.env.get("WEBSTREAM_LOG_LEVEL");
  Deno.env.set("WEBSTREAM_LOG_LEVEL", "debug");
  try {
    const env = streamerEnv({
      ...SPEC,
      licence: { gatewayUrl: "https://gw", serverUrl: "http://h", proof: "p1" },
    });
    assertEquals(env.WEBSTREAM_LICENCE_PROOF, "p1");
    assertEquals(env.WEBSTREAM_LOG_LEVEL, "debug");
    assertEquals("WEBSTREAM_LICENCE_PROOF" in streamerEnv(SPEC), false);
  } finally {
    if (saved === undefined) Deno.env.delete("WEBSTREAM_LOG_LEVEL");
    else Deno.env.set("WEBSTREAM_LOG_LEVEL", saved);
  }
});
