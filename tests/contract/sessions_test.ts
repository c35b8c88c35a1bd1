/**
 * Tests for `mod/contract/sessions.ts`: the session-truth bodies accept
 * what both sides send and refuse what neither should, naming the field.
 */
import {
  hostSessionsSchema,
  logOffSchema,
  sessionEndedSchema,
} from "../../mod/contract/mod.ts";
import { assert, assertEquals } from "../support/assert.ts";

const UUID = "6f1c2b9e-8d3a-4f5b-9c7e-1a2b3c4d5e6f";

Deno.test("host sessions: a list of bound sessions", () => {
  const ok = hostSessionsSchema.safeParse({
    sessions: [{
      sessionUuid: UUID,
      sessionId: "gw-1",
      slot: 1,
      clientConnected: false,
    }],
  });
  assert(ok.success);
  const bad = hostSessionsSchema.safeParse({
    sessions: [{ sessionUuid: "x", sessionId: "", slot: 0 }],
  });
  assert(!bad.success);
  assertEquals(
    bad.error.issues.map((i) => i.path.join(".")).sort(),
    [
      "sessions.0.clientConnected",
      "sessions.0.sessionId",
      "sessions.0.sessionUuid",
      "sessions.0.slot",
    ],
  );
});

Deno.test("sessionEnded and logoff bodies", () => {
  assert(
    sessionEndedSchema.safeParse({
      serverUrl: "http://10.0.0.5:9005",
      sessionUuid: UUID,
      reason: "display died",
    }).success,
  );
  const bad = sessionEndedSchema.safeParse({
    serverUrl: "ftp://x",
    sessionUuid: UUID,
    reason: "",
  });
  assert(!bad.success);
  assertEquals(bad.error.issues.map((i) => i.path[0]).sort(), [
    "reason",
    "serverUrl",
  ]);
  assert(logOffSchema.safeParse({ reason: "logged off by alice" }).success);
  assert(!logOffSchema.safeParse({ reason: "x".repeat(201) }).success);
});
