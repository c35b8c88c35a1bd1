/**
 * The contract every gateway store keeps (SQLite and PostgreSQL), as one
 * exercise the store tests run against each, and the records it uses.
 *
 * @module
 */
import { resourcesSchema } from "../../mod/config/mod.ts";
import type { AsyncGatewayStore } from "../../mod/gateway/store.ts";
import type { HostRecord, SessionRecord } from "../../mod/gateway/types.ts";
import { assert, assertEquals } from "./assert.ts";

/** A host record as a registry stores it. */
export function host(name: string, draining = false): HostRecord {
  const serverUrl = `http://${name}.test:8080`;
  return {
    serverUrl,
    registration: {
      serverUrl,
      maxSessions: 8,
      instanceType: "m5.large",
      ec2InstanceId: "i-0abc",
      tags: ["eu"],
      capabilities: ["linux", "xvfb"],
      version: "0.1.0",
    },
    registeredAt: 1_700_000_000_000,
    heartbeat: {
      serverUrl,
      status: "Healthy",
      activeSessions: 3,
      maxSessions: 8,
      instanceType: "m5.large",
      tags: ["eu"],
      cpuUsage: 12.5,
      memoryUsage: 40,
      timestamp: "2024-01-01T00:00:00.000Z",
      receivedAt: 1_700_000_001_000,
    },
    draining,
    unregistered: false,
  };
}

/** A session record as the session map stores it. */
export function session(id: string, user = "alice"): SessionRecord {
  return {
    sessionId: id,
    sessionUuid: `uuid-${id}`,
    user,
    credentials: "user",
    serverUrl: "http://a.test:8080",
    host: "10.0.0.5",
    port: 20010,
    path: "/stream",
    kind: "app",
    workspaceIds: ["calc", "editor"],
    resources: resourcesSchema.parse({ fileUpload: true }),
    createdAt: 1_700_000_000_000,
    lastLaunchAt: 1_700_000_002_000,
    lastCheckinAt: 1_700_000_003_000,
  };
}

/** `items` sorted by `key`. */
export function byKey<T>(items: T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => key(a).localeCompare(key(b)));
}

/**
 * The store contract, run against every implementation: round trips,
 * replaces and deletes of hosts, sessions, settings and revocations (a
 * user's keeps its latest cutoff; expired ones are pruned), and loading all
 * revocations and settings. Leaves two revocations and four settings
 * behind.
 */
export async function exerciseStore(store: AsyncGatewayStore): Promise<void> {
  // Hosts: insert, replace, delete.
  assertEquals(await store.loadHosts(), []);
  await store.putHost(host("a"));
  await store.putHost(host("b"));
  await store.putHost(host("a", true));
  assertEquals(byKey(await store.loadHosts(), (h) => h.serverUrl), [
    host("a", true),
    host("b"),
  ]);
  await store.deleteHost(host("b").serverUrl);
  await store.deleteHost("http://never.test");
  assertEquals(await store.loadHosts(), [host("a", true)]);

  // Sessions: single puts, a batch, replace, delete.
  assertEquals(await store.loadSessions(), []);
  await store.putSession(session("s1"));
  await store.putSessions([session("s2"), session("s3", "bob")]);
  await store.putSession({ ...session("s1"), lastCheckinAt: 42 });
  await store.deleteSession("s2");
  await store.putSessions([]);
  assertEquals(byKey(await store.loadSessions(), (s) => s.sessionId), [
    { ...session("s1"), lastCheckinAt: 42 },
    session("s3", "bob"),
  ]);

  // Settings.
  assertEquals(await store.getSetting("cookieSecret"), undefined);
  await store.putSetting("cookieSecret", "first");
  await store.putSetting("cookieSecret", "second");
  await store.putSetting("other", "");
  assertEquals(await store.getSetting("cookieSecret"), "second");
  assertEquals(await store.getSetting("other"), "");
  // Once: the first value written stays, whoever asks after.
  assertEquals(await store.settingOnce("secret", "a"), "a");
  assertEquals(await store.settingOnce("secret", "b"), "a");
  assertEquals(await store.settingOnce("cookieSecret", "c"), "second");
  const together = await Promise.all(
    ["x", "y", "z"].map((value) => store.settingOnce("raced", value)),
  );
  assertEquals(new Set(together).size, 1, "everyone got the same value");

  // Found by the host's internal id, as stored now.
  assertEquals(
    await store.findSessionByUuid(session("s3", "bob").sessionUuid),
    session("s3", "bob"),
  );
  assertEquals(await store.findSessionByUuid("no-such-uuid"), undefined);
  // And by its client-facing id.
  assertEquals(await store.findSession("s3"), session("s3", "bob"));
  assertEquals(await store.findSession("no-such-session"), undefined);

  // A new session, durable on return.
  await store.insertSession(session("s5"));
  assertEquals(
    (await store.loadSessions()).find((s) => s.sessionId === "s5"),
    session("s5"),
  );
  await store.deleteSession("s5");

  // Revocations: one sign-in; a user's sign-ins before a time.
  const signIn = (id: string, user: string, issuedAt: number) => ({
    id,
    user,
    issuedAt,
  });
  await store.putRevocation({
    kind: "signin",
    id: "cookie-1",
    expiresAt: 5000,
  });
  await store.putRevocation({
    kind: "user",
    user: "bob",
    before: 2000,
    expiresAt: 9000,
  });
  // An earlier cutoff does not shorten a later one.
  await store.putRevocation({
    kind: "user",
    user: "bob",
    before: 1000,
    expiresAt: 8000,
  });
  assert(await store.isRevoked(signIn("cookie-1", "alice", 1)));
  assert(!await store.isRevoked(signIn("cookie-2", "alice", 1)));
  assert(await store.isRevoked(signIn("cookie-3", "bob", 1999)));
  assert(!await store.isRevoked(signIn("cookie-4", "bob", 2000)));
  assert(!await store.isRevoked(signIn("cookie-5", "carol", 1)));
  // Kept while a covered cookie may still be valid, then forgotten.
  await store.pruneRevocations(5000);
  assert(await store.isRevoked(signIn("cookie-1", "alice", 1)));
  await store.pruneRevocations(5001);
  assert(!await store.isRevoked(signIn("cookie-1", "alice", 1)));
  assert(await store.isRevoked(signIn("cookie-3", "bob", 1999)));
  await store.pruneRevocations(9001);
  assert(!await store.isRevoked(signIn("cookie-3", "bob", 1999)));
  await store.putRevocation({
    kind: "signin",
    id: "cookie-9",
    expiresAt: 99_999,
  });
  await store.putRevocation({
    kind: "user",
    user: "dave",
    before: 3000,
    expiresAt: 99_999,
  });

  // Everything, as a copy to another store reads it.
  assertEquals(await store.loadRevocations(), [
    { kind: "signin", id: "cookie-9", expiresAt: 99_999 },
    { kind: "user", user: "dave", before: 3000, expiresAt: 99_999 },
  ]);
  const settings = await store.loadSettings();
  assertEquals(new Set(["x", "y", "z"]).has(settings.raced), true);
  assertEquals(settings, {
    cookieSecret: "second",
    other: "",
    secret: "a",
    raced: settings.raced,
  });
}
