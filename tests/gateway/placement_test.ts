/**
 * Placement, pure: session sharing as `session_sharing.txt` describes it
 * (published desktops never share; incompatible resources, an app missing
 * from the session's host, other credentials, an overloaded, unhealthy or
 * draining host exclude a session; the session on the least-loaded host wins;
 * nothing eligible falls through to load balancing), then load balancing
 * (only Healthy hosts with the required tags, room and logon capacity, not
 * CPU/memory overloaded; breadth picks the lowest weighted score, depth the
 * fullest host with room; ties broken by the injected random source; the
 * `exclude` set), with a reason on every verdict and a summary; a decision
 * over 1,000 hosts and a user with many sessions. Then: a host whose session
 * was not shared because it is overloaded takes no new session in the same
 * decision (other refusals do not exclude it); sessions placed since the
 * last heartbeat count as load; `sharingRefusal` gives each reason.
 *
 * @module
 */
import {
  placementSchema,
  type PlacementSettings,
  type Resources,
  resourcesSchema,
  type Workspace,
  workspaceSchema,
} from "../../mod/config/mod.ts";
import {
  hostLoad,
  loadScore,
  overloadOf,
  place,
  type PlacementDecision,
  type PlacementInput,
  sharingRefusal,
  type Verdict,
} from "../../mod/gateway/placement.ts";
import type {
  HostState,
  HostView,
  SessionRecord,
} from "../../mod/gateway/types.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";

const SETTINGS: PlacementSettings = placementSchema.parse({});

interface HostOptions {
  active?: number;
  max?: number;
  cpu?: number;
  memory?: number;
  state?: HostState;
  tags?: string[];
  capabilities?: string[];
  logons?: number;
  placed?: number;
}

function url(name: string): string {
  return `http://${name}.hosts.test:8080`;
}

function makeHost(name: string, options: HostOptions = {}): HostView {
  const serverUrl = url(name);
  const max = options.max ?? 10;
  const tags = options.tags ?? [];
  const state = options.state ?? "Healthy";
  return {
    serverUrl,
    registration: {
      serverUrl,
      maxSessions: max,
      instanceType: "test",
      ec2InstanceId: "",
      tags,
      capabilities: options.capabilities ?? ["linux", "xvfb", "desktop"],
      version: "0.1.0",
    },
    registeredAt: 0,
    heartbeat: {
      serverUrl,
      status: "Healthy",
      activeSessions: options.active ?? 0,
      maxSessions: max,
      instanceType: "test",
      tags,
      cpuUsage: options.cpu ?? 0,
      memoryUsage: options.memory ?? 0,
      timestamp: new Date(0).toISOString(),
      receivedAt: 0,
    },
    draining: state === "Draining",
    unregistered: state === "Unregistered",
    state,
    stateReason: {
      Healthy: "answering probes and heartbeats",
      Unreachable: "3 health probes failed in a row",
      Draining: "drained by an administrator",
      Unregistered: "the host unregistered",
    }[state],
    probeFailures: state === "Unreachable" ? 3 : 0,
    logonsInFlight: options.logons ?? 0,
    placedSinceHeartbeat: options.placed ?? 0,
  };
}

function resources(overrides: Partial<Resources> = {}): Resources {
  return resourcesSchema.parse(overrides);
}

let sessionCounter = 0;

function makeSession(
  host: string,
  overrides: Partial<SessionRecord> = {},
): SessionRecord {
  const n = ++sessionCounter;
  return {
    sessionId: `s-${n}`,
    sessionUuid: `uuid-${n}`,
    user: "alice",
    credentials: "user",
    serverUrl: url(host),
    host: "127.0.0.1",
    port: 20010,
    path: "/stream",
    kind: "app",
    workspaceIds: ["editor"],
    resources: resources(),
    createdAt: 0,
    lastLaunchAt: 0,
    ...overrides,
  };
}

function app(overrides: Record<string, unknown> = {}): Workspace {
  return workspaceSchema.parse({
    id: "calc",
    name: "Calculator",
    kind: "app",
    command: { linux: "xcalc" },
    ...overrides,
  });
}

const DESKTOP: Workspace = workspaceSchema.parse({
  id: "desktop",
  name: "Desktop",
  kind: "desktop",
});

function decide(
  input: Partial<PlacementInput> & Pick<PlacementInput, "hosts">,
): PlacementDecision {
  const decision = place({
    workspace: app(),
    sessions: [],
    settings: SETTINGS,
    random: () => 0.5,
    ...input,
  });
  assertExplained(decision);
  return decision;
}

/** Every verdict has a reason and the summary names the outcome. */
function assertExplained(decision: PlacementDecision): void {
  for (const verdict of [...decision.sessions, ...decision.hosts]) {
    assert(verdict.reason.length > 0, `no reason: ${JSON.stringify(verdict)}`);
  }
  assert(decision.summary.length > 0, "no summary");
  if (decision.outcome === "share") {
    assert(decision.summary.includes(decision.sessionId!), decision.summary);
    assert(decision.summary.includes(decision.serverUrl!), decision.summary);
    assertEquals(decision.hosts, []);
    const chosen = decision.sessions.filter((v) => v.verdict === "chosen");
    assertEquals(chosen.map((v) => v.sessionId), [decision.sessionId]);
  } else if (decision.outcome === "new") {
    assert(decision.summary.includes(decision.serverUrl!), decision.summary);
    const chosen = decision.hosts.filter((v) => v.verdict === "chosen");
    assertEquals(chosen.map((v) => v.serverUrl), [decision.serverUrl]);
  } else {
    assertEquals(decision.serverUrl, undefined);
    assert(
      [...decision.sessions, ...decision.hosts].every((v) =>
        v.verdict !== "chosen"
      ),
    );
  }
}

function sessionVerdict(
  decision: PlacementDecision,
  session: SessionRecord,
): Verdict {
  const verdict = decision.sessions.find((v) =>
    v.sessionId === session.sessionId
  );
  assert(verdict, `no verdict for ${session.sessionId}`);
  return verdict;
}

function hostVerdict(decision: PlacementDecision, name: string): Verdict {
  const verdict = decision.hosts.find((v) => v.serverUrl === url(name));
  assert(verdict, `no verdict for ${name}`);
  return verdict;
}

/** A random source that returns `values` in turn. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length];
}

Deno.test("session sharing", async (t) => {
  await t.step("a compatible app session is shared", () => {
    const hosts = [makeHost("a", { active: 3 }), makeHost("b")];
    const session = makeSession("a");
    const decision = decide({ hosts, sessions: [session] });
    assertEquals(decision.outcome, "share");
    assertEquals(decision.sessionId, session.sessionId);
    assertEquals(decision.serverUrl, url("a"));
    // Sharing beats load balancing: host b is less loaded but not used.
    assertEquals(sessionVerdict(decision, session).verdict, "chosen");
  });

  await t.step("a published desktop never shares", () => {
    const hosts = [makeHost("a"), makeHost("b", { active: 5 })];
    const appSession = makeSession("b");
    const desktopSession = makeSession("b", { kind: "desktop" });
    const decision = decide({
      workspace: DESKTOP,
      hosts,
      sessions: [appSession, desktopSession],
    });
    assertEquals(decision.outcome, "new");
    assertEquals(decision.sessionId, undefined);
    assertEquals(decision.sessions, []);
    assertEquals(decision.serverUrl, url("a"));
  });

  await t.step("a desktop session is not shared with an app", () => {
    const session = makeSession("a", { kind: "desktop" });
    const decision = decide({ hosts: [makeHost("a")], sessions: [session] });
    assertEquals(decision.outcome, "new");
    const verdict = sessionVerdict(decision, session);
    assertEquals(verdict.verdict, "excluded");
    assertMatch(verdict.reason, /desktop/);
  });

  await t.step("incompatible resources exclude the session", () => {
    const needsUpload = app({ resources: { fileUpload: true } });
    const without = makeSession("a");
    const withUpload = makeSession("b", {
      resources: resources({ fileUpload: true }),
    });
    const hosts = [makeHost("a"), makeHost("b", { active: 5 })];
    const decision = decide({
      workspace: needsUpload,
      hosts,
      sessions: [without, withUpload],
    });
    const excluded = sessionVerdict(decision, without);
    assertEquals(excluded.verdict, "excluded");
    assertMatch(excluded.reason, /incompatible resources.*fileUpload/);
    // The one that allows uploads is shared although its host is busier.
    assertEquals(decision.outcome, "share");
    assertEquals(decision.sessionId, withUpload.sessionId);
  });

  await t.step(
    "a session whose download limit is below the app's is not shared",
    () => {
      const bigFiles = app({
        resources: { fileDownload: true, downloadMaxBytes: 2 ** 31 },
      });
      const small = makeSession("a", {
        resources: resources({ fileDownload: true, downloadMaxBytes: 2 ** 20 }),
      });
      const decision = decide({
        workspace: bigFiles,
        hosts: [makeHost("a")],
        sessions: [small],
      });
      const excluded = sessionVerdict(decision, small);
      assertEquals(excluded.verdict, "excluded");
      assertMatch(excluded.reason, /incompatible resources.*downloadMaxBytes/);
    },
  );

  await t.step(
    "a session whose pixel ratio cap is below the app's is not shared",
    () => {
      const sharp = app({ resources: { maxPixelRatio: 2 } });
      const capped = makeSession("a", {
        resources: resources({ maxPixelRatio: 1.5 }),
      });
      const decision = decide({
        workspace: sharp,
        hosts: [makeHost("a")],
        sessions: [capped],
      });
      const excluded = sessionVerdict(decision, capped);
      assertEquals(excluded.verdict, "excluded");
      assertMatch(excluded.reason, /incompatible resources.*maxPixelRatio/);
    },
  );

  await t.step("a session offering more than the app needs is shared", () => {
    const session = makeSession("a", {
      resources: resources({ fileUpload: true, printing: true }),
    });
    const decision = decide({ hosts: [makeHost("a")], sessions: [session] });
    assertEquals(decision.outcome, "share");
  });

  await t.step("an app missing from the session's host excludes it", () => {
    const plain = makeHost("plain");
    const gpu = makeHost("gpu", {
      tags: ["gpu"],
      capabilities: ["linux", "cuda"],
    });
    const windows = makeHost("win", { capabilities: ["windows"] });
    const hosts = [plain, gpu, windows];

    const onPlain = makeSession("plain");
    const needsTag = decide({
      workspace: app({ requiredTags: ["gpu"] }),
      hosts,
      sessions: [onPlain],
    });
    assertMatch(
      sessionVerdict(needsTag, onPlain).reason,
      /not on its host: lacks tags gpu/,
    );
    assertEquals(needsTag.outcome, "new");
    assertEquals(needsTag.serverUrl, url("gpu"));

    const needsCap = decide({
      workspace: app({ requiredCapabilities: ["cuda"] }),
      hosts,
      sessions: [onPlain],
    });
    assertMatch(
      sessionVerdict(needsCap, onPlain).reason,
      /not on its host: lacks capabilities cuda/,
    );
    assertEquals(needsCap.serverUrl, url("gpu"));

    const onWindows = makeSession("win");
    const linuxOnly = decide({ hosts, sessions: [onWindows] });
    assertMatch(
      sessionVerdict(linuxOnly, onWindows).reason,
      /not on its host: no windows command for calc/,
    );
    assertEquals(linuxOnly.outcome, "new");
    assertMatch(hostVerdict(linuxOnly, "win").reason, /no windows command/);
  });

  await t.step("other credentials exclude the session", () => {
    const session = makeSession("a", { credentials: "service" });
    const decision = decide({ hosts: [makeHost("a")], sessions: [session] });
    assertEquals(decision.outcome, "new");
    const verdict = sessionVerdict(decision, session);
    assertEquals(verdict.verdict, "excluded");
    assertMatch(
      verdict.reason,
      /other credentials \(service, the app uses user\)/,
    );
  });

  await t.step("an overloaded host excludes its session", () => {
    const cases: [HostOptions, RegExp][] = [
      [{ active: 9 }, /overloaded: 9\/10 sessions ≥ 90%/],
      [{ active: 7, logons: 2 }, /overloaded: 9\/10 sessions/],
      [{ cpu: 95 }, /overloaded: CPU 95% ≥ 90%/],
      [{ memory: 90 }, /overloaded: memory 90% ≥ 90%/],
    ];
    for (const [options, reason] of cases) {
      const session = makeSession("busy");
      const decision = decide({
        hosts: [makeHost("busy", options), makeHost("idle")],
        sessions: [session],
      });
      const verdict = sessionVerdict(decision, session);
      assertEquals(verdict.verdict, "excluded");
      assertMatch(verdict.reason, reason);
      assertEquals(decision.outcome, "new");
      assertEquals(decision.serverUrl, url("idle"));
    }
    // Just below every threshold, the session is still shared.
    const session = makeSession("busy");
    const decision = decide({
      hosts: [makeHost("busy", { active: 8, cpu: 89, memory: 89 })],
      sessions: [session],
    });
    assertEquals(decision.outcome, "share");
    // A limit of 100 % is no limit: a fully busy host still shares.
    const unlimited = placementSchema.parse({
      overload: { cpuUsage: 100, memoryUsage: 100 },
    });
    const saturated = makeHost("busy", { cpu: 100, memory: 100 });
    assertEquals(overloadOf(saturated, unlimited), undefined);
    assertMatch(overloadOf(saturated, SETTINGS)!, /CPU 100% ≥ 90%/);
  });

  await t.step("an unhealthy, draining or unknown host excludes", () => {
    const states: HostState[] = ["Unreachable", "Draining", "Unregistered"];
    for (const state of states) {
      const session = makeSession("sick");
      const decision = decide({
        hosts: [makeHost("sick", { state }), makeHost("ok")],
        sessions: [session],
      });
      const verdict = sessionVerdict(decision, session);
      assertEquals(verdict.verdict, "excluded");
      assertMatch(verdict.reason, new RegExp(`its host is ${state}: .+`));
      assertEquals(decision.outcome, "new");
      assertEquals(decision.serverUrl, url("ok"));
    }
    const orphan = makeSession("gone");
    const decision = decide({ hosts: [makeHost("ok")], sessions: [orphan] });
    assertMatch(
      sessionVerdict(decision, orphan).reason,
      /host is not registered/,
    );
  });

  await t.step("a host that failed this launch excludes its session", () => {
    const session = makeSession("a");
    const decision = decide({
      hosts: [makeHost("a"), makeHost("b")],
      sessions: [session],
      exclude: new Set([url("a")]),
    });
    assertMatch(sessionVerdict(decision, session).reason, /failed this launch/);
    assertEquals(decision.outcome, "new");
    assertEquals(decision.serverUrl, url("b"));
  });

  await t.step("of several sessions, the least-loaded host's wins", () => {
    const hosts = [
      makeHost("a", { active: 6, cpu: 50 }),
      makeHost("b", { active: 2, cpu: 10 }),
      makeHost("c", { active: 4, cpu: 20 }),
    ];
    const sessions = [makeSession("a"), makeSession("b"), makeSession("c")];
    const decision = decide({ hosts, sessions });
    assertEquals(decision.outcome, "share");
    assertEquals(decision.sessionId, sessions[1].sessionId);
    assertMatch(sessionVerdict(decision, sessions[1]).reason, /least-loaded/);
    for (const other of [sessions[0], sessions[2]]) {
      const verdict = sessionVerdict(decision, other);
      assertEquals(verdict.verdict, "eligible");
      assertEquals(verdict.reason, "compatible");
      assert(verdict.score! > sessionVerdict(decision, sessions[1]).score!);
    }
  });

  await t.step("no eligible session falls back to load balancing", () => {
    const sessions = [
      makeSession("a", { credentials: "service" }),
      makeSession("b", { kind: "desktop" }),
    ];
    const decision = decide({
      hosts: [makeHost("a"), makeHost("b", { active: 1 })],
      sessions,
    });
    assertEquals(decision.outcome, "new");
    assertEquals(decision.serverUrl, url("a"));
    // The sharing verdicts are kept alongside the host verdicts.
    assertEquals(decision.sessions.length, 2);
    assert(decision.sessions.every((v) => v.verdict === "excluded"));
    assertEquals(decision.hosts.length, 2);
    assertMatch(decision.summary, /new session on .*a\.hosts\.test/);
  });
});

Deno.test("load balancing", async (t) => {
  await t.step("only Healthy hosts take new sessions", () => {
    const hosts = [
      makeHost("draining", { state: "Draining" }),
      makeHost("unreachable", { state: "Unreachable" }),
      makeHost("gone", { state: "Unregistered" }),
      makeHost("ok", { active: 7 }),
    ];
    const decision = decide({ workspace: DESKTOP, hosts });
    assertEquals(decision.outcome, "new");
    assertEquals(decision.serverUrl, url("ok"));
    assertMatch(hostVerdict(decision, "draining").reason, /^Draining: drained/);
    assertMatch(hostVerdict(decision, "unreachable").reason, /^Unreachable: /);
    assertMatch(hostVerdict(decision, "gone").reason, /^Unregistered: /);
    for (const name of ["draining", "unreachable", "gone"]) {
      assertEquals(hostVerdict(decision, name).verdict, "excluded");
    }
  });

  await t.step("required tags", () => {
    const decision = decide({
      workspace: app({ requiredTags: ["gpu", "eu"] }),
      hosts: [
        makeHost("plain"),
        makeHost("gpu", { tags: ["gpu"] }),
        makeHost("gpu-eu", { tags: ["eu", "gpu"], active: 5 }),
      ],
    });
    assertEquals(decision.serverUrl, url("gpu-eu"));
    assertEquals(hostVerdict(decision, "plain").reason, "lacks tags gpu, eu");
    assertEquals(hostVerdict(decision, "gpu").reason, "lacks tags eu");
  });

  await t.step("full hosts are excluded; nearly full ones are not", () => {
    const decision = decide({
      workspace: DESKTOP,
      hosts: [
        makeHost("full", { active: 10 }),
        makeHost("busy", { active: 8, logons: 1 }),
      ],
    });
    assertEquals(hostVerdict(decision, "full").reason, "full: 10/10 sessions");
    // 9/10 is past the sharing threshold but there is still room.
    assertEquals(decision.serverUrl, url("busy"));
  });

  await t.step("the logon cap", () => {
    const decision = decide({
      workspace: DESKTOP,
      hosts: [
        makeHost("logging-on", { logons: 2 }),
        makeHost("steady", { active: 6 }),
      ],
    });
    assertEquals(
      hostVerdict(decision, "logging-on").reason,
      "2 logons in progress (cap 2)",
    );
    assertEquals(decision.serverUrl, url("steady"));
    // A higher cap lets the idle host take it.
    const relaxed = decide({
      workspace: DESKTOP,
      settings: { ...SETTINGS, maxConcurrentLogons: 3 },
      hosts: [
        makeHost("logging-on", { logons: 2 }),
        makeHost("steady", { active: 6 }),
      ],
    });
    assertEquals(relaxed.serverUrl, url("logging-on"));
  });

  await t.step("CPU and memory overload", () => {
    const decision = decide({
      workspace: DESKTOP,
      hosts: [
        makeHost("hot", { cpu: 92 }),
        makeHost("swapping", { memory: 97 }),
        makeHost("ok", { active: 8, cpu: 80, memory: 80 }),
      ],
    });
    assertEquals(
      hostVerdict(decision, "hot").reason,
      "overloaded: CPU 92% ≥ 90%",
    );
    assertEquals(
      hostVerdict(decision, "swapping").reason,
      "overloaded: memory 97% ≥ 90%",
    );
    assertEquals(decision.serverUrl, url("ok"));
  });

  await t.step("breadth picks the lowest weighted score", () => {
    // Fewer sessions is not enough: weights 0.5/0.3/0.2 make b lighter.
    const a = makeHost("a", { active: 2, cpu: 80 }); // 0.1 + 0.24 = 0.34
    const b = makeHost("b", { active: 4, cpu: 10 }); // 0.2 + 0.03 = 0.23
    const c = makeHost("c", { active: 3, memory: 60 }); // 0.15 + 0.12 = 0.27
    const decision = decide({ workspace: DESKTOP, hosts: [a, b, c] });
    assertEquals(decision.serverUrl, url("b"));
    assertEquals(hostVerdict(decision, "a").score, 0.34);
    assertEquals(hostVerdict(decision, "b").score, 0.23);
    assertEquals(hostVerdict(decision, "c").score, 0.27);
    assertEquals(hostVerdict(decision, "a").verdict, "eligible");
    assertEquals(hostVerdict(decision, "a").reason, "load score 0.34");
    assertMatch(hostVerdict(decision, "b").reason, /least loaded/);
    assertMatch(decision.summary, /breadth-first/);
    // Other weights, other winner: sessions alone favour a.
    const sessionsOnly = decide({
      workspace: DESKTOP,
      hosts: [a, b, c],
      settings: { ...SETTINGS, weights: { sessions: 1, cpu: 0, memory: 0 } },
    });
    assertEquals(sessionsOnly.serverUrl, url("a"));
  });

  await t.step("depth picks the fullest host with room", () => {
    const depth: PlacementSettings = { ...SETTINGS, strategy: "depth" };
    const decision = decide({
      workspace: DESKTOP,
      settings: depth,
      hosts: [
        makeHost("empty"),
        makeHost("half", { active: 5 }),
        makeHost("nearly", { active: 9 }),
        makeHost("full", { active: 10 }),
      ],
    });
    assertEquals(decision.serverUrl, url("nearly"));
    assertEquals(hostVerdict(decision, "full").verdict, "excluded");
    assertEquals(hostVerdict(decision, "empty").verdict, "eligible");
    assertMatch(hostVerdict(decision, "nearly").reason, /fullest with room/);
    assertMatch(decision.summary, /depth-first/);
  });

  await t.step("ties are broken by the random source", () => {
    const hosts = [makeHost("x", { active: 3 }), makeHost("y", { active: 3 })];
    for (const strategy of ["breadth", "depth"] as const) {
      const settings = { ...SETTINGS, strategy };
      const first = decide({
        workspace: DESKTOP,
        hosts,
        settings,
        random: sequence(0.1, 0.9),
      });
      const second = decide({
        workspace: DESKTOP,
        hosts,
        settings,
        random: sequence(0.9, 0.1),
      });
      assertEquals(first.serverUrl, url("x"));
      assertEquals(second.serverUrl, url("y"));
    }
    // A less loaded host wins whatever the random source says.
    const clear = decide({
      workspace: DESKTOP,
      hosts: [makeHost("x", { active: 3 }), makeHost("y", { active: 2 })],
      random: sequence(0, 0.99),
    });
    assertEquals(clear.serverUrl, url("y"));
  });

  await t.step("hosts that failed this launch are excluded", () => {
    const decision = decide({
      workspace: DESKTOP,
      hosts: [makeHost("a"), makeHost("b", { active: 5 })],
      exclude: new Set([url("a")]),
    });
    assertEquals(decision.serverUrl, url("b"));
    assertEquals(
      hostVerdict(decision, "a").reason,
      "failed to start a session for this launch",
    );
  });

  await t.step("no host: outcome none, explained", () => {
    const nothing = decide({ workspace: DESKTOP, hosts: [] });
    assertEquals(nothing.outcome, "none");
    assertEquals(nothing.summary, "no host is registered");

    const noneFit = decide({
      hosts: [
        makeHost("full", { active: 10 }),
        makeHost("drained", { state: "Draining" }),
      ],
      sessions: [makeSession("full", { credentials: "other" })],
    });
    assertEquals(noneFit.outcome, "none");
    assertEquals(noneFit.summary, "no host can take calc");
    assertEquals(noneFit.hosts.length, 2);
    assertEquals(noneFit.sessions.length, 1);
    assert(noneFit.hosts.every((v) => v.verdict === "excluded"));
  });
});

Deno.test("placement over 1,000 hosts and many sessions", () => {
  const random = sequence(0.42, 0.17, 0.93, 0.58, 0.05, 0.71);
  const hosts: HostView[] = [];
  for (let i = 0; i < 1000; i++) {
    // Deterministic spread of load; every tenth host is not Healthy.
    const state: HostState = i % 10 === 3
      ? "Unreachable"
      : i % 10 === 7
      ? "Draining"
      : "Healthy";
    hosts.push(makeHost(`h${i}`, {
      active: (i * 7) % 50,
      max: 50,
      cpu: (i * 13) % 100,
      memory: (i * 29) % 100,
      state,
      tags: i % 2 ? ["gpu"] : [],
      logons: i % 11 === 0 ? 2 : 0,
    }));
  }
  const byUrl = new Map(hosts.map((h) => [h.serverUrl, h]));
  const sessions: SessionRecord[] = [];
  for (let i = 0; i < 300; i++) {
    sessions.push(makeSession(`h${(i * 37) % 1000}`, {
      credentials: i % 5 === 0 ? "service" : "user",
    }));
  }

  // The expected share: the compatible session on the least-loaded host.
  const limits = SETTINGS.overload;
  const eligibleSessions = sessions.filter((s) => {
    const h = byUrl.get(s.serverUrl)!;
    const hb = h.heartbeat!;
    const ratio = (hb.activeSessions + h.logonsInFlight) / hb.maxSessions;
    return s.credentials === "user" && h.state === "Healthy" &&
      ratio < limits.sessionRatio && hb.cpuUsage < limits.cpuUsage &&
      hb.memoryUsage < limits.memoryUsage;
  });
  assert(eligibleSessions.length > 10, "the data must leave a choice");
  const bestScore = Math.min(
    ...eligibleSessions.map((s) =>
      loadScore(byUrl.get(s.serverUrl)!, SETTINGS)
    ),
  );
  const shared = place({
    workspace: app(),
    sessions,
    hosts,
    settings: SETTINGS,
    random,
  });
  assertExplained(shared);
  assertEquals(shared.outcome, "share");
  assertEquals(shared.sessions.length, sessions.length);
  assertEquals(
    loadScore(byUrl.get(shared.serverUrl!)!, SETTINGS),
    bestScore,
  );
  assert(eligibleSessions.some((s) => s.sessionId === shared.sessionId));

  // A desktop never shares: the least-loaded eligible host with tag "gpu".
  const eligibleHosts = hosts.filter((h) => {
    const hb = h.heartbeat!;
    return h.state === "Healthy" && h.registration.tags.includes("gpu") &&
      hb.activeSessions + h.logonsInFlight < hb.maxSessions &&
      h.logonsInFlight < SETTINGS.maxConcurrentLogons &&
      hb.cpuUsage < limits.cpuUsage && hb.memoryUsage < limits.memoryUsage;
  });
  const lowest = Math.min(...eligibleHosts.map((h) => loadScore(h, SETTINGS)));
  const fresh = place({
    workspace: workspaceSchema.parse({
      id: "desktop",
      name: "Desktop",
      kind: "desktop",
      requiredTags: ["gpu"],
    }),
    sessions,
    hosts,
    settings: SETTINGS,
    random,
  });
  assertExplained(fresh);
  assertEquals(fresh.outcome, "new");
  assertEquals(fresh.hosts.length, 1000);
  assertEquals(
    fresh.hosts.filter((v) => v.verdict !== "excluded").length,
    eligibleHosts.length,
  );
  assertEquals(loadScore(byUrl.get(fresh.serverUrl!)!, SETTINGS), lowest);
});

Deno.test("a host not shared for overload takes no new session either", async (t) => {
  // Depth-first would pick the fullest host with room: the busy one.
  const depth: PlacementSettings = { ...SETTINGS, strategy: "depth" };

  await t.step("the session's host is excluded from the new round", () => {
    const session = makeSession("busy");
    const decision = decide({
      settings: depth,
      hosts: [makeHost("busy", { active: 9 }), makeHost("idle", { active: 2 })],
      sessions: [session],
    });
    assertMatch(sessionVerdict(decision, session).reason, /overloaded: 9\/10/);
    assertEquals(decision.outcome, "new");
    assertEquals(decision.serverUrl, url("idle"));
    const busy = hostVerdict(decision, "busy");
    assertEquals(busy.verdict, "excluded");
    assertEquals(
      busy.reason,
      "overloaded: 9/10 sessions ≥ 90%: the user's session there was not shared, so not here either",
    );
  });

  await t.step("with no other host there is nowhere to go", () => {
    const decision = decide({
      settings: depth,
      hosts: [makeHost("busy", { active: 9 })],
      sessions: [makeSession("busy")],
    });
    assertEquals(decision.outcome, "none");
  });

  await t.step("without the user's session there, it takes one", () => {
    const decision = decide({
      settings: depth,
      hosts: [makeHost("busy", { active: 9 }), makeHost("idle", { active: 2 })],
    });
    assertEquals(decision.serverUrl, url("busy"));
  });

  await t.step("a session refused for another reason does not exclude", () => {
    // Other credentials, not the load, kept this session from being shared:
    // load balancing then runs as if there were no session.
    const session = makeSession("busy", { credentials: "service" });
    const decision = decide({
      settings: depth,
      hosts: [makeHost("busy", { active: 9 }), makeHost("idle", { active: 2 })],
      sessions: [session],
    });
    assertMatch(sessionVerdict(decision, session).reason, /other credentials/);
    assertEquals(decision.outcome, "new");
    assertEquals(decision.serverUrl, url("busy"));
  });
});

Deno.test("sessions placed since the last heartbeat count as load", async (t) => {
  await t.step("in hostLoad", () => {
    const load = hostLoad(makeHost("a", { active: 3, placed: 2, logons: 1 }));
    assertEquals([load.active, load.max, load.sessionRatio], [6, 10, 0.6]);
  });

  await t.step("for sharing: 7 reported + 2 placed is overloaded", () => {
    const session = makeSession("a");
    const decision = decide({
      hosts: [makeHost("a", { active: 7, placed: 2 }), makeHost("b")],
      sessions: [session],
    });
    assertMatch(
      sessionVerdict(decision, session).reason,
      /overloaded: 9\/10 sessions/,
    );
    assertEquals(decision.serverUrl, url("b"));
  });

  await t.step("for room: 8 reported + 2 placed is full", () => {
    const decision = decide({
      workspace: DESKTOP,
      hosts: [makeHost("a", { active: 8, placed: 2 })],
    });
    assertEquals(decision.outcome, "none");
    assertEquals(hostVerdict(decision, "a").reason, "full: 10/10 sessions");
  });

  await t.step("for breadth: the host just given sessions is not idle", () => {
    const decision = decide({
      workspace: DESKTOP,
      hosts: [
        makeHost("a", { active: 1, placed: 3 }),
        makeHost("b", {
          active: 3,
        }),
      ],
    });
    assertEquals(decision.serverUrl, url("b"));
    assertEquals(hostVerdict(decision, "a").score, 0.2);
  });
});

Deno.test("sharingRefusal: why a session cannot take an app", () => {
  const host = makeHost("a");
  const session = makeSession("a");
  assertEquals(
    sharingRefusal(app(), session, { host, settings: SETTINGS }),
    undefined,
  );
  const cases: [string, string | undefined][] = [
    [
      "published desktops never share a session",
      sharingRefusal(DESKTOP, session, { host, settings: SETTINGS }),
    ],
    [
      "a desktop session is not shared with apps",
      sharingRefusal(app(), { ...session, kind: "desktop" }, {
        host,
        settings: SETTINGS,
      }),
    ],
    [
      "incompatible resources: the app needs printing",
      sharingRefusal(app({ resources: { printing: true } }), session, {
        host,
        settings: SETTINGS,
      }),
    ],
    [
      "other credentials (service, the app uses user)",
      sharingRefusal(app(), { ...session, credentials: "service" }, {
        host,
        settings: SETTINGS,
      }),
    ],
    [
      "its host is not registered",
      sharingRefusal(app(), session, { host: undefined, settings: SETTINGS }),
    ],
    [
      "its host is Draining: drained by an administrator",
      sharingRefusal(app(), session, {
        host: makeHost("a", { state: "Draining" }),
        settings: SETTINGS,
      }),
    ],
    [
      "the app is not on its host: lacks tags gpu",
      sharingRefusal(app({ requiredTags: ["gpu"] }), session, {
        host,
        settings: SETTINGS,
      }),
    ],
    [
      "its host is overloaded: CPU 95% ≥ 90%",
      sharingRefusal(app(), session, {
        host: makeHost("a", { cpu: 95 }),
        settings: SETTINGS,
      }),
    ],
  ];
  for (const [expected, actual] of cases) assertEquals(actual, expected);
});
