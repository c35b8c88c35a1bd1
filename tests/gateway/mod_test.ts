/**
 * `startGateway` for real on loopback: it refuses to start without the
 * farm's shared secret and without TLS or `insecureHttp`, with messages
 * naming the settings; it serves HTTPS with a self-signed certificate (and
 * the sign-in cookie is then `Secure`); its state (a registered host, a
 * store (restored hosts are probed before the gateway serves, so one that
 * answers is Healthy at once and its sessions resolve; one that is gone
 * stays Unreachable, gets no sessions and its sessions do not resolve; the
 * start waits for those probes no longer than `healthCheck.timeout` and a
 * margin, hosts that did not answer by then Unreachable); `/health`
 * sums up hosts and sessions; `/` is the portal and `/admin` the admin page;
 * API POSTs must be `application/json` (415) of at most 64 KiB (413) and
 * nested at most 64 deep (400, the unauthenticated sign-in included); a
 * signed-out cookie and the cookies of a user an administrator signed out
 * everywhere stay refused after a restart on the same store (others' do not).
 * `createGateway` wires the same routes without a listener, on the store and
 * clock it is given, and writes its state there when it stops.
 */
import type { Config } from "../../mod/config/mod.ts";
import { createGateway, startGateway } from "../../mod/gateway/mod.ts";
import { asyncStore, openSqliteStore } from "../../mod/gateway/store.ts";
import { captureLogs } from "../support/log.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../support/assert.ts";
import { exists, withTempDir } from "../support/fs.ts";
import {
  ADMIN_TOKEN,
  gatewayConfig,
  postJson,
  quietLogger,
  registerPayload,
  SECRET,
  signIn,
  userEntry,
} from "../support/gateway_parts.ts";
import { freePort } from "../support/ports.ts";
import { startScriptedHost } from "../support/scripted_host.ts";
import { selfSignedCertificate } from "../support/tls.ts";

const HTTPDOCS = new URL("../../httpdocs/", import.meta.url).pathname;

/** `startGateway` options: no logs, the real pages. */
const OPTIONS = { logger: quietLogger, staticRoot: HTTPDOCS };

/** The admin token's `Authorization` header. */
const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };

/**
 * Starts a gateway on `config`, launches alice's desktop on the host at
 * `hostUrl` (see {@linkcode registerAndLaunch}) and stops it again: what a
 * restarted gateway should restore. Resolves with the first gateway's scheme
 * and base URL, alice's cookie and the session.
 */
async function launchThenStop(
  config: Config,
  hostUrl: string,
): Promise<
  { scheme: string; base: string; cookie: string; sessionId: string }
> {
  const gateway = await startGateway(config, OPTIONS);
  const base = `http://127.0.0.1:${gateway.port}`;
  try {
    return {
      scheme: gateway.scheme,
      base,
      ...await registerAndLaunch(base, hostUrl),
    };
  } finally {
    await gateway.stop();
  }
}

/**
 * Registers the host at `hostUrl` with the gateway at `base`, signs alice in
 * and launches her desktop there; resolves with her cookie and the session.
 */
async function registerAndLaunch(
  base: string,
  hostUrl: string,
): Promise<{ cookie: string; sessionId: string }> {
  const registered = await postJson(
    `${base}/gateway/register`,
    registerPayload(hostUrl),
    { Authorization: `Bearer ${SECRET}` },
  );
  assertEquals(registered.status, 200);
  const cookie = await signIn(base, "alice", "alice-password");
  const launched = await postJson(`${base}/api/launch`, {
    workspaceId: "desktop",
  }, { Cookie: cookie });
  assertEquals(launched.status, 200, JSON.stringify(launched.body));
  return { cookie, sessionId: String(launched.body.sessionId) };
}

/** The admin API's JSON at `path` (hosts, sessions) on the gateway at `base`. */
async function adminGet(base: string, path: string) {
  return await (await fetch(`${base}${path}`, { headers: ADMIN })).json();
}

/** A gateway section on a free loopback port with its store in `dir`. */
async function section(
  dir: string,
  extra: Record<string, unknown> = {},
): Promise<Record<string, unknown>> {
  return {
    port: freePort(),
    listenAddress: "127.0.0.1",
    insecureHttp: true,
    storePath: `${dir}/state/gateway.sqlite`,
    adminToken: ADMIN_TOKEN,
    auth: {
      users: [await userEntry("alice", "alice-password", { admin: true })],
    },
    workspaces: [
      { id: "desktop", name: "Desktop", kind: "desktop" },
      { id: "desktop-2", name: "Second desktop", kind: "desktop" },
    ],
    ...extra,
  };
}

Deno.test("refuses to start without the farm's shared secret", async () => {
  await withTempDir(async (dir) => {
    const config = gatewayConfig({
      ...await section(dir),
      backend: { sharedSecret: undefined },
    });
    assertEquals(config.gateway.backend.sharedSecret, undefined);
    await assertRejects(
      () => startGateway(config, OPTIONS),
      Error,
      /^gateway\.backend\.sharedSecret \(or WEBSTREAM_GATEWAY_SECRET\) is required: hosts register with it/,
    );
    assert(!await exists(`${dir}/state`), "nothing was created");
  });
});

Deno.test("refuses to start without TLS unless insecureHttp says so", async () => {
  await withTempDir(async (dir) => {
    const config = gatewayConfig(await section(dir, { insecureHttp: false }));
    await assertRejects(
      () => startGateway(config, OPTIONS),
      Error,
      /^gateway\.tls \(certificate and key\) is required; set gateway\.insecureHttp: true to serve plain HTTP$/,
    );
    assert(!await exists(`${dir}/state`), "nothing was created");
  });
});

Deno.test("serves HTTPS with its certificate, and the cookie is Secure", async () => {
  const cert = await selfSignedCertificate();
  const client = Deno.createHttpClient({ caCerts: [cert.cert] });
  try {
    await withTempDir(async (dir) => {
      const config = gatewayConfig(
        await section(dir, {
          insecureHttp: false,
          tls: { certificate: cert.certFile, key: cert.keyFile },
        }),
      );
      const gateway = await startGateway(config, OPTIONS);
      try {
        assertEquals(gateway.scheme, "https");
        assertEquals(gateway.port, config.gateway.port);
        for (const host of ["localhost", "127.0.0.1"]) {
          const base = `https://${host}:${gateway.port}`;
          const health = await fetch(`${base}/health`, { client });
          assertEquals(health.status, 200);
          assertEquals((await health.json()).status, "healthy");
        }
        // Without the certificate as a CA, the client does not trust it.
        await assertRejects(() =>
          fetch(`https://localhost:${gateway.port}/health`)
        );
        // Plain HTTP is not served on the same port.
        await assertRejects(async () => {
          const response = await fetch(
            `http://127.0.0.1:${gateway.port}/health`,
          );
          await response.body?.cancel();
          if (response.ok) throw new Error("served plain HTTP");
          throw new Error(`answered ${response.status}`);
        });

        const response = await fetch(
          `https://localhost:${gateway.port}/api/signin`,
          {
            client,
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ user: "alice", password: "alice-password" }),
          },
        );
        assertEquals(response.status, 200);
        await response.body?.cancel();
        const cookie = response.headers.getSetCookie()[0];
        assert(cookie.split(/;\s*/).includes("Secure"), cookie);
        const me = await fetch(`https://localhost:${gateway.port}/api/me`, {
          client,
          headers: { Cookie: cookie.split(";")[0] },
        });
        assertEquals((await me.json()).user, "alice");
      } finally {
        await gateway.stop();
      }
    });
  } finally {
    client.close();
    await cert.remove();
  }
});

Deno.test({
  name: "hosts, sessions and the cookie secret survive a stop and a start",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const host = startScriptedHost();
    try {
      await withTempDir(async (dir) => {
        const config = gatewayConfig(await section(dir));
        const { scheme, base, cookie, sessionId } = await launchThenStop(
          config,
          host.url,
        );
        assertEquals(scheme, "http");
        await assertRejects(() => fetch(`${base}/health`));
        assert(await exists(config.gateway.storePath!));

        const gateway = await startGateway(config, OPTIONS);
        try {
          const listHosts = () => adminGet(base, "/admin/api/hosts");
          const hosts = await listHosts();
          assertEquals(hosts.length, 1);
          assertEquals(hosts[0].serverUrl, host.url);
          // Heard from before the gateway served: its first probe answered.
          assertEquals(hosts[0].state, "Healthy");
          assertEquals(hosts[0].lastProbe.ok, true);
          const sessions = await adminGet(base, "/admin/api/sessions");
          assertEquals(sessions.length, 1);
          assertEquals(sessions[0].sessionId, sessionId);
          assertEquals(sessions[0].sessionUuid, host.uuidOf(sessionId));
          assertEquals(sessions[0].live, true);
          // The resolver knows it again.
          const resolved = await fetch(
            `${base}/resolveSession?sessionId=${sessionId}&transport=HTTP`,
            { method: "POST" },
          );
          assertEquals(resolved.status, 200);
          assertEquals(
            (await resolved.json()).SessionId,
            host.uuidOf(sessionId),
          );
          // The cookie secret was kept: the browser is still signed in.
          const me = await fetch(`${base}/api/me`, {
            headers: { Cookie: cookie },
          });
          assertEquals(me.status, 200);
          await me.body?.cancel();
          // And launching the desktop again reconnects the same session.
          const again = await postJson(`${base}/api/launch`, {
            workspaceId: "desktop",
          }, { Cookie: cookie });
          assertEquals(again.body.outcome, "reconnect");
          assertEquals(again.body.sessionId, sessionId);
        } finally {
          await gateway.stop();
        }
      });
    } finally {
      await host.stop();
    }
  },
});

Deno.test({
  name: "/health sums up hosts and sessions",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const host = startScriptedHost();
    try {
      await withTempDir(async (dir) => {
        const gateway = await startGateway(
          gatewayConfig(await section(dir)),
          OPTIONS,
        );
        const base = `http://127.0.0.1:${gateway.port}`;
        try {
          let body = await (await fetch(`${base}/health`)).json();
          assertEquals(Object.keys(body).sort(), [
            "hosts",
            "sessions",
            "status",
            "timestamp",
            "uptime",
          ]);
          assertEquals(body.status, "healthy");
          assertEquals(body.hosts, { total: 0, healthy: 0 });
          assertEquals(body.sessions, 0);
          assert(!Number.isNaN(Date.parse(body.timestamp)));
          assertEquals(typeof body.uptime, "number");

          await registerAndLaunch(base, host.url);
          body = await (await fetch(`${base}/health`)).json();
          assertEquals(body.hosts, { total: 1, healthy: 1 });
          assertEquals(body.sessions, 1);
        } finally {
          await gateway.stop();
        }
      });
    } finally {
      await host.stop();
    }
  },
});

Deno.test("/ is the portal, /admin the admin page, other files are static", async () => {
  await withTempDir(async (dir) => {
    const gateway = await startGateway(
      gatewayConfig(await section(dir)),
      OPTIONS,
    );
    const base = `http://127.0.0.1:${gateway.port}`;
    try {
      const pages: [string, string][] = [
        ["/", "portal.html"],
        ["/admin", "admin.html"],
        ["/portal.js", "portal.js"],
        ["/style.css", "style.css"],
      ];
      for (const [path, file] of pages) {
        const response = await fetch(`${base}${path}`);
        assertEquals(response.status, 200, path);
        assertEquals(
          await response.text(),
          await Deno.readTextFile(`${HTTPDOCS}${file}`),
          path,
        );
      }
      const page = await fetch(`${base}/`);
      assertMatch(String(page.headers.get("content-type")), /^text\/html/);
      await page.body?.cancel();
      const missing = await fetch(`${base}/no-such-file.txt`);
      assertEquals(missing.status, 404);
      assertEquals(await missing.json(), { error: "not found" });
    } finally {
      await gateway.stop();
    }
  });
});

Deno.test("a taken port fails the start", async () => {
  await withTempDir(async (dir) => {
    const config = gatewayConfig(await section(dir));
    const blocker = Deno.listen({
      hostname: "127.0.0.1",
      port: config.gateway.port,
    });
    try {
      await assertRejects(
        () => startGateway(config, OPTIONS),
        Deno.errors.AddrInUse,
      );
    } finally {
      blocker.close();
    }
    // Nothing was left holding the store: it starts cleanly now.
    const gateway = await startGateway(config, OPTIONS);
    await gateway.stop();
  });
});

Deno.test("API POSTs must be JSON (415) of at most 64 KiB (413)", async (t) => {
  await withTempDir(async (dir) => {
    const gateway = await startGateway(
      gatewayConfig(await section(dir)),
      OPTIONS,
    );
    const base = `http://127.0.0.1:${gateway.port}`;
    const post = async (
      path: string,
      body: string,
      headers: Record<string, string>,
    ) => {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers,
        body,
      });
      return { status: response.status, body: await response.json() };
    };
    const signin = JSON.stringify({
      user: "alice",
      password: "alice-password",
    });
    const drain = JSON.stringify({
      serverUrl: "http://10.0.0.9:9005",
      draining: true,
    });
    const cases: [string, string, Record<string, string>][] = [
      ["/api/signin", signin, {}],
      ["/api/signout", "{}", {}],
      ["/admin/api/hosts/drain", drain, ADMIN],
      ["/gateway/register", "{}", { Authorization: `Bearer ${SECRET}` }],
    ];
    try {
      await t.step("another content type → 415", async () => {
        for (const [path, body, headers] of cases) {
          for (
            const type of [
              undefined,
              "text/plain",
              "application/x-www-form-urlencoded",
              "multipart/form-data; boundary=x",
              "application/jsonx",
            ]
          ) {
            const answer = await post(
              path,
              body,
              type ? { ...headers, "Content-Type": type } : headers,
            );
            assertEquals(answer.status, 415, `${path} as ${type}`);
            assertEquals(answer.body, {
              error: "the body must be sent as application/json",
            });
          }
        }
      });

      await t.step("application/json, with or without a charset", async () => {
        for (
          const type of ["application/json", "Application/JSON; charset=utf-8"]
        ) {
          const signedIn = await post("/api/signin", signin, {
            "Content-Type": type,
          });
          assertEquals(signedIn.status, 200, type);
          assertEquals(signedIn.body.user, "alice");
        }
        const unknownHost = await post("/admin/api/hosts/drain", drain, {
          ...ADMIN,
          "Content-Type": "application/json",
        });
        assertEquals(unknownHost.status, 404, "reached the route");
      });

      await t.step("a body over 64 KiB → 413", async () => {
        const json = { "Content-Type": "application/json" };
        // A sign-in body of exactly `size` bytes (a very long password).
        const padding = (size: number) => {
          const empty = JSON.stringify({ user: "alice", password: "" });
          return JSON.stringify({
            user: "alice",
            password: "x".repeat(size - empty.length),
          });
        };
        const limit = 64 * 1024;
        const atLimit = padding(limit);
        assertEquals(atLimit.length, limit);
        // Exactly 64 KiB is read (and refused by the schema: 400).
        assertEquals((await post("/api/signin", atLimit, json)).status, 400);
        for (const [path, , headers] of cases) {
          const answer = await post(path, padding(limit + 1), {
            ...headers,
            ...json,
          });
          assertEquals(answer.status, 413, path);
          assertEquals(answer.body, {
            error: "the body is larger than 65536 bytes",
          });
        }
      });

      await t.step(
        "JSON nested 3,000 deep → 400, before any walk",
        async () => {
          const json = { "Content-Type": "application/json" };
          const deep = "[".repeat(3000) + "]".repeat(3000);
          const deepObject = '{"a":'.repeat(3000) + "1" + "}".repeat(3000);
          // Sign-out reads no body; every route that reads one refuses it.
          const readers = cases.filter(([path]) => path !== "/api/signout");
          for (const [path, , headers] of readers) {
            for (const body of [deep, deepObject]) {
              const answer = await post(path, body, { ...headers, ...json });
              assertEquals(answer.status, 400, path);
              assertEquals(answer.body, {
                error: "JSON nested deeper than 64 levels",
                problems: ["JSON nested deeper than 64 levels"],
              });
            }
          }
          // Alice can still sign in: nothing else was lost.
          const signedIn = await post("/api/signin", signin, json);
          assertEquals(signedIn.status, 200);
        },
      );

      await t.step("GETs and the resolver are not affected", async () => {
        const health = await fetch(`${base}/health`);
        assertEquals(health.status, 200);
        await health.body?.cancel();
        const resolved = await fetch(
          `${base}/resolveSession?sessionId=x&transport=HTTP`,
          { method: "POST" },
        );
        assertEquals(resolved.status, 404);
        await resolved.body?.cancel();
      });
    } finally {
      await gateway.stop();
    }
  });
});

Deno.test({
  name: "a restored host that is gone stays Unreachable and gets no sessions",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const host = startScriptedHost();
    let hostStopped = false;
    try {
      await withTempDir(async (dir) => {
        const config = gatewayConfig(await section(dir));
        const { base, cookie, sessionId } = await launchThenStop(
          config,
          host.url,
        );
        // The host goes away while the gateway is down.
        await host.stop();
        hostStopped = true;

        const gateway = await startGateway(config, OPTIONS);
        try {
          // Its first probe failed before the gateway served; it stays as
          // it was restored.
          const [probed] = await adminGet(base, "/admin/api/hosts");
          assertEquals(probed.lastProbe.ok, false);
          assertEquals(probed.state, "Unreachable");
          assertEquals(
            probed.stateReason,
            "not heard from since the gateway started",
          );
          // Its session has no destination, and nothing is placed on it.
          const resolved = await fetch(
            `${base}/resolveSession?sessionId=${sessionId}&transport=HTTP`,
            { method: "POST" },
          );
          assertEquals(resolved.status, 404);
          await resolved.body?.cancel();
          const launched = await postJson(`${base}/api/launch`, {
            workspaceId: "desktop-2",
          }, { Cookie: cookie });
          assertEquals(launched.status, 503);
          assertMatch(
            String(launched.body.error),
            /not heard from since the gateway started/,
          );
        } finally {
          await gateway.stop();
        }
      });
    } finally {
      if (!hostStopped) await host.stop();
    }
  },
});

Deno.test({
  name:
    "createGateway: the routes without a listener, on the store and clock given",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    await withTempDir(async (dir) => {
      const path = `${dir}/gateway.sqlite`;
      const clock = { now: Date.parse("2030-01-01T00:00:00Z") };
      const gateway = await createGateway(
        gatewayConfig(await section(dir)),
        {
          store: asyncStore(openSqliteStore(path)),
          logger: quietLogger,
          staticRoot: HTTPDOCS,
          secureCookie: false,
          now: () => clock.now,
        },
      );
      const hostUrl = "http://127.0.0.1:9";
      try {
        clock.now += 5_000;
        let health = await (await gateway.app.request("/health")).json();
        assertEquals(health.timestamp, "2030-01-01T00:00:05.000Z");
        assertEquals(health.uptime, 5);
        const registered = await gateway.app.request("/gateway/register", {
          method: "POST",
          headers: {
            Authorization: `Bearer ${SECRET}`,
            "Content-Type": "application/json",
          },
          body: JSON.stringify(registerPayload(hostUrl)),
        });
        assertEquals(registered.status, 200);
        assertEquals(gateway.registry.get(hostUrl)?.registeredAt, clock.now);
        health = await (await gateway.app.request("/health")).json();
        assertEquals(health.hosts.total, 1);
      } finally {
        await gateway.stop();
      }
      // Its state is in the store it was given.
      const check = openSqliteStore(path);
      try {
        assertEquals(check.loadHosts().map((h) => h.serverUrl), [hostUrl]);
        assert(check.getSetting("cookieSecret"), "the cookie secret");
      } finally {
        check.close();
      }
    });
  },
});

/**
 * A listener that accepts connections and never answers (a host that hangs);
 * `close` drops them.
 */
function startSilentHost(): { url: string; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  (async () => {
    for await (const conn of listener) held.push(conn);
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    close() {
      listener.close();
      for (const conn of held) conn.close();
    },
  };
}

Deno.test({
  name:
    "a start waits for restored hosts that do not answer no longer than the bound; they stay Unreachable",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const silent = startSilentHost();
    try {
      await withTempDir(async (dir) => {
        // One probe at a time, each given up after 1 s: five hosts that hang
        // would hold the start 5 s; the bound is 1 s and the margin.
        const config = gatewayConfig(
          await section(dir, {
            healthCheck: { interval: 10, timeout: 1, maxConcurrentProbes: 1 },
            storePath: `${dir}/gateway.sqlite`,
          }),
        );
        const urls = [1, 2, 3, 4, 5].map((n) => `${silent.url}/host-${n}`);
        const options = {
          logger: quietLogger,
          staticRoot: HTTPDOCS,
          secureCookie: false,
        };
        const path = config.gateway.storePath!;
        const first = await createGateway(config, {
          ...options,
          store: asyncStore(openSqliteStore(path)),
        });
        try {
          for (const url of urls) {
            const registered = await first.app.request("/gateway/register", {
              method: "POST",
              headers: {
                Authorization: `Bearer ${SECRET}`,
                "Content-Type": "application/json",
              },
              body: JSON.stringify(registerPayload(url)),
            });
            assertEquals(registered.status, 200);
          }
        } finally {
          await first.stop();
        }

        const { logger, records } = captureLogs("info");
        const again = await createGateway(config, {
          ...options,
          logger,
          store: asyncStore(openSqliteStore(path)),
        });
        try {
          const waited = records.find((r) => r.msg === "restored hosts probed");
          assert(waited, "the wait was logged");
          assertEquals(
            { hosts: waited.hosts, heard: waited.heard },
            { hosts: 5, heard: 0 },
          );
          assertEquals(waited.complete, false, "ended by the bound");
          assertEquals(new Set(again.registry.unheard()), new Set(urls));
          for (const url of urls) {
            const view = again.registry.get(url)!;
            assertEquals(view.state, "Unreachable");
            assertEquals(
              view.stateReason,
              "not heard from since the gateway started",
            );
          }
        } finally {
          await again.stop();
        }
      });
    } finally {
      silent.close();
    }
  },
});
