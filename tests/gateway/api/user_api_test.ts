/**
 * The browser's API on a loopback server over real gateway parts: sign-in
 * (the cookie's attributes, wrong passwords, lock-out, 503 with Retry-After
 * when too many password checks run at once) and sign-out,
 * `/api/me` 401 when signed out, workspaces filtered by users and groups,
 * launch errors (unknown workspace 404, not allowed 403, a bad body 400
 * naming the field, no host 503), a launch against a scripted host with the
 * user's sessions, and the WebSocket relay `/ws/:sessionId`: relayed to the
 * session's streamer for its owner, refused for another user's session and
 * for a request that is not an upgrade, a 502 for a session whose address
 * makes no URL; logging one's own session off (ended on its real host,
 * 404 for another user's, 502 and kept when the host cannot be reached);
 * `streamerUrl` brackets IPv6 literals exactly once.
 */
import { Hono } from "hono";
import { streamerUrl } from "../../../mod/gateway/api/user_api.ts";
import { hashPassword } from "../../../mod/gateway/auth/password.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
} from "../../support/assert.ts";
import {
  addHost,
  gatewayConfig,
  type GatewayParts,
  gatewayParts,
  partsUserApi,
  postJson,
  SECRET,
  serveWithHost,
  sessionRecord,
  signIn,
  userEntry,
} from "../../support/gateway_parts.ts";
import { startPoolHost } from "../../support/pool_host.ts";
import { freePort } from "../../support/ports.ts";
import type { ScriptedHost } from "../../support/scripted_host.ts";

interface Harness {
  parts: GatewayParts;
  /** The app, to call in-process. */
  app: Hono;
  url: string;
  host: ScriptedHost;
  get(path: string, cookie?: string): Promise<Response>;
  post(
    path: string,
    body: unknown,
    cookie?: string,
  ): ReturnType<typeof postJson>;
  stop(): Promise<void>;
}

async function start(): Promise<Harness> {
  const parts = gatewayParts(gatewayConfig({
    auth: {
      users: [
        await userEntry("alice", "alice-password", { groups: ["eng"] }),
        await userEntry("bob", "bob-password"),
        await userEntry("carol", "carol-password", { groups: ["ops"] }),
      ],
    },
    workspaces: [
      { id: "desktop", name: "Desktop", kind: "desktop" },
      {
        id: "terminal",
        name: "Terminal",
        kind: "app",
        command: { linux: "xterm" },
      },
      {
        id: "eng-tools",
        name: "Engineering tools",
        kind: "app",
        command: { linux: "xterm -T eng" },
        groups: ["eng"],
      },
      {
        id: "carol-app",
        name: "Carol's app",
        kind: "app",
        command: { linux: "xclock" },
        users: ["carol"],
      },
    ],
  }));
  const app = new Hono();
  app.route("/", partsUserApi(parts));
  const served = serveWithHost(parts, app);
  const cookies = (cookie?: string): Record<string, string> =>
    cookie ? { Cookie: cookie } : {};
  return {
    parts,
    app,
    url: served.url,
    host: served.host,
    get: (path, cookie) =>
      fetch(`${served.url}${path}`, { headers: cookies(cookie) }),
    post: (path, body, cookie) =>
      postJson(`${served.url}${path}`, body, cookies(cookie)),
    stop: served.stop,
  };
}

Deno.test("sign in, who am I, sign out", async () => {
  const h = await start();
  try {
    const response = await fetch(`${h.url}/api/signin`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: "alice", password: "alice-password" }),
    });
    assertEquals(response.status, 200);
    assertEquals(await response.json(), {
      user: "alice",
      groups: ["eng"],
      admin: false,
    });
    const setCookie = response.headers.getSetCookie();
    assertEquals(setCookie.length, 1);
    const attributes = setCookie[0].split(/;\s*/);
    assertMatch(attributes[0], /^webstream_session=.+/);
    for (const expected of ["HttpOnly", "SameSite=Strict", "Path=/"]) {
      assert(attributes.includes(expected), setCookie[0]);
    }
    assert(attributes.includes("Max-Age=28800"), setCookie[0]);
    assert(!attributes.includes("Secure"), "plain HTTP: not Secure");
    const cookie = attributes[0];

    const me = await h.get("/api/me", cookie);
    assertEquals(me.status, 200);
    assertEquals(await me.json(), {
      user: "alice",
      groups: ["eng"],
      admin: false,
    });

    const out = await fetch(`${h.url}/api/signout`, {
      method: "POST",
      headers: { Cookie: cookie, "Content-Type": "application/json" },
      body: "{}",
    });
    assertEquals(out.status, 204);
    const cleared = out.headers.getSetCookie()[0];
    assertMatch(cleared, /^webstream_session=;/);
    assertMatch(cleared, /Max-Age=0/);

    // A browser that applied the sign-out sends no cookie.
    const after = await h.get("/api/me");
    assertEquals(after.status, 401);
    assertEquals(await after.json(), { error: "sign in first" });
    // One that kept the cookie (or a copy of it) is refused too: revoked.
    const kept = await h.get("/api/me", cookie);
    assertEquals(kept.status, 401);
    assertEquals(await kept.json(), { error: "sign in first" });
    const tampered = await h.get("/api/me", `${cookie.slice(0, -3)}abc`);
    assertEquals(tampered.status, 401);
    await tampered.body?.cancel();
  } finally {
    await h.stop();
  }
});

Deno.test("wrong sign-ins: one answer for a wrong name or password, a bad body named, lock-out", async () => {
  const h = await start();
  try {
    const wrong = await h.post("/api/signin", {
      user: "alice",
      password: "nope",
    });
    assertEquals(wrong.status, 401);
    assertEquals(wrong.body, { error: "wrong user name or password" });
    assertEquals(wrong.headers.getSetCookie(), []);
    const unknown = await h.post("/api/signin", {
      user: "mallory",
      password: "alice-password",
    });
    assertEquals(unknown.status, 401);
    assertEquals(unknown.body, wrong.body);

    const bad = await h.post("/api/signin", { user: "alice" });
    assertEquals(bad.status, 400);
    assertEquals(bad.body.problems, ["password: expected string, got nothing"]);

    // Four more failures (five in all) lock the name at this address, even
    // for the right password.
    for (let i = 0; i < 4; i++) {
      const again = await h.post("/api/signin", {
        user: "alice",
        password: `guess-${i}`,
      });
      assertEquals(again.status, 401);
    }
    const locked = await h.post("/api/signin", {
      user: "alice",
      password: "alice-password",
    });
    assertEquals(locked.status, 429);
    assertMatch(String(locked.body.error), /too many failed sign-ins/);
    // Other names are not affected.
    await signIn(h.url, "bob", "bob-password");
  } finally {
    await h.stop();
  }
});

Deno.test("each signed-in route is a 401 when signed out", async () => {
  const h = await start();
  try {
    for (const path of ["/api/me", "/api/workspaces", "/api/sessions"]) {
      const response = await h.get(path);
      assertEquals(response.status, 401, path);
      await response.body?.cancel();
    }
    const launch = await h.post("/api/launch", { workspaceId: "desktop" });
    assertEquals(launch.status, 401);
    const ws = await h.get(`/ws/${crypto.randomUUID()}`);
    assertEquals(ws.status, 401);
    await ws.body?.cancel();
  } finally {
    await h.stop();
  }
});

Deno.test("workspaces are filtered by users and groups", async () => {
  const h = await start();
  try {
    const expected: Record<string, string[]> = {
      alice: ["desktop", "terminal", "eng-tools"],
      bob: ["desktop", "terminal"],
      carol: ["desktop", "terminal", "carol-app"],
    };
    for (const [user, ids] of Object.entries(expected)) {
      const cookie = await signIn(h.url, user, `${user}-password`);
      const list = await (await h.get("/api/workspaces", cookie)).json();
      assertEquals(list.map((w: { id: string }) => w.id), ids, user);
      assertEquals(Object.keys(list[0]).sort(), ["id", "kind", "name"]);
    }
    const alice = await signIn(h.url, "alice", "alice-password");
    const list = await (await h.get("/api/workspaces", alice)).json();
    assertEquals(list[2], {
      id: "eng-tools",
      name: "Engineering tools",
      kind: "app",
    });
  } finally {
    await h.stop();
  }
});

Deno.test("launch errors: unknown workspace, not allowed, bad body, no host", async (t) => {
  const h = await start();
  try {
    const bob = await signIn(h.url, "bob", "bob-password");
    await t.step("an unknown workspace → 404", async () => {
      const answer = await h.post("/api/launch", { workspaceId: "nope" }, bob);
      assertEquals(answer.status, 404);
      assertEquals(answer.body.error, 'no workspace "nope"');
    });
    await t.step("a workspace the user may not launch → 403", async () => {
      for (const id of ["eng-tools", "carol-app"]) {
        const answer = await h.post("/api/launch", { workspaceId: id }, bob);
        assertEquals(answer.status, 403);
        assertEquals(answer.body.error, `bob may not launch ${id}`);
      }
    });
    await t.step("a bad body → 400 naming the field", async () => {
      const cases: [unknown, RegExp][] = [
        [{}, /^workspaceId: expected string, got nothing$/],
        [{ workspaceId: 7 }, /^workspaceId: expected string/],
        [{ workspaceId: "desktop", width: "wide" }, /^width: /],
        [{ workspaceId: "desktop", height: 10 }, /^height: /],
        [{ workspaceId: "desktop", sessionId: "abc" }, /^sessionId: /],
      ];
      for (const [body, pattern] of cases) {
        const answer = await h.post("/api/launch", body, bob);
        assertEquals(answer.status, 400, JSON.stringify(body));
        const problems = answer.body.problems as string[];
        assertEquals(problems.length, 1, problems.join("\n"));
        assertMatch(problems[0], pattern);
      }
    });
    await t.step(
      "no host → 503 with Retry-After and the decision",
      async () => {
        const answer = await h.post("/api/launch", {
          workspaceId: "terminal",
        }, bob);
        assertEquals(answer.status, 503);
        assertEquals(answer.headers.get("retry-after"), "10");
        assertEquals(answer.body.error, "no host is registered");
        assert(h.parts.launcher.decision(String(answer.body.decisionId)));
      },
    );
    await t.step("a host refusing the call → 503", async () => {
      addHost(h.parts.registry, h.host.url);
      h.host.script = () =>
        Response.json({ error: "bad request" }, { status: 400 });
      const answer = await h.post("/api/launch", {
        workspaceId: "terminal",
      }, bob);
      assertEquals(answer.status, 503);
      assertEquals(answer.headers.get("retry-after"), "10");
      assertMatch(String(answer.body.error), /answered 400: bad request/);
    });
    assertEquals(h.parts.sessions.size, 0);
  } finally {
    await h.stop();
  }
});

/** Opens `/ws/...` with a cookie; resolves with the socket and its first message. */
function openRelay(
  url: string,
  cookie: string,
): Promise<{ socket: WebSocket; first: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { Cookie: cookie } });
    socket.onmessage = (event) =>
      resolve({ socket, first: String(event.data) });
    socket.onerror = () => {};
    socket.onclose = (event) =>
      reject(new Error(`closed before a message (${event.code})`));
  });
}

function nextMessage(socket: WebSocket): Promise<string> {
  return new Promise((resolve, reject) => {
    socket.onmessage = (event) => resolve(String(event.data));
    socket.onclose = () => reject(new Error("closed"));
  });
}

function closed(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    socket.onclose = () => resolve();
    socket.close();
  });
}

Deno.test({
  name:
    "a launch, the user's sessions, and the WebSocket relay to its streamer",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn(t) {
    const h = await start();
    try {
      addHost(h.parts.registry, h.host.url);
      const alice = await signIn(h.url, "alice", "alice-password");
      const bob = await signIn(h.url, "bob", "bob-password");
      const launched = await h.post("/api/launch", {
        workspaceId: "terminal",
        width: 1280,
        height: 720,
      }, alice);
      assertEquals(launched.status, 200, JSON.stringify(launched.body));
      assertEquals(launched.headers.get("cache-control"), "no-store");
      const { sessionId, token, websocketPath } = launched.body as Record<
        string,
        string
      >;
      assertEquals(Object.keys(launched.body).sort(), [
        "decisionId",
        "outcome",
        "sessionId",
        "token",
        "websocketPath",
      ]);
      assertEquals(launched.body.outcome, "new");
      assertEquals(websocketPath, `/ws/${sessionId}`);
      assertEquals(h.host.requests.length, 1);
      assertEquals(
        h.host.requests[0].headers.get("x-session-id"),
        sessionId,
      );
      assertEquals(h.host.requests[0].url.search, "?width=1280&height=720");

      await t.step("/api/sessions lists the user's own sessions", async () => {
        const mine = await (await h.get("/api/sessions", alice)).json();
        assertEquals(mine.length, 1);
        assertEquals(mine[0].sessionId, sessionId);
        assertEquals(mine[0].kind, "app");
        assertEquals(mine[0].workspaceIds, ["terminal"]);
        assertEquals(await (await h.get("/api/sessions", bob)).json(), []);
      });

      await t.step("the owner is relayed to the streamer", async () => {
        const wsUrl = `${h.url.replace("http", "ws")}${websocketPath}?token=${
          encodeURIComponent(token)
        }`;
        const { socket, first } = await openRelay(wsUrl, alice);
        try {
          // The scripted streamer greets with the token it was opened with.
          assertEquals(JSON.parse(first), { type: "hello", token });
          socket.send("ping through the gateway");
          assertEquals(await nextMessage(socket), "ping through the gateway");
        } finally {
          await closed(socket);
        }
        // The relay counts what went through (strings by their UTF-16 size).
        const metrics = (await h.parts.metrics.render()).body;
        const toHost = metrics.match(
          /^webstream_proxy_bytes_total\{direction="to_host"\} (\d+)$/m,
        );
        assert(toHost, "bytes to the host are counted");
        assert(Number(toHost[1]) >= "ping through the gateway".length);
      });

      await t.step("another user's session is refused", async () => {
        const response = await h.get(websocketPath, bob);
        assertEquals(response.status, 404);
        assertEquals(await response.json(), { error: "no such session" });
        await assertRejects(() =>
          openRelay(`${h.url.replace("http", "ws")}${websocketPath}`, bob)
        );
      });

      await t.step("an unknown session is a 404", async () => {
        const response = await h.get(`/ws/${crypto.randomUUID()}`, alice);
        assertEquals(response.status, 404);
        await response.body?.cancel();
      });

      await t.step("a request that is not an upgrade → 426", async () => {
        const response = await h.get(websocketPath, alice);
        assertEquals(response.status, 426);
        assertEquals(await response.json(), {
          error: "expected a WebSocket upgrade",
        });
      });
    } finally {
      await h.stop();
    }
  },
});

Deno.test("too many sign-ins at once: 503 with Retry-After: 1", async () => {
  // A real scrypt cost keeps the first four checks running.
  const parts = gatewayParts(gatewayConfig({
    auth: {
      users: [{
        name: "dave",
        passwordHash: await hashPassword("dave-password"),
        groups: [],
        admin: false,
      }],
    },
  }));
  try {
    const app = partsUserApi(parts);
    const env = {
      remoteAddr: { hostname: "192.0.2.5", port: 40000, transport: "tcp" },
    };
    // In-process, so all five are under way before any check ends.
    const responses = await Promise.all(
      Array.from({ length: 5 }, () =>
        app.fetch(
          new Request("http://gateway.test/api/signin", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ user: "dave", password: "dave-password" }),
          }),
          env,
        )),
    );
    assertEquals(responses.map((r) => r.status), [200, 200, 200, 200, 503]);
    assertEquals(responses[4].headers.get("retry-after"), "1");
    assertEquals(await responses[4].json(), {
      error: "too many sign-ins at once; try again",
    });
    assertEquals(responses[4].headers.getSetCookie(), []);
    for (const response of responses.slice(0, 4)) {
      assertEquals((await response.json()).user, "dave");
    }
  } finally {
    parts.close();
  }
});

Deno.test("streamerUrl: the session's WebSocket URL, IPv6 bracketed once", () => {
  const at = (host: string) =>
    streamerUrl({ host, port: 9010, path: "/stream" }, "t0k/en=");
  assertEquals(at("10.0.0.5"), "ws://10.0.0.5:9010/stream?token=t0k%2Fen%3D");
  assertEquals(at("[::1]"), "ws://[::1]:9010/stream?token=t0k%2Fen%3D");
  assertEquals(at("::1"), "ws://[::1]:9010/stream?token=t0k%2Fen%3D");
  assertEquals(
    at("2001:db8::5"),
    "ws://[2001:db8::5]:9010/stream?token=t0k%2Fen%3D",
  );
  assertEquals(
    at("host-7.farm.test"),
    "ws://host-7.farm.test:9010/stream?token=t0k%2Fen%3D",
  );
  assertEquals(
    streamerUrl({ host: "10.0.0.5", port: 9010, path: "/s" }, ""),
    "ws://10.0.0.5:9010/s?token=",
  );
  for (const invalid of ["bad host", "[::1", "::1]", "[[::1]]"]) {
    assertEquals(at(invalid), undefined, JSON.stringify(invalid));
  }
});

Deno.test("a session with an invalid address is a 502, not a relay", async () => {
  const h = await start();
  try {
    const alice = await signIn(h.url, "alice", "alice-password");
    const session = sessionRecord({ user: "alice", host: "not a host" });
    h.parts.sessions.put(session);
    const response = await h.app.fetch(
      new Request(`http://gateway.test/ws/${session.sessionId}?token=x`, {
        headers: {
          Cookie: alice,
          Upgrade: "websocket",
          Connection: "Upgrade",
          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
          "Sec-WebSocket-Version": "13",
        },
      }),
      { remoteAddr: { hostname: "127.0.0.1", port: 40000, transport: "tcp" } },
    );
    assertEquals(response.status, 502);
    assertEquals(await response.json(), {
      error: "the session's address is invalid",
    });
  } finally {
    await h.stop();
  }
});

Deno.test("a user logs their own session off on its host", async () => {
  const h = await start();
  const host = await startPoolHost({ sharedSecret: SECRET });
  try {
    const alice = await signIn(h.url, "alice", "alice-password");
    const bob = await signIn(h.url, "bob", "bob-password");
    const launched = await host.launch("gw-alice");
    h.parts.sessions.put(sessionRecord({
      sessionId: "gw-alice",
      sessionUuid: launched.sessionUuid,
      serverUrl: host.url,
      user: "alice",
    }));
    const gone = `http://127.0.0.1:${freePort()}`;
    h.parts.sessions.put(sessionRecord({
      sessionId: "gw-unreachable",
      serverUrl: gone,
      user: "alice",
    }));
    assertEquals(
      (await h.post("/api/sessions/gw-alice/logoff", {})).status,
      401,
    );
    assertEquals(
      (await h.post("/api/sessions/gw-alice/logoff", {}, bob)).status,
      404,
      "not bob's",
    );
    assertEquals(host.pool.liveSessions().length, 1);
    const ended = await h.post("/api/sessions/gw-alice/logoff", {}, alice);
    assertEquals(ended.status, 200);
    assertEquals(host.pool.liveSessions(), []);
    assertEquals(h.parts.sessions.get("gw-alice"), undefined);
    const listed = await (await h.get("/api/sessions", alice)).json();
    assertEquals(
      listed.map((s: { sessionId: string }) => s.sessionId),
      ["gw-unreachable"],
    );
    const failed = await h.post(
      "/api/sessions/gw-unreachable/logoff",
      {},
      alice,
    );
    assertEquals(failed.status, 502);
    assertMatch(String(failed.body.error), /could not end it/);
    assert(h.parts.sessions.get("gw-unreachable"), "kept");
  } finally {
    await host.stop();
    await h.stop();
  }
});
