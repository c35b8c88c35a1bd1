/**
 * Tests for `mod/contract/registration.ts`: the seed's register and
 * heartbeat bodies, exactly the seed's field names, and refusals naming
 * each bad field.
 */
import {
  heartbeatSchema,
  registerSchema,
  unregisterSchema,
} from "../../mod/contract/mod.ts";
import { assert, assertEquals } from "../support/assert.ts";
import { HEARTBEAT_KEYS, REGISTER_KEYS } from "../support/fake_gateway.ts";

Deno.test("register and heartbeat carry exactly the seed's fields", () => {
  assertEquals(Object.keys(registerSchema.shape).sort(), [...REGISTER_KEYS]);
  assertEquals(Object.keys(heartbeatSchema.shape).sort(), [...HEARTBEAT_KEYS]);
  assertEquals(Object.keys(unregisterSchema.shape), ["serverUrl"]);
});

Deno.test("bad registrations name every field", () => {
  const bad = registerSchema.safeParse({
    serverUrl: "not a url",
    maxSessions: 0,
    instanceType: "",
    ec2InstanceId: "i-1",
    tags: ["ok", "bad tag"],
    capabilities: [],
    version: "1",
  });
  assert(!bad.success);
  assertEquals(
    bad.error.issues.map((i) => i.path.join(".")).sort(),
    ["instanceType", "maxSessions", "serverUrl", "tags.1"],
  );
  const beat = heartbeatSchema.safeParse({
    serverUrl: "http://h:9005",
    status: "healthy",
    activeSessions: 1,
    maxSessions: 4,
    instanceType: "t3",
    tags: [],
    cpuUsage: 101,
    memoryUsage: 50,
    timestamp: new Date().toISOString(),
  });
  assert(!beat.success);
  assertEquals(beat.error.issues.map((i) => i.path[0]), ["cpuUsage"]);
});
