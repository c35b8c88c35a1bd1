/**
 * Tests for `mod/contract/get_connection.ts`: the policy's defaults and its
 * refusal of unknown properties; the host's answer as the host builds it,
 * and one out of contract refused by field.
 */
import {
  connectionAnswerSchema,
  policySchema,
} from "../../mod/contract/mod.ts";
import { assert, assertEquals } from "../support/assert.ts";

Deno.test("the policy: defaults, and unknown properties refused", () => {
  assertEquals(policySchema.parse({}), {
    clipboard: "both",
    fileUpload: true,
    fileDownload: false,
    printing: false,
    shadowing: false,
    audio: true,
    videoMaxKbps: 8000,
    downloadMaxBytes: 2 ** 30,
    maxPixelRatio: 2,
  });
  const odd = policySchema.safeParse({ clipboard: "both", teleport: true });
  assert(!odd.success);
  assertEquals(odd.error.issues[0].code, "unrecognized_keys");
});

Deno.test("the host's answer", () => {
  const answer = {
    sessionId: "gw-1",
    sessionUuid: "6f1c2b9e-8d3a-4f5b-9c7e-1a2b3c4d5e6f",
    host: "10.0.0.5",
    port: 9010,
    path: "/stream",
    token: "t".repeat(43),
    tokenExpiresAt: new Date().toISOString(),
    reconnect: false,
  };
  assert(connectionAnswerSchema.safeParse(answer).success);
  const bad = connectionAnswerSchema.safeParse({
    ...answer,
    port: 0,
    path: "stream",
  });
  assert(!bad.success);
  assertEquals(bad.error.issues.map((i) => i.path[0]).sort(), ["path", "port"]);
});
