/**
 * The contract every gateway store keeps (SQLite and PostgreSQL), as one
 * exercise the store tests run against each, and the records it uses.
 *
 * @module
 */
import { resourcesSchema } from "../../mod/config/mod.ts";
import type {
  ClaimLimits,
  ClaimOutcome,
  SessionClaim,
} from "../../mod/gateway/claims.ts";
import { isLive, liveSince } from "../../mod/gateway/liveness.ts";
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
 * replaces and deletes of hosts, sessions (loaded at once and streamed),
 * settings and revocations (a
 * user's keeps its latest cutoff; expired ones are pruned), and loading all
 * revocations and settings; a lone gateway's probe round holds every host
 * it names. Leaves two revocations and four settings behind.
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
  assertEquals(await store.findHost(host("b").serverUrl), host("b"));
  await store.deleteHost(host("b").serverUrl);
  await store.deleteHost("http://never.test");
  assertEquals(await store.loadHosts(), [host("a", true)]);
  assertEquals(await store.findHost(host("a").serverUrl), host("a", true));
  assertEquals(await store.findHost(host("b").serverUrl), undefined);

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

  // Streamed: every session once, over more than one batch of a database
  // server's cursor (1,000 rows), the same as loaded at once.
  const handed: SessionRecord[] = [];
  await store.eachSession((s) => handed.push(s));
  assertEquals(byKey(handed, (s) => s.sessionId), [
    { ...session("s1"), lastCheckinAt: 42 },
    session("s3", "bob"),
  ]);
  const many = Array.from({ length: 2500 }, (_, i) => session(`m${i}`));
  await store.putSessions(many);
  const seen = new Set<string>();
  await store.eachSession((s) => {
    assert(!seen.has(s.sessionId), `${s.sessionId} handed over twice`);
    seen.add(s.sessionId);
  });
  assertEquals(seen.size, 2502);
  assertEquals((await store.loadSessions()).length, 2502);
  for (const s of many) await store.deleteSession(s.sessionId);

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

  // A lone gateway probes every host it knows, and shares its results.
  const hosts = ["http://a.test:8080", "http://b.test:8080"];
  const round = {
    gatewayId: "gateway-1",
    leaseMs: 60_000,
    hosts,
    results: [],
    since: 0,
  };
  assertEquals((await store.shareProbes(round)).held.sort(), hosts);
  const lastProbe = { at: 1000, ok: false, latencyMs: 3, error: "503" };
  const again = await store.shareProbes({
    ...round,
    results: [{ serverUrl: hosts[0], failures: 2, lastProbe }],
  });
  assertEquals(again.held.sort(), hosts);
  assertEquals(typeof again.now, "number");
  await store.leaveProbing("gateway-1");

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

/** A clock for claims, far after every record {@linkcode exerciseStore} leaves. */
const T = 2_000_000_000_000;

/** Seconds a session stays live without news, in {@linkcode exerciseClaims}. */
const STALE_MS = 45_000;

/** A claim on `name`'s host at `now` with `limits` (fresh id unless given). */
function claimOn(
  name: string,
  limits: Partial<ClaimLimits>,
  options: { id?: string; now?: number; gateway?: string } = {},
): SessionClaim {
  const now = options.now ?? T;
  return {
    sessionId: options.id ?? crypto.randomUUID(),
    gatewayId: options.gateway ?? "gateway-1",
    serverUrl: `http://claims-${name}.test:9005`,
    now,
    expiresAt: now + 60_000,
    liveSince: liveSince(now, STALE_MS),
    limits: { licence: 0, hostCapacity: 100, logonCap: 100, ...limits },
  };
}

/** A session on `name`'s host seen at `seenAt`. */
function sessionOn(
  id: string,
  name: string,
  seen: { launch: number; checkin?: number },
): SessionRecord {
  return {
    ...session(id),
    serverUrl: `http://claims-${name}.test:9005`,
    lastLaunchAt: seen.launch,
    lastCheckinAt: seen.checkin,
  };
}

/** A refusal's kind and counts, for comparing. */
function verdict(outcome: ClaimOutcome): string {
  return outcome.kind === "granted"
    ? "granted"
    : `${outcome.limit} ${outcome.count}/${outcome.value}`;
}

/**
 * The claims contract (claims.ts), on a store with no claims or live
 * sessions yet, through one or more connections to it (a claim may be
 * taken through any): the licence, the host's capacity and its logon cap
 * each refuse with the limit, its value and the count; recording a session
 * releases its claim in the same step (the count stays); a released or
 * expired claim no longer counts; live is liveness.ts's rule (the later of
 * check-in and launch, at or after the cut-off); and many claims at once
 * against a limit of N get exactly N granted.
 */
export async function exerciseClaims(
  stores: AsyncGatewayStore[],
): Promise<void> {
  const store = stores[0];
  const claim = (c: SessionClaim) => store.claimSession(c);
  const limits = { licence: 3, hostCapacity: 2, logonCap: 2 };

  // Two on host a; a third is over its capacity, not the licence.
  const s1 = claimOn("a", limits);
  const s2 = claimOn("a", limits);
  assertEquals(verdict(await claim(s1)), "granted");
  assertEquals(verdict(await claim(s2)), "granted");
  assertEquals(await claim(claimOn("a", limits)), {
    kind: "refused",
    limit: "hostCapacity",
    serverUrl: s1.serverUrl,
    value: 2,
    count: 2,
  });
  // Host b has room; then the licence is full.
  assertEquals(verdict(await claim(claimOn("b", limits))), "granted");
  assertEquals(await claim(claimOn("b", limits)), {
    kind: "refused",
    limit: "licence",
    value: 3,
    count: 3,
  });

  // Recorded, the session counts instead of its claim: never twice.
  await store.insertSession(sessionOn(s1.sessionId, "a", { launch: T }));
  assertEquals(
    verdict(await claim(claimOn("b", limits))),
    "licence 3/3",
  );
  assertEquals(
    verdict(await claim(claimOn("a", { ...limits, licence: 10 }))),
    "hostCapacity 2/2",
  );
  // A released claim no longer counts.
  await store.releaseClaim(s2.sessionId);
  await store.releaseClaim("never-claimed");
  const s4 = claimOn("a", limits);
  assertEquals(verdict(await claim(s4)), "granted");
  await store.releaseClaim(s4.sessionId);

  // Logons in flight: claims only, sessions are not logons.
  assertEquals(
    verdict(await claim(claimOn("a", { logonCap: 1 }))),
    "granted",
  );
  assertEquals(
    verdict(await claim(claimOn("a", { logonCap: 1 }))),
    "logonCap 1/1",
  );

  // Expired claims are dropped: a minute later only the session counts
  // (its streamer checked in meanwhile).
  const later = T + 61_000;
  await store.putSession(
    sessionOn(s1.sessionId, "a", { launch: T, checkin: later }),
  );
  assertEquals(
    verdict(await claim(claimOn("a", { hostCapacity: 2 }, { now: later }))),
    "granted",
  );
  assertEquals(
    verdict(await claim(claimOn("a", { hostCapacity: 2 }, { now: later }))),
    "hostCapacity 2/2",
  );

  // Live is liveness.ts's rule: seen (the later of check-in and launch) at
  // or after the cut-off. Host c, at `t`, with sessions seen around it.
  const t = T + 1_000_000;
  const since = liveSince(t, STALE_MS);
  const seen = [
    { launch: since, live: true },
    { launch: since - 1, live: false },
    { launch: since - 10_000, checkin: since + 1, live: true },
    { launch: since - 10_000, checkin: since - 1, live: false },
    { launch: t, checkin: since - 10_000, live: true },
  ];
  for (const [n, s] of seen.entries()) {
    const record = sessionOn(`live-${n}`, "c", s);
    assertEquals(isLive(record, since), s.live, `session ${n}`);
    await store.insertSession(record);
  }
  const live = seen.filter((s) => s.live).length;
  assertEquals(
    verdict(await claim(claimOn("c", { hostCapacity: 1 }, { now: t }))),
    `hostCapacity ${live}/1`,
  );
  // The licence counts them too (sessions at t: c's live ones only).
  assertEquals(
    verdict(
      await claim(
        claimOn("c", { licence: live, hostCapacity: 100 }, { now: t }),
      ),
    ),
    `licence ${live}/${live}`,
  );
  // No licence limit: none counted.
  assertEquals(
    verdict(await claim(claimOn("d", { licence: 0 }, { now: t }))),
    "granted",
  );

  // Many at once, through every connection: exactly N granted.
  const storm = T + 10_000_000;
  const outcomes = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      stores[i % stores.length].claimSession(
        claimOn(i % 2 ? "e" : "f", { licence: 5 }, {
          now: storm,
          gateway: `gateway-${i % stores.length}`,
        }),
      )),
  );
  assertEquals(outcomes.filter((o) => o.kind === "granted").length, 5);
  for (const o of outcomes) {
    if (o.kind === "refused") assertEquals(verdict(o), "licence 5/5");
  }
  const host = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      stores[i % stores.length].claimSession(
        claimOn("g", { hostCapacity: 3, logonCap: 100 }, {
          now: storm + 61_000,
        }),
      )),
  );
  assertEquals(host.filter((o) => o.kind === "granted").length, 3);
}
