/**
 * The placement index against the full scan, as a property: a seeded random
 * farm in a real {@linkcode HostRegistry} (tags, capabilities, load, ties,
 * full and overloaded hosts, logons in flight, drained, failed-probe,
 * silent and unregistered hosts) changes between decisions (heartbeats,
 * logons begun and ended, drains, probes, re-registrations with other tags,
 * sweeps), and every decision — random workspace, the user's sessions, a
 * failed-host set, one of several settings — is made on `registry.list()`
 * (the reference) and on `registry.index()`. Both must choose the same, every
 * host the index looked at must have the reference's verdict, and the hosts
 * it did not must be counted, by the reference's reason when the index knows
 * it.
 *
 * @module
 */
import {
  healthCheckSchema,
  placementSchema,
  type PlacementSettings,
  type Workspace,
  workspaceSchema,
} from "../../mod/config/mod.ts";
import { missingFor, place, RUNNERS_UP } from "../../mod/gateway/placement.ts";
import { HostRegistry } from "../../mod/gateway/registry.ts";
import { openSqliteStore } from "../../mod/gateway/store.ts";
import type { SessionRecord } from "../../mod/gateway/types.ts";
import type { LogonOutcome } from "../../mod/gateway/registry.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { assert, assertEquals } from "../support/assert.ts";

/** mulberry32: a small seeded random source. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TAGS = ["eu", "us", "gpu", "office"];

const WORKSPACES: Workspace[] = [
  { id: "desk", name: "Desk", kind: "desktop" },
  { id: "gpu-desk", name: "GPU", kind: "desktop", requiredTags: ["gpu"] },
  {
    id: "eu-office",
    name: "EU office",
    kind: "app",
    command: { linux: "lo" },
    requiredTags: ["eu", "office"],
  },
  {
    id: "word",
    name: "Word",
    kind: "app",
    command: { windows: "winword.exe" },
    requiredCapabilities: ["windows"],
  },
  {
    id: "edit",
    name: "Edit",
    kind: "app",
    command: { linux: "gedit", windows: "notepad.exe" },
  },
  { id: "nowhere", name: "None", kind: "desktop", requiredTags: ["mars"] },
].map((w) => workspaceSchema.parse(w));

const SETTINGS: PlacementSettings[] = [
  placementSchema.parse({}),
  placementSchema.parse({ strategy: "depth" }),
  placementSchema.parse({
    weights: { sessions: 1, cpu: 0, memory: 0 },
    maxConcurrentLogons: 1,
  }),
  placementSchema.parse({
    overload: { sessionRatio: 1, cpuUsage: 100, memoryUsage: 60 },
  }),
];

function pick<T>(random: () => number, list: readonly T[]): T {
  return list[Math.floor(random() * list.length)];
}

Deno.test("the placement index chooses as the full scan does", () => {
  const random = seeded(2026);
  const clock = { now: 1_700_000_000_000 };
  const store = openSqliteStore(":memory:");
  const health = healthCheckSchema.parse({});
  const registry = new HostRegistry({
    store,
    health,
    logger: createLogger({ level: "error", sink: () => {} }),
    now: () => clock.now,
  });
  const urls: string[] = [];
  const pending: ((outcome: LogonOutcome) => void)[] = [];
  const register = (url: string) => {
    const tags = TAGS.filter(() => random() < 0.4);
    const capabilities = random() < 0.25 ? ["windows"] : ["linux"];
    const maxSessions = 1 + Math.floor(random() * 8);
    registry.register({
      serverUrl: url,
      maxSessions,
      instanceType: "t",
      ec2InstanceId: "",
      tags,
      capabilities,
      version: "0.1.0",
    });
    return { tags, maxSessions };
  };
  const beat = (url: string, tags: string[], maxSessions: number) => {
    registry.heartbeat({
      serverUrl: url,
      status: random() < 0.03 ? "draining" : "healthy",
      // Small integers: many ties, some full hosts.
      activeSessions: Math.floor(random() * (maxSessions + 1)),
      maxSessions,
      instanceType: "t",
      tags,
      // Round figures tie too; some over the limits.
      cpuUsage: 10 * Math.floor(random() * 10),
      memoryUsage: 10 * Math.floor(random() * 10),
      timestamp: new Date(clock.now).toISOString(),
    });
  };
  const farm = new Map<string, { tags: string[]; maxSessions: number }>();
  for (let n = 0; n < 240; n++) {
    const url = `http://h${n}.test:8080`;
    urls.push(url);
    const shape = register(url);
    farm.set(url, shape);
    // Some never beat (no figures), some fall silent later.
    if (random() < 0.95) beat(url, shape.tags, shape.maxSessions);
    clock.now += 100;
  }
  const mutate = () => {
    const url = pick(random, urls);
    const shape = farm.get(url)!;
    const r = random();
    if (r < 0.35) beat(url, shape.tags, shape.maxSessions);
    else if (r < 0.5) pending.push(registry.beginLogon(url));
    else if (r < 0.62 && pending.length) {
      const done = pending.splice(Math.floor(random() * pending.length), 1);
      done[0](random() < 0.5 ? "placed" : "failed");
    } else if (r < 0.7) registry.setDraining(url, random() < 0.5);
    else if (r < 0.8) {
      registry.recordProbe(url, {
        at: clock.now,
        ok: random() < 0.5,
        latencyMs: 1,
      });
    } else if (r < 0.86) farm.set(url, register(url));
    else if (r < 0.9) registry.unregister(url);
    else if (r < 0.93) {
      registry.sweep({ unregisteredAfterMs: 0, silentAfterMs: 3_600_000 });
    } else clock.now += 1000 * Math.floor(random() * 8);
  };

  let compared = 0;
  const outcomes: Record<string, number> = { share: 0, new: 0, none: 0 };
  for (let draw = 0; draw < 600; draw++) {
    for (let i = Math.floor(random() * 6); i > 0; i--) mutate();
    const workspace = pick(random, WORKSPACES);
    const settings = pick(random, SETTINGS);
    const sessions: SessionRecord[] = [];
    for (let i = Math.floor(random() * 4); i > 0; i--) {
      sessions.push({
        sessionId: `s${draw}-${i}`,
        sessionUuid: `u${draw}-${i}`,
        user: "alice",
        credentials: random() < 0.8 ? "user" : "other",
        serverUrl: pick(random, urls),
        host: "127.0.0.1",
        port: 20010,
        path: "/stream",
        kind: random() < 0.8 ? "app" : "desktop",
        workspaceIds: ["edit"],
        resources: workspace.resources,
        createdAt: 0,
        lastLaunchAt: 0,
      });
    }
    const exclude = new Set(
      Array.from(
        { length: Math.floor(random() * 3) },
        () => pick(random, urls),
      ),
    );
    const tie = random();
    const input = { workspace, sessions, settings, exclude };
    const reference = place({
      ...input,
      hosts: registry.list(),
      random: () => tie,
    });
    const indexed = place({
      ...input,
      hosts: registry.index(),
      random: () => tie,
    });
    const what = `draw ${draw}: ${workspace.id}, ${JSON.stringify(settings)}`;
    assertEquals(indexed.outcome, reference.outcome, what);
    assertEquals(indexed.serverUrl, reference.serverUrl, what);
    assertEquals(indexed.sessionId, reference.sessionId, what);
    assertEquals(indexed.summary, reference.summary, what);
    assertEquals(indexed.sessions, reference.sessions, what);
    outcomes[indexed.outcome]++;
    if (indexed.outcome === "share") continue;
    // Every host the index looked at is explained as the reference does.
    const byUrl = new Map(reference.hosts.map((v) => [v.serverUrl, v]));
    for (const verdict of indexed.hosts) {
      assertEquals(verdict, byUrl.get(verdict.serverUrl), what);
    }
    // The rest are counted; hosts that lack what the workspace needs by
    // that (the reference names their state first, when not Healthy).
    const omitted = indexed.omitted ?? {};
    const total = Object.values(omitted).reduce((a, b) => a + b, 0);
    assertEquals(indexed.hosts.length + total, registry.size, what);
    const lacking = Object.keys(omitted).filter((r) => r.startsWith("lacks"));
    for (const reason of lacking) {
      const expected = registry.list().filter((h) =>
        missingFor(workspace, h) === reason
      );
      assertEquals(omitted[reason], expected.length, `${what}: ${reason}`);
    }
    // It looked at fewer hosts than there are (the point of it), yet at
    // every tie and some runners-up.
    const eligible = reference.hosts.filter((v) => v.verdict !== "excluded");
    assert(
      indexed.hosts.filter((v) => v.verdict !== "excluded").length >=
        Math.min(eligible.length, RUNNERS_UP + 1),
      what,
    );
    compared++;
  }
  store.close();
  // The farm must have left real choices, and refusals, to compare.
  assert(compared > 300, `${compared} decisions compared`);
  assert(outcomes.new > 150 && outcomes.none > 30, JSON.stringify(outcomes));
});
