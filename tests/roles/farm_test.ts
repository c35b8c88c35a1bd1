/**
 * `webstream -farm`: `farmConfig` fills in what a try-out farm needs (a
 * shared secret, plain HTTP on loopback, the gateway URL, the default
 * workspaces and a `demo` administrator whose printed password verifies
 * against its hash) and leaves what is configured alone; `startFarm`
 * in-process (a current-user pool, so no accounts) gives a portal where the
 * demo user signs in, launches the terminal in a real Xvfb session, reaches
 * its streamer through the gateway's relay and sees the streamer's licence
 * check-ins arrive; then it stops cleanly.
 */
import { decodeStreamerMessage } from "../../httpdocs/session/protocol.js";
import {
  type Config,
  parseConfig,
  workspaceSchema,
} from "../../mod/config/mod.ts";
import { verifyPassword } from "../../mod/gateway/auth/password.ts";
import { createLogger } from "../../mod/log/mod.ts";
import {
  DEFAULT_WORKSPACES,
  farmConfig,
  startFarm,
} from "../../mod/roles/farm.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../support/assert.ts";
import { inProcessConfig } from "../support/config.ts";
import {
  postJson,
  quietLogger,
  signIn,
  userEntry,
} from "../support/gateway_parts.ts";
import { freePort } from "../support/ports.ts";
import { findStreamer } from "../support/proc.ts";
import { waitFor } from "../support/wait.ts";

function bare(gateway: Record<string, unknown> = {}): Config {
  return parseConfig({ gateway: { port: 9100, ...gateway } }, { env: {} });
}

Deno.test("farmConfig fills in a secret, loopback HTTP, the gateway URL, workspaces and a demo admin", async () => {
  const input = bare();
  const { config, demoPassword } = await farmConfig(input);
  const g = config.gateway;

  const secret = g.backend.sharedSecret!;
  assertMatch(secret, /^[A-Za-z0-9_-]{32}$/);
  assertEquals(g.insecureHttp, true);
  assertEquals(g.listenAddress, "127.0.0.1");
  assertEquals(g.backend.gatewayUrl, "http://127.0.0.1:9100");
  assertEquals(g.workspaces, DEFAULT_WORKSPACES);
  assertEquals(g.workspaces.map((w) => [w.id, w.kind]), [
    ["desktop", "desktop"],
    ["terminal", "app"],
  ]);
  for (const w of DEFAULT_WORKSPACES) {
    assertEquals(workspaceSchema.parse(w), w, `${w.id} is a valid workspace`);
  }

  assert(demoPassword);
  assertEquals(g.auth.users.length, 1);
  const [demo] = g.auth.users;
  assertEquals([demo.name, demo.admin, demo.groups], ["demo", true, []]);
  assert(await verifyPassword(demoPassword, demo.passwordHash));
  assert(!await verifyPassword(`${demoPassword}x`, demo.passwordHash));

  // The result is a valid configuration, and the input was not touched.
  parseConfig(structuredClone(config), { env: {} });
  assertEquals(input.gateway.backend.sharedSecret, undefined);
  assertEquals(input.gateway.auth.users, []);
  assertEquals(input.gateway.workspaces, []);
  assertEquals(input.gateway.insecureHttp, false);

  // The secret never reaches a log line.
  const lines: string[] = [];
  createLogger({ format: "json", sink: (l) => lines.push(l) })
    .info(`calling with ${secret}`);
  assert(!lines[0].includes(secret), lines[0]);

  // Every farm gets its own secret and password.
  const other = await farmConfig(input);
  assert(other.config.gateway.backend.sharedSecret !== secret);
  assert(other.demoPassword !== demoPassword);
});

Deno.test("farmConfig with TLS keeps HTTPS and points the host at it", async () => {
  const { config } = await farmConfig(bare({
    tls: { certificate: "/etc/ssl/farm.pem", key: "/etc/ssl/farm.key" },
  }));
  assertEquals(config.gateway.insecureHttp, false);
  assertEquals(config.gateway.backend.gatewayUrl, "https://127.0.0.1:9100");
});

Deno.test("farmConfig leaves configured users, workspaces and settings alone", async () => {
  const carol = await userEntry("carol", "carol-password", { admin: true });
  const input = bare({
    listenAddress: "127.0.0.2",
    backend: {
      sharedSecret: "configured-secret",
      gatewayUrl: "http://127.0.0.1:9200",
    },
    auth: { users: [carol] },
    workspaces: [{
      id: "calc",
      name: "Calculator",
      kind: "app",
      command: { linux: "xcalc" },
    }],
  });
  const { config, demoPassword } = await farmConfig(input);
  assertEquals(demoPassword, undefined);
  assertEquals(config.gateway.auth.users, input.gateway.auth.users);
  assertEquals(config.gateway.workspaces, input.gateway.workspaces);
  assertEquals(config.gateway.backend.sharedSecret, "configured-secret");
  assertEquals(config.gateway.backend.gatewayUrl, "http://127.0.0.1:9200");
  assertEquals(config.gateway.listenAddress, "127.0.0.2");

  // Behind an SSO proxy there is no demo user either.
  const sso = await farmConfig(bare({
    auth: { trustedHeader: { user: "X-User", trustedProxies: ["127.0.0.1"] } },
  }));
  assertEquals(sso.demoPassword, undefined);
  assertEquals(sso.config.gateway.auth.users, []);
});

Deno.test({
  name:
    "startFarm: the demo user signs in, launches the terminal, and the farm stops cleanly",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const gatewayPort = freePort();
    const made = await inProcessConfig((base) => ({
      gateway: {
        port: gatewayPort,
        backend: {
          advertisedUrl: `http://127.0.0.1:${base + 5}`,
          instanceMetadata: "off",
          heartbeatInterval: 1,
          registrationRetryInterval: 1,
        },
      },
    }));
    made.config.gateway.storePath = `${made.dir}/gateway.sqlite`;
    const printed: string[] = [];
    const farm = await startFarm(made.config, {
      logger: quietLogger,
      print: (line) => printed.push(line),
    });
    const base = `http://127.0.0.1:${gatewayPort}`;
    const streamerPort = made.base + 10;
    let stopped = false;
    try {
      assertEquals(farm.url, `${base}/`);
      assertEquals(farm.port, gatewayPort);
      assert(farm.demoPassword);
      assertEquals(printed, [
        `webstream farm is up: open ${base}/`,
        `sign in as "demo" with password ${farm.demoPassword}`,
      ]);

      const portal = await fetch(farm.url);
      assertEquals(portal.status, 200);
      assertMatch(await portal.text(), /<html/i);

      const cookie = await signIn(base, "demo", farm.demoPassword);
      const workspaces = await (await fetch(`${base}/api/workspaces`, {
        headers: { Cookie: cookie },
      })).json();
      assertEquals(workspaces.map((w: { id: string }) => w.id), [
        "desktop",
        "terminal",
      ]);

      // The host registers with the gateway on its own.
      await waitFor(async () => {
        const hosts = await (await fetch(`${base}/admin/api/hosts`, {
          headers: { Cookie: cookie },
        })).json();
        return hosts.length === 1 && hosts[0].state === "Healthy";
      }, { what: "the farm's host to be Healthy" });

      const launched = await postJson(`${base}/api/launch`, {
        workspaceId: "terminal",
        width: 1024,
        height: 768,
      }, { Cookie: cookie });
      assertEquals(launched.status, 200, JSON.stringify(launched.body));
      assertEquals(launched.body.outcome, "new");
      const sessionId = String(launched.body.sessionId);

      // The gateway relays the browser to the session's streamer.
      const ws = new WebSocket(
        `ws://127.0.0.1:${gatewayPort}${launched.body.websocketPath}?token=${
          encodeURIComponent(String(launched.body.token))
        }`,
        { headers: { Cookie: cookie } },
      );
      ws.binaryType = "arraybuffer";
      const first = await new Promise<ArrayBuffer>(
        (resolve, reject) => {
          ws.onmessage = (event) => resolve(event.data);
          ws.onerror = () => {};
          ws.onclose = (e) => reject(new Error(`relay closed (${e.code})`));
        },
      );
      const message = decodeStreamerMessage(new Uint8Array(first));
      assert(message.type === "hello", message.type);
      const hello = message.hello;
      const sessions = await (await fetch(`${base}/admin/api/sessions`, {
        headers: { Cookie: cookie },
      })).json();
      assertEquals(sessions.length, 1);
      assertEquals(sessions[0].sessionId, sessionId);
      assertEquals(hello.sessionUuid, sessions[0].sessionUuid);
      assert(await findStreamer(streamerPort), "a streamer serves the slot");

      // The streamer checks its licence in with the gateway.
      await waitFor(async () => {
        const list = await (await fetch(`${base}/admin/api/sessions`, {
          headers: { Cookie: cookie },
        })).json();
        return list[0]?.lastCheckinAt;
      }, { what: "the streamer's first licence check-in" });
      await new Promise<void>((resolve) => {
        ws.onclose = () => resolve();
        ws.close();
      });

      await farm.stop();
      stopped = true;
      await assertRejects(() => fetch(`${base}/health`));
      await assertRejects(() =>
        fetch(`http://127.0.0.1:${made.base + 5}/health`)
      );
      assertEquals(await findStreamer(streamerPort), undefined);
    } finally {
      if (!stopped) await farm.stop();
      await Deno.remove(made.dir, { recursive: true });
    }
  },
});
