/**
 * The host's HTTP surface on a real Deno.serve listener: `/health`,
 * `/getConnection` status mapping, the static web client (content types, no
 * path traversal, 404s), `/control` access rules, `/getConnection`'s 400
 * for bad headers (every problem named, nothing started), the gateway's
 * `GET /sessions` and `POST /sessions/:uuid/logoff` (shared secret only), and
 * the log-off body bounded in size (413) and depth (400 before parsing). The
 * pool underneath is
 * real; its platform is the scripted one from tests/support.
 */
import { parseConfig } from "../../mod/config/mod.ts";
import { encodeHeaderValue } from "../../mod/contract/mod.ts";
import { createHostApp } from "../../mod/host/mod.ts";
import { createLogger } from "../../mod/log/mod.ts";
import { SessionPool } from "../../mod/pool/mod.ts";
import { assert, assertEquals, assertMatch } from "../support/assert.ts";
import {
  FakeStreamer,
  ScriptedPlatform,
} from "../support/scripted_platform.ts";
import { openSocket } from "../support/ws.ts";
import { waitFor } from "../support/wait.ts";

const SECRET = "gateway-secret-1";
const quiet = createLogger({ sink: () => {} });

async function setup(options: { secret?: string; relayPort?: number } = {}) {
  const root = await Deno.makeTempDir();
  await Deno.mkdir(`${root}/sub`);
  await Deno.writeTextFile(`${root}/index.html`, "<h1>client</h1>");
  await Deno.writeTextFile(`${root}/app.js`, "export {};");
  await Deno.writeTextFile(`${root}/style.css`, "body{}");
  await Deno.writeTextFile(`${root}/sub/data.json`, "{}");
  const outside = `${root}-secret.txt`;
  await Deno.writeTextFile(outside, "top secret");
  const config = parseConfig({
    webstreamSettings: {
      serverMaxSessionCount: 1,
      warmSessionCount: 1,
      basePortNumber: 9000,
      // No real streamer ever attaches to a replacement session here.
      provisioningTimeout: 0.5,
    },
  }, { env: {} });
  const platform = new ScriptedPlatform();
  const pool = new SessionPool({
    config,
    platform,
    controlUrl: "ws://127.0.0.1:1/control",
    bindAddress: "127.0.0.1",
    logger: quiet,
    tokenAckTimeoutMs: 200,
  });
  const app = createHostApp({
    pool,
    logger: quiet,
    staticRoot: root,
    advertisedHost: "host-a.internal",
    sharedSecret: options.secret,
    control: {},
    relayPort: options.relayPort,
  });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  return {
    app,
    pool,
    base,
    port: server.addr.port,
    outsideName: outside.split("/").pop()!,
    async ready() {
      await pool.start();
      await waitFor(() => pool.snapshot()[0].display);
      const streamer = new FakeStreamer("webs01", pool);
      const result = pool.attach(streamer);
      assert(result.ok);
      return streamer;
    },
    async close() {
      await pool.shutdown();
      await server.shutdown();
      await Deno.remove(root, { recursive: true });
      await Deno.remove(outside);
    },
  };
}

/** Sends a raw request line, so no client normalizes the path first. */
async function rawGet(port: number, path: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(
    new TextEncoder().encode(
      `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    ),
  );
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  return new TextDecoder().decode(
    new Uint8Array(chunks.flatMap((c) => [...c])),
  );
}

Deno.test("/health answers 503 while starting, then the seed's body", async () => {
  const host = await setup();
  try {
    const starting = await fetch(`${host.base}/health`);
    assertEquals(starting.status, 503);
    assertEquals((await starting.json()).status, "starting");
    await host.ready();
    const response = await fetch(`${host.base}/health`);
    assertEquals(response.status, 200);
    const body = await response.json();
    assertEquals(Object.keys(body).sort(), [
      "sessions",
      "status",
      "timestamp",
      "uptime",
    ]);
    assertEquals(body.status, "healthy");
    assertEquals(body.sessions, { total: 1, active: 0, available: 1 });
    assert(!Number.isNaN(Date.parse(body.timestamp)));
    assert(Number.isInteger(body.uptime) && body.uptime >= 0);
  } finally {
    await host.close();
  }
});

Deno.test("/getConnection maps the pool's answers to HTTP", async () => {
  const host = await setup({ secret: SECRET, relayPort: 9000 });
  const get = (id: string, headers: Record<string, string> = {}) =>
    fetch(`${host.base}/getConnection`, {
      headers: {
        "X-Session-ID": id,
        Authorization: `Bearer ${SECRET}`,
        ...headers,
      },
    });
  try {
    const early = await get("a");
    assertEquals(early.status, 503);
    assertEquals(early.headers.get("retry-after"), "5");
    assertMatch((await early.json()).error, /starting/);

    await host.ready();
    const ok = await get("a");
    assertEquals(ok.status, 200);
    const body = await ok.json();
    assertEquals(body.host, "host-a.internal");
    assertEquals(body.port, 9010);
    assertEquals(body.path, "/stream");
    assertEquals(body.relay, {
      port: 9000,
      path: `/session/${body.sessionUuid}`,
    });
    assertMatch(body.token, /^[A-Za-z0-9_-]{43}$/);

    const full = await get("b");
    assertEquals(full.status, 503);
    assertMatch(full.headers.get("retry-after") ?? "", /^\d+$/);
    assertEquals((await full.json()).error, "all pool sessions are in use");

    const denied = await fetch(`${host.base}/getConnection`, {
      headers: { "X-Session-ID": "a" },
    });
    assertEquals(denied.status, 401);
    assertEquals(
      denied.headers.get("www-authenticate"),
      'Bearer realm="webstream"',
    );
    await denied.body?.cancel();

    const bad = await get("a", { "X-Policy-JSON": "[" });
    assertEquals(bad.status, 400);
    const problem = await bad.json();
    assertMatch(problem.problems[0], /^X-Policy-JSON: not valid JSON/);
  } finally {
    await host.close();
  }
});

Deno.test("a streamer that stops answering turns /getConnection into a 503, not a crash", async () => {
  const host = await setup();
  try {
    const streamer = await host.ready();
    streamer.ackTokens = false;
    const response = await fetch(`${host.base}/getConnection`, {
      headers: { "X-Session-ID": "a" },
    });
    assertEquals(response.status, 503);
    await response.body?.cancel();
    assertEquals(
      (await fetch(`${host.base}/health`).then((r) => r.json())).status,
      "healthy",
    );
  } finally {
    await host.close();
  }
});

Deno.test("the web client is served with content types; nothing outside it is", async () => {
  const host = await setup();
  try {
    const types: [string, RegExp][] = [
      ["/", /^text\/html/],
      ["/index.html", /^text\/html/],
      ["/app.js", /javascript/],
      ["/style.css", /^text\/css/],
      ["/sub/data.json", /^application\/json/],
    ];
    for (const [path, type] of types) {
      const response = await fetch(`${host.base}${path}`);
      assertEquals(response.status, 200, path);
      assertMatch(response.headers.get("content-type") ?? "", type);
      await response.body?.cancel();
    }
    for (const path of ["/missing.js", "/sub/", "/sub/nope"]) {
      const response = await fetch(`${host.base}${path}`);
      assertEquals(response.status, 404, path);
      await response.body?.cancel();
    }
    for (
      const path of [
        `/../${host.outsideName}`,
        `/%2e%2e/${host.outsideName}`,
        "/%2e%2e/",
        "/..%2f..%2fetc/passwd",
        "/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/sub/../../etc/passwd",
        "//etc/passwd",
      ]
    ) {
      const reply = await rawGet(host.port, path);
      assert(!reply.includes("root:"), `${path} leaked /etc/passwd`);
      assert(
        !reply.includes("top secret"),
        `${path} leaked a file outside the root`,
      );
      assertMatch(reply, /^HTTP\/1\.1 (400|404)/, path);
    }
  } finally {
    await host.close();
  }
});

Deno.test("/control accepts local WebSockets only", async () => {
  const host = await setup();
  try {
    await host.ready();
    const plain = await fetch(`${host.base}/control`);
    assertEquals(plain.status, 426);
    await plain.body?.cancel();
    const remote = await host.app.fetch(
      new Request("http://h/control", { headers: { upgrade: "websocket" } }),
      { remoteAddr: { transport: "tcp", hostname: "10.1.2.3", port: 5000 } },
    );
    assertEquals(remote.status, 403);
    const ws = await openSocket(`ws://127.0.0.1:${host.port}/control`);
    ws.socket.send("REQUEST_SESSION_INFO:webs01");
    // Slot 1 already has its streamer: the newcomer is refused.
    const closed = await ws.closed;
    assertEquals(closed.code, 1008);
    assertMatch(closed.reason, /not awaiting a streamer/);
  } finally {
    await host.close();
  }
});

Deno.test("/sessions lists bound sessions and logoff ends one, for the gateway only", async () => {
  const host = await setup({ secret: SECRET });
  const auth = { Authorization: `Bearer ${SECRET}` };
  const list = async (headers: Record<string, string> = auth) => {
    const response = await fetch(`${host.base}/sessions`, { headers });
    return { status: response.status, body: await response.json() };
  };
  const logOff = async (
    uuid: string,
    body: unknown = { reason: "the user logged off" },
    headers: Record<string, string> = auth,
  ) => {
    const response = await fetch(`${host.base}/sessions/${uuid}/logoff`, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: await response.json() };
  };
  try {
    await host.ready();
    assertEquals((await list()).body, { sessions: [] });
    const launched = await fetch(`${host.base}/getConnection`, {
      headers: { "X-Session-ID": "gw-1", ...auth },
    }).then((r) => r.json());
    assertEquals((await list({})).status, 401);
    assertEquals((await list()).body, {
      sessions: [{
        sessionUuid: launched.sessionUuid,
        sessionId: "gw-1",
        slot: 1,
        clientConnected: false,
      }],
    });

    assertEquals((await logOff(launched.sessionUuid, {}, {})).status, 401);
    const bad = await logOff(launched.sessionUuid, { reason: 7 });
    assertEquals(bad.status, 400);
    assertMatch(bad.body.error, /reason/);
    const unknown = await logOff(crypto.randomUUID());
    assertEquals(unknown.status, 404);
    assertEquals((await list()).body.sessions.length, 1, "nothing ended yet");

    const ended = await logOff(launched.sessionUuid);
    assertEquals(ended, { status: 200, body: { ok: true } });
    assertEquals((await list()).body, { sessions: [] });
    assertEquals(
      (await logOff(launched.sessionUuid)).status,
      404,
      "already gone",
    );
  } finally {
    await host.close();
  }
});

Deno.test("POST /sessions/:uuid/logoff: JSON nested 3,000 deep is a 400; an ordinary body logs off", async () => {
  const host = await setup({ secret: SECRET });
  const logOff = (uuid: string, body: string) =>
    fetch(`${host.base}/sessions/${uuid}/logoff`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${SECRET}`,
        "Content-Type": "application/json",
      },
      body,
    });
  try {
    await host.ready();
    const launched = await fetch(`${host.base}/getConnection`, {
      headers: { "X-Session-ID": "a", Authorization: `Bearer ${SECRET}` },
    });
    assertEquals(launched.status, 200);
    const { sessionUuid } = await launched.json();

    const message = "JSON nested deeper than 64 levels";
    for (
      const body of [
        "[".repeat(3000) + "]".repeat(3000),
        '{"reason":' + "[".repeat(3000) + "]".repeat(3000) + "}",
      ]
    ) {
      const deep = await logOff(sessionUuid, body);
      assertEquals(deep.status, 400);
      assertEquals(await deep.json(), { error: message, problems: [message] });
    }
    // Nothing was lost: the session is still there.
    assertEquals(host.pool.liveSessions().map((s) => s.sessionUuid), [
      sessionUuid,
    ]);

    const big = await logOff(
      sessionUuid,
      JSON.stringify({ reason: "x".repeat(64 * 1024) }),
    );
    assertEquals(big.status, 413);
    assertEquals(await big.json(), {
      error: "the body is larger than 65536 bytes",
    });

    const ok = await logOff(sessionUuid, JSON.stringify({ reason: "admin" }));
    assertEquals(ok.status, 200);
    assertEquals(await ok.json(), { ok: true });
    assertEquals(host.pool.liveSessions(), []);
  } finally {
    await host.close();
  }
});

Deno.test("/getConnection refuses bad headers with a 400 naming each, before anything starts", async () => {
  const host = await setup({ secret: SECRET });
  const get = (headers: Record<string, string>, query = "") =>
    fetch(`${host.base}/getConnection${query}`, {
      headers: { Authorization: `Bearer ${SECRET}`, ...headers },
    });
  try {
    const streamer = await host.ready();
    // A command that decodes to NUL: refused, not tried (no 503).
    const nul = await get({
      "X-Session-ID": "a",
      "X-App-Command": encodeHeaderValue("xterm\0"),
    });
    assertEquals(nul.status, 400);
    assertEquals(await nul.json(), {
      error: "X-App-Command: contains a control character (U+0000)",
      problems: ["X-App-Command: contains a control character (U+0000)"],
    });

    // Every gap at once, each named.
    const bad = await get({
      "X-Session-ID": "a",
      "X-Workspace-Name": "n".repeat(5000),
      "X-App-Name": "=?utf-8?b?%%%?=",
      "X-App-Command": "xterm",
    }, "?width=1280&width=1024");
    assertEquals(bad.status, 400);
    const body = await bad.json();
    assertEquals(body.problems, [
      "width: given 2 times, expected at most once",
      "X-Workspace-Name: longer than 256 characters",
      "X-App-Name: a malformed encoded word (expected =?utf-8?b?<base64>?=)",
    ]);
    assertEquals(body.error, body.problems.join("; "));

    // Nothing was started or bound; the pool still serves a good request.
    assertEquals(
      streamer.received.filter((m) => m.type === "SESSION_INFO"),
      [],
    );
    assertEquals(host.pool.liveSessions(), []);
    const ok = await get({
      "X-Session-ID": "a",
      "X-Workspace-Name": encodeHeaderValue("Büro"),
      "X-App-Command": encodeHeaderValue("xterm -T Büro"),
    }, "?width=1280&height=720");
    assertEquals(ok.status, 200);
    await ok.body?.cancel();
    assertEquals(
      streamer.received.filter((m) => m.type === "SESSION_INFO").map((m) =>
        m.type === "SESSION_INFO" ? m.commandLineParams : ""
      ),
      ["xterm -T Büro"],
    );
  } finally {
    await host.close();
  }
});
