/**
 * Tests for `mod/contract/streamer_launch.ts`: what a host's command line
 * says (`streamerArgs`, with every parameter) is what the streamer reads
 * (`parseCli`), so the two sides cannot drift apart; every flag is one the
 * parser allows.
 */
import { parseCli } from "../../mod/cli/mod.ts";
import {
  flag,
  STREAMER_FLAG_NAMES,
  STREAMER_FLAGS,
} from "../../mod/contract/mod.ts";
import { streamerArgs } from "../../mod/platform/streamer_command.ts";
import { assertEquals } from "../support/assert.ts";

Deno.test("a host's streamer command line is what the streamer reads", () => {
  const reporting = {
    metrics: {
      enabled: true,
      interval: 30,
      report: ["fps" as const],
    },
    activityLogging: { enabled: false, events: [] },
  };
  const args = streamerArgs({
    slot: 2,
    account: "webs02",
    streamerPort: 9020,
    bindAddress: "0.0.0.0",
    controlUrl: "ws://127.0.0.1:9005/control",
    screen: { width: 1920, height: 1080, depth: 24 },
    licence: {
      gatewayUrl: ["https://gw.example:9000", "https://gw2.example:9000"],
      serverUrl: "http://10.0.0.5:9005",
      caCertificate: "/etc/webstream/ca.pem",
      proof: "a".repeat(64),
    },
    reporting,
    orphanTimeout: 300,
  }, { user: "webs02" });
  const parsed = parseCli(args);
  assertEquals(parsed, {
    kind: "streamer",
    control: "ws://127.0.0.1:9005/control",
    port: 9020,
    bind: "0.0.0.0",
    user: "webs02",
    licence: {
      gatewayUrl: ["https://gw.example:9000", "https://gw2.example:9000"],
      serverUrl: "http://10.0.0.5:9005",
      caCertificate: "/etc/webstream/ca.pem",
    },
    reporting: JSON.stringify(reporting),
    orphanTimeout: 300,
  });
  // Every flag the host may write is one the streamer takes, and the
  // proof never travels on the command line.
  const written = args.filter((a) => a.startsWith("-")).map((a) => a.slice(1));
  assertEquals(
    written.every((f) => STREAMER_FLAG_NAMES.includes(f as never)),
    true,
  );
  assertEquals(args.some((a) => a.includes("a".repeat(64))), false);
});

Deno.test("flag writes -name value", () => {
  assertEquals(flag(STREAMER_FLAGS.port, "9010"), ["-port", "9010"]);
  assertEquals(new Set(STREAMER_FLAG_NAMES).size, STREAMER_FLAG_NAMES.length);
});
